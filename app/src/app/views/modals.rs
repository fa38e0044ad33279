//! The modal questions: recover an autosave, save before closing, save before replacing the
//! document, the size of a new canvas, and growing the canvas (Canvas size).

use egui::Ui;

use crate::app::{Action, AfterSave, CanvasSizeForm, Edit, Modal, ReplaceWith, SIZE_PRESETS};
use crate::document::canvas_size::Anchor;

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
                    answer(ui.button("Recover").clicked(), actions, || {
                        Some(Action::Recover(recovery.clone()))
                    });
                    let discard = ui.button("Discard").on_hover_text(
                        "The autosave is kept aside in the data folder, not deleted",
                    );
                    answer(discard.clicked(), actions, || {
                        Some(Action::DiscardRecovery(recovery.clone()))
                    });
                });
            }
            Modal::ConfirmQuit => unsaved_changes(
                ui,
                actions,
                [
                    "Save changes before closing?",
                    "The document has changes that are not saved.",
                ],
                ("Save", || Action::Save(AfterSave::Quit)),
                ("Don't save", || Action::QuitWithoutSaving),
            ),
            Modal::ConfirmReplace(with) => unsaved_changes(
                ui,
                actions,
                [
                    "Replace the open document?",
                    "It has changes that are not saved.",
                ],
                ("Save first", || {
                    Action::Save(AfterSave::Replace(with.clone()))
                }),
                ("Discard changes", || Action::ReplaceNow(with.clone())),
            ),
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
                    // Replacing may ask to save first (another modal).
                    answer(ui.button("Create").clicked(), actions, || {
                        Some(Action::Replace(ReplaceWith::New(*width, *height)))
                    });
                    answer(ui.button("Cancel").clicked(), actions, || None);
                });
            }
            Modal::CanvasSize(form) => canvas_size(ui, form, actions),
            Modal::Credentials { file, lines } => {
                ui.heading("Content Credentials");
                ui.label(egui::RichText::new(file.as_str()).strong());
                ui.add_space(4.0);
                for line in lines {
                    ui.label(line.as_str());
                }
                ui.add_space(6.0);
                answer(ui.button("Close").clicked(), actions, || None);
            }
            Modal::Settings | Modal::Models | Modal::GenerationLog | Modal::Export(_) => {
                return false;
            }
        }
        true
    }
}

/// When the answer's button was `clicked`: closes the question and asks for what `then` gives.
fn answer(clicked: bool, actions: &mut Vec<Action>, then: impl FnOnce() -> Option<Action>) {
    if clicked {
        actions.push(Action::CloseModal);
        actions.extend(then());
    }
}

/// A question about changes not saved yet: its heading and text, a button that saves first,
/// one that goes on without saving, and Cancel.
fn unsaved_changes(
    ui: &mut Ui,
    actions: &mut Vec<Action>,
    [heading, text]: [&str; 2],
    (save, after_saving): (&str, impl FnOnce() -> Action),
    (discard, without_saving): (&str, impl FnOnce() -> Action),
) {
    ui.heading(heading);
    ui.label(text);
    ui.add_space(8.0);
    ui.horizontal(|ui| {
        answer(ui.button(save).clicked(), actions, || Some(after_saving()));
        answer(ui.button(discard).clicked(), actions, || {
            Some(without_saving())
        });
        answer(ui.button("Cancel").clicked(), actions, || None);
    });
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

/// The Canvas size dialog: the new size (or how much to add), where the picture sits, and
/// whether the new area is masked for outpainting.
fn canvas_size(ui: &mut Ui, form: &mut CanvasSizeForm, actions: &mut Vec<Action>) {
    let (from_width, from_height) = form.from;
    ui.heading("Canvas size");
    ui.label(format!(
        "The canvas is {from_width}×{from_height}. Add to it on any side; every layer keeps all \
         its pixels."
    ));
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        grown_side_field(ui, "Width", &mut form.width, from_width);
        grown_side_field(ui, "Height", &mut form.height, from_height);
    });
    ui.horizontal(|ui| {
        ui.label("Add");
        for added in [64, 128, 256, 512] {
            if ui
                .button(format!("+{added}"))
                .on_hover_text(format!(
                    "{added} px more on each side that grows, as the anchor says"
                ))
                .clicked()
            {
                let per_axis = |anchor: u8| if anchor == 1 { 2 * added } else { added };
                form.width = (from_width + per_axis(form.anchor.x)).min(crate::document::MAX_SIDE);
                form.height =
                    (from_height + per_axis(form.anchor.y)).min(crate::document::MAX_SIDE);
            }
        }
    });
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        ui.label("Picture at");
        egui::Grid::new("canvas_anchor")
            .spacing([2.0, 2.0])
            .show(ui, |ui| {
                for y in 0..3 {
                    for x in 0..3 {
                        let anchor = Anchor { x, y };
                        // The picture's cell is the highlighted one, as in a 3×3 anchor grid.
                        let response = ui
                            .add(
                                egui::Button::new("")
                                    .selected(anchor == form.anchor)
                                    .min_size(egui::vec2(20.0, 20.0)),
                            )
                            .on_hover_text(format!("The picture at the {}", anchor.describe()));
                        response.widget_info(|| {
                            egui::WidgetInfo::selected(
                                egui::Role::RadioButton,
                                true,
                                anchor == form.anchor,
                                format!("Anchor {}", anchor.describe()),
                            )
                        });
                        if response.clicked() {
                            form.anchor = anchor;
                        }
                    }
                    ui.end_row();
                }
            });
    });
    let (dx, dy) = form.anchor.offset(form.from, (form.width, form.height));
    let added = [
        ("left", dx),
        ("top", dy),
        ("right", form.width.saturating_sub(from_width + dx)),
        ("bottom", form.height.saturating_sub(from_height + dy)),
    ];
    let sides: Vec<String> = added
        .iter()
        .filter(|(_, pixels)| *pixels > 0)
        .map(|(side, pixels)| format!("{pixels} px on the {side}"))
        .collect();
    if sides.is_empty() {
        ui.weak("Nothing is added yet.");
    } else {
        ui.weak(format!("Adds {}.", sides.join(", ")));
    }
    ui.add_space(4.0);
    ui.checkbox(&mut form.outpaint, "Mask the new area for outpainting")
        .on_hover_text(
            "The next generation paints the new area, taking its context from your picture; \
             what it is given there is pre-filled from the picture's own texture",
        );
    if form.outpaint {
        ui.horizontal(|ui| {
            let label = ui.label("Blend into the picture");
            ui.add(egui::Slider::new(&mut form.overlap, 0..=256).suffix(" px"))
                .labelled_by(label.id)
                .on_hover_text(
                    "How far the mask reaches into your picture, so the generation meets it \
                     smoothly; the layer's edge stays live (grow, feather, colour match)",
                );
        });
    }
    ui.add_space(8.0);
    ui.horizontal(|ui| {
        let grows = form.width > from_width || form.height > from_height;
        answer(
            ui.add_enabled(grows, egui::Button::new("Grow canvas"))
                .clicked(),
            actions,
            || Some(Action::Edit(Edit::GrowCanvas(*form))),
        );
        answer(ui.button("Cancel").clicked(), actions, || None);
    });
}

/// A labelled canvas side in pixels, from `at_least` (the canvas only grows) to the largest.
fn grown_side_field(ui: &mut Ui, label: &str, pixels: &mut u32, at_least: u32) {
    let label = ui.label(label);
    ui.add(
        egui::DragValue::new(pixels)
            .range(at_least..=crate::document::MAX_SIDE)
            .suffix(" px"),
    )
    .labelled_by(label.id);
}
