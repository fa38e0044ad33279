//! The layer panel: the layer stack with thumbnails, the selected layer's properties (opacity,
//! blend, a generative layer's live edges and variations, how it was made), the mask and the
//! provenance shares.

use egui::{RichText, Ui};

use super::thumbnails::LayerThumbnails;
use crate::app::{Action, Edit, Modal};
use crate::canvas::Overlays;
use crate::document::Document;
use crate::document::color_match::ColorMatchMode;
use crate::document::compositor::ProvenanceShares;
use crate::document::generative::{GenerativeParams, MAX_FEATHER, MAX_GROW, Origin};
use crate::document::layer::{BlendMode, LayerContent, LayerId, LayerProperties};

/// The provenance overlay's colours (as in `shaders/canvas.wgsl`), for the legend.
const HAND_TINT: egui::Color32 = egui::Color32::from_rgb(64, 204, 89);
const GENERATED_TINT: egui::Color32 = egui::Color32::from_rgb(41, 115, 255);
const OVERPAINTED_TINT: egui::Color32 = egui::Color32::from_rgb(158, 77, 242);
const FILLED_TINT: egui::Color32 = egui::Color32::from_rgb(242, 166, 38);
const FILLED_OVER_TINT: egui::Color32 = egui::Color32::from_rgb(191, 115, 64);

/// The layer panel and what it remembers between frames.
#[derive(Default)]
pub struct LayerPanel {
    /// The layer being renamed and the name typed so far.
    renaming: Option<(LayerId, String)>,
    /// The layers' thumbnails.
    thumbnails: LayerThumbnails,
    /// Provenance shares of the composite, with the revision they were counted at.
    provenance_shares: Option<(u64, ProvenanceShares)>,
}

/// One row of the layer stack.
struct Row<'a> {
    id: LayerId,
    name: &'a str,
    visible: bool,
    locked: bool,
    generative: Option<Origin>,
    selected: bool,
}

impl LayerPanel {
    /// A layer's thumbnail as the panel shows it (premultiplied RGBA), once drawn.
    pub fn thumbnail(&self, id: LayerId) -> Option<&crate::document::tiles::Thumbnail> {
        self.thumbnails.get(id).map(|(thumbnail, _)| thumbnail)
    }

    /// Forgets what belonged to the previous document: layer ids and revisions start again in
    /// another one.
    pub fn forget_document(&mut self) {
        self.thumbnails = LayerThumbnails::default();
        self.renaming = None;
        self.provenance_shares = None;
    }

    /// The layer stack, the selected layer's properties, and the mask.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        document: &Document,
        active_layer: Option<LayerId>,
        overlays: &mut Overlays,
        actions: &mut Vec<Action>,
    ) {
        ui.heading("Layers");
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            if ui.button("New layer").clicked() {
                actions.push(Action::Edit(Edit::AddLayer {
                    above: active_layer,
                }));
            }
            let selected = active_layer;
            let can_delete = selected.is_some() && document.layers().len() > 1;
            if ui
                .add_enabled(can_delete, egui::Button::new("Delete"))
                .on_hover_text("Undo brings it back")
                .clicked()
                && let Some(id) = selected
            {
                actions.push(Action::Edit(Edit::DeleteLayer(id)));
            }
            if let Some(id) = selected
                && let Some(index) = document.layer_index(id)
            {
                let count = document.layers().len();
                if ui
                    .add_enabled(index + 1 < count, egui::Button::new("⬆"))
                    .on_hover_text("Move up")
                    .clicked()
                {
                    actions.push(Action::Edit(Edit::MoveLayer { id, to: index + 1 }));
                }
                if ui
                    .add_enabled(index > 0, egui::Button::new("⬇"))
                    .on_hover_text("Move down")
                    .clicked()
                {
                    actions.push(Action::Edit(Edit::MoveLayer { id, to: index - 1 }));
                }
            }
        });
        ui.add_space(4.0);

        let rows: Vec<(LayerId, String, bool, bool, Option<Origin>)> = document
            .layers()
            .iter()
            .rev()
            .map(|layer| {
                (
                    layer.id,
                    layer.properties.name.clone(),
                    layer.properties.visible,
                    layer.properties.locked,
                    layer.generative_origin(),
                )
            })
            .collect();
        self.thumbnails.refresh(ui.ctx(), document);
        for (id, name, visible, locked, generative) in rows {
            let row = Row {
                id,
                name: &name,
                visible,
                locked,
                generative,
                selected: active_layer == Some(id),
            };
            self.layer_row(ui, document, &row, actions);
        }
        ui.add_space(6.0);
        ui.separator();
        layer_properties(ui, document, active_layer, actions);
        ui.separator();
        mask_row(ui, document, overlays, actions);
        ui.separator();
        self.provenance_section(ui, document, overlays, actions);
    }

    fn layer_row(
        &mut self,
        ui: &mut Ui,
        document: &Document,
        row: &Row<'_>,
        actions: &mut Vec<Action>,
    ) {
        let &Row {
            id,
            name,
            visible,
            locked,
            generative,
            selected,
        } = row;
        ui.horizontal(|ui| {
            let mut shown = visible;
            if ui
                .checkbox(&mut shown, "")
                .on_hover_text(if visible { "Hide" } else { "Show" })
                .changed()
            {
                set_properties(document, id, None, actions, |properties| {
                    properties.visible = shown;
                });
            }
            super::thumbnails::show(ui, self.thumbnails.get(id), 32.0);
            match generative {
                Some(Origin::Model) => {
                    ui.label(
                        RichText::new("AI")
                            .small()
                            .strong()
                            .color(ui.visuals().warn_fg_color),
                    )
                    .on_hover_text("A generated layer: its pixels were made by the model");
                }
                Some(Origin::Fill) => {
                    ui.label(RichText::new("Fill").small().strong()).on_hover_text(
                        "A content-aware fill: its pixels come from the picture itself, no model",
                    );
                }
                None => {}
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
                        set_properties(document, id, None, actions, |properties| {
                            properties.name = text;
                        });
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
                    actions.push(Action::SelectLayer(id));
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
                    set_properties(document, id, None, actions, |properties| {
                        properties.locked = !locked;
                    });
                }
            });
        });
    }
}

