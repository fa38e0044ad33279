//! The app side of generation: the model's state, the running job, the staged variations, and
//! turning worker events into document changes.

use std::sync::Arc;

use pentimento_inference::{CancelToken, GenerationRequest};

use super::PentimentoApp;
use crate::canvas::RegionOverlay;
use crate::document::LoraRecord;
use crate::region::{self, GenerationPlan, ModelShape};
use crate::worker::{Command, Event, ModelInfo};

/// Where the model stands.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum ModelState {
    /// None chosen.
    #[default]
    None,
    /// Loading in the worker.
    Loading {
        /// Job id.
        job: u64,
        /// The folder.
        path: std::path::PathBuf,
        /// What it is doing.
        stage: String,
    },
    /// Ready.
    Ready(Box<ModelInfo>),
    /// Could not be loaded; the sentence says why.
    Failed(String),
    /// Used before; loads when a generation needs it.
    Remembered(std::path::PathBuf),
}

impl ModelState {
    /// One line for the status bar.
    pub fn summary(&self) -> String {
        match self {
            Self::None => "No model".to_owned(),
            Self::Loading { stage, .. } => stage.clone(),
            Self::Ready(info) => format!("{} on {}", info.name, info.runs_on()),
            Self::Failed(_) => "Model not loaded".to_owned(),
            Self::Remembered(path) => format!(
                "{} (loads when you generate)",
                crate::settings::ModelEntry::display_name(path)
            ),
        }
    }

    /// The loaded model.
    pub fn ready(&self) -> Option<&ModelInfo> {
        match self {
            Self::Ready(info) => Some(info),
            _ => None,
        }
    }
}

/// A generation that found no inference server left, and the copy of its model on this
/// computer to run it on.
#[derive(Clone, Debug)]
pub struct LocalOffer {
    /// The local copy of the remote model.
    pub copy: std::path::PathBuf,
    /// The generation's plan and request, to run again unchanged (same seeds).
    pub generation: (GenerationPlan, GenerationRequest),
}

/// A generation in progress.
pub struct Running {
    /// Job id.
    pub job: u64,
    /// Stops it.
    pub cancel: CancelToken,
    /// Where it goes.
    pub plan: GenerationPlan,
    /// What was asked.
    pub request: GenerationRequest,
    /// Its entry in the document's generation log.
    pub log_id: u64,
    /// `(variation, variations, step, steps)`.
    pub progress: (usize, usize, usize, usize),
    /// The live preview of the current latents.
    pub preview: Option<egui::TextureHandle>,
}

/// One variation waiting to be accepted or discarded.
pub struct Staged {
    /// Its seed.
    pub seed: u32,
    /// Raw RGB at region size.
    pub raw: Arc<Vec<u8>>,
    /// Thumbnail and canvas preview (masked, region size).
    pub texture: egui::TextureHandle,
    /// Already accepted as a layer.
    pub accepted: bool,
}

/// Variations of the last generation.
pub struct Staging {
    /// Where they go.
    pub plan: GenerationPlan,
    /// The request that made them (for "Generate more").
    pub request: GenerationRequest,
    /// The variations.
    pub variations: Vec<Staged>,
    /// The one shown on the canvas.
    pub selected: usize,
    /// Its generation log entry.
    pub log_id: u64,
}

/// The generation part of the app state.
#[derive(Default)]
pub struct GenerationState {
    /// The job running now.
    pub running: Option<Running>,
    /// Variations made.
    pub staging: Option<Staging>,
    /// Generate as soon as the model being loaded is ready.
    pub generate_when_loaded: bool,
    /// No inference server was left for the last generation and the remote model has a copy
    /// on this computer: the prompt panel offers to continue there.
    pub local_offer: Option<LocalOffer>,
    /// The generation to run again once the model being loaded is ready.
    pub resubmit: Option<(GenerationPlan, GenerationRequest)>,
    /// A content-aware fill running on its own thread, and where its result goes.
    pub fill: Option<(region::FillPlan, std::sync::mpsc::Receiver<Vec<u8>>)>,
}

