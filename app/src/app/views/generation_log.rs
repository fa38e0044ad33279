//! The generation log window: every generation of the document, newest first, with what made
//! it (prompt, seeds and which were taken in, settings, region, provider, version, the model
//! files' sha256), which variation its layers show where, and Copy as JSON.

use egui::{RichText, Ui};

use crate::app::Action;
use crate::document::Document;
use crate::document::generations::ShownVariations;

/// The generation log window (the log is the document's).
#[derive(Debug, Default)]
pub struct GenerationLogWindow {
    /// Which variations the generative layers show, and the document revision it was
    /// counted at.
    shown: Option<(u64, Vec<ShownVariations>)>,
}

impl GenerationLogWindow {
    /// Every generation of the document, newest first, as the project keeps it.
    pub fn ui(&mut self, ui: &mut Ui, document: &Document, actions: &mut Vec<Action>) {
        ui.set_min_width(560.0);
        ui.heading("Generation log");
        ui.weak(
            "Every generation made in this document, accepted or not. It is saved in the \
             project and written into exported PNGs.",
        );
        ui.add_space(6.0);
        let revision = document.revision();
        if self.shown.as_ref().is_none_or(|(at, _)| *at != revision) {
            self.shown = Some((revision, document.shown_variations()));
        }
        let shown = self
            .shown
            .as_ref()
            .map(|(_, shown)| shown.as_slice())
            .unwrap_or_default();
        egui::ScrollArea::vertical()
            .max_height(420.0)
            .id_salt("generation log")
            .show(ui, |ui| {
                for record in document.generation_log.iter().rev() {
                    egui::Frame::group(ui.style()).show(ui, |ui| {
                        ui.set_width(ui.available_width());
                        ui.label(
                            RichText::new(format!(
                                "Generation {} · {} · {}",
                                record.id, record.time, record.outcome
                            ))
                            .strong(),
                        );
                        ui.label(format!("Prompt: {}", record.prompt));
                        if !record.negative_prompt.is_empty() {
                            ui.label(format!("Negative: {}", record.negative_prompt));
                        }
                        let seeds: Vec<String> = record
                            .seeds
                            .iter()
                            .enumerate()
                            .map(|(index, seed)| {
                                if record.accepted.contains(&index) {
                                    format!("{seed} (taken in)")
                                } else {
                                    seed.to_string()
                                }
                            })
                            .collect();
                        ui.label(format!("Seeds: {}", seeds.join(", ")));
                        for layer in shown.iter().filter(|layer| layer.generation == record.id) {
                            ui.label(format!("Layer \"{}\": {}", layer.name, layer.describe()));
                        }
                        let strength = record
                            .strength
                            .map(|strength| format!(" · strength {strength:.2}"))
                            .unwrap_or_default();
                        ui.weak(format!(
                            "{} · {} · {} steps · guidance {}{strength} · {}",
                            record.mode,
                            record.model,
                            record.steps,
                            record.guidance,
                            record.scheduler
                        ));
                        let r = record.region;
                        ui.weak(format!(
                            "Region {}×{} at ({}, {}), generated at {}×{} on {} · Pentimento {}",
                            r.width(),
                            r.height(),
                            r.x0,
                            r.y0,
                            record.generated_size.0,
                            record.generated_size.1,
                            record.execution_provider,
                            record.app_version
                        ));
                        if let Some(edge) = record.soft_inpainting {
                            ui.weak(if edge > 0.0 {
                                format!("Soft inpainting, the mask's edge graded over {edge:.0} px")
                            } else {
                                "Soft inpainting, the mask's edge as painted".to_owned()
                            });
                        }
                        if let Some(cutoff) = record.guidance_cutoff {
                            ui.weak(format!(
                                "Guidance truncated: the prompt alone after {:.0} % of the \
                                 steps (faster, not exact)",
                                cutoff * 100.0
                            ));
                        }
                        for lora in &record.loras {
                            ui.label(format!("LoRA: {}", lora.describe()))
                                .on_hover_text(format!("sha256 {}", lora.sha256));
                        }
                        egui::CollapsingHeader::new(format!(
                            "Model files ({})",
                            record.model_files.len()
                        ))
                        .id_salt(("model files", record.id))
                        .show(ui, |ui| {
                            for (file, hash) in &record.model_files {
                                ui.monospace(format!("{hash}  {file}"));
                            }
                        });
                    });
                    ui.add_space(4.0);
                }
            });
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            if ui
                .button("Copy as JSON")
                .on_hover_text("The whole log, as the project stores it")
                .clicked()
            {
                actions.push(
                    match serde_json::to_string_pretty(&document.generation_log) {
                        Ok(text) => {
                            ui.ctx().copy_text(text);
                            Action::Notify {
                                text: "The generation log is on the clipboard.".to_owned(),
                                is_error: false,
                            }
                        }
                        Err(err) => Action::Notify {
                            text: format!("Could not copy the log: {err}"),
                            is_error: true,
                        },
                    },
                );
            }
            if ui.button("Close").clicked() {
                actions.push(Action::CloseModal);
            }
        });
    }
}
