//! The status bar: ONNX Runtime, the model, a download in progress, the document's size and
//! unsaved state, and the zoom.

use egui::RichText;

use crate::app::ModelState;
use crate::document::Document;
use crate::models::Download;
use crate::runtime_status::RuntimeStatus;

/// What the status bar shows.
pub struct Shown<'a> {
    /// ONNX Runtime's state.
    pub runtime: &'a RuntimeStatus,
    /// The model's state.
    pub model: &'a ModelState,
    /// A download in progress.
    pub download: Option<&'a Download>,
    /// The document.
    pub document: &'a Document,
    /// The canvas zoom.
    pub zoom: f32,
}

/// The status bar (it keeps no state of its own).
#[derive(Debug, Default)]
pub struct StatusBar;

impl StatusBar {
    /// ONNX Runtime, the model, a download, the document's size and state, and the zoom.
    pub fn ui(&mut self, ui: &mut egui::Ui, shown: &Shown<'_>) {
        ui.horizontal(|ui| {
            match shown.runtime {
                RuntimeStatus::Unavailable(message) => {
                    ui.label(
                        RichText::new("ONNX Runtime unavailable").color(ui.visuals().warn_fg_color),
                    )
                    .on_hover_text(message);
                }
                status => {
                    ui.label(status.summary());
                }
            }
            ui.separator();
            ui.label(shown.model.summary());
            if let Some(download) = shown.download {
                ui.separator();
                let label = crate::models::source_label(&download.source);
                ui.label(match &download.progress {
                    Some(progress) => format!(
                        "Downloading {label}: {}",
                        crate::models::describe_progress(progress)
                    ),
                    None => format!("Downloading {label}…"),
                });
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.label(format!("{:.0} %", shown.zoom * 100.0));
                ui.separator();
                ui.label(format!(
                    "{} × {} px",
                    shown.document.width(),
                    shown.document.height()
                ));
                if shown.document.has_unsaved_changes() {
                    ui.separator();
                    ui.weak("unsaved changes");
                }
            });
        });
    }
}