impl GenerationState {
    /// Whether variations wait for a decision.
    pub fn has_staging(&self) -> bool {
        self.staging
            .as_ref()
            .is_some_and(|staging| !staging.variations.is_empty())
    }

    /// Whether a generation runs.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Whether a content-aware fill runs.
    pub fn is_filling(&self) -> bool {
        self.fill.is_some()
    }

    /// Cancels the running generation (its finished variations stay staged).
    pub fn cancel(&mut self) {
        if let Some(running) = &self.running {
            running.cancel.cancel();
        }
    }

    /// Shows the next (or previous) staged variation.
    pub fn cycle(&mut self, by: isize) {
        if let Some(staging) = &mut self.staging {
            let count = staging.variations.len() as isize;
            if count > 0 {
                staging.selected = (staging.selected as isize + by).rem_euclid(count) as usize;
            }
        }
    }

    /// Drops the staged variations.
    pub fn discard_staging(&mut self) {
        self.staging = None;
    }

    /// What to draw over the canvas: the live preview while running, else the selected
    /// variation.
    pub fn region_overlay(&self) -> Option<RegionOverlay> {
        if let Some(running) = &self.running {
            let (variation, variations, step, steps) = running.progress;
            return Some(RegionOverlay {
                region: running.plan.region,
                texture: running.preview.as_ref().map(|texture| texture.id()),
                caption: if steps == 0 {
                    "Starting…".to_owned()
                } else {
                    format!(
                        "Variation {} of {variations} · step {step} of {steps}",
                        variation + 1
                    )
                },
            });
        }
        let staging = self.staging.as_ref()?;
        // An accepted variation is on the canvas as its layer (with its live edges): no
        // preview over it.
        let staged = staging
            .variations
            .get(staging.selected)
            .filter(|staged| !staged.accepted)?;
        Some(RegionOverlay {
            region: staging.plan.region,
            texture: Some(staged.texture.id()),
            caption: format!(
                "Variation {} of {} · seed {}",
                staging.selected + 1,
                staging.variations.len(),
                staged.seed
            ),
        })
    }
}

fn texture(
    ctx: &egui::Context,
    name: &str,
    width: u32,
    height: u32,
    rgba: &[u8],
) -> egui::TextureHandle {
    ctx.load_texture(
        name,
        egui::ColorImage::from_rgba_unmultiplied([width as usize, height as usize], rgba),
        egui::TextureOptions::LINEAR,
    )
}

impl PentimentoApp {
    /// Starts a content-aware fill of the masked area on its own thread (the window stays
    /// live; the layer is added when it is done).
    pub(super) fn start_fill(&mut self, ctx: &egui::Context) {
        if self.generation.is_filling() {
            return;
        }
        let plan =
            match region::FillPlan::new(&self.workspace.document, self.settings.generation.seed) {
                Ok(plan) => plan,
                Err(message) => return self.notify(ctx, message, true),
            };
        let (sender, receiver) = std::sync::mpsc::channel();
        let job = plan.clone();
        let repaint = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("content-aware-fill".to_owned())
            .spawn(move || {
                let _ = sender.send(job.run());
                repaint.request_repaint();
            });
        match spawned {
            Ok(_) => {
                self.generation.fill = Some((plan, receiver));
                self.notify(ctx, "Filling the masked area from the picture…", false);
            }
            Err(err) => self.notify(ctx, format!("Could not start the fill ({err})."), true),
        }
    }

