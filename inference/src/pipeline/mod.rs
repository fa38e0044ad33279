//! Stable Diffusion pipelines: text to image, image to image, and inpainting (with an
//! inpainting UNet, or with any UNet by latent blending), sharing one denoising loop.
//!
//! A [`StableDiffusion`] holds the model's sessions, created once and reused; the VAE encoder is
//! created the first time an input image needs it. [`StableDiffusion::generate`] runs a
//! [`GenerationRequest`] for `count` variations with seeds `seed, seed + 1, …`, reporting every
//! step through a callback that may stop the run, and honouring a [`CancelToken`] within one
//! step (or inside a long ONNX Runtime call).

mod cancel;
pub mod components;
pub mod fused_attention;
pub mod img2img;
pub mod inpaint;
mod loras;
pub mod optimized_cache;
pub mod remote_component;
mod sessions;
pub mod tensor;
pub mod txt2img;

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

pub use cancel::CancelToken;
use components::LoadedComponent;
pub use components::SessionTimes;
pub use loras::{Rebuild, RebuildKind};
pub use optimized_cache::{CacheUse, OptimizedCache};
pub use sessions::{AttentionGraph, CacheWork, CacheWrite};
use sessions::{create_session, session_builder};
use tensor::{RunResult, float_tensor, id_tensor, timestep_tensor};

use crate::error::{InferenceError, ModelError};
use crate::image::{GrayImage, RgbImage, latent_preview};
use crate::model::onnx_graph::GraphOutline;
use crate::model::signature::VaeEncoderOutput;
use crate::model::{Component, ComponentSignature, Conventions, ModelFolder};
use crate::onnx_runtime::OnnxRuntime;
use crate::providers::{ProviderChoice, ProviderReport};
use crate::rng::{NoiseSource, NumpyRandom};
use crate::scheduler::{self, PipelineAdjustment, Scheduler, SchedulerConfig, SchedulerKind};
use crate::tokenizer::ClipTokenizer;

/// Stable Diffusion's VAE latent scaling factor (aka `vae.config.scaling_factor`).
pub const VAE_SCALING: f32 = 0.18215;
/// Pixels per latent cell.
pub const VAE_FACTOR: u32 = 8;
/// Most variations one request may ask for.
pub const MAX_COUNT: usize = 64;

/// How a model is loaded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Where to run.
    pub provider: ProviderChoice,
    /// Threads per ONNX Runtime operator (`None`: ONNX Runtime's default, one per core).
    pub intra_threads: Option<usize>,
    /// Where to keep ONNX Runtime's optimized graphs between loads (see [`OptimizedCache`]);
    /// `None` optimizes at every load.
    pub optimized_cache: Option<std::path::PathBuf>,
    /// When a missing cache entry is written.
    pub cache_write: CacheWrite,
    /// Which attention graph CPU sessions run.
    pub attention: AttentionGraph,
}

/// How img2img turns `strength` into a starting point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Img2ImgSchedule {
    /// diffusers' current pipelines: run the last `int(steps × strength)` steps, starting from
    /// the input noised to the first of them.
    #[default]
    Diffusers,
    /// diffusers' ONNX img2img pipeline: noise one step higher than where the loop starts (with
    /// `steps_offset` 1). Reproduces its output exactly.
    DiffusersOnnx,
}

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// From noise.
    TextToImage,
    /// From an input image, keeping its composition; `strength` 1 ignores it entirely.
    ImageToImage {
        /// The input image, at the generation's size.
        image: RgbImage,
        /// How much to change it, in (0, 1].
        strength: f64,
    },
    /// Regenerate where the mask is white, keep the rest.
    Inpaint {
        /// The input image, at the generation's size.
        image: RgbImage,
        /// White = regenerate, black = keep; at the generation's size.
        mask: GrayImage,
        /// How much to change the masked area, in (0, 1] (1: from pure noise).
        strength: f64,
    },
}

/// One generation request.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerationRequest {
    /// What to paint.
    pub prompt: String,
    /// What to avoid (empty: nothing).
    pub negative_prompt: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Denoising steps.
    pub steps: usize,
    /// Classifier-free guidance scale; at 1 or below the unconditional pass is skipped.
    pub guidance: f32,
    /// The noise scheduler.
    pub scheduler: SchedulerKind,
    /// DDIM's eta (0: deterministic).
    pub eta: f32,
    /// Seed of the first variation; variation `i` uses `seed + i`.
    pub seed: u32,
    /// Number of variations.
    pub count: usize,
    /// Text to image, image to image or inpainting.
    pub mode: Mode,
    /// Standard-normal initial noise, `[count, 4, height/8, width/8]`, instead of the seeded one.
    pub initial_noise: Option<Vec<f32>>,
    /// img2img's strength convention.
    pub img2img_schedule: Img2ImgSchedule,
    /// LoRAs to apply, each with its strength (empty: the model as it is).
    pub loras: Vec<crate::lora::LoraRequest>,
    /// Inpainting only: the mask's grey levels are how strongly each area is regenerated
    /// (soft inpainting, as differential diffusion does it): an area at level `s` is held to
    /// the input for the first `1 − s` of the steps and free for the rest, on both inpainting
    /// paths, and what the mask leaves black is held to the input throughout. Off: the mask
    /// is binarised at half for an inpainting UNet, and blended by coverage otherwise.
    pub soft_inpainting: bool,
    /// Classifier-free guidance truncation (not exact; off when `None`): after the first
    /// `⌊steps × f⌋ + 1` steps only the prompt's half of the batch runs, unguided, as diffusers'
    /// `SDCFGCutoffCallback` with `cutoff_step_ratio = f` does. The last steps then cost half.
    pub guidance_cutoff: Option<f32>,
}

