//! The tools panel: the tool buttons and the active brush's settings.

use egui::Ui;

use crate::app::{Action, Edit};
use crate::canvas::Overlays;
use crate::document::Document;
use crate::document::choice::MAX_VARIATIONS;
use crate::document::layer::{LayerContent, LayerId};
use crate::tools::{Tool, ToolSettings};

/// The tools panel (it keeps no state of its own: the tools and brushes are the settings').
#[derive(Debug, Default)]
pub struct ToolsPanel;

impl ToolsPanel {
    /// Tool buttons and the active brush's settings; edits `tools` and the mask overlay switch.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        tools: &mut ToolSettings,
        overlays: &mut Overlays,
        document: &Document,
        active_layer: Option<LayerId>,
        actions: &mut Vec<Action>,
    ) {
        let mask_empty = document.mask().is_empty();
        ui.heading("Tools");
        ui.horizontal_wrapped(|ui| {
            for tool in Tool::ALL {
                ui.selectable_value(&mut tools.tool, tool, tool.label())
                    .on_hover_text(format!("{} ({})", tool.label(), tool.shortcut()));
            }
        });
        ui.add_space(4.0);
        let tool = tools.tool;
        if tool == Tool::VariationBrush {
            variation_choice(ui, tools, document, active_layer);
        }
        if tool.is_brush() {
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
                    if tool != Tool::MaskEraser && tool != Tool::VariationBrush {
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
        if tool.works_on_mask() || !mask_empty {
            ui.horizontal(|ui| {
                ui.checkbox(&mut overlays.mask, "Show mask");
                if ui
                    .add_enabled(!mask_empty, egui::Button::new("Clear mask"))
                    .clicked()
                {
                    actions.push(Action::Edit(Edit::ClearMask));
                }
            });
        }
    }
}

/// Which variation the variation brush paints, among the selected layer's.
fn variation_choice(
    ui: &mut Ui,
    tools: &mut ToolSettings,
    document: &Document,
    active_layer: Option<LayerId>,
) {
    let layer = active_layer.and_then(|id| document.layer(id));
    let Some((layer, generative)) = layer.and_then(|layer| match &layer.content {
        LayerContent::Generative(generative) if generative.variations.len() > 1 => {
            Some((layer, generative))
        }
        _ => None,
    }) else {
        ui.weak(
            "Select a generative layer made with two or more variations, then paint where each \
             shows.",
        );
        return;
    };
    let seeds = document
        .generation_record(generative.generation)
        .map(|record| record.seeds.clone())
        .unwrap_or_default();
    let count = generative.variations.len().min(MAX_VARIATIONS);
    if usize::from(tools.paint_variation) >= count {
        tools.paint_variation = 0;
    }
    ui.label(format!(
        "Paint a variation of \"{}\"",
        layer.properties.name
    ));
    ui.horizontal_wrapped(|ui| {
        for index in 0..count {
            let seed = seeds
                .get(index)
                .map_or_else(String::new, |seed| format!(", seed {seed}"));
            let label = if index == generative.selected {
                format!("{} (base)", index + 1)
            } else {
                (index + 1).to_string()
            };
            ui.selectable_value(&mut tools.paint_variation, index as u8, label)
                .on_hover_text(format!(
                    "Paint variation {}{seed}; where you have not painted, the layer shows \
                     its base variation (Previous / Next in the layer panel)",
                    index + 1
                ));
        }
    });
    ui.weak("Soft edges blend the variations; undo takes a stroke back.");
}