    /// Adds a finished fill's layer.
    pub(super) fn poll_fill(&mut self, ctx: &egui::Context) {
        let Some((_, receiver)) = &self.generation.fill else {
            return;
        };
        let filled = match receiver.try_recv() {
            Ok(filled) => filled,
            Err(std::sync::mpsc::TryRecvError::Empty) => return,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                self.generation.fill = None;
                return self.notify(ctx, "The fill stopped unexpectedly; nothing changed.", true);
            }
        };
        let Some((plan, _)) = self.generation.fill.take() else {
            return;
        };
        let workspace = &mut self.workspace;
        let id = plan.apply(&mut workspace.document, filled);
        workspace.active_layer = Some(id);
        workspace.autosave(true);
        self.notify(
            ctx,
            "Filled from the picture's own pixels, as a new layer (no model).",
            false,
        );
    }

    /// Handles the worker's events.
    pub(super) fn poll_worker(&mut self, ctx: &egui::Context) {
        loop {
            let Some(event) = self.worker.as_ref().and_then(|worker| worker.try_recv()) else {
                return;
            };
            self.handle_event(ctx, event);
        }
    }

    fn handle_event(&mut self, ctx: &egui::Context, event: Event) {
        match event {
            Event::ModelLoading { job, stage } => {
                if let ModelState::Loading {
                    job: current,
                    stage: shown,
                    ..
                } = &mut self.model
                    && *current == job
                {
                    *shown = stage;
                }
            }
            Event::ModelLoaded { job, info } => {
                if matches!(&self.model, ModelState::Loading { job: current, .. } if *current == job)
                {
                    self.settings.model_folder = Some(info.path.clone());
                    if !self
                        .settings
                        .models
                        .iter()
                        .any(|entry| entry.path == info.path)
                    {
                        self.settings.models.push(crate::settings::ModelEntry {
                            path: info.path.clone(),
                            source: None,
                        });
                    }
                    self.model = ModelState::Ready(info.clone());
                    if let Some((plan, request)) = self.generation.resubmit.take() {
                        self.generation.generate_when_loaded = false;
                        self.submit(ctx, plan, request, &info);
                    } else if std::mem::take(&mut self.generation.generate_when_loaded) {
                        self.start_generation(ctx);
                    }
                }
            }
            Event::ModelFailed { job, message } => {
                if matches!(&self.model, ModelState::Loading { job: current, .. } if *current == job)
                {
                    self.model = ModelState::Failed(message);
                    self.generation.generate_when_loaded = false;
                }
            }
            Event::Progress {
                job,
                variation,
                variations,
                step,
                steps,
                preview,
            } => {
                let Some(running) = self.generation.running.as_mut().filter(|r| r.job == job)
                else {
                    return;
                };
                running.progress = (variation, variations, step, steps);
                // Shown through the mask, like the result will be: the artist's work around
                // it stays visible while the generation runs.
                let rgba = masked_preview(&preview, &running.plan);
                running.preview = Some(texture(
                    ctx,
                    "generation preview",
                    preview.width,
                    preview.height,
                    &rgba,
                ));
            }
            Event::LorasApplied { job, loras } => {
                let Some(running) = self.generation.running.as_ref().filter(|r| r.job == job)
                else {
                    return;
                };
                let log_id = running.log_id;
                if let Some(record) = self.workspace.document.generation_record_mut(log_id) {
                    record.loras = loras.iter().map(LoraRecord::of).collect();
                }
                let unmatched: Vec<String> = loras
                    .iter()
                    .filter(|lora| !lora.unmatched.is_empty())
                    .map(|lora| {
                        format!(
                            "{} of the keys of the LoRA {} match no layer of this model and were left out",
                            lora.unmatched.len(),
                            lora.name
                        )
                    })
                    .collect();
                if !unmatched.is_empty() {
                    self.notify(ctx, format!("{}.", unmatched.join("; ")), false);
                }
            }
            Event::Variation { job, variation } => {
                let Some(running) = self.generation.running.as_ref().filter(|r| r.job == job)
                else {
                    return;
                };
                let plan = running.plan.clone();
                let request = running.request.clone();
                let log_id = running.log_id;
                if let Some(record) = self.workspace.document.generation_record_mut(log_id) {
                    record.seeds.push(variation.seed);
                }
                let raw = Arc::new(region::to_region(&variation.image, plan.region));
                let rgba: Vec<u8> = raw
                    .chunks_exact(3)
                    .zip(&plan.region_mask)
                    .flat_map(|(pixel, &alpha)| [pixel[0], pixel[1], pixel[2], alpha])
                    .collect();
                let handle = texture(
                    ctx,
                    &format!("variation {}", variation.seed),
                    plan.region.width(),
                    plan.region.height(),
                    &rgba,
                );
                let staging = self.generation.staging.get_or_insert_with(|| Staging {
                    plan,
                    request,
                    variations: Vec::new(),
                    selected: 0,
                    log_id,
                });
                staging.variations.push(Staged {
                    seed: variation.seed,
                    raw,
                    texture: handle,
                    accepted: false,
                });
                staging.selected = staging.variations.len() - 1;
            }
            Event::Finished { job, cancelled } => {
                self.finish_generation(ctx, job, if cancelled { "cancelled" } else { "finished" });
            }
            Event::Failed { job, message } => {
                let generation = self
                    .generation
                    .running
                    .as_ref()
                    .filter(|running| running.job == job)
                    .map(|running| (running.plan.clone(), running.request.clone()));
                self.finish_generation(ctx, job, &format!("failed: {message}"));
                self.generation.local_offer = self
                    .model
                    .ready()
                    .and_then(|info| info.remote.as_ref())
                    .filter(|_| message.contains("No inference server could run"))
                    .and_then(|remote| remote.local_copy.clone())
                    .zip(generation)
                    .map(|(copy, generation)| LocalOffer { copy, generation });
                self.notify(ctx, message, true);
            }
        }
    }

    fn finish_generation(&mut self, ctx: &egui::Context, job: u64, outcome: &str) {
        let Some(running) = self
            .generation
            .running
            .take_if(|running| running.job == job)
        else {
            return;
        };
        if let Some(record) = self
            .workspace
            .document
            .generation_record_mut(running.log_id)
        {
            record.outcome = outcome.to_owned();
            // Which server answered (the last one, after a failover).
            if let Some(info) = self.model.ready().filter(|info| info.remote.is_some()) {
                record.execution_provider = info.runs_on();
            }
        }
        if outcome == "cancelled" {
            self.notify(
                ctx,
                "Generation cancelled; finished variations are kept below.",
                false,
            );
        }
    }

    /// Starts a generation with the prompt panel's settings (Ctrl+Enter).
    pub fn start_generation(&mut self, ctx: &egui::Context) {
        if self.generation.is_running() {
            return;
        }
        if let ModelState::Remembered(path) = &self.model {
            let path = path.clone();
            self.generation.generate_when_loaded = true;
            self.load_model(path);
            return;
        }
        let Some(info) = self.model.ready().cloned() else {
            self.notify(ctx, "Open a model folder in the prompt panel first.", true);
            return;
        };
        let settings = self.settings.generation.clone();
        let plan = match region::plan_with(
            &self.workspace.document,
            settings.mode,
            ModelShape {
                native_resolution: info.native_resolution,
                size_multiple: info.size_multiple,
                has_vae_encoder: info.has_vae_encoder,
            },
            settings.strength,
            region::PlanOptions {
                prefill: settings.prefill && settings.strength < 1.0,
                graded_edge: if settings.soft_inpainting {
                    settings.graded_edge
                } else {
                    0.0
                },
            },
        ) {
            Ok(plan) => plan,
            Err(message) => {
                self.notify(ctx, message, true);
                return;
            }
        };
        if !settings.seed_locked {
            self.settings.generation.seed = random_seed();
        }
        // The prompt and settings of a generation survive a crash during it.
        self.save_settings();
        let (prompt, loras) = match super::loras::requested(
            &settings.prompt,
            &settings.loras,
            &self.settings.lora_dir(&self.folders),
        ) {
            Ok(found) => found,
            Err(message) => {
                self.notify(ctx, message, true);
                return;
            }
        };
        let base = GenerationRequest {
            prompt,
            loras,
            negative_prompt: settings.negative_prompt.clone(),
            steps: settings.steps,
            guidance: settings.guidance,
            scheduler: settings.scheduler,
            seed: self.settings.generation.seed,
            count: settings.count,
            soft_inpainting: settings.soft_inpainting,
            guidance_cutoff: (settings.guidance_cutoff_on && settings.guidance > 1.0)
                .then_some(settings.guidance_cutoff),
            ..GenerationRequest::text_to_image("")
        };
        let request = region::request_for(&plan, &base);
        self.submit(ctx, plan, request, &info);
    }

    fn submit(
        &mut self,
        ctx: &egui::Context,
        plan: GenerationPlan,
        request: GenerationRequest,
        info: &ModelInfo,
    ) {
        let job = self.job_id();
        let cancel = CancelToken::new();
        let record = region::record_for(
            &plan,
            &request,
            &info.name,
            &info.fingerprint,
            &info.runs_on(),
        );
        let Some(worker) = &self.worker else {
            self.notify(ctx, "Generation is unavailable in this session.", true);
            return;
        };
        if let Err(message) = worker.send(Command::Generate {
            job,
            request: Box::new(request.clone()),
            cancel: cancel.clone(),
        }) {
            self.notify(ctx, message, true);
            return;
        }
        self.generation.staging = None;
        let log_id = self.workspace.document.log_generation(record);
        self.generation.running = Some(Running {
            job,
            cancel,
            plan,
            request,
            log_id,
            progress: (0, 0, 0, 0),
            preview: None,
        });
    }

    /// Runs the last generation again with the next seeds.
    pub fn generate_more(&mut self, ctx: &egui::Context) {
        let Some(info) = self.model.ready().cloned() else {
            return;
        };
        let Some(staging) = self.generation.staging.as_ref() else {
            return;
        };
        let mut request = staging.request.clone();
        request.seed = request.seed.wrapping_add(request.count as u32);
        let plan = staging.plan.clone();
        self.settings.generation.seed = request.seed;
        self.submit(ctx, plan, request, &info);
    }

    /// Accepts the variation shown as a generative layer.
    pub fn accept_selected(&mut self, ctx: &egui::Context) {
        let selected = self
            .generation
            .staging
            .as_ref()
            .map(|staging| staging.selected);
        if let Some(index) = selected {
            self.accept(ctx, index);
        }
    }

    /// Accepts every staged variation not yet accepted, each as its own layer.
    pub fn accept_all(&mut self, ctx: &egui::Context) {
        let count = self
            .generation
            .staging
            .as_ref()
            .map_or(0, |staging| staging.variations.len());
        for index in 0..count {
            self.accept(ctx, index);
        }
    }

    /// Accepts staged variation `index` as a generative layer on top.
    pub fn accept(&mut self, ctx: &egui::Context, index: usize) {
        let Some(staging) = self.generation.staging.as_mut() else {
            return;
        };
        let Some(staged) = staging.variations.get_mut(index) else {
            return;
        };
        if staged.accepted {
            return;
        }
        staged.accepted = true;
        let seed = staged.seed;
        // The layer keeps the generation's other variations too (shared, not copied), so the
        // artist can switch to one later without generating again.
        let variations = staging
            .variations
            .iter()
            .map(|staged| Arc::clone(&staged.raw))
            .collect();
        let workspace = &mut self.workspace;
        let id = workspace.document.accept_variation(
            staging.log_id,
            staging.plan.region,
            variations,
            index,
            staging.plan.region_mask.clone(),
            Some(Arc::clone(&staging.plan.context)),
            seed,
        );
        workspace.active_layer = Some(id);
        // An accepted generation is autosaved at once.
        workspace.autosave(true);
        let _ = ctx;
    }
}

/// The step preview (latent resolution) with the plan's mask as alpha, sampled to its size.
fn masked_preview(
    preview: &pentimento_inference::image::RgbImage,
    plan: &GenerationPlan,
) -> Vec<u8> {
    let (width, height) = (preview.width as usize, preview.height as usize);
    let (region_width, region_height) =
        (plan.region.width() as usize, plan.region.height() as usize);
    let mut rgba = Vec::with_capacity(width * height * 4);
    for y in 0..height {
        let mask_y =
            ((y * 2 + 1) * region_height / (height * 2)).min(region_height.saturating_sub(1));
        for x in 0..width {
            let mask_x =
                ((x * 2 + 1) * region_width / (width * 2)).min(region_width.saturating_sub(1));
            let alpha = plan
                .region_mask
                .get(mask_y * region_width + mask_x)
                .copied()
                .unwrap_or(255);
            let pixel = &preview.pixels[(y * width + x) * 3..][..3];
            rgba.extend_from_slice(&[pixel[0], pixel[1], pixel[2], alpha]);
        }
    }
    rgba
}

fn random_seed() -> u32 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos()),
    );
    (hasher.finish() % u64::from(u32::MAX)) as u32
}
