//! The prompt panel: ONNX Runtime's problem when it has one, the model, the prompt and the
//! generation settings, and Generate (or the progress and Cancel while a generation runs).

use egui::{Response, RichText, Ui};
use pentimento_inference::{ProviderChoice, SchedulerKind};

use crate::app::{Action, FilePurpose, GenerationState, Modal, ModelState};
use crate::region::ModeChoice;
use crate::runtime_status::RuntimeStatus;
use crate::settings::{GenerationSettings, ModelEntry};

/// What the prompt panel shows of the app's state.
pub struct Shown<'a> {
    /// ONNX Runtime's state.
    pub runtime: &'a RuntimeStatus,
    /// The model's state.
    pub model: &'a ModelState,
    /// The generation running and the staged variations.
    pub generation: &'a GenerationState,
    /// Whether the document's mask is empty.
    pub mask_empty: bool,
    /// Whether the document has nothing painted.
    pub document_blank: bool,
    /// The LoRA files on offer.
    pub loras: &'a crate::app::loras::LoraLibrary,
}

/// The prompt panel (the prompt and settings it edits are the settings').
#[derive(Debug, Default)]
pub struct PromptPanel {
    /// The chosen LoRAs and their strengths.
    loras: super::loras::LoraList,
}

impl PromptPanel {
    /// The warning shown while ONNX Runtime is unavailable, with a way to try again.
    pub fn runtime_problem(
        &mut self,
        ui: &mut Ui,
        runtime: &RuntimeStatus,
        actions: &mut Vec<Action>,
    ) {
        let RuntimeStatus::Unavailable(message) = runtime else {
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
        if retry {
            actions.push(Action::RetryRuntime);
        }
    }

    /// The model, the prompt, the generation settings, and Generate.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        shown: &Shown<'_>,
        settings: &mut GenerationSettings,
        actions: &mut Vec<Action>,
    ) {
        ui.heading("Prompt");
        ui.add_space(4.0);
        self.model_section(ui, shown, actions);
        ui.add_space(8.0);

        prompt_box(
            ui,
            "Describe what to paint",
            &mut settings.prompt,
            "a red apple on a wooden table, oil painting",
            4,
        );
        ui.add_space(6.0);
        prompt_box(
            ui,
            "Negative prompt",
            &mut settings.negative_prompt,
            "what to avoid",
            2,
        );
        ui.add_space(6.0);
        self.loras.ui(ui, shown.loras, settings, actions);
        ui.add_space(8.0);

        generation_settings(ui, settings, shown.mask_empty, shown.document_blank);
        ui.add_space(6.0);
    }

    fn model_section(&mut self, ui: &mut Ui, shown: &Shown<'_>, actions: &mut Vec<Action>) {
        let mut open = false;
        let mut manage = false;
        let mut load_now = None;
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width());
            match shown.model {
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
                    if let Some(remote) = &info.remote {
                        super::servers::servers_ui(ui, remote, actions);
                        if let Some(copy) =
                            shown.generation.local_offer.as_ref().map(|offer| &offer.copy)
                        {
                            ui.label(
                                RichText::new("No inference server is left for this model.")
                                    .color(ui.visuals().warn_fg_color),
                            );
                            if ui
                                .button("Continue on this computer")
                                .on_hover_text(format!(
                                    "Loads the copy in {} and generates again with the same \
                                     settings and seeds",
                                    copy.display()
                                ))
                                .clicked()
                            {
                                actions.push(Action::ContinueLocally(copy.clone()));
                            }
                        }
                    }
                }
                ModelState::Failed(message) => {
                    ui.label(RichText::new("The model could not be loaded").strong());
                    ui.label(RichText::new(message.as_str()).color(ui.visuals().warn_fg_color));
                }
                ModelState::Remembered(path) => {
                    let name = ModelEntry::display_name(path);
                    ui.label(RichText::new(name).strong());
                    ui.horizontal(|ui| {
                        ui.weak("Loads when you generate.");
                        if ui.small_button("Load now").clicked() {
                            load_now = Some(path.clone());
                        }
                    });
                }
            }
            let loading = matches!(shown.model, ModelState::Loading { .. });
            ui.horizontal(|ui| {
                open = ui
                    .add_enabled(
                        !loading && !shown.generation.is_running(),
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
            actions.push(Action::AskFile(FilePurpose::LoadModel));
        }
        if let Some(path) = load_now {
            actions.push(Action::LoadModel(path));
        }
        if manage {
            actions.push(Action::Show(Modal::Models));
        }
    }
}