impl GenerationRequest {
    /// A text-to-image request with common defaults (512², 25 steps, guidance 7.5, DPM++ 2M
    /// Karras, one variation).
    pub fn text_to_image(prompt: &str) -> Self {
        Self {
            prompt: prompt.to_owned(),
            negative_prompt: String::new(),
            width: 512,
            height: 512,
            steps: 25,
            guidance: 7.5,
            scheduler: SchedulerKind::DpmPlusPlus2MKarras,
            eta: 0.0,
            seed: 0,
            count: 1,
            mode: Mode::TextToImage,
            initial_noise: None,
            img2img_schedule: Img2ImgSchedule::Diffusers,
            loras: Vec::new(),
            soft_inpainting: false,
            guidance_cutoff: None,
        }
    }

    /// The latent shape of one variation, `[1, 4, height/8, width/8]`.
    pub fn latent_shape(&self) -> [usize; 4] {
        [
            1,
            4,
            (self.height / VAE_FACTOR) as usize,
            (self.width / VAE_FACTOR) as usize,
        ]
    }
}

/// One finished variation.
#[derive(Clone, Debug, PartialEq)]
pub struct Variation {
    /// The seed it was made with.
    pub seed: u32,
    /// The decoded image.
    pub image: RgbImage,
    /// The final latents (before the 1/0.18215 scaling), `[1, 4, height/8, width/8]`.
    pub latents: Vec<f32>,
}

/// How a generation ended. Cancellation is an outcome, not an error.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Every variation was made.
    Finished(Vec<Variation>),
    /// Stopped by the cancel token or the progress callback; `completed` holds the variations
    /// that were whole before it stopped (never a partial one).
    Cancelled {
        /// Whole variations made before the stop.
        completed: Vec<Variation>,
    },
}

/// What the progress callback sees after every denoising step.
#[derive(Debug)]
pub struct Progress<'a> {
    /// Which variation (0-based).
    pub variation: usize,
    /// How many variations.
    pub variations: usize,
    /// Steps done in this variation (1-based).
    pub step: usize,
    /// Steps this variation runs.
    pub steps: usize,
    /// The current latents, `[1, 4, height/8, width/8]`.
    pub latents: &'a [f32],
    /// A cheap RGB preview of the current latents, at latent resolution.
    pub preview: &'a RgbImage,
}

/// What the per-variation step callback sees.
#[derive(Debug)]
pub struct StepView<'a> {
    /// Steps done (1-based).
    pub step: usize,
    /// Steps this variation runs.
    pub steps: usize,
    /// The current latents.
    pub latents: &'a [f32],
    /// Their RGB preview.
    pub preview: &'a RgbImage,
}

/// A loaded Stable Diffusion model.
pub struct StableDiffusion {
    folder: ModelFolder,
    conventions: Conventions,
    tokenizer: ClipTokenizer,
    /// The model's scheduler configuration as diffusers' pipelines run it.
    scheduler_config: SchedulerConfig,
    /// What that changed in the model's file.
    scheduler_adjustments: Vec<PipelineAdjustment>,
    /// `None` only after a LoRA change failed to create it again (see [`Self::use_loras`]).
    text_encoder: Option<LoadedComponent>,
    /// As the text encoder.
    unet: Option<LoadedComponent>,
    vae_decoder: LoadedComponent,
    vae_encoder: Option<LoadedComponent>,
    runtime: Arc<OnnxRuntime>,
    options: LoadOptions,
    provider: ProviderReport,
    /// Width and height must be multiples of this.
    size_multiple: u32,
    times: SessionTimes,
    /// How each component's session was created.
    cache_uses: Vec<(Component, CacheUse)>,
    /// Components whose deferred cache entries were handed out.
    cache_work_taken: Vec<Component>,
    /// The LoRAs merged into the text encoder and UNet sessions.
    loras: loras::LoraState,
    /// The servers and description of a remote model (`remote.json`); `None` for a local one.
    remote: Option<RemoteModel>,
}

/// A model served by inference servers: what its `remote.json` says and the pool it runs on.
#[derive(Clone, Debug)]
pub struct RemoteModel {
    /// `remote.json`.
    pub config: crate::remote::RemoteConfig,
    /// The servers.
    pub pool: Arc<crate::remote::Pool>,
}

/// What loading a model (local or remote) puts together before [`StableDiffusion`] exists.
struct Parts {
    folder: ModelFolder,
    tokenizer: ClipTokenizer,
    scheduler: (SchedulerConfig, Vec<PipelineAdjustment>),
    text_encoder: LoadedComponent,
    unet: LoadedComponent,
    vae_decoder: LoadedComponent,
    provider: ProviderReport,
    size_multiple: u32,
    cache_uses: Vec<(Component, CacheUse)>,
    remote: Option<RemoteModel>,
}

