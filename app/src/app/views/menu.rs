//! The menu bar: File, Edit and View.

use std::path::PathBuf;

use crate::app::{Action, AfterSave, CanvasSizeForm, Edit, FilePurpose, Modal, ReplaceWith};
use crate::canvas::Overlays;
use crate::document::Document;

/// The menu bar (it keeps no state of its own).
#[derive(Debug, Default)]
pub struct MenuBar;

impl MenuBar {
    /// The File, Edit and View menus.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        document: &Document,
        recent_files: &[PathBuf],
        overlays: &mut Overlays,
        actions: &mut Vec<Action>,
    ) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("New…").clicked() {
                    actions.push(Action::Show(Modal::NewCanvas {
                        width: document.width(),
                        height: document.height(),
                    }));
                }
                if ui.button("Open…").clicked() {
                    actions.push(Action::AskFile(FilePurpose::Open));
                }
                if ui.button("Add image as layer…").clicked() {
                    actions.push(Action::AskFile(FilePurpose::ImportLayer));
                }
                ui.menu_button("Open recent", |ui| {
                    if recent_files.is_empty() {
                        ui.weak("No recent files");
                    }
                    for path in recent_files {
                        if ui.button(path.display().to_string()).clicked() {
                            actions.push(Action::Replace(ReplaceWith::Open(path.clone())));
                        }
                    }
                });
                ui.separator();
                if ui.button("Save").clicked() {
                    actions.push(Action::Save(AfterSave::Nothing));
                }
                if ui.button("Save as…").clicked() {
                    actions.push(Action::AskFile(FilePurpose::Save(AfterSave::Nothing)));
                }
                if ui.button("Export…").clicked() {
                    actions.push(Action::OpenExport);
                }
                ui.separator();
                if ui.button("Models…").clicked() {
                    actions.push(Action::Show(Modal::Models));
                }
                if ui.button("Settings…").clicked() {
                    actions.push(Action::Show(Modal::Settings));
                }
                if ui.button("Quit").clicked() {
                    actions.push(Action::CloseWindow);
                }
            });
            ui.menu_button("Edit", |ui| {
                let history = document.history();
                if history_item(ui, "Undo", history.undo_label()) {
                    actions.push(Action::Edit(Edit::Undo));
                }
                if history_item(ui, "Redo", history.redo_label()) {
                    actions.push(Action::Edit(Edit::Redo));
                }
                ui.separator();
                if ui
                    .button("Canvas size…")
                    .on_hover_text("Add to any side of the canvas, to paint beyond the picture")
                    .clicked()
                {
                    actions.push(Action::Show(Modal::CanvasSize(CanvasSizeForm::for_canvas(
                        document.width(),
                        document.height(),
                    ))));
                }
                if ui.button("Clear mask").clicked() {
                    actions.push(Action::Edit(Edit::ClearMask));
                }
                if ui
                    .add_enabled(
                        !document.mask().is_empty(),
                        egui::Button::new("Content-aware fill"),
                    )
                    .on_hover_text(
                        "Fill the masked area with the picture's own texture, as a new layer; \
                         no model is needed",
                    )
                    .on_disabled_hover_text("Paint a mask first (M), or draw a selection (R, L)")
                    .clicked()
                {
                    actions.push(Action::Edit(Edit::ContentAwareFill));
                }
            });
            ui.menu_button("View", |ui| {
                if ui.button("Fit canvas").clicked() {
                    actions.push(Action::FitCanvas);
                }
                if ui.button("Actual pixels (100 %)").clicked() {
                    actions.push(Action::ActualPixels { recentre: true });
                }
                ui.checkbox(&mut overlays.mask, "Show mask");
                ui.checkbox(&mut overlays.provenance, "Show AI and hand-painted areas");
            });
        });
    }
}

/// "Undo <step>" or "Redo <step>", greyed out as plain `verb` when there is no step; whether it
/// was clicked.
fn history_item(ui: &mut egui::Ui, verb: &str, step: Option<&str>) -> bool {
    let text = step.map_or_else(|| verb.to_owned(), |step| format!("{verb} {step}"));
    ui.add_enabled(step.is_some(), egui::Button::new(text))
        .clicked()
}
