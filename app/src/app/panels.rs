//! The panels around the canvas: tools, prompt, layers, the staging strip, and the modal
//! questions.

use std::path::PathBuf;

use egui::{RichText, Ui};
use pentimento_inference::{ProviderChoice, SchedulerKind};

use super::generation::generative_layer_name;
use super::{AfterSave, FilePurpose, Modal, ModelState, PentimentoApp, ReplaceWith, SIZE_PRESETS};
use crate::autosave::{Autosave, Recovery};
use crate::document::compositor::ProvenanceShares;
use crate::document::generative::GenerativeParams;
use crate::document::layer::{BlendMode, LayerContent, LayerId};
use crate::io::ora;
use crate::region::ModeChoice;
use crate::runtime_status::RuntimeStatus;
use crate::settings::FileDialogChoice;
use crate::tools::Tool;

/// The provenance overlay's colours (as in `shaders/canvas.wgsl`), for the legend.
const HAND_TINT: egui::Color32 = egui::Color32::from_rgb(64, 204, 89);
const GENERATED_TINT: egui::Color32 = egui::Color32::from_rgb(41, 115, 255);
const OVERPAINTED_TINT: egui::Color32 = egui::Color32::from_rgb(158, 77, 242);

/// Height of a staged variation's thumbnail, in points.
const THUMBNAIL: f32 = 96.0;

/// Height of the staging strip: a title row, thumbnails and their captions.
pub(super) const STAGING_HEIGHT: f32 = THUMBNAIL + 92.0;

