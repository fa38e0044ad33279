//! The export dialog: the format (and JPEG quality), whether to sign Content Credentials, and
//! for this export what they say — the prompts or not, the AI-training choice — with what the
//! picture is made of, before the file is chosen.

use egui::Ui;

use crate::app::{Action, FilePurpose};
use crate::credentials::TrainingUse;
use crate::settings::{ExportKind, Settings};

/// One export's choices, the dialog's own state until the file is chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportForm {
    /// The format.
    pub kind: ExportKind,
    /// JPEG quality, 1–100.
    pub jpeg_quality: u8,
    /// Whether to sign Content Credentials into the file.
    pub sign: bool,
    /// Whether the prompts may be shown (credentials and the parameters text).
    pub show_prompt: bool,
    /// What the credentials say about AI training and data mining.
    pub training: TrainingUse,
    /// What the picture is made of, measured when the dialog opened ("62% painted by hand, …").
    pub made_of: String,
    /// The name the export is signed with.
    pub signer: String,
    /// The imported images it names as ingredients ("photo.jpg, with its own credentials").
    pub ingredients: Vec<String>,
}

impl ExportForm {
    /// The dialog as Settings start it, for a picture `made_of` that.
    pub fn from_settings(settings: &Settings, made_of: String, ingredients: Vec<String>) -> Self {
        Self {
            kind: settings.export.kind,
            jpeg_quality: settings.export.jpeg_quality,
            sign: true,
            show_prompt: settings.show_prompt,
            training: settings.training,
            made_of,
            signer: if settings.artist_name.trim().is_empty() {
                crate::credentials::identity::DEFAULT_SIGNER.to_owned()
            } else {
                settings.artist_name.trim().to_owned()
            },
            ingredients,
        }
    }
}

/// The export dialog (its state is the modal's form).
#[derive(Debug, Default)]
pub struct ExportDialog;

impl ExportDialog {
    /// Draws the dialog for `form`.
    pub fn ui(&mut self, ui: &mut Ui, form: &mut ExportForm, actions: &mut Vec<Action>) {
        ui.heading("Export");
        ui.label(format!("The flattened picture: {}.", form.made_of));
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            ui.label("Format");
            for kind in ExportKind::ALL {
                ui.radio_value(&mut form.kind, kind, kind.label());
            }
        });
        if form.kind == ExportKind::Jpeg {
            ui.horizontal(|ui| {
                let label = ui.label("Quality");
                ui.add(egui::Slider::new(&mut form.jpeg_quality, 1..=100))
                    .labelled_by(label.id);
            });
            ui.weak("JPEG has no transparency: transparent areas become white.");
        }
        ui.add_space(6.0);
        ui.checkbox(&mut form.sign, "Sign Content Credentials");
        if form.sign {
            ui.weak(format!(
                "Signed as {} on this computer: which regions are generated (and with which \
                 model, LoRAs and seed), which are painted, and your training choice. Readers \
                 show a local identity as valid, signer not on a trust list, until someone \
                 trusts its root certificate (Settings).",
                form.signer
            ));
            for ingredient in &form.ingredients {
                ui.weak(format!("Ingredient: {ingredient}."));
            }
            ui.checkbox(&mut form.show_prompt, "Show the prompts")
                .on_hover_text("In the Content Credentials and the parameters text");
            ui.label("AI training and data mining:");
            super::settings_window::training_choice(ui, &mut form.training);
            ui.weak(
                "A signed declaration of what you allow, read by those who respect it; it is \
                 not a lock.",
            );
        } else {
            ui.checkbox(
                &mut form.show_prompt,
                "Show the prompts in the parameters text",
            );
            ui.weak(
                "Without Content Credentials nothing in the file proves which parts you \
                 painted and which were generated.",
            );
        }
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            if ui.button("Export…").clicked() {
                actions.push(Action::CloseModal);
                actions.push(Action::AskFile(FilePurpose::Export(Box::new(form.clone()))));
            }
            if ui.button("Cancel").clicked() {
                actions.push(Action::CloseModal);
            }
        });
    }
}
