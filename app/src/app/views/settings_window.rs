//! The settings window: undo memory, the autosave clock and folder, the LoRA folder, the name
//! and choices signed into exports, the ONNX Runtime library, and which file dialogs to use.

use std::path::Path;

use egui::Ui;

use crate::app::{Action, FilePurpose};
use crate::credentials::TrainingUse;
use crate::settings::{FileDialogChoice, Folders, Settings};

/// The settings window (the values it edits are the settings').
#[derive(Debug, Default)]
pub struct SettingsWindow;

impl SettingsWindow {
    /// The settings' controls; `history` is the undo depth and its memory in bytes,
    /// `system_dialogs` whether the desktop can show system file dialogs (when the app uses them
    /// and it is known).
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        settings: &mut Settings,
        history: (usize, usize),
        folders: &Folders,
        system_dialogs: Option<bool>,
        actions: &mut Vec<Action>,
    ) {
        ui.heading("Settings");
        egui::Grid::new("settings").num_columns(2).show(ui, |ui| {
            let label = ui.label("Undo memory");
            ui.add(
                egui::Slider::new(&mut settings.history_budget_mib, 64..=16_384)
                    .logarithmic(true)
                    .suffix(" MiB"),
            )
            .labelled_by(label.id);
            ui.end_row();
            ui.label("");
            let (depth, bytes) = history;
            ui.weak(format!(
                "{depth} {} {:.0} MiB now",
                if depth == 1 { "step uses" } else { "steps use" },
                bytes as f64 / (1 << 20) as f64
            ));
            ui.end_row();
            let label = ui.label("Autosave every");
            ui.add(egui::Slider::new(&mut settings.autosave_seconds, 5..=600).suffix(" s"))
                .labelled_by(label.id);
            ui.end_row();
            ui.label("Autosave folder");
            ui.weak(folders.autosave_dir().display().to_string());
            ui.end_row();
            ui.label("LoRA folder");
            ui.vertical(|ui| {
                let shown = settings
                    .lora_folder
                    .as_deref()
                    .map_or_else(|| folders.default_lora_dir(), Path::to_path_buf);
                ui.weak(shown.display().to_string());
                ui.horizontal(|ui| {
                    if ui.button("Choose…").clicked() {
                        actions.push(Action::AskFile(FilePurpose::LoraFolder));
                    }
                    if ui
                        .add_enabled(settings.lora_folder.is_some(), egui::Button::new("Default"))
                        .clicked()
                    {
                        settings.lora_folder = None;
                        actions.push(Action::RefreshLoras);
                    }
                });
                ui.weak("The prompt panel offers the .safetensors files in it and below it.");
            });
            ui.end_row();
            ui.label("Signed by");
            ui.vertical(|ui| {
                let label = ui.weak("Your name in exports' Content Credentials");
                ui.add(
                    egui::TextEdit::singleline(&mut settings.artist_name)
                        .hint_text("Pentimento artist"),
                )
                .labelled_by(label.id);
                ui.weak(
                    "Exports are signed on this computer with a local identity made at the first \
                     export; readers show them as valid, signer not on a trust list, until \
                     someone adds its root certificate to what they trust.",
                );
                ui.horizontal(|ui| {
                    if ui
                        .button("Export the local root certificate…")
                        .on_hover_text("For a client or publisher who wants to trust your exports")
                        .clicked()
                    {
                        actions.push(Action::AskFile(FilePurpose::ExportRoot));
                    }
                    if ui
                        .button("Use my own certificate…")
                        .on_hover_text(
                            "Your certificate chain and its private key (PEM); they stay on this computer",
                        )
                        .clicked()
                    {
                        actions.push(Action::AskFile(FilePurpose::ImportChain));
                    }
                });
            });
            ui.end_row();
            ui.label("In exports");
            ui.vertical(|ui| {
                ui.checkbox(&mut settings.show_prompt, "Show the prompts")
                    .on_hover_text("In the Content Credentials and the parameters text");
                ui.label("AI training and data mining:");
                training_choice(ui, &mut settings.training);
                ui.weak(
                    "A signed declaration of what you allow (CAWG training and data mining), \
                     read by those who respect it; it is not a lock.",
                );
            });
            ui.end_row();
            ui.label("ONNX Runtime library");
            ui.vertical(|ui| {
                match &settings.onnx_runtime_library {
                    Some(path) => ui.weak(path.display().to_string()),
                    None => ui.weak("Automatic (the verified copy Pentimento downloads)"),
                };
                ui.horizontal(|ui| {
                    if ui.button("Choose…").clicked() {
                        actions.push(Action::AskFile(FilePurpose::RuntimeLibrary));
                    }
                    if ui
                        .add_enabled(
                            settings.onnx_runtime_library.is_some(),
                            egui::Button::new("Automatic"),
                        )
                        .clicked()
                    {
                        settings.onnx_runtime_library = None;
                    }
                });
                ui.weak("Used from the next start of Pentimento.");
            });
            ui.end_row();
            ui.label("File dialogs");
            ui.vertical(|ui| {
                ui.radio_value(
                    &mut settings.file_dialogs,
                    FileDialogChoice::System,
                    "The system's, where it has them",
                );
                ui.radio_value(
                    &mut settings.file_dialogs,
                    FileDialogChoice::Pentimento,
                    "Pentimento's own",
                );
                if system_dialogs == Some(false) {
                    ui.weak(
                        "This desktop shows no system file dialog (no \
                                 xdg-desktop-portal file chooser and no zenity), so \
                                 Pentimento's own is used.",
                    );
                }
            });
            ui.end_row();
        });
        ui.add_space(8.0);
        if ui.button("Close").clicked() {
            actions.push(Action::ApplySettings);
            actions.push(Action::CloseModal);
        }
    }
}

/// The AI-training choice as a row of radio buttons (Settings and the export dialog).
pub fn training_choice(ui: &mut Ui, training: &mut TrainingUse) {
    ui.horizontal(|ui| {
        for (choice, label) in [
            (TrainingUse::NotAllowed, "Not allowed"),
            (TrainingUse::Allowed, "Allowed"),
            (TrainingUse::Constrained, "Constrained"),
        ] {
            ui.radio_value(training, choice, label);
        }
    });
}