/// Asks to change a layer's properties as `change` does.
fn set_properties(
    document: &Document,
    id: LayerId,
    coalesce: Option<&'static str>,
    actions: &mut Vec<Action>,
    change: impl FnOnce(&mut LayerProperties),
) {
    let Some(layer) = document.layer(id) else {
        return;
    };
    let mut properties = layer.properties.clone();
    change(&mut properties);
    actions.push(Action::Edit(Edit::SetProperties {
        id,
        properties,
        coalesce,
    }));
}

/// The selected layer's opacity, blend, live edges, variations and how it was made.
fn layer_properties(
    ui: &mut Ui,
    document: &Document,
    active_layer: Option<LayerId>,
    actions: &mut Vec<Action>,
) {
    let Some(id) = active_layer else {
        ui.weak("No layer selected.");
        return;
    };
    let Some(layer) = document.layer(id) else {
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
    let can_match_colour = matches!(
        &layer.content,
        LayerContent::Generative(generative) if generative.can_match_colour()
    );
    let variations = match &layer.content {
        LayerContent::Generative(generative) if generative.variations.len() > 1 => Some((
            generative.selected,
            generative.variations.len(),
            generative.choice().is_some(),
        )),
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
                set_properties(document, id, Some("opacity"), actions, |properties| {
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
            if blend != layer.properties.blend {
                set_properties(document, id, None, actions, |properties| {
                    properties.blend = blend;
                });
            }
            ui.end_row();
            if let Some((mut params, _, _)) = generative {
                let before = params;
                let label = ui.label("Grow edge");
                let grow = ui
                    .add(egui::Slider::new(&mut params.grow, -MAX_GROW..=MAX_GROW).suffix(" px"))
                    .labelled_by(label.id)
                    .on_hover_text("Grow (or shrink) the area the generation covers");
                ui.end_row();
                let label = ui.label("Feather");
                let feather = ui
                    .add(egui::Slider::new(&mut params.feather, 0.0..=MAX_FEATHER).suffix(" px"))
                    .labelled_by(label.id)
                    .on_hover_text("Soften the edge where the generation meets your work");
                ui.end_row();
                released |= grow.drag_stopped() || feather.drag_stopped();
                released |= grow.lost_focus() || feather.lost_focus();
                let label = ui.label("Colour match");
                ui.add_enabled_ui(can_match_colour, |ui| {
                    ui.horizontal(|ui| {
                        for mode in ColorMatchMode::ALL {
                            ui.radio_value(&mut params.color.mode, mode, mode.label())
                                .on_hover_text(match mode {
                                    ColorMatchMode::Off => "The colours as generated",
                                    ColorMatchMode::Global => {
                                        "Match the mean and spread of your colours around the edge"
                                    }
                                    ColorMatchMode::Local => {
                                        "Match your colours along the edge, where each differs, \
                                         blended smoothly inwards"
                                    }
                                });
                        }
                    })
                    .response
                    .labelled_by(label.id);
                })
                .response
                .on_disabled_hover_text(
                    "This layer was made before Pentimento kept the pixels it was generated over",
                );
                ui.end_row();
                if params.color.mode != ColorMatchMode::Off {
                    let label = ui.label("Match strength");
                    let strength = ui
                        .add(egui::Slider::new(&mut params.color.strength, 0.0..=1.0))
                        .labelled_by(label.id);
                    released |= strength.drag_stopped() || strength.lost_focus();
                    ui.end_row();
                }
                if params != before {
                    actions.push(Action::Edit(Edit::SetGenerativeParams { id, params }));
                }
            }
            if let Some((selected, count, painted)) = variations {
                if painted {
                    ui.label("Base variation").on_hover_text(
                        "Shown where the variation brush has not painted another variation",
                    );
                } else {
                    ui.label("Variation");
                }
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(selected > 0, egui::Button::new("Previous"))
                        .on_hover_text("Show the generation's previous variation")
                        .clicked()
                    {
                        actions.push(Action::Edit(Edit::ShowVariation {
                            id,
                            selected: selected - 1,
                        }));
                    }
                    ui.label(format!("{} of {count}", selected + 1));
                    if ui
                        .add_enabled(selected + 1 < count, egui::Button::new("Next"))
                        .on_hover_text("Show the generation's next variation")
                        .clicked()
                    {
                        actions.push(Action::Edit(Edit::ShowVariation {
                            id,
                            selected: selected + 1,
                        }));
                    }
                });
                ui.end_row();
            }
        });
    if released {
        actions.push(Action::Edit(Edit::SealHistory));
    }
    if let Some((params, generation, selected)) = generative {
        let edges_only = GenerativeParams {
            color: params.color,
            ..GenerativeParams::default()
        };
        if params != edges_only && ui.button("Reset edges").clicked() {
            actions.push(Action::Edit(Edit::SetGenerativeParams {
                id,
                params: edges_only,
            }));
            actions.push(Action::Edit(Edit::SealHistory));
        }
        if let Some(record) = document.generation_record(generation) {
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
                        record.mode, record.model, record.steps, record.guidance, record.scheduler
                    ));
                    for lora in &record.loras {
                        ui.label(format!("LoRA: {}", lora.describe()))
                            .on_hover_text(format!("sha256 {}", lora.sha256));
                    }
                    ui.weak(format!(
                        "Made {} on {}",
                        record.time, record.execution_provider
                    ));
                });
        }
    }
}

