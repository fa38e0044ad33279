//! The modal questions: recover an autosave, save before closing, save before replacing the
//! document, and the size of a new canvas.

use egui::Ui;

use crate::app::{Action, AfterSave, Modal, ReplaceWith, SIZE_PRESETS};

/// The questions (what is asked is the modal's own state).
#[derive(Debug, Default)]
pub struct Questions;

impl Questions {
    /// Draws `modal` when it is one of the questions; returns whether it was.
    pub fn ui(&mut self, ui: &mut Ui, modal: &mut Modal, actions: &mut Vec<Action>) -> bool {
        match modal {
            Modal::Recover(recovery) => {
                ui.heading("Recover your work?");
                ui.label("Pentimento did not close cleanly last time. An autosave of the open document was kept.");
                if let Some(original) = &recovery.original {
                    ui.label(format!("It was saved as {}.", original.display()));
                }
                if let Some(age) = recovery.saved_at.and_then(|time| time.elapsed().ok()) {
                    ui.weak(format!("Autosaved {} ago.", describe_age(age.as_secs())));
                }
                ui.add_space(8.0);
                ui.horizontal(|ui| {
                    if ui.button("Recover").clicked() {
                        actions.push(Action::CloseModal);
                        actions.push(Action::Recover(recovery.clone()));
                    }
                    if ui
                        .button("Discard")
                        .on_hover_text("The autosave is kept aside in the data folder, not deleted")
                        .clicked()
                    {
                        actions.push(Action::CloseModal);
                        actions.push(Action::DiscardRecovery(recovery.clone()));
                    }
                });
            }
            Modal::ConfirmQuit => {
                ui.heading("Save changes before closing?");
                ui.label("The document has changes that are not saved.");
                ui.add_space(8.0);
                ui.horizontal(|ui| {
                    if ui.button("Save").clicked() {
                        actions.push(Action::CloseModal);
                        actions.push(Action::Save(AfterSave::Quit));
                    }
                    if ui.button("Don't save").clicked() {
                        actions.push(Action::CloseModal);
                        actions.push(Action::QuitWithoutSaving);
                    }
                    if ui.button("Cancel").clicked() {
                        actions.push(Action::CloseModal);
                    }
                });
            }
            Modal::ConfirmReplace(with) => {
                ui.heading("Replace the open document?");
                ui.label("It has changes that are not saved.");
                ui.add_space(8.0);
                ui.horizontal(|ui| {
                    if ui.button("Save first").clicked() {
                        actions.push(Action::CloseModal);
                        actions.push(Action::Save(AfterSave::Replace(with.clone())));
                    }
                    if ui.button("Discard changes").clicked() {
                        actions.push(Action::CloseModal);
                        actions.push(Action::ReplaceNow(with.clone()));
                    }
                    if ui.button("Cancel").clicked() {
                        actions.push(Action::CloseModal);
                    }
                });
            }
            Modal::NewCanvas { width, height } => {
                ui.heading("New canvas");
                ui.horizontal_wrapped(|ui| {
                    for (name, w, h) in SIZE_PRESETS {
                        if ui
                            .selectable_label(*width == w && *height == h, name)
                            .clicked()
                        {
                            *width = w;
                            *height = h;
                        }
                    }
                });
                ui.horizontal(|ui| {
                    side_field(ui, "Width", width);
                    side_field(ui, "Height", height);
                });
                ui.add_space(8.0);
                ui.horizontal(|ui| {
                    if ui.button("Create").clicked() {
                        // Replacing may ask to save first (another modal).
                        actions.push(Action::CloseModal);
                        actions.push(Action::Replace(ReplaceWith::New(*width, *height)));
                    }
                    if ui.button("Cancel").clicked() {
                        actions.push(Action::CloseModal);
                    }
                });
            }
            Modal::Credentials { file, lines } => {
                ui.heading("Content Credentials");
                ui.label(egui::RichText::new(file.as_str()).strong());
                ui.add_space(4.0);
                for line in lines {
                    ui.label(line.as_str());
                }
                ui.add_space(6.0);
                if ui.button("Close").clicked() {
                    actions.push(Action::CloseModal);
                }
            }
            Modal::Settings | Modal::Models | Modal::GenerationLog | Modal::Export(_) => {
                return false;
            }
        }
        true
    }
}

/// "90 s", "12 min", "3 h", "2 days".
fn describe_age(seconds: u64) -> String {
    match seconds {
        0..=89 => format!("{seconds} s"),
        90..=5399 => format!("{} min", seconds / 60),
        5400..=129_599 => format!("{} h", seconds / 3600),
        _ => format!("{} days", seconds / 86_400),
    }
}

/// A labelled canvas side in pixels, 1 to the largest side a document may have.
fn side_field(ui: &mut Ui, label: &str, pixels: &mut u32) {
    let label = ui.label(label);
    ui.add(
        egui::DragValue::new(pixels)
            .range(1..=crate::document::MAX_SIDE)
            .suffix(" px"),
    )
    .labelled_by(label.id);
}