/// The generation settings' grid.
fn generation_settings(
    ui: &mut Ui,
    generation: &mut GenerationSettings,
    mask_empty: bool,
    document_blank: bool,
) {
    egui::Grid::new("generation_settings")
        .num_columns(2)
        .spacing([8.0, 4.0])
        .show(ui, |ui| {
            grid_row(ui, "Mode", |ui| choice(ui, "mode", &mut generation.mode));
            grid_row(ui, "Steps", |ui| {
                ui.add(egui::Slider::new(&mut generation.steps, 1..=150))
            });
            grid_row(ui, "Guidance", |ui| {
                ui.add(egui::Slider::new(&mut generation.guidance, 1.0..=20.0).step_by(0.5))
            })
            .on_hover_text("How closely to follow the prompt");
            if generation.guidance > 1.0 {
                ui.label("");
                ui.checkbox(
                    &mut generation.guidance_cutoff_on,
                    "Faster last steps (not exact)",
                )
                .on_hover_text(
                    "Stop guiding after part of the steps: the rest run on the prompt alone \
                         and take half as long. The image changes a little; the log says so",
                );
                ui.end_row();
                if generation.guidance_cutoff_on {
                    grid_row(ui, "Guided share", |ui| {
                        ui.add(
                            egui::Slider::new(&mut generation.guidance_cutoff, 0.0..=1.0)
                                .custom_formatter(|value, _| format!("{:.0} %", value * 100.0))
                                .custom_parser(|text| {
                                    text.trim_end_matches(['%', ' '])
                                        .parse::<f64>()
                                        .ok()
                                        .map(|value| value / 100.0)
                                }),
                        )
                    })
                    .on_hover_text("The share of the steps that still run guided");
                }
            }
            let uses_strength = match generation.mode {
                ModeChoice::TextToImage => false,
                ModeChoice::Auto => !mask_empty || !document_blank,
                _ => true,
            };
            if uses_strength {
                grid_row(ui, "Strength", |ui| {
                    ui.add(egui::Slider::new(&mut generation.strength, 0.05..=1.0))
                })
                .on_hover_text("How much to change: low keeps your drawing, 1 repaints");
                let inpainting = !mask_empty
                    && matches!(generation.mode, ModeChoice::Auto | ModeChoice::Inpaint);
                if inpainting && generation.strength < 1.0 {
                    ui.label("");
                    ui.checkbox(&mut generation.prefill, "Pre-fill the mask")
                        .on_hover_text(
                            "Fill the masked area with the picture's own texture first \
                             (content-aware fill), so the model starts from it instead of \
                             what the mask covers",
                        );
                    ui.end_row();
                }
                if inpainting {
                    ui.label("");
                    ui.checkbox(&mut generation.soft_inpainting, "Soft inpainting")
                        .on_hover_text(
                            "Regenerate the mask's soft edge less strongly than its core, so \
                             the model itself meets your pixels there",
                        );
                    ui.end_row();
                    if generation.soft_inpainting {
                        grid_row(ui, "Graded edge", |ui| {
                            ui.add(
                                egui::Slider::new(
                                    &mut generation.graded_edge,
                                    0.0..=crate::document::generative::MAX_FEATHER,
                                )
                                .suffix(" px"),
                            )
                        })
                        .on_hover_text(
                            "Soften the mask's edge inwards by this much first, for masks \
                             with a hard edge (0: as painted)",
                        );
                    }
                }
            }
            grid_row(ui, "Scheduler", |ui| {
                choice(ui, "scheduler", &mut generation.scheduler)
            });
            grid_row(ui, "Variations", |ui| {
                ui.add(egui::Slider::new(&mut generation.count, 1..=8))
            });
            let label = ui.label("Seed");
            ui.horizontal(|ui| {
                ui.add(egui::DragValue::new(&mut generation.seed))
                    .labelled_by(label.id);
                ui.checkbox(&mut generation.seed_locked, "Lock")
                    .on_hover_text("Keep this seed; otherwise each generation picks a new one");
            });
            ui.end_row();
            let before = generation.provider;
            grid_row(ui, "Device", |ui| {
                choice(ui, "provider", &mut generation.provider)
            })
            .on_hover_text("Takes effect when the model is loaded again");
            if before != generation.provider {
                ui.label("");
                ui.weak("Reopen the model to use it.");
                ui.end_row();
            }
        });
}

/// One row of a two-column grid: `label`, and the widget `add` draws, labelled by it (for screen
/// readers and tests).
fn grid_row(ui: &mut Ui, label: &str, add: impl FnOnce(&mut Ui) -> Response) -> Response {
    let label = ui.label(label);
    let response = add(ui).labelled_by(label.id);
    ui.end_row();
    response
}

/// A setting chosen from a short, fixed list.
trait Choice: Copy + PartialEq + 'static {
    const ALL: &'static [Self];
    fn label(self) -> &'static str;
}

impl Choice for ModeChoice {
    const ALL: &'static [Self] = &Self::ALL;
    fn label(self) -> &'static str {
        self.label()
    }
}

impl Choice for SchedulerKind {
    const ALL: &'static [Self] = &Self::ALL;
    fn label(self) -> &'static str {
        self.label()
    }
}

impl Choice for ProviderChoice {
    const ALL: &'static [Self] = &Self::ALL;
    fn label(self) -> &'static str {
        self.label()
    }
}

/// A drop-down choosing `value` among its kind's choices.
fn choice<T: Choice>(ui: &mut Ui, id: &str, value: &mut T) -> Response {
    egui::ComboBox::from_id_salt(id)
        .selected_text(Choice::label(*value))
        .show_ui(ui, |ui| {
            for &option in <T as Choice>::ALL {
                ui.selectable_value(value, option, Choice::label(option));
            }
        })
        .response
}

impl PromptPanel {
    /// Generate, or the progress and Cancel while a generation runs.
    pub fn generate_controls(&mut self, ui: &mut Ui, shown: &Shown<'_>, actions: &mut Vec<Action>) {
        if let Some(running) = &shown.generation.running {
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
                actions.push(Action::CancelGeneration);
            }
            return;
        }
        let reason = if matches!(shown.runtime, RuntimeStatus::Unavailable(_)) {
            Some("ONNX Runtime is unavailable; see the message above.")
        } else {
            match shown.model {
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
            actions.push(Action::Generate);
        }
    }
}

/// A labelled multi-line prompt field, `rows` high and as wide as the panel.
fn prompt_box(ui: &mut Ui, label: &str, text: &mut String, hint: &str, rows: usize) {
    let label = ui.label(label);
    ui.add(
        egui::TextEdit::multiline(text)
            .hint_text(hint)
            .desired_rows(rows)
            .desired_width(f32::INFINITY),
    )
    .labelled_by(label.id);
}