/// The mask's state, its overlay switch and Clear.
fn mask_row(ui: &mut Ui, document: &Document, overlays: &mut Overlays, actions: &mut Vec<Action>) {
    ui.horizontal(|ui| {
        ui.label(RichText::new("Mask").strong());
        let empty = document.mask().is_empty();
        ui.weak(if empty {
            "empty: generations cover the canvas"
        } else {
            "inpainting the masked area"
        });
    });
    ui.horizontal(|ui| {
        ui.checkbox(&mut overlays.mask, "Show");
        if ui
            .add_enabled(!document.mask().is_empty(), egui::Button::new("Clear"))
            .clicked()
        {
            actions.push(Action::Edit(Edit::ClearMask));
        }
    });
}

impl LayerPanel {
    fn provenance_section(
        &mut self,
        ui: &mut Ui,
        document: &Document,
        overlays: &mut Overlays,
        actions: &mut Vec<Action>,
    ) {
        let response = egui::CollapsingHeader::new("Provenance")
            .default_open(false)
            .show(ui, |ui| {
                ui.checkbox(&mut overlays.provenance, "Show on the canvas")
                    .on_hover_text("Tints generated pixels and those painted over generations");
                let revision = document.revision();
                let stale = self
                    .provenance_shares
                    .as_ref()
                    .is_none_or(|(counted, _)| *counted != revision);
                if stale && !document.is_stroking() {
                    let (_, map) = document.composite(&document.bounds());
                    self.provenance_shares = Some((revision, ProvenanceShares::count(&map)));
                }
                if let Some((_, shares)) = &self.provenance_shares {
                    let overlay = overlays.provenance;
                    let mut rows = vec![
                        (HAND_TINT, shares.hand, "painted by hand"),
                        (GENERATED_TINT, shares.generated, "generated"),
                        (
                            OVERPAINTED_TINT,
                            shares.generated_then_painted,
                            "generated, then painted over",
                        ),
                    ];
                    // Fill is its own class, shown once a document has any.
                    if shares.filled + shares.filled_then_painted > 0 {
                        rows.push((
                            FILLED_TINT,
                            shares.filled,
                            "filled from the picture (no model)",
                        ));
                        rows.push((
                            FILLED_OVER_TINT,
                            shares.filled_then_painted,
                            "filled, then painted over",
                        ));
                    }
                    for (color, count, text) in rows {
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
                    document.generation_log.len()
                ));
                if ui
                    .add_enabled(
                        !document.generation_log.is_empty(),
                        egui::Button::new("Show log"),
                    )
                    .clicked()
                {
                    actions.push(Action::Show(Modal::GenerationLog));
                }
            });
        let _ = response;
    }
}