impl PentimentoApp {
    /// The warning shown while ONNX Runtime is unavailable, with a way to try again.
    pub(super) fn runtime_problem(&mut self, ui: &mut Ui) {
        let RuntimeStatus::Unavailable(message) = &self.runtime else {
            return;
        };
        let mut retry = false;
        egui::Frame::group(ui.style())
            .stroke(egui::Stroke::new(1.0, ui.visuals().warn_fg_color))
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.label(RichText::new("Generation is unavailable").strong());
                ui.label(message.as_str());
                ui.label("You can keep painting meanwhile.");
                retry = ui.button("Try again").clicked();
            });
        ui.add_space(8.0);
        if retry && let Some(options) = self.options.runtime.clone() {
            let ctx = ui.ctx().clone();
            self.runtime = RuntimeStatus::start(options, move || ctx.request_repaint());
            if let Some(path) = self.settings.model_folder.clone()
                && matches!(self.model, ModelState::Failed(_))
            {
                self.load_model(path);
            }
        }
    }

    /// Tool buttons and the active brush's settings.
    pub(super) fn toolbar(&mut self, ui: &mut Ui) {
        ui.heading("Tools");
        let tools = &mut self.settings.tools;
        ui.horizontal_wrapped(|ui| {
            for tool in Tool::ALL {
                ui.selectable_value(&mut tools.tool, tool, tool.label())
                    .on_hover_text(format!("{} ({})", tool.label(), tool.shortcut()));
            }
        });
        ui.add_space(4.0);
        let tool = tools.tool;
        if tool.stroke_mode().is_some() {
            let brush = tools.active_brush_mut();
            egui::Grid::new("brush_settings")
                .num_columns(2)
                .spacing([8.0, 4.0])
                .show(ui, |ui| {
                    let label = ui.label("Size");
                    ui.add(
                        egui::Slider::new(&mut brush.size, 1.0..=1000.0)
                            .logarithmic(true)
                            .suffix(" px")
                            .max_decimals(0),
                    )
                    .labelled_by(label.id)
                    .on_hover_text("[ and ] change the size");
                    ui.end_row();
                    let label = ui.label("Hardness");
                    ui.add(egui::Slider::new(&mut brush.hardness, 0.0..=1.0))
                        .labelled_by(label.id);
                    ui.end_row();
                    if tool != Tool::MaskEraser {
                        let label = ui.label("Opacity");
                        ui.add(egui::Slider::new(&mut brush.opacity, 0.01..=1.0))
                            .labelled_by(label.id);
                        ui.end_row();
                        let label = ui.label("Flow");
                        ui.add(egui::Slider::new(&mut brush.flow, 0.01..=1.0))
                            .labelled_by(label.id)
                            .on_hover_text("Coverage each dab adds; low flow builds up");
                        ui.end_row();
                    }
                    ui.label("Pen pressure");
                    ui.horizontal(|ui| {
                        ui.checkbox(&mut brush.pressure_size, "size");
                        ui.checkbox(&mut brush.pressure_opacity, "opacity");
                    });
                    ui.end_row();
                    if tool == Tool::Brush {
                        let label = ui.label("Colour");
                        ui.color_edit_button_srgb(&mut brush.color)
                            .labelled_by(label.id);
                        ui.end_row();
                    }
                });
            if tool == Tool::Brush && !tools.recent_colors.is_empty() {
                let mut picked = None;
                ui.horizontal_wrapped(|ui| {
                    ui.spacing_mut().item_spacing.x = 3.0;
                    for &color in &tools.recent_colors {
                        let [r, g, b] = color;
                        let swatch = egui::Button::new("")
                            .fill(egui::Color32::from_rgb(r, g, b))
                            .stroke(ui.visuals().widgets.inactive.fg_stroke)
                            .min_size(egui::vec2(18.0, 18.0));
                        if ui
                            .add(swatch)
                            .on_hover_text(format!("#{r:02x}{g:02x}{b:02x}"))
                            .clicked()
                        {
                            picked = Some(color);
                        }
                    }
                });
                if let Some(color) = picked {
                    tools.brush.color = color;
                }
            }
        }
        match tool {
            Tool::RectangleSelect | Tool::LassoSelect => {
                ui.weak("Adds to the mask; hold Alt to subtract.");
            }
            Tool::Move => {
                ui.weak("Drag to move the selected layer; Esc puts it back. Paint layers only.");
            }
            Tool::Eyedropper => {
                ui.weak("Click the canvas to pick the colour you see.");
            }
            Tool::Pan => {
                ui.weak(
                    "Drag to move; scroll to zoom. Space or the middle button pans with any tool.",
                );
            }
            _ => {}
        }
        if tool.works_on_mask() || !self.document.mask().is_empty() {
            ui.horizontal(|ui| {
                ui.checkbox(&mut self.overlays.mask, "Show mask");
                if ui
                    .add_enabled(
                        !self.document.mask().is_empty(),
                        egui::Button::new("Clear mask"),
                    )
                    .clicked()
                {
                    self.document.clear_mask();
                }
            });
        }
    }

    /// The model, the prompt, the generation settings, and Generate.
    pub(super) fn prompt_panel(&mut self, ui: &mut Ui) {
        ui.heading("Prompt");
        ui.add_space(4.0);
        self.model_section(ui);
        ui.add_space(8.0);

        let label = ui.label("Describe what to paint");
        ui.add(
            egui::TextEdit::multiline(&mut self.settings.generation.prompt)
                .hint_text("a red apple on a wooden table, oil painting")
                .desired_rows(4)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
        ui.add_space(6.0);
        let label = ui.label("Negative prompt");
        ui.add(
            egui::TextEdit::multiline(&mut self.settings.generation.negative_prompt)
                .hint_text("what to avoid")
                .desired_rows(2)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
        ui.add_space(8.0);

        self.generation_settings(ui);
        ui.add_space(6.0);
    }

    fn model_section(&mut self, ui: &mut Ui) {
        let mut open = false;
        let mut manage = false;
        let mut load_now = None;
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width());
            match &self.model {
                ModelState::None => {
                    ui.label("No model open.");
                    ui.weak("Choose a Stable Diffusion ONNX folder (model_index.json, unet/, vae_decoder/…).");
                }
                ModelState::Loading { path, stage, .. } => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.add(egui::Label::new(stage.as_str()).wrap());
                    });
                    // A folder path has no spaces to wrap at: cut short, so the panel does not
                    // widen while the model loads; hovering shows it whole.
                    let path = path.display().to_string();
                    ui.add(egui::Label::new(RichText::new(&path).weak()).truncate())
                        .on_hover_text(path);
                }
                ModelState::Ready(info) => {
                    ui.label(RichText::new(&info.name).strong());
                    let kind = if info.inpainting_unet {
                        "inpainting model"
                    } else {
                        "standard model"
                    };
                    ui.weak(format!(
                        "{kind} · {} px · on {}",
                        info.native_resolution, info.provider
                    ));
                }
                ModelState::Failed(message) => {
                    ui.label(RichText::new("The model could not be loaded").strong());
                    ui.label(RichText::new(message.as_str()).color(ui.visuals().warn_fg_color));
                }
                ModelState::Remembered(path) => {
                    let name = crate::settings::ModelEntry::display_name(path);
                    ui.label(RichText::new(name).strong());
                    ui.horizontal(|ui| {
                        ui.weak("Loads when you generate.");
                        if ui.small_button("Load now").clicked() {
                            load_now = Some(path.clone());
                        }
                    });
                }
            }
            let loading = matches!(self.model, ModelState::Loading { .. });
            ui.horizontal(|ui| {
                open = ui
                    .add_enabled(
                        !loading && !self.generation.is_running(),
                        egui::Button::new("Open model folder…"),
                    )
                    .clicked();
                if ui
                    .button("Models…")
                    .on_hover_text("Your models, what they can do, and downloads")
                    .clicked()
                {
                    manage = true;
                }
            });
        });
        if open {
            self.ask_file(ui.ctx(), FilePurpose::LoadModel);
        }
        if let Some(path) = load_now {
            self.load_model(path);
        }
        if manage {
            self.modal = Some(Modal::Models);
        }
    }

    fn generation_settings(&mut self, ui: &mut Ui) {
        let generation = &mut self.settings.generation;
        let mask_empty = self.document.mask().is_empty();
        egui::Grid::new("generation_settings")
            .num_columns(2)
            .spacing([8.0, 4.0])
            .show(ui, |ui| {
                let label = ui.label("Mode");
                egui::ComboBox::from_id_salt("mode")
                    .selected_text(generation.mode.label())
                    .show_ui(ui, |ui| {
                        for mode in ModeChoice::ALL {
                            ui.selectable_value(&mut generation.mode, mode, mode.label());
                        }
                    })
                    .response
                    .labelled_by(label.id);
                ui.end_row();

                let label = ui.label("Steps");
                ui.add(egui::Slider::new(&mut generation.steps, 1..=150))
                    .labelled_by(label.id);
                ui.end_row();
                let label = ui.label("Guidance");
                ui.add(egui::Slider::new(&mut generation.guidance, 1.0..=20.0).step_by(0.5))
                    .labelled_by(label.id)
                    .on_hover_text("How closely to follow the prompt");
                ui.end_row();
                let uses_strength = match generation.mode {
                    ModeChoice::TextToImage => false,
                    ModeChoice::Auto => !mask_empty || !self.document.is_blank(),
                    _ => true,
                };
                if uses_strength {
                    let label = ui.label("Strength");
                    ui.add(egui::Slider::new(&mut generation.strength, 0.05..=1.0))
                        .labelled_by(label.id)
                        .on_hover_text("How much to change: low keeps your drawing, 1 repaints");
                    ui.end_row();
                }
                let label = ui.label("Scheduler");
                egui::ComboBox::from_id_salt("scheduler")
                    .selected_text(generation.scheduler.label())
                    .show_ui(ui, |ui| {
                        for scheduler in SchedulerKind::ALL {
                            ui.selectable_value(
                                &mut generation.scheduler,
                                scheduler,
                                scheduler.label(),
                            );
                        }
                    })
                    .response
                    .labelled_by(label.id);
                ui.end_row();
                let label = ui.label("Variations");
                ui.add(egui::Slider::new(&mut generation.count, 1..=8))
                    .labelled_by(label.id);
                ui.end_row();
                let label = ui.label("Seed");
                ui.horizontal(|ui| {
                    ui.add(egui::DragValue::new(&mut generation.seed))
                        .labelled_by(label.id);
                    ui.checkbox(&mut generation.seed_locked, "Lock")
                        .on_hover_text("Keep this seed; otherwise each generation picks a new one");
                });
                ui.end_row();
                let label = ui.label("Device");
                let before = generation.provider;
                egui::ComboBox::from_id_salt("provider")
                    .selected_text(generation.provider.label())
                    .show_ui(ui, |ui| {
                        for provider in ProviderChoice::ALL {
                            ui.selectable_value(
                                &mut generation.provider,
                                provider,
                                provider.label(),
                            );
                        }
                    })
                    .response
                    .labelled_by(label.id)
                    .on_hover_text("Takes effect when the model is loaded again");
                ui.end_row();
                if before != generation.provider {
                    ui.label("");
                    ui.weak("Reopen the model to use it.");
                    ui.end_row();
                }
            });
    }

    /// Generate, or the progress and Cancel while a generation runs.
    pub(super) fn generate_controls(&mut self, ui: &mut Ui) {
        if let Some(running) = &self.generation.running {
            let (variation, variations, step, steps) = running.progress;
            let done = variation * steps + step;
            let total = (variations * steps).max(1);
            let text = if steps == 0 {
                "Starting…".to_owned()
            } else {
                format!(
                    "Variation {} of {variations} · step {step} of {steps}",
                    variation + 1
                )
            };
            ui.add(
                egui::ProgressBar::new(done as f32 / total as f32)
                    .text(text)
                    .animate(true),
            );
            let cancelling = running.cancel.is_cancelled();
            if ui
                .add_enabled(!cancelling, egui::Button::new("Cancel"))
                .on_hover_text("Esc; finished variations are kept")
                .clicked()
            {
                self.generation.cancel();
            }
            return;
        }
        let reason = if matches!(self.runtime, RuntimeStatus::Unavailable(_)) {
            Some("ONNX Runtime is unavailable; see the message above.")
        } else {
            match &self.model {
                ModelState::Ready(_) | ModelState::Remembered(_) => None,
                ModelState::Loading { .. } => Some("The model is still loading."),
                ModelState::None | ModelState::Failed(_) => Some("Open a model folder first."),
            }
        };
        let button = egui::Button::new(RichText::new("Generate").strong())
            .min_size(egui::vec2(ui.available_width(), 32.0));
        let response = ui.add_enabled(reason.is_none(), button);
        let response = match reason {
            Some(reason) => response.on_disabled_hover_text(reason),
            None => response.on_hover_text("Ctrl+Enter"),
        };
        if response.clicked() {
            self.start_generation(ui.ctx());
        }
    }

    /// The layer stack, the selected layer's properties, and the mask.
    pub(super) fn layer_panel(&mut self, ui: &mut Ui) {
        ui.heading("Layers");
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            if ui.button("New layer").clicked() {
                let above = self
                    .active_layer
                    .and_then(|id| self.document.layer_index(id));
                let name = format!("Layer {}", self.document.layers().len() + 1);
                self.active_layer = Some(self.document.add_paint_layer(&name, above));
            }
            let selected = self.active_layer;
            let can_delete = selected.is_some() && self.document.layers().len() > 1;
            if ui
                .add_enabled(can_delete, egui::Button::new("Delete"))
                .on_hover_text("Undo brings it back")
                .clicked()
                && let Some(id) = selected
            {
                let index = self.document.layer_index(id).unwrap_or(0);
                if let Err(err) = self.document.remove_layer(id) {
                    self.notify(ui.ctx(), crate::messages::sentence(&err.to_string()), true);
                } else {
                    let layers = self.document.layers();
                    self.active_layer = layers
                        .get(index.saturating_sub(1).min(layers.len().saturating_sub(1)))
                        .map(|layer| layer.id);
                }
            }
            if let Some(id) = selected
                && let Some(index) = self.document.layer_index(id)
            {
                let count = self.document.layers().len();
                if ui
                    .add_enabled(index + 1 < count, egui::Button::new("⬆"))
                    .on_hover_text("Move up")
                    .clicked()
                {
                    let _ = self.document.move_layer(id, index + 1);
                }
                if ui
                    .add_enabled(index > 0, egui::Button::new("⬇"))
                    .on_hover_text("Move down")
                    .clicked()
                {
                    let _ = self.document.move_layer(id, index - 1);
                }
            }
        });
        ui.add_space(4.0);

        let rows: Vec<(LayerId, String, bool, bool, bool)> = self
            .document
            .layers()
            .iter()
            .rev()
            .map(|layer| {
                (
                    layer.id,
                    layer.properties.name.clone(),
                    layer.properties.visible,
                    layer.properties.locked,
                    layer.is_generative(),
                )
            })
            .collect();
        self.thumbnails.refresh(ui.ctx(), &self.document);
        for (id, name, visible, locked, generative) in rows {
            self.layer_row(ui, id, &name, visible, locked, generative);
        }
        ui.add_space(6.0);
        ui.separator();
        self.layer_properties(ui);
        ui.separator();
        self.mask_row(ui);
        ui.separator();
        self.provenance_section(ui);
    }

    fn layer_row(
        &mut self,
        ui: &mut Ui,
        id: LayerId,
        name: &str,
        visible: bool,
        locked: bool,
        generative: bool,
    ) {
        let selected = self.active_layer == Some(id);
        ui.horizontal(|ui| {
            let mut shown = visible;
            if ui
                .checkbox(&mut shown, "")
                .on_hover_text(if visible { "Hide" } else { "Show" })
                .changed()
            {
                self.update_properties(ui, id, None, |properties| properties.visible = shown);
            }
            super::thumbnails::show(ui, self.thumbnails.get(id), 32.0);
            if generative {
                ui.label(
                    RichText::new("AI")
                        .small()
                        .strong()
                        .color(ui.visuals().warn_fg_color),
                )
                .on_hover_text("A generated layer: its pixels were made by the model");
            }
            let renaming = matches!(&self.renaming, Some((renamed, _)) if *renamed == id);
            if renaming {
                let mut commit = false;
                let mut cancel = false;
                if let Some((_, text)) = &mut self.renaming {
                    let response = ui.add(egui::TextEdit::singleline(text).desired_width(140.0));
                    response.request_focus();
                    commit = response.lost_focus()
                        && ui.input(|input| !input.key_pressed(egui::Key::Escape));
                    cancel = ui.input(|input| input.key_pressed(egui::Key::Escape));
                }
                if cancel {
                    self.renaming = None;
                } else if commit && let Some((_, text)) = self.renaming.take() {
                    let text = text.trim().to_owned();
                    if !text.is_empty() {
                        self.update_properties(ui, id, None, |properties| properties.name = text);
                    }
                }
            } else {
                let mut label = RichText::new(name);
                if !visible {
                    label = label.weak();
                }
                // Long names (a generation's seed) are cut short with an ellipsis so that the
                // lock button keeps its place; hovering shows the whole name.
                let room = (ui.available_width() - 28.0).max(40.0);
                let response = ui
                    .scope(|ui| {
                        ui.set_max_width(room);
                        ui.add(egui::Button::selectable(selected, label).truncate())
                    })
                    .inner
                    .on_hover_text(format!("{name}\nClick to select, double-click to rename"));
                if response.clicked() {
                    self.active_layer = Some(id);
                }
                if response.double_clicked() {
                    self.renaming = Some((id, name.to_owned()));
                }
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let lock = if locked { "🔒" } else { "🔓" };
                if ui
                    .small_button(lock)
                    .on_hover_text(if locked {
                        "Unlock"
                    } else {
                        "Lock against changes"
                    })
                    .clicked()
                {
                    self.update_properties(ui, id, None, |properties| properties.locked = !locked);
                }
            });
        });
    }

    fn update_properties(
        &mut self,
        ui: &Ui,
        id: LayerId,
        coalesce: Option<&str>,
        change: impl FnOnce(&mut crate::document::layer::LayerProperties),
    ) {
        let Some(layer) = self.document.layer(id) else {
            return;
        };
        let mut properties = layer.properties.clone();
        change(&mut properties);
        if let Err(err) = self.document.set_properties(id, properties, coalesce) {
            self.notify(ui.ctx(), crate::messages::sentence(&err.to_string()), true);
        }
    }

    fn layer_properties(&mut self, ui: &mut Ui) {
        let Some(id) = self.active_layer else {
            ui.weak("No layer selected.");
            return;
        };
        let Some(layer) = self.document.layer(id) else {
            return;
        };
        let mut opacity = layer.properties.opacity;
        let mut blend = layer.properties.blend;
        let generative = match &layer.content {
            LayerContent::Generative(generative) => Some((
                generative.params,
                generative.generation,
                generative.selected,
            )),
            LayerContent::Paint(_) => None,
        };
        let variations = match &layer.content {
            LayerContent::Generative(generative) if generative.variations.len() > 1 => {
                Some((generative.selected, generative.variations.len()))
            }
            _ => None,
        };
        let mut released = false;
        egui::Grid::new("layer_properties")
            .num_columns(2)
            .spacing([8.0, 4.0])
            .show(ui, |ui| {
                let label = ui.label("Opacity");
                let response = ui
                    .add(egui::Slider::new(&mut opacity, 0.0..=1.0))
                    .labelled_by(label.id);
                if response.changed() {
                    self.update_properties(ui, id, Some("opacity"), |properties| {
                        properties.opacity = opacity;
                    });
                }
                released |= response.drag_stopped() || response.lost_focus();
                ui.end_row();
                let label = ui.label("Blend");
                egui::ComboBox::from_id_salt("blend")
                    .selected_text(blend.label())
                    .show_ui(ui, |ui| {
                        for mode in [BlendMode::Normal, BlendMode::Multiply, BlendMode::Screen] {
                            ui.selectable_value(&mut blend, mode, mode.label());
                        }
                    })
                    .response
                    .labelled_by(label.id);
                if blend != layer_blend(&self.document, id) {
                    self.update_properties(ui, id, None, |properties| properties.blend = blend);
                }
                ui.end_row();
                if let Some((mut params, _, _)) = generative {
                    let before = params;
                    let label = ui.label("Grow edge");
                    let grow = ui
                        .add(egui::Slider::new(&mut params.grow, -64..=64).suffix(" px"))
                        .labelled_by(label.id)
                        .on_hover_text("Grow (or shrink) the area the generation covers");
                    ui.end_row();
                    let label = ui.label("Feather");
                    let feather = ui
                        .add(egui::Slider::new(&mut params.feather, 0.0..=128.0).suffix(" px"))
                        .labelled_by(label.id)
                        .on_hover_text("Soften the edge where the generation meets your work");
                    ui.end_row();
                    released |= grow.drag_stopped() || feather.drag_stopped();
                    released |= grow.lost_focus() || feather.lost_focus();
                    if params != before {
                        self.set_generative(ui, id, params);
                    }
                }
                if let Some((selected, count)) = variations {
                    ui.label("Variation");
                    ui.horizontal(|ui| {
                        if ui
                            .add_enabled(selected > 0, egui::Button::new("Previous"))
                            .on_hover_text("Show the generation's previous variation")
                            .clicked()
                        {
                            self.show_variation(ui, id, selected - 1);
                        }
                        ui.label(format!("{} of {count}", selected + 1));
                        if ui
                            .add_enabled(selected + 1 < count, egui::Button::new("Next"))
                            .on_hover_text("Show the generation's next variation")
                            .clicked()
                        {
                            self.show_variation(ui, id, selected + 1);
                        }
                    });
                    ui.end_row();
                }
            });
        if released {
            self.document.seal_history();
        }
        if let Some((params, generation, selected)) = generative {
            if params != GenerativeParams::default() && ui.button("Reset edges").clicked() {
                self.set_generative(ui, id, GenerativeParams::default());
                self.document.seal_history();
            }
            if let Some(record) = self
                .document
                .generation_log
                .iter()
                .find(|record| record.id == generation)
            {
                egui::CollapsingHeader::new("How it was made")
                    .id_salt(("generation", id.0))
                    .show(ui, |ui| {
                        ui.label(format!("Prompt: {}", record.prompt));
                        if !record.negative_prompt.is_empty() {
                            ui.label(format!("Negative: {}", record.negative_prompt));
                        }
                        if let Some(seed) = record.seeds.get(selected) {
                            ui.label(format!("Seed: {seed}"));
                        }
                        ui.weak(format!(
                            "{} · {} · {} steps · guidance {} · {}",
                            record.mode,
                            record.model,
                            record.steps,
                            record.guidance,
                            record.scheduler
                        ));
                        ui.weak(format!(
                            "Made {} on {}",
                            record.time, record.execution_provider
                        ));
                    });
            }
        }
    }

    /// Every generation of the document, newest first, as the project keeps it; returns whether
    /// the window should close.
    fn generation_log_window(&mut self, ui: &mut Ui) -> bool {
        ui.set_min_width(560.0);
        ui.heading("Generation log");
        ui.weak(
            "Every generation made in this document, accepted or not. It is saved in the \
             project and written into exported PNGs.",
        );
        ui.add_space(6.0);
        egui::ScrollArea::vertical()
            .max_height(420.0)
            .id_salt("generation log")
            .show(ui, |ui| {
                for record in self.document.generation_log.iter().rev() {
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
        let mut close = false;
        ui.horizontal(|ui| {
            if ui
                .button("Copy as JSON")
                .on_hover_text("The whole log, as the project stores it")
                .clicked()
            {
                match serde_json::to_string_pretty(&self.document.generation_log) {
                    Ok(text) => {
                        ui.ctx().copy_text(text);
                        self.notify(ui.ctx(), "The generation log is on the clipboard.", false);
                    }
                    Err(err) => {
                        self.notify(ui.ctx(), format!("Could not copy the log: {err}"), true);
                    }
                }
            }
            if ui.button("Close").clicked() {
                close = true;
            }
        });
        close
    }

    /// Shows another variation of a generative layer's generation. A name Pentimento gave the
    /// layer follows the seed shown; a name the artist chose stays. The generation log notes
    /// that the variation was taken into the document.
    fn show_variation(&mut self, ui: &Ui, id: LayerId, selected: usize) {
        let Some(layer) = self.document.layer(id) else {
            return;
        };
        let LayerContent::Generative(generative) = &layer.content else {
            return;
        };
        let generation = generative.generation;
        let seeds = self
            .document
            .generation_log
            .iter()
            .find(|record| record.id == generation)
            .map(|record| record.seeds.clone())
            .unwrap_or_default();
        let rename = match (seeds.get(generative.selected), seeds.get(selected)) {
            (Some(&shown), Some(&next))
                if layer.properties.name == generative_layer_name(generation, shown) =>
            {
                Some(generative_layer_name(generation, next))
            }
            _ => None,
        };
        match self
            .document
            .set_generative_variation(id, selected, rename.as_deref())
        {
            Ok(()) => {
                if let Some(record) = self.document.generation_record_mut(generation)
                    && !record.accepted.contains(&selected)
                {
                    record.accepted.push(selected);
                }
            }
            Err(err) => self.notify(ui.ctx(), crate::messages::sentence(&err.to_string()), true),
        }
    }

    fn set_generative(&mut self, ui: &Ui, id: LayerId, params: GenerativeParams) {
        if let Err(err) = self
            .document
            .set_generative_params(id, params, Some("edges"))
        {
            self.notify(ui.ctx(), crate::messages::sentence(&err.to_string()), true);
        }
    }

    fn mask_row(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.label(RichText::new("Mask").strong());
            let empty = self.document.mask().is_empty();
            ui.weak(if empty {
                "empty: generations cover the canvas"
            } else {
                "inpainting the masked area"
            });
        });
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.overlays.mask, "Show");
            if ui
                .add_enabled(!self.document.mask().is_empty(), egui::Button::new("Clear"))
                .clicked()
            {
                self.document.clear_mask();
            }
        });
    }

    fn provenance_section(&mut self, ui: &mut Ui) {
        let response = egui::CollapsingHeader::new("Provenance")
            .default_open(false)
            .show(ui, |ui| {
                ui.checkbox(&mut self.overlays.provenance, "Show on the canvas")
                    .on_hover_text("Tints generated pixels and those painted over generations");
                let revision = self.document.revision();
                let stale = self
                    .provenance_shares
                    .as_ref()
                    .is_none_or(|(counted, _)| *counted != revision);
                if stale && !self.document.is_stroking() {
                    let (_, map) = self.document.composite(&self.document.bounds());
                    self.provenance_shares = Some((revision, ProvenanceShares::count(&map)));
                }
                if let Some((_, shares)) = &self.provenance_shares {
                    let overlay = self.overlays.provenance;
                    for (color, count, text) in [
                        (HAND_TINT, shares.hand, "painted by hand"),
                        (GENERATED_TINT, shares.generated, "generated"),
                        (
                            OVERPAINTED_TINT,
                            shares.generated_then_painted,
                            "generated, then painted over",
                        ),
                    ] {
                        ui.horizontal(|ui| {
                            if overlay {
                                let (rect, _) = ui.allocate_exact_size(
                                    egui::vec2(10.0, 10.0),
                                    egui::Sense::hover(),
                                );
                                ui.painter().rect_filled(rect, 2.0, color);
                            }
                            ui.label(format!("{:.1} % {text}", shares.percent(count)));
                        });
                    }
                    ui.weak("of the visible pixels");
                }
                ui.weak(format!(
                    "{} generation(s) in this document's log",
                    self.document.generation_log.len()
                ));
                if ui
                    .add_enabled(
                        !self.document.generation_log.is_empty(),
                        egui::Button::new("Show log"),
                    )
                    .clicked()
                {
                    self.modal = Some(Modal::GenerationLog);
                }
            });
        let _ = response;
    }

    /// The staged variations under the canvas.
    pub(super) fn staging_strip(&mut self, ui: &mut Ui) {
        let Some(staging) = &self.generation.staging else {
            return;
        };
        let region = staging.plan.region;
        let aspect = region.width() as f32 / region.height().max(1) as f32;
        let size = egui::vec2(THUMBNAIL * aspect.clamp(0.25, 4.0), THUMBNAIL);
        let mut select = None;
        let mut accept = None;
        let mut actions = (false, false, false);
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
                actions.0 = ui
                    .add_enabled(!selected_accepted, egui::Button::new("Accept"))
                    .on_hover_text("Add the variation shown as a new layer (Enter)")
                    .clicked();
                actions.1 = ui
                    .add_enabled(
                        staging.variations.iter().any(|staged| !staged.accepted),
                        egui::Button::new("Accept all"),
                    )
                    .on_hover_text("Each variation becomes its own layer")
                    .clicked();
                more = ui
                    .add_enabled(
                        !self.generation.is_running() && self.model.ready().is_some(),
                        egui::Button::new("Generate more"),
                    )
                    .on_hover_text("The same settings with the next seeds")
                    .clicked();
                let discard = ui
                    .add_enabled(!self.generation.is_running(), egui::Button::new("Discard"))
                    .on_hover_text("Drop the variations that were not accepted (they stay in the generation log)")
                    .clicked();
                actions.2 = discard;
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
        let ctx = ui.ctx().clone();
        if let Some(index) = select
            && let Some(staging) = &mut self.generation.staging
        {
            staging.selected = index;
        }
        if more {
            self.generate_more(&ctx);
        }
        if let Some(index) = accept {
            self.accept(&ctx, index);
        }
        if actions.0 {
            self.accept_selected(&ctx);
        }
        if actions.1 {
            self.accept_all(&ctx);
        }
        if actions.2 {
            self.generation.discard_staging();
        }
    }

    /// The modal question, if any.
    pub(super) fn modal_ui(&mut self, ctx: &egui::Context) {
        let Some(modal) = self.modal.clone() else {
            return;
        };
        let mut close = false;
        let mut next_modal = None;
        // Saving may ask where (another dialog), so it starts once this modal is closed.
        let mut save_then = None;
        let response = egui::Modal::new(egui::Id::unique("pentimento_modal")).show(ctx, |ui| {
            ui.set_max_width(420.0);
            match modal {
                Modal::Recover(recovery) => {
                    ui.heading("Recover your work?");
                    ui.label("Pentimento did not close cleanly last time. An autosave of the open document was kept.");
                    if let Some(original) = &recovery.original {
                        ui.label(format!("It was saved as {}.", original.display()));
                    }
                    if let Some(age) = recovery
                        .saved_at
                        .and_then(|time| time.elapsed().ok())
                    {
                        ui.weak(format!("Autosaved {} ago.", describe_age(age.as_secs())));
                    }
                    ui.add_space(8.0);
                    ui.horizontal(|ui| {
                        if ui.button("Recover").clicked() {
                            close = true;
                            self.recover(ui.ctx(), &recovery);
                        }
                        if ui
                            .button("Discard")
                            .on_hover_text("The autosave is kept aside in the data folder, not deleted")
                            .clicked()
                        {
                            close = true;
                            let root = self.folders.autosave_dir();
                            if let Some(path) = Autosave::set_aside(&root, &recovery) {
                                self.notify(ui.ctx(), format!("The autosave was kept as {}.", path.display()), false);
                            }
                            // The canvas is still untouched: offer the next one now.
                            if !self.more_recoveries.is_empty() {
                                next_modal = Some(Modal::Recover(self.more_recoveries.remove(0)));
                            }
                        }
                    });
                }
                Modal::ConfirmQuit => {
                    ui.heading("Save changes before closing?");
                    ui.label("The document has changes that are not saved.");
                    ui.add_space(8.0);
                    ui.horizontal(|ui| {
                        if ui.button("Save").clicked() {
                            close = true;
                            save_then = Some(AfterSave::Quit);
                        }
                        if ui.button("Don't save").clicked() {
                            close = true;
                            self.quit_cleanly();
                            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                        }
                        if ui.button("Cancel").clicked() {
                            close = true;
                        }
                    });
                }
                Modal::ConfirmReplace(with) => {
                    ui.heading("Replace the open document?");
                    ui.label("It has changes that are not saved.");
                    ui.add_space(8.0);
                    ui.horizontal(|ui| {
                        if ui.button("Save first").clicked() {
                            close = true;
                            save_then = Some(AfterSave::Replace(with.clone()));
                        }
                        if ui.button("Discard changes").clicked() {
                            close = true;
                            if let Some(message) = self.do_replace(with.clone()) {
                                self.notify(ui.ctx(), message, true);
                            }
                        }
                        if ui.button("Cancel").clicked() {
                            close = true;
                        }
                    });
                }
                Modal::NewCanvas { mut width, mut height } => {
                    ui.heading("New canvas");
                    ui.horizontal_wrapped(|ui| {
                        for (name, w, h) in SIZE_PRESETS {
                            if ui.selectable_label(width == w && height == h, name).clicked() {
                                width = w;
                                height = h;
                            }
                        }
                    });
                    ui.horizontal(|ui| {
                        let label = ui.label("Width");
                        ui.add(egui::DragValue::new(&mut width).range(1..=crate::document::MAX_SIDE).suffix(" px"))
                            .labelled_by(label.id);
                        let label = ui.label("Height");
                        ui.add(egui::DragValue::new(&mut height).range(1..=crate::document::MAX_SIDE).suffix(" px"))
                            .labelled_by(label.id);
                    });
                    self.modal = Some(Modal::NewCanvas { width, height });
                    ui.add_space(8.0);
                    ui.horizontal(|ui| {
                        if ui.button("Create").clicked() {
                            // Not `close`: replacing may ask to save first (another modal).
                            self.modal = None;
                            self.request_replace(ReplaceWith::New(width, height));
                        }
                        if ui.button("Cancel").clicked() {
                            close = true;
                        }
                    });
                }
                Modal::GenerationLog => {
                    close = self.generation_log_window(ui);
                }
                Modal::Models => {
                    ui.set_min_width(560.0);
                    close = self.models_window(ui);
                    if close {
                        self.models_error = None;
                        self.download_error = None;
                    }
                }
                Modal::Settings => {
                    ui.heading("Settings");
                    egui::Grid::new("settings").num_columns(2).show(ui, |ui| {
                        let label = ui.label("Undo memory");
                        ui.add(
                            egui::Slider::new(&mut self.settings.history_budget_mib, 64..=16_384)
                                .logarithmic(true)
                                .suffix(" MiB"),
                        )
                        .labelled_by(label.id);
                        ui.end_row();
                        ui.label("");
                        let depth = self.document.history().undo_depth();
                        ui.weak(format!(
                            "{depth} {} {:.0} MiB now",
                            if depth == 1 { "step uses" } else { "steps use" },
                            self.document.history().memory_bytes() as f64 / (1 << 20) as f64
                        ));
                        ui.end_row();
                        let label = ui.label("Autosave every");
                        ui.add(egui::Slider::new(&mut self.settings.autosave_seconds, 5..=600).suffix(" s"))
                            .labelled_by(label.id);
                        ui.end_row();
                        ui.label("Autosave folder");
                        ui.weak(self.folders.autosave_dir().display().to_string());
                        ui.end_row();
                        ui.label("ONNX Runtime library");
                        ui.vertical(|ui| {
                            match &self.settings.onnx_runtime_library {
                                Some(path) => ui.weak(path.display().to_string()),
                                None => ui.weak("Automatic (the verified copy Pentimento downloads)"),
                            };
                            ui.horizontal(|ui| {
                                if ui.button("Choose…").clicked() {
                                    self.ask_file(ui.ctx(), FilePurpose::RuntimeLibrary);
                                }
                                if ui
                                    .add_enabled(
                                        self.settings.onnx_runtime_library.is_some(),
                                        egui::Button::new("Automatic"),
                                    )
                                    .clicked()
                                {
                                    self.settings.onnx_runtime_library = None;
                                }
                            });
                            ui.weak("Used from the next start of Pentimento.");
                        });
                        ui.end_row();
                        ui.label("File dialogs");
                        ui.vertical(|ui| {
                            ui.radio_value(
                                &mut self.settings.file_dialogs,
                                FileDialogChoice::System,
                                "The system's, where it has them",
                            );
                            ui.radio_value(
                                &mut self.settings.file_dialogs,
                                FileDialogChoice::Pentimento,
                                "Pentimento's own",
                            );
                            if self.options.dialogs.is_none()
                                && crate::dialogs::system_dialogs_known() == Some(false)
                            {
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
                        close = true;
                        self.document
                            .set_history_budget(self.settings.history_budget_mib << 20);
                        self.autosave.set_interval(std::time::Duration::from_secs(
                            self.settings.autosave_seconds.max(5),
                        ));
                        self.save_settings();
                    }
                }
            }
        });
        let dismissable = matches!(
            self.modal,
            Some(
                Modal::NewCanvas { .. }
                    | Modal::Settings
                    | Modal::Models
                    | Modal::GenerationLog
                    | Modal::ConfirmReplace(_)
            )
        );
        if close || (dismissable && response.should_close()) {
            self.modal = next_modal;
        }
        if let Some(then) = save_then {
            self.save(ctx, then);
        }
    }

    /// Opens an autosave left by a window that did not close cleanly and makes its slot this
    /// window's own; a damaged one is kept aside and explained.
    fn recover(&mut self, ctx: &egui::Context, recovery: &Recovery) {
        let mut document = match ora::open(&recovery.path) {
            Ok(document) => document,
            Err(err) => {
                let aside = Autosave::set_aside(&self.folders.autosave_dir(), recovery);
                let kept = aside
                    .map(|path| format!(" The file was kept as {}.", path.display()))
                    .unwrap_or_default();
                self.notify(
                    ctx,
                    format!("The autosave could not be opened: {err}.{kept}"),
                    true,
                );
                return;
            }
        };
        if let Err(message) = self.autosave.adopt(recovery) {
            self.notify(ctx, message, true);
            return;
        }
        document.mark_modified();
        self.replace_document(document, recovery.original.clone());
        // The recovered work stays on disk until it is saved.
        self.autosave
            .tick(&self.document, recovery.original.as_deref(), true);
        if !self.more_recoveries.is_empty() {
            let count = self.more_recoveries.len();
            self.notify(
                ctx,
                format!(
                    "{count} more autosave{} of windows that did not close cleanly {} kept in {}; \
                     {} offered the next time Pentimento starts.",
                    if count == 1 { "" } else { "s" },
                    if count == 1 { "is" } else { "are" },
                    self.folders.autosave_dir().display(),
                    if count == 1 { "it is" } else { "they are" },
                ),
                true,
            );
        }
    }
}

impl PentimentoApp {
    /// The model manager; returns whether it should close.
    fn models_window(&mut self, ui: &mut Ui) -> bool {
        ui.heading("Models");
        ui.weak("The default model loads when a generation first needs it.");
        ui.add_space(6.0);
        let entries = self.settings.models.clone();
        if entries.is_empty() {
            ui.label("No models yet: add a folder or download one below.");
        }
        let mut action: Option<(EntryAction, PathBuf)> = None;
        egui::ScrollArea::vertical()
            .max_height(260.0)
            .id_salt("model list")
            .show(ui, |ui| {
                for entry in &entries {
                    let summary = self
                        .model_summaries
                        .entry(entry.path.clone())
                        .or_insert_with(|| {
                            crate::models::inspect(&entry.path)
                                .map(|capabilities| capabilities.summary())
                        })
                        .clone();
                    let is_default =
                        self.settings.model_folder.as_deref() == Some(entry.path.as_path());
                    egui::Frame::group(ui.style()).show(ui, |ui| {
                        ui.set_width(ui.available_width());
                        ui.horizontal(|ui| {
                            ui.label(RichText::new(entry.name()).strong());
                            if is_default {
                                ui.label(
                                    RichText::new("default")
                                        .small()
                                        .color(ui.visuals().selection.bg_fill),
                                );
                            }
                        });
                        ui.weak(entry.path.display().to_string());
                        match &summary {
                            Ok(text) => {
                                ui.label(text.as_str());
                            }
                            Err(message) => {
                                ui.label(
                                    RichText::new(message.as_str())
                                        .color(ui.visuals().warn_fg_color),
                                );
                            }
                        }
                        ui.horizontal(|ui| {
                            let usable = summary.is_ok() && !self.generation.is_running();
                            if ui
                                .add_enabled(usable, egui::Button::new("Use now"))
                                .clicked()
                            {
                                action = Some((EntryAction::Use, entry.path.clone()));
                            }
                            if ui
                                .add_enabled(!is_default, egui::Button::new("Make default"))
                                .clicked()
                            {
                                action = Some((EntryAction::MakeDefault, entry.path.clone()));
                            }
                            if ui
                                .button("Remove")
                                .on_hover_text("Removes it from this list; the files stay on disk")
                                .clicked()
                            {
                                action = Some((EntryAction::Remove, entry.path.clone()));
                            }
                        });
                    });
                }
            });
        match action {
            Some((EntryAction::Use, path)) => {
                self.load_model(path);
                return true;
            }
            Some((EntryAction::MakeDefault, path)) => {
                crate::models::set_default(&mut self.settings, &path);
                self.save_settings();
            }
            Some((EntryAction::Remove, path)) => {
                crate::models::remove(&mut self.settings, &path);
                self.model_summaries.remove(&path);
                self.save_settings();
            }
            None => {}
        }
        if ui.button("Add folder…").clicked() {
            self.ask_file(ui.ctx(), FilePurpose::AddModel);
        }
        if let Some(message) = &self.models_error {
            ui.label(RichText::new(message.as_str()).color(ui.visuals().warn_fg_color));
        }
        self.follow_default_model();

        ui.separator();
        ui.label(RichText::new("Download from the Hugging Face Hub").strong());
        ui.horizontal_wrapped(|ui| {
            ui.weak("Suggestions:");
            for suggestion in pentimento_inference::hub::SUGGESTIONS {
                if ui
                    .small_button(suggestion.name)
                    .on_hover_text(suggestion.note)
                    .clicked()
                {
                    self.download_form = super::DownloadForm {
                        repo: suggestion.repo.to_owned(),
                        revision: suggestion.revision.to_owned(),
                        subfolder: suggestion.subfolder.unwrap_or_default().to_owned(),
                        token: self.download_form.token.clone(),
                    };
                }
            }
        });
        let downloading = self.download.is_some();
        egui::Grid::new("download form")
            .num_columns(2)
            .show(ui, |ui| {
                let form = &mut self.download_form;
                for (label, value, hint, password) in [
                    ("Repository", &mut form.repo, "owner/name", false),
                    ("Revision", &mut form.revision, "main", false),
                    ("Subfolder", &mut form.subfolder, "optional", false),
                    (
                        "Access token",
                        &mut form.token,
                        "optional: HF_TOKEN or hf auth login",
                        true,
                    ),
                ] {
                    let label = ui.label(label);
                    ui.add_enabled(
                        !downloading,
                        egui::TextEdit::singleline(value)
                            .hint_text(hint)
                            .password(password)
                            .desired_width(320.0),
                    )
                    .labelled_by(label.id);
                    ui.end_row();
                }
            });
        if let Some(download) = &self.download {
            let progress = download.progress.clone().unwrap_or_default();
            let fraction = if progress.bytes_total > 0 {
                progress.bytes_done as f32 / progress.bytes_total as f32
            } else {
                0.0
            };
            ui.add(
                egui::ProgressBar::new(fraction)
                    .text(crate::models::describe_progress(&progress))
                    .animate(true),
            );
            if !progress.file.is_empty() {
                ui.weak(format!(
                    "{} ({} of {} files)",
                    progress.file,
                    (progress.files_done + 1).min(progress.files_total),
                    progress.files_total
                ));
            }
            if ui
                .button("Cancel download")
                .on_hover_text("The finished part is kept; downloading again resumes it")
                .clicked()
            {
                download.cancel.cancel();
            }
        } else {
            let ready = !self.download_form.repo.trim().is_empty();
            if ui
                .add_enabled(ready, egui::Button::new("Download"))
                .clicked()
            {
                self.start_download(ui.ctx());
            }
        }
        if let Some(message) = &self.download_error {
            ui.label(RichText::new(message.as_str()).color(ui.visuals().warn_fg_color));
        }
        ui.add_space(8.0);
        ui.button("Close").clicked()
    }

    /// Without a model in use, the default one is the one a generation will load.
    fn follow_default_model(&mut self) {
        if matches!(self.model, ModelState::None | ModelState::Remembered(_)) {
            self.model = match &self.settings.model_folder {
                Some(path) => ModelState::Remembered(path.clone()),
                None => ModelState::None,
            };
        }
    }

    fn start_download(&mut self, ctx: &egui::Context) {
        let form = &self.download_form;
        let source = pentimento_inference::hub::HubSource {
            repo: form.repo.trim().to_owned(),
            revision: Some(form.revision.trim())
                .filter(|revision| !revision.is_empty())
                .unwrap_or("main")
                .to_owned(),
            subfolder: Some(form.subfolder.trim().trim_matches('/'))
                .filter(|subfolder| !subfolder.is_empty())
                .map(str::to_owned),
        };
        let options = pentimento_inference::hub::HubOptions {
            endpoint: self.options.hub_endpoint.clone(),
            token: Some(form.token.trim())
                .filter(|token| !token.is_empty())
                .map(str::to_owned),
            cache_dir: self.options.hub_cache.clone(),
        };
        let wake = ctx.clone();
        match crate::models::Download::start(source, options, move || wake.request_repaint()) {
            Ok(download) => {
                // Each error is about the last thing done.
                self.models_error = None;
                self.download_error = None;
                self.download = Some(download);
            }
            Err(err) => {
                self.download_error = Some(format!("Could not start the download ({err})."));
            }
        }
    }

    /// Takes the download's progress and end.
    pub(super) fn poll_download(&mut self, ctx: &egui::Context) {
        let Some(download) = &mut self.download else {
            return;
        };
        let Some(end) = download.poll() else {
            return;
        };
        let label = crate::models::source_label(&download.source);
        self.download = None;
        match end {
            crate::models::DownloadEvent::Finished(Some(path)) => {
                match crate::models::add(&mut self.settings, &path, Some(label.clone())) {
                    Ok(capabilities) => {
                        self.model_summaries.clear();
                        self.save_settings();
                        self.notify(
                            ctx,
                            format!("Downloaded {label}: {}.", capabilities.summary()),
                            false,
                        );
                    }
                    Err(message) => self.download_error = Some(message),
                }
            }
            crate::models::DownloadEvent::Finished(None) => {
                self.notify(
                    ctx,
                    format!("Download of {label} stopped; downloading it again resumes it."),
                    false,
                );
            }
            crate::models::DownloadEvent::Failed(message) => {
                // With the window closed, the failure is said over the canvas instead.
                if self.modal != Some(Modal::Models) {
                    self.notify(ctx, format!("Download of {label} failed: {message}"), true);
                }
                self.download_error = Some(message);
            }
            crate::models::DownloadEvent::Progress(_) => {}
        }
    }
}

fn layer_blend(document: &crate::document::Document, id: LayerId) -> BlendMode {
    document
        .layer(id)
        .map_or(BlendMode::Normal, |layer| layer.properties.blend)
}

fn describe_age(seconds: u64) -> String {
    match seconds {
        0..=89 => format!("{seconds} s"),
        90..=5399 => format!("{} min", seconds / 60),
        5400..=129_599 => format!("{} h", seconds / 3600),
        _ => format!("{} days", seconds / 86_400),
    }
}

/// What a button of a model in the model manager asks for.
#[derive(Clone, Copy)]
enum EntryAction {
    Use,
    MakeDefault,
    Remove,
}
