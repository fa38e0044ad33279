//! The staging strip under the canvas: the variations of the last generation, waiting to be
//! accepted as layers or discarded.

use egui::{RichText, Ui};

use crate::app::{Action, GenerationState};

/// Height of a staged variation's thumbnail, in points.
const THUMBNAIL: f32 = 96.0;

/// Height of the staging strip: a title row, thumbnails and their captions.
pub const STAGING_HEIGHT: f32 = THUMBNAIL + 92.0;

/// The staging strip (the variations are the generation state's).
#[derive(Debug, Default)]
pub struct StagingStrip;

impl StagingStrip {
    /// The staged variations under the canvas.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        generation: &GenerationState,
        model_ready: bool,
        actions: &mut Vec<Action>,
    ) {
        let Some(staging) = &generation.staging else {
            return;
        };
        let region = staging.plan.region;
        let aspect = region.width() as f32 / region.height().max(1) as f32;
        let size = egui::vec2(THUMBNAIL * aspect.clamp(0.25, 4.0), THUMBNAIL);
        let mut select = None;
        let mut accept = None;
        let mut buttons = (false, false, false);
        let mut more = false;
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            ui.label(RichText::new("Variations").strong());
            ui.weak("Left and Right arrows compare, Enter accepts as a new layer; nothing is painted over your work.");
        });
        ui.horizontal(|ui| {
            ui.vertical(|ui| {
                let selected_accepted = staging
                    .variations
                    .get(staging.selected)
                    .is_none_or(|staged| staged.accepted);
                buttons.0 = ui
                    .add_enabled(!selected_accepted, egui::Button::new("Accept"))
                    .on_hover_text("Add the variation shown as a new layer (Enter)")
                    .clicked();
                buttons.1 = ui
                    .add_enabled(
                        staging.variations.iter().any(|staged| !staged.accepted),
                        egui::Button::new("Accept all"),
                    )
                    .on_hover_text("Each variation becomes its own layer")
                    .clicked();
                more = ui
                    .add_enabled(
                        !generation.is_running() && model_ready,
                        egui::Button::new("Generate more"),
                    )
                    .on_hover_text("The same settings with the next seeds")
                    .clicked();
                let discard = ui
                    .add_enabled(!generation.is_running(), egui::Button::new("Discard"))
                    .on_hover_text("Drop the variations that were not accepted (they stay in the generation log)")
                    .clicked();
                buttons.2 = discard;
            });
            egui::ScrollArea::horizontal()
                                .show(ui, |ui| {
                    ui.horizontal(|ui| {
                        for (index, staged) in staging.variations.iter().enumerate() {
                            ui.vertical(|ui| {
                                let image = egui::Image::from_texture((staged.texture.id(), size));
                                let response = ui
                                    .add(egui::Button::image(image).selected(index == staging.selected))
                                    .on_hover_text(format!("Seed {}", staged.seed));
                                if response.clicked() {
                                    select = Some(index);
                                }
                                if response.double_clicked() {
                                    accept = Some(index);
                                }
                                let caption = if staged.accepted {
                                    format!("seed {} · accepted", staged.seed)
                                } else {
                                    format!("seed {}", staged.seed)
                                };
                                ui.weak(caption);
                            });
                        }
                    });
                });
        });
        if let Some(index) = select {
            actions.push(Action::SelectVariation(index));
        }
        if more {
            actions.push(Action::GenerateMore);
        }
        if let Some(index) = accept {
            actions.push(Action::Accept(index));
        }
        if buttons.0 {
            actions.push(Action::AcceptSelected);
        }
        if buttons.1 {
            actions.push(Action::AcceptAll);
        }
        if buttons.2 {
            actions.push(Action::DiscardStaging);
        }
    }
}