impl std::fmt::Debug for StableDiffusion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StableDiffusion")
            .field("folder", &self.folder.root)
            .field("conventions", &self.conventions)
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl StableDiffusion {
    /// Loads a model folder: reads its layout, tokenizer and scheduler configuration, creates
    /// the text encoder, UNet and VAE decoder sessions, and checks that they fit together.
    pub fn load(
        runtime: Arc<OnnxRuntime>,
        root: &Path,
        options: LoadOptions,
    ) -> Result<Self, InferenceError> {
        if root.join(crate::remote::REMOTE_FILE).is_file() {
            return Self::load_remote(runtime, root, options);
        }
        let folder = ModelFolder::open(root)?;
        crate::model::roles::check_roles(&folder)?;
        let (tokenizer, scheduler) = tokenizer_and_scheduler(&folder)?;

        // The UNet first: it decides the provider for the rest.
        let unet_files = required(&folder, Component::Unet)?;
        let mut cache_uses = Vec::new();
        let (unet, provider, cache_use) = create_session(&runtime, &unet_files, &options, None)?;
        cache_uses.push((Component::Unet, cache_use));
        let mut on_provider = |component| -> Result<LoadedComponent, InferenceError> {
            let files = required(&folder, component)?;
            let (session, _, cache_use) =
                create_session(&runtime, &files, &options, Some(&provider))?;
            cache_uses.push((component, cache_use));
            Ok(session)
        };
        let text_encoder = on_provider(Component::TextEncoder)?;
        let vae_decoder = on_provider(Component::VaeDecoder)?;

        let downsamplings = GraphOutline::read(&unet_files.model)
            .map(|outline| outline.downsampling_convolutions())
            .unwrap_or(3)
            .min(6);
        let size_multiple = VAE_FACTOR << downsamplings;
        Self::from_parts(
            Parts {
                folder,
                tokenizer,
                scheduler,
                text_encoder,
                unet,
                vae_decoder,
                provider,
                size_multiple,
                cache_uses,
                remote: None,
            },
            &unet_files.model,
            runtime,
            options,
        )
    }

    /// A freshly loaded pipeline: no VAE encoder yet, no LoRAs, no times measured. Checks that
    /// the sessions' signatures follow a convention this crate runs (`unet_graph` names the
    /// UNet in messages, and is read when its signature leaves the channel count open).
    fn from_parts(
        parts: Parts,
        unet_graph: &Path,
        runtime: Arc<OnnxRuntime>,
        options: LoadOptions,
    ) -> Result<Self, InferenceError> {
        // The VAE encoder's output convention is filled in when it is first loaded.
        let conventions = Conventions::detect(
            &parts.text_encoder.signature,
            &parts.unet.signature,
            None,
            unet_graph,
        )?;
        let (scheduler_config, scheduler_adjustments) = parts.scheduler;
        Ok(Self {
            folder: parts.folder,
            conventions,
            tokenizer: parts.tokenizer,
            scheduler_config,
            scheduler_adjustments,
            text_encoder: Some(parts.text_encoder),
            unet: Some(parts.unet),
            vae_decoder: parts.vae_decoder,
            vae_encoder: None,
            runtime,
            options,
            provider: parts.provider,
            size_multiple: parts.size_multiple,
            times: SessionTimes::default(),
            cache_uses: parts.cache_uses,
            cache_work_taken: Vec::new(),
            loras: loras::LoraState::default(),
            remote: parts.remote,
        })
    }

    /// Loads a remote model: a client folder with a tokenizer, a scheduler and `remote.json`
    /// (written by `pentimento serve-repo`). Asks the servers for each component's metadata and
    /// checks it against the signatures recorded from the ONNX files, so a server that serves
    /// another model under the name is refused before any work starts.
    fn load_remote(
        runtime: Arc<OnnxRuntime>,
        root: &Path,
        options: LoadOptions,
    ) -> Result<Self, InferenceError> {
        use crate::remote::{Pool, RemoteConfig, RemoteError};

        let config = RemoteConfig::read(root)?;
        let token = config.bearer_token(root)?;
        let ca = match &config.ca_certificate {
            None => None,
            Some(file) => {
                let path = root.join(file);
                Some(std::fs::read(&path).map_err(|err| RemoteError::Config {
                    reason: format!("its ca_certificate cannot be read ({err})"),
                    path: path.display().to_string(),
                })?)
            }
        };
        let pool = Arc::new(Pool::new(
            &config.servers,
            token.as_deref(),
            ca.as_deref(),
            config.timeout(),
        )?);
        // Every server's state is known from the start (the model manager shows it); a
        // refused token ends the load here with its sentence.
        let served: Vec<String> = Component::ALL
            .into_iter()
            .filter(|component| config.components.contains_key(component.folder_name()))
            .map(|component| config.served_name(component))
            .collect();
        pool.probe_all(&served)?;
        let remote = RemoteModel { config, pool };
        let folder = remote_folder(root)?;
        let (tokenizer, scheduler) = tokenizer_and_scheduler(&folder)?;
        let served_remotely = [
            Component::TextEncoder,
            Component::Unet,
            Component::VaeDecoder,
        ];
        Self::from_parts(
            Parts {
                folder,
                tokenizer,
                scheduler,
                text_encoder: remote.component(Component::TextEncoder)?,
                unet: remote.component(Component::Unet)?,
                vae_decoder: remote.component(Component::VaeDecoder)?,
                provider: ProviderReport {
                    requested: ProviderChoice::Cpu,
                    active: ProviderChoice::Cpu,
                    skipped: Vec::new(),
                },
                size_multiple: VAE_FACTOR << remote.config.unet_downsamplings.min(6),
                cache_uses: served_remotely
                    .into_iter()
                    .map(|component| (component, CacheUse::Unused("served remotely".to_owned())))
                    .collect(),
                remote: Some(remote),
            },
            root,
            runtime,
            options,
        )
    }

    /// The servers and description of a remote model; `None` when it runs on this computer.
    pub fn remote(&self) -> Option<&RemoteModel> {
        self.remote.as_ref()
    }

    /// The model folder.
    pub fn folder(&self) -> &ModelFolder {
        &self.folder
    }

    /// The model's ONNX conventions.
    pub fn conventions(&self) -> &Conventions {
        &self.conventions
    }

    /// The execution provider in use.
    pub fn provider(&self) -> &ProviderReport {
        &self.provider
    }

    /// Width and height must be multiples of this.
    pub fn size_multiple(&self) -> u32 {
        self.size_multiple
    }

    /// The resolution the model was trained at: `unet/config.json`'s `sample_size` × 8 when the
    /// export wrote one, else 768 for SD 2.x v-prediction models and 512 otherwise.
    pub fn native_resolution(&self) -> u32 {
        let from_config =
            std::fs::read_to_string(self.folder.root.join("unet").join("config.json"))
                .ok()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                .and_then(|json| json.get("sample_size")?.as_u64())
                .filter(|size| (8..=512).contains(size))
                .map(|size| size as u32 * VAE_FACTOR);
        from_config.unwrap_or_else(|| {
            let v_prediction =
                self.scheduler_config.prediction_type.as_deref() == Some("v_prediction");
            if self.conventions.text_embedding_width == Some(1024) && v_prediction {
                768
            } else {
                512
            }
        })
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &ClipTokenizer {
        &self.tokenizer
    }

    /// The model's scheduler configuration, as diffusers' pipelines run it
    /// ([`SchedulerConfig::as_pipelines_use_it`]).
    pub fn scheduler_config(&self) -> &SchedulerConfig {
        &self.scheduler_config
    }

    /// What running the configuration as diffusers' pipelines do changed in the model's file.
    pub fn scheduler_adjustments(&self) -> &[PipelineAdjustment] {
        &self.scheduler_adjustments
    }

    /// Replaces the scheduler configuration read from the model (for models that ship a wrong
    /// or no `scheduler_config.json`, e.g. an SD 2.x export missing `v_prediction`). It is run
    /// as diffusers' pipelines run it, like the model's own.
    pub fn set_scheduler_config(&mut self, config: SchedulerConfig) {
        (self.scheduler_config, self.scheduler_adjustments) = config.as_pipelines_use_it();
    }

    /// How each loaded component's session was created (optimized-graph cache use).
    pub fn cache_uses(&self) -> &[(Component, CacheUse)] {
        &self.cache_uses
    }

    /// The optimized-graph cache entries this model's loads left unwritten
    /// ([`CacheUse::Deferred`]), to be written by [`CacheWork::run`] when the caller has time;
    /// `None` when there are none. Each entry is handed out once.
    pub fn take_cache_work(&mut self) -> Option<CacheWork> {
        let mut jobs = Vec::new();
        for (component, cache_use) in &self.cache_uses {
            if *cache_use == CacheUse::Deferred
                && !self.cache_work_taken.contains(component)
                && let Some(files) = self.folder.component(*component)
            {
                jobs.push(files.clone());
                self.cache_work_taken.push(*component);
            }
        }
        (!jobs.is_empty())
            .then(|| CacheWork::new(Arc::clone(&self.runtime), self.options.clone(), jobs))
    }

    /// Time spent inside ONNX Runtime since the last reset, per component.
    pub fn session_times(&self) -> &SessionTimes {
        &self.times
    }

    /// Clears the session time accounting.
    pub fn reset_session_times(&mut self) {
        self.times = SessionTimes::default();
    }

    /// Creates the VAE encoder session now (it is otherwise created on first use).
    pub fn load_vae_encoder(&mut self) -> Result<(), InferenceError> {
        if self.vae_encoder.is_some() {
            return Ok(());
        }
        if let Some(remote) = &self.remote {
            if !remote
                .config
                .components
                .contains_key(Component::VaeEncoder.folder_name())
            {
                return Err(InferenceError::Unsupported {
                    task: "start from an image",
                    reason: "its servers have no vae_encoder (only text to image is possible)"
                        .to_owned(),
                });
            }
            let encoder = remote.component(Component::VaeEncoder)?;
            self.conventions.vae_encoder_output = Some(vae_encoder_output(&encoder.signature)?);
            self.vae_encoder = Some(encoder);
            return Ok(());
        }
        let files = self
            .folder
            .component(Component::VaeEncoder)
            .cloned()
            .ok_or_else(|| InferenceError::Unsupported {
                task: "start from an image",
                reason: "it has no vae_encoder (only text to image is possible)".to_owned(),
            })?;
        let (encoder, _, cache_use) =
            create_session(&self.runtime, &files, &self.options, Some(&self.provider))?;
        self.cache_uses.push((Component::VaeEncoder, cache_use));
        self.conventions.vae_encoder_output = Some(vae_encoder_output(&encoder.signature)?);
        self.vae_encoder = Some(encoder);
        Ok(())
    }

    /// Checks a request against the model before any work starts.
    pub fn validate(&self, request: &GenerationRequest) -> Result<(), InferenceError> {
        let multiple = self.size_multiple;
        if request.width == 0
            || request.height == 0
            || !request.width.is_multiple_of(multiple)
            || !request.height.is_multiple_of(multiple)
            || request.width > 4096
            || request.height > 4096
        {
            let round = |value: u32| {
                ((value + multiple / 2) / multiple).clamp(1, 4096 / multiple) * multiple
            };
            return Err(InferenceError::Size {
                width: request.width,
                height: request.height,
                multiple,
                suggested_width: round(request.width),
                suggested_height: round(request.height),
            });
        }
        let parameter = |parameter, value: String, expected: &str| {
            Err(InferenceError::Parameter {
                parameter,
                value,
                expected: expected.to_owned(),
            })
        };
        if request.steps == 0 || request.steps > 1000 {
            return parameter("steps", request.steps.to_string(), "use 1 to 1000");
        }
        if !(request.guidance.is_finite() && (0.0..=100.0).contains(&request.guidance)) {
            return parameter("guidance", request.guidance.to_string(), "use 0 to 100");
        }
        if let Some(cutoff) = request.guidance_cutoff
            && !(cutoff.is_finite() && (0.0..=1.0).contains(&cutoff))
        {
            return parameter(
                "guidance cutoff",
                cutoff.to_string(),
                "use a fraction of the steps from 0 to 1",
            );
        }
        if !(request.eta.is_finite() && (0.0..=1.0).contains(&request.eta)) {
            return parameter("eta", request.eta.to_string(), "use 0 to 1");
        }
        if request.count == 0 || request.count > MAX_COUNT {
            return parameter(
                "count",
                request.count.to_string(),
                &format!("use 1 to {MAX_COUNT}"),
            );
        }
        let check_image = |what, width: u32, height: u32| {
            if (width, height) == (request.width, request.height) {
                Ok(())
            } else {
                Err(InferenceError::InputSize {
                    what,
                    found_width: width,
                    found_height: height,
                    width: request.width,
                    height: request.height,
                })
            }
        };
        match &request.mode {
            Mode::TextToImage => {}
            Mode::ImageToImage { image, strength } => {
                check_image("input image", image.width, image.height)?;
                check_strength(*strength)?;
            }
            Mode::Inpaint {
                image,
                mask,
                strength,
            } => {
                check_image("input image", image.width, image.height)?;
                check_image("mask", mask.width, mask.height)?;
                check_strength(*strength)?;
            }
        }
        if let Some(noise) = &request.initial_noise {
            let [_, channels, height, width] = request.latent_shape();
            let expected = vec![request.count, channels, height, width];
            if noise.len() != expected.iter().product::<usize>() {
                return Err(InferenceError::NoiseShape {
                    expected,
                    found: vec![noise.len()],
                });
            }
        }
        Ok(())
    }

    /// Runs a request: `count` variations, one after the other. `progress` is called after every
    /// step and may return `Break` to stop; `cancel` stops from another thread.
    pub fn generate(
        &mut self,
        request: &GenerationRequest,
        progress: &mut dyn FnMut(&Progress<'_>) -> ControlFlow<()>,
        cancel: &CancelToken,
    ) -> Result<Outcome, InferenceError> {
        self.validate(request)?;
        self.use_loras(&request.loras)?;
        let embeddings = self.encode_prompts(request, cancel)?;
        let Some(embeddings) = embeddings else {
            return Ok(Outcome::Cancelled {
                completed: Vec::new(),
            });
        };
        let mut completed = Vec::with_capacity(request.count);
        let latent_size: usize = request.latent_shape().iter().product();
        for variation in 0..request.count {
            let seed = request.seed.wrapping_add(variation as u32);
            let mut rng = NumpyRandom::new(seed);
            let initial = request
                .initial_noise
                .as_ref()
                .map(|noise| &noise[variation * latent_size..(variation + 1) * latent_size]);
            let mut report = |view: &StepView<'_>| {
                progress(&Progress {
                    variation,
                    variations: request.count,
                    step: view.step,
                    steps: view.steps,
                    latents: view.latents,
                    preview: view.preview,
                })
            };
            match self.generate_one(
                request,
                &embeddings,
                seed,
                initial,
                &mut rng,
                &mut report,
                cancel,
            )? {
                Some(done) => completed.push(done),
                None => return Ok(Outcome::Cancelled { completed }),
            }
        }
        Ok(Outcome::Finished(completed))
    }

    /// Text embeddings for the request: `[negative; prompt]` when guidance applies, else
    /// `[prompt]`. `None` when cancelled.
    pub fn encode_prompts(
        &mut self,
        request: &GenerationRequest,
        cancel: &CancelToken,
    ) -> Result<Option<PromptEmbeddings>, InferenceError> {
        let guided = request.guidance > 1.0;
        let mut ids = Vec::new();
        if guided {
            ids.extend(self.tokenizer.encode(&request.negative_prompt).ids);
        }
        let prompt = self.tokenizer.encode(&request.prompt);
        let truncated_tokens = prompt.truncated_tokens;
        ids.extend(prompt.ids);
        let batch = if guided { 2 } else { 1 };
        let text_encoder = self
            .text_encoder
            .as_ref()
            .ok_or_else(|| session_gone(Component::TextEncoder))?;
        let element = text_encoder.input_element("input_ids");
        let inputs = vec![("input_ids".to_owned(), id_tensor(&ids, batch, &element))];
        let output = if text_encoder.signature.output("last_hidden_state").is_some() {
            "last_hidden_state".to_owned()
        } else {
            text_encoder
                .signature
                .outputs
                .first()
                .map(|spec| spec.name.clone())
                .unwrap_or_default()
        };
        match self
            .text_encoder
            .as_mut()
            .ok_or_else(|| session_gone(Component::TextEncoder))?
            .run(inputs, &output, true, cancel, &mut self.times)?
        {
            RunResult::Output(data, shape) => Ok(Some(PromptEmbeddings {
                data,
                shape,
                truncated_tokens,
            })),
            RunResult::Cancelled => Ok(None),
        }
    }

    /// One variation. `initial_noise` replaces the first draw from `noise`; `noise` supplies
    /// the rest (in-step noise). `None` when cancelled.
    #[allow(clippy::too_many_arguments)]
    pub fn generate_one(
        &mut self,
        request: &GenerationRequest,
        embeddings: &PromptEmbeddings,
        seed: u32,
        initial_noise: Option<&[f32]>,
        noise: &mut dyn NoiseSource,
        progress: &mut dyn FnMut(&StepView<'_>) -> ControlFlow<()>,
        cancel: &CancelToken,
    ) -> Result<Option<Variation>, InferenceError> {
        let shape = request.latent_shape();
        let size: usize = shape.iter().product();
        let mut scheduler = scheduler::create(
            request.scheduler,
            &self.scheduler_config,
            request.steps,
            request.eta,
        )?;
        let draw_initial = |noise: &mut dyn NoiseSource| -> Vec<f32> {
            match initial_noise {
                Some(supplied) => supplied.to_vec(),
                None => {
                    let mut values = vec![0.0; size];
                    noise.fill_standard_normal(&mut values);
                    values
                }
            }
        };
        // An inpainting UNet also takes a mask and a masked image, whatever the mode: text to
        // image and image to image give it a mask over everything (as diffusers' inpainting
        // pipeline does with a white mask), so the masked image is blank.
        let whole = self.conventions().is_inpainting_unet().then(|| {
            let pixels = request.width as usize * request.height as usize;
            GrayImage::new(request.width, request.height, vec![255; pixels])
        });
        let mode = match (&request.mode, whole.flatten()) {
            (Mode::TextToImage, Some(mask)) => {
                let pixels = request.width as usize * request.height as usize;
                let image = RgbImage::new(request.width, request.height, vec![128; pixels * 3]);
                image.map(|image| Mode::Inpaint {
                    image,
                    mask,
                    strength: 1.0,
                })
            }
            (Mode::ImageToImage { image, strength }, Some(mask)) => Some(Mode::Inpaint {
                image: image.clone(),
                mask,
                strength: *strength,
            }),
            _ => None,
        };
        let plan = match mode.as_ref().unwrap_or(&request.mode) {
            Mode::TextToImage => txt2img::plan(scheduler.as_ref(), draw_initial(noise)),
            Mode::ImageToImage { image, strength } => {
                let Some(latents) = self.encode_image(image, cancel)? else {
                    return Ok(None);
                };
                img2img::plan(
                    scheduler.as_ref(),
                    request,
                    *strength,
                    &latents,
                    &draw_initial(noise),
                )?
            }
            Mode::Inpaint {
                image,
                mask,
                strength,
            } => {
                let initial = draw_initial(noise);
                let Some(plan) = inpaint::plan(
                    self,
                    scheduler.as_ref(),
                    request,
                    image,
                    mask,
                    *strength,
                    initial,
                    cancel,
                )?
                else {
                    return Ok(None);
                };
                plan
            }
        };
        let Some(latents) = self.denoise(
            request,
            scheduler.as_mut(),
            plan,
            embeddings,
            noise,
            progress,
            cancel,
        )?
        else {
            return Ok(None);
        };
        let Some(image) = self.decode(&latents, shape, cancel)? else {
            return Ok(None);
        };
        Ok(Some(Variation {
            seed,
            image,
            latents,
        }))
    }

    /// The shared denoising loop.
    #[allow(clippy::too_many_arguments)]
    fn denoise(
        &mut self,
        request: &GenerationRequest,
        scheduler: &mut dyn Scheduler,
        plan: DenoisePlan,
        embeddings: &PromptEmbeddings,
        noise: &mut dyn NoiseSource,
        progress: &mut dyn FnMut(&StepView<'_>) -> ControlFlow<()>,
        cancel: &CancelToken,
    ) -> Result<Option<Vec<f32>>, InferenceError> {
        let [_, channels, height, width] = request.latent_shape();
        let size = channels * height * width;
        let guided = request.guidance > 1.0;
        let timesteps: Vec<f32> = scheduler.timesteps().to_vec();
        let total = timesteps.len() - plan.start;
        // The last loop step that still runs guided (diffusers counts the loop's own steps).
        let last_guided = request.guidance_cutoff.map_or(usize::MAX, |cutoff| {
            (total as f32 * cutoff).floor() as usize
        });
        let conditional_half = embeddings.data.len() / 2;
        let mut prompt_only_shape = embeddings.shape.clone();
        if let Some(batch) = prompt_only_shape.first_mut() {
            *batch = 1;
        }
        let mut latents = plan.latents;
        let latent_element = self.conventions.latent_element.clone();
        let context_element = self
            .unet
            .as_ref()
            .ok_or_else(|| session_gone(Component::Unet))?
            .input_element("encoder_hidden_states");
        let output_name = self.conventions.unet_output.clone();
        for (done, index) in (plan.start..timesteps.len()).enumerate() {
            if cancel.is_cancelled() {
                return Ok(None);
            }
            let guided_now = guided && done <= last_guided;
            let batch = if guided_now { 2 } else { 1 };
            let (context, context_shape) = if guided && !guided_now {
                (&embeddings.data[conditional_half..], &prompt_only_shape[..])
            } else {
                (&embeddings.data[..], &embeddings.shape[..])
            };
            let mut scaled = latents.clone();
            scheduler.scale_model_input(&mut scaled, index);
            let mut sample = Vec::with_capacity(batch * size * 3);
            let unet_channels = self.conventions.unet_in_channels as usize;
            for _ in 0..batch {
                sample.extend_from_slice(&scaled);
                if let Some(extra) = &plan.unet_extra {
                    sample.extend_from_slice(extra);
                }
            }
            let inputs = vec![
                (
                    "sample".to_owned(),
                    float_tensor(
                        &sample,
                        &[batch, unet_channels, height, width],
                        &latent_element,
                    ),
                ),
                (
                    "timestep".to_owned(),
                    timestep_tensor(timesteps[index], batch, self.conventions.timestep),
                ),
                (
                    "encoder_hidden_states".to_owned(),
                    float_tensor(context, context_shape, &context_element),
                ),
            ];
            let prediction = match self
                .unet
                .as_mut()
                .ok_or_else(|| session_gone(Component::Unet))?
                .run(
                    inputs,
                    &output_name,
                    index + 1 == timesteps.len(),
                    cancel,
                    &mut self.times,
                )? {
                RunResult::Output(data, _) => data,
                RunResult::Cancelled => return Ok(None),
            };
            let guided_prediction = if guided_now {
                scheduler::common::apply_guidance(
                    &prediction[..size],
                    &prediction[size..2 * size],
                    request.guidance,
                )
            } else {
                prediction
            };
            let step = scheduler::Step {
                index,
                sample: &latents,
                model_output: &guided_prediction,
            };
            latents = scheduler.step(step, noise);
            if let Some(blend) = &plan.blend {
                blend.apply(scheduler, &mut latents, index);
            }
            let preview = latent_preview(&latents, width, height);
            let view = StepView {
                step: done + 1,
                steps: total,
                latents: &latents,
                preview: &preview,
            };
            if progress(&view).is_break() {
                cancel.cancel();
                return Ok(None);
            }
        }
        Ok(Some(latents))
    }

    /// Encodes an image into scaled latents (`0.18215 · mean`), normalised as img2img does.
    /// `None` when cancelled.
    fn encode_image(
        &mut self,
        image: &RgbImage,
        cancel: &CancelToken,
    ) -> Result<Option<Vec<f32>>, InferenceError> {
        let tensor = image.to_tensor_img2img();
        self.encode_tensor(&tensor, image.width, image.height, cancel)
    }

    /// Encodes an NCHW image tensor in [-1, 1] into scaled latents. `None` when cancelled.
    fn encode_tensor(
        &mut self,
        tensor: &[f32],
        width: u32,
        height: u32,
        cancel: &CancelToken,
    ) -> Result<Option<Vec<f32>>, InferenceError> {
        self.load_vae_encoder()?;
        let output = match self.conventions.vae_encoder_output {
            Some(VaeEncoderOutput::LatentParameters) => "latent_parameters",
            _ => "latent_sample",
        };
        let Some(encoder) = self.vae_encoder.as_mut() else {
            return Err(InferenceError::Unsupported {
                task: "start from an image",
                reason: "it has no vae_encoder".to_owned(),
            });
        };
        let element = encoder.input_element("sample");
        let inputs = vec![(
            "sample".to_owned(),
            float_tensor(tensor, &[1, 3, height as usize, width as usize], &element),
        )];
        let (data, shape) = match encoder.run(inputs, output, true, cancel, &mut self.times)? {
            RunResult::Output(data, shape) => (data, shape),
            RunResult::Cancelled => return Ok(None),
        };
        // latent_parameters holds the mean in its first four channels, then the log-variance.
        let plane = (height / VAE_FACTOR) as usize * (width / VAE_FACTOR) as usize;
        if shape.get(1).copied().unwrap_or(0) < 4 || data.len() < 4 * plane {
            return Err(InferenceError::Run {
                component: "vae_encoder",
                reason: format!("it returned shape {shape:?}, expected 4 or 8 latent channels"),
            });
        }
        Ok(Some(
            data[..4 * plane]
                .iter()
                .map(|&value| VAE_SCALING * value)
                .collect(),
        ))
    }

    /// Decodes final latents into an image. `None` when cancelled.
    fn decode(
        &mut self,
        latents: &[f32],
        shape: [usize; 4],
        cancel: &CancelToken,
    ) -> Result<Option<RgbImage>, InferenceError> {
        let scale = 1.0 / VAE_SCALING;
        let scaled: Vec<f32> = latents.iter().map(|&value| scale * value).collect();
        let element = self.vae_decoder.input_element("latent_sample");
        let inputs = vec![(
            "latent_sample".to_owned(),
            float_tensor(&scaled, &shape, &element),
        )];
        let output = self.vae_decoder.output_named("sample");
        match self
            .vae_decoder
            .run(inputs, &output, true, cancel, &mut self.times)?
        {
            RunResult::Output(data, _) => Ok(Some(RgbImage::from_decoder_output(
                &data,
                shape[3] as u32 * VAE_FACTOR,
                shape[2] as u32 * VAE_FACTOR,
            ))),
            RunResult::Cancelled => Ok(None),
        }
    }
}

/// Text embeddings for a request.
#[derive(Clone, Debug, PartialEq)]
pub struct PromptEmbeddings {
    /// `[batch, 77, width]` floats.
    pub data: Vec<f32>,
    /// Their shape.
    pub shape: Vec<usize>,
    /// Prompt tokens beyond what the text encoder reads (dropped).
    pub truncated_tokens: usize,
}

/// Where a mode's denoising starts and what it adds to each step.
pub struct DenoisePlan {
    /// Latents entering the loop.
    pub latents: Vec<f32>,
    /// First step index.
    pub start: usize,
    /// Channels appended to the UNet input (inpainting UNets: mask and masked-image latents).
    pub unet_extra: Option<Vec<f32>>,
    /// Latent blending after every step (inpainting with an ordinary UNet, and soft
    /// inpainting with either).
    pub blend: Option<inpaint::LatentBlend>,
}

/// A folder's tokenizer and its scheduler configuration as diffusers' pipelines run it (SD 1.x
/// defaults when the folder has none).
fn tokenizer_and_scheduler(
    folder: &ModelFolder,
) -> Result<(ClipTokenizer, (SchedulerConfig, Vec<PipelineAdjustment>)), InferenceError> {
    let tokenizer = ClipTokenizer::from_folder(folder.required_tokenizer()?)?;
    let scheduler = match &folder.scheduler_config {
        Some(path) => SchedulerConfig::from_file(path)?,
        None => SchedulerConfig::stable_diffusion_v1(),
    }
    .as_pipelines_use_it();
    Ok((tokenizer, scheduler))
}

fn vae_encoder_output(signature: &ComponentSignature) -> Result<VaeEncoderOutput, ModelError> {
    if signature.output("latent_parameters").is_some() {
        Ok(VaeEncoderOutput::LatentParameters)
    } else if signature.output("latent_sample").is_some() {
        Ok(VaeEncoderOutput::LatentSample)
    } else {
        Err(ModelError::UnexpectedSignature {
            component: "vae_encoder",
            reason: "it has neither a `latent_sample` nor a `latent_parameters` output".to_owned(),
        })
    }
}

/// The layout of a remote model's client folder: its tokenizer, scheduler and configurations,
/// and no ONNX files.
fn remote_folder(root: &Path) -> Result<ModelFolder, InferenceError> {
    let index_path = root.join("model_index.json");
    let model_index = match std::fs::read_to_string(&index_path) {
        Ok(text) => Some(
            serde_json::from_str(&text).map_err(|err| ModelError::InvalidJson {
                reason: err.to_string(),
                path: index_path.clone(),
            })?,
        ),
        Err(_) => None,
    };
    let scheduler = root.join("scheduler").join("scheduler_config.json");
    let tokenizer = root.join("tokenizer");
    Ok(ModelFolder {
        root: root.to_path_buf(),
        model_index,
        components: Vec::new(),
        scheduler_config: scheduler.is_file().then_some(scheduler),
        tokenizer: tokenizer.is_dir().then_some(tokenizer),
    })
}

impl RemoteModel {
    /// A component on the servers, after checking what they declare against the signature
    /// recorded from its ONNX file.
    pub fn component(&self, component: Component) -> Result<LoadedComponent, InferenceError> {
        use crate::model::signature::Dimension;
        use crate::pipeline::remote_component::RemoteComponent;
        use crate::remote::config::{check_tensor, describe};
        use crate::remote::{RemoteError, TensorDescription};

        let model = self.config.served_name(component);
        let mut signature =
            self.config
                .signature(component)
                .ok_or_else(|| RemoteError::Config {
                    reason: format!("it describes no {}", component.folder_name()),
                    path: crate::remote::REMOTE_FILE.to_owned(),
                })?;
        let (url, metadata) = self.pool.model_metadata(&model)?;
        let theirs =
            |tensors: &[crate::remote::proto::model_metadata_response::TensorMetadata]| {
                tensors
                    .iter()
                    .map(|tensor| TensorDescription {
                        name: tensor.name.clone(),
                        datatype: tensor.datatype.clone(),
                        shape: tensor.shape.clone(),
                    })
                    .collect::<Vec<_>>()
            };
        let inputs = theirs(&metadata.inputs);
        let outputs = theirs(&metadata.outputs);
        let mismatch = |reason: String| RemoteError::SignatureMismatch {
            url: url.clone(),
            model: model.clone(),
            reason,
        };
        let mut server_shapes = Vec::new();
        for (ours, theirs, what) in [
            (&signature.inputs, &inputs, "input"),
            (&signature.outputs, &outputs, "output"),
        ] {
            for spec in ours {
                let ours = describe(spec);
                let found = theirs
                    .iter()
                    .find(|tensor| tensor.name == ours.name)
                    .ok_or_else(|| mismatch(format!("it has no {what} `{}`", ours.name)))?;
                check_tensor(&ours, found).map_err(mismatch)?;
                if what == "input" && found.shape.len() != ours.shape.len() {
                    server_shapes.push((ours.name.clone(), found.shape.clone()));
                }
            }
        }
        // The UNet's channel count, when its graph leaves it dynamic, is recorded beside.
        let sample = signature
            .inputs
            .iter_mut()
            .find(|spec| component == Component::Unet && spec.name == "sample");
        if let Some(dim @ Dimension::Dynamic(_)) = sample.and_then(|spec| spec.shape.get_mut(1)) {
            *dim = Dimension::Fixed(self.config.unet_in_channels);
        }
        let remote = RemoteComponent::new(
            Arc::clone(&self.pool),
            model,
            signature.clone(),
            server_shapes,
        );
        Ok(LoadedComponent::remote(remote, signature))
    }
}

fn check_strength(strength: f64) -> Result<(), InferenceError> {
    if strength.is_finite() && strength > 0.0 && strength <= 1.0 {
        Ok(())
    } else {
        Err(InferenceError::Parameter {
            parameter: "strength",
            value: strength.to_string(),
            expected: "use a value above 0 and at most 1".to_owned(),
        })
    }
}

fn required(
    folder: &ModelFolder,
    component: Component,
) -> Result<crate::model::ComponentFiles, InferenceError> {
    folder.component(component).cloned().ok_or_else(|| {
        ModelError::MissingComponent {
            component: component.folder_name(),
            path: folder.root.join(component.folder_name()).join("model.onnx"),
        }
        .into()
    })
}

/// The error of a generation whose text encoder or UNet session is missing: a LoRA change
/// failed and the base model's session could not be created again either.
fn session_gone(component: Component) -> InferenceError {
    InferenceError::Unsupported {
        task: "generate",
        reason: format!(
            "its {} could not be set up again after a LoRA change; load the model again",
            component.folder_name()
        ),
    }
}
