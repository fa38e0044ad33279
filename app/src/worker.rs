//! The generation worker: a named thread that owns the model. The UI sends typed commands over
//! a bounded channel and drains typed events once per frame; every job has an increasing id and
//! events of stale jobs are ignored by the UI. Loading a model and generating never block the
//! window, and cancelling takes effect within one step.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};

use pentimento_inference::image::RgbImage;
use pentimento_inference::pipeline::CacheUse;
use pentimento_inference::{
    CancelToken, GenerationRequest, InferenceError, LoadOptions, LocateOptions, OnnxRuntime,
    Outcome, StableDiffusion, Variation,
};

/// What the UI asks the worker to do.
#[derive(Debug)]
pub enum Command {
    /// Load a model folder (replacing the loaded one).
    LoadModel {
        /// Job id.
        job: u64,
        /// The model folder.
        path: PathBuf,
        /// Provider, threads, cache.
        options: LoadOptions,
    },
    /// Generate `request.count` variations, one at a time.
    Generate {
        /// Job id.
        job: u64,
        /// What to generate.
        request: Box<GenerationRequest>,
        /// Stops the job (shared with the UI).
        cancel: CancelToken,
    },
    /// Stop the thread.
    Shutdown,
}

/// What a loaded model can do, for the prompt panel and the generation log.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelInfo {
    /// The folder.
    pub path: PathBuf,
    /// Its name (the folder name).
    pub name: String,
    /// Whether it has an inpainting UNet.
    pub inpainting_unet: bool,
    /// Whether it can start from an image.
    pub has_vae_encoder: bool,
    /// Native resolution.
    pub native_resolution: u32,
    /// Sizes must be multiples of this.
    pub size_multiple: u32,
    /// The execution provider in use.
    pub provider: String,
    /// sha256 of each model file.
    pub fingerprint: Vec<(String, String)>,
    /// The servers, when the model runs on inference servers.
    pub remote: Option<RemoteInfo>,
}

/// A remote model's servers, for the model manager and the status bar (their state is read
/// without waiting on the network).
#[derive(Clone, Debug)]
pub struct RemoteInfo {
    /// The model's name on the servers.
    pub model: String,
    /// The servers.
    pub pool: std::sync::Arc<pentimento_inference::remote::Pool>,
    /// A copy of the model on this computer, when `remote.json` names one that exists.
    pub local_copy: Option<PathBuf>,
}

impl PartialEq for RemoteInfo {
    fn eq(&self, other: &Self) -> bool {
        self.model == other.model && std::sync::Arc::ptr_eq(&self.pool, &other.pool)
    }
}

impl ModelInfo {
    /// Where generations run, for the status bar and the log: the provider, or the server
    /// that answered last.
    pub fn runs_on(&self) -> String {
        match &self.remote {
            None => self.provider.clone(),
            Some(remote) => match remote.pool.last_used() {
                Some(url) => format!("inference server {url}"),
                None => format!(
                    "inference servers ({})",
                    remote
                        .pool
                        .status()
                        .iter()
                        .map(|server| server.url.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        }
    }
}

/// What the worker reports.
#[derive(Debug)]
pub enum Event {
    /// Model loading advanced.
    ModelLoading {
        /// Job id.
        job: u64,
        /// What it is doing.
        stage: String,
    },
    /// The model is ready.
    ModelLoaded {
        /// Job id.
        job: u64,
        /// What it can do.
        info: Box<ModelInfo>,
    },
    /// The model could not be loaded; the sentence says why.
    ModelFailed {
        /// Job id.
        job: u64,
        /// Why.
        message: String,
    },
    /// A denoising step finished.
    Progress {
        /// Job id.
        job: u64,
        /// Which variation.
        variation: usize,
        /// How many.
        variations: usize,
        /// Step done (1-based).
        step: usize,
        /// Steps per variation.
        steps: usize,
        /// Cheap preview of the current latents.
        preview: RgbImage,
    },
    /// The LoRAs the generation runs with are merged in (sent before its first step).
    LorasApplied {
        /// Job id.
        job: u64,
        /// Each LoRA with its file hash, strength and metadata.
        loras: Vec<pentimento_inference::lora::AppliedLora>,
    },
    /// One variation is whole.
    Variation {
        /// Job id.
        job: u64,
        /// The variation.
        variation: Box<Variation>,
    },
    /// The job ended (finished or cancelled; its variations were sent before).
    Finished {
        /// Job id.
        job: u64,
        /// Whether it was cancelled.
        cancelled: bool,
    },
    /// The job failed; the sentence says why and what to do.
    Failed {
        /// Job id.
        job: u64,
        /// Why.
        message: String,
    },
}

/// The handle the UI keeps.
#[derive(derive_more::Debug)]
pub struct Worker {
    #[debug(skip)]
    commands: SyncSender<Command>,
    #[debug(skip)]
    events: Receiver<Event>,
    #[debug(skip)]
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    /// Starts the worker thread. `wake` is called after every event (the app passes a closure
    /// that asks egui for a repaint), so this module needs no UI types.
    pub fn spawn(
        locate: LocateOptions,
        optimized_cache: Option<PathBuf>,
        wake: impl Fn() + Send + 'static,
    ) -> std::io::Result<Self> {
        let (commands, command_receiver) = mpsc::sync_channel(8);
        let (event_sender, events) = mpsc::sync_channel(64);
        let thread = std::thread::Builder::new()
            .name("generation-worker".to_owned())
            .spawn(move || {
                let mut state = WorkerState {
                    locate,
                    optimized_cache,
                    model: None,
                    cache_work: None,
                    events: event_sender,
                    wake: Box::new(wake),
                };
                while let Ok(command) = command_receiver.recv() {
                    match command {
                        Command::Shutdown => {
                            state.stop_cache_work();
                            break;
                        }
                        Command::LoadModel { job, path, options } => {
                            state.load(job, &path, options);
                        }
                        Command::Generate {
                            job,
                            request,
                            cancel,
                        } => state.generate(job, &request, &cancel),
                    }
                }
            })?;
        Ok(Self {
            commands,
            events,
            thread: Some(thread),
        })
    }

    /// Sends a command; fails only when the worker has stopped.
    pub fn send(&self, command: Command) -> Result<(), String> {
        self.commands.send(command).map_err(|_| {
            "the generation worker stopped unexpectedly; restart Pentimento (your document is safe)"
                .to_owned()
        })
    }

    /// The next event, if any.
    pub fn try_recv(&self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// The next event, waiting up to `timeout` for it: for callers that are not a UI frame
    /// (benchmarks, tests). None when nothing came in time or the worker stopped.
    pub fn recv_timeout(&self, timeout: std::time::Duration) -> Option<Event> {
        self.events.recv_timeout(timeout).ok()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.commands.try_send(Command::Shutdown);
        if let Some(thread) = self.thread.take() {
            // Give the worker a moment to finish what it is inside (a cancelled step, loading
            // ONNX Runtime): a process that exits while a thread is inside the native library
            // can abort on the way out. A generation that does not stop in time is left behind.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while !thread.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

struct WorkerState {
    locate: LocateOptions,
    optimized_cache: Option<PathBuf>,
    model: Option<(StableDiffusion, ModelInfo)>,
    /// The optimized-graph cache being written in the background, and its stop token.
    cache_work: Option<(std::thread::JoinHandle<()>, CancelToken)>,
    events: SyncSender<Event>,
    wake: Box<dyn Fn() + Send>,
}

impl WorkerState {
    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
        (self.wake)();
    }

    /// After a finished generation: writes the model's optimized graphs for the next load on a
    /// thread of the lowest priority, so the first image never waited for them.
    fn start_cache_work(&mut self) {
        if self
            .cache_work
            .as_ref()
            .is_some_and(|(thread, _)| !thread.is_finished())
        {
            return;
        }
        let Some(work) = self
            .model
            .as_mut()
            .and_then(|(model, _)| model.take_cache_work())
        else {
            return;
        };
        let cancel = CancelToken::new();
        let stop = cancel.clone();
        let thread = std::thread::Builder::new()
            .name("optimized-graph cache".to_owned())
            .spawn(move || {
                // Failures only mean the next load optimizes again.
                let _ = work.run(&stop);
            });
        if let Ok(thread) = thread {
            self.cache_work = Some((thread, cancel));
        }
    }

    /// Stops the background cache write after its current component and waits for it.
    fn stop_cache_work(&mut self) {
        if let Some((thread, cancel)) = self.cache_work.take() {
            cancel.cancel();
            let _ = thread.join();
        }
    }

    fn load(&mut self, job: u64, path: &Path, mut options: LoadOptions) {
        // Free the old model first: two SD models at once may not fit in memory.
        self.stop_cache_work();
        self.model = None;
        self.emit(Event::ModelLoading {
            job,
            stage: "Starting ONNX Runtime…".to_owned(),
        });
        let loaded = OnnxRuntime::initialize(&self.locate)
            .map_err(InferenceError::from)
            .and_then(|runtime| {
                self.emit(Event::ModelLoading {
                    job,
                    stage: "Loading the model…".to_owned(),
                });
                options.optimized_cache = options.optimized_cache.or(self.optimized_cache.clone());
                StableDiffusion::load(runtime, path, options)
            });
        let model = match loaded {
            Ok(model) => model,
            Err(err) => {
                self.emit(Event::ModelFailed {
                    job,
                    message: crate::messages::sentence(&err.to_string()),
                });
                return;
            }
        };
        if model
            .cache_uses()
            .iter()
            .any(|(_, used)| *used == CacheUse::Deferred)
        {
            self.emit(Event::ModelLoading {
                job,
                stage: "First load: after the first image, a copy optimized for this computer \
                        is saved in the background, so later loads are faster."
                    .to_owned(),
            });
        }
        self.emit(Event::ModelLoading {
            job,
            stage: "Fingerprinting the model files…".to_owned(),
        });
        let remote = model.remote().map(|remote| RemoteInfo {
            model: remote.config.model.clone(),
            pool: std::sync::Arc::clone(&remote.pool),
            local_copy: remote
                .config
                .local_copy
                .clone()
                .filter(|copy| copy.join("unet").join("model.onnx").is_file()),
        });
        // A remote model's files are on the servers: its fingerprint is what serve-repo
        // recorded of them.
        let fingerprint = match model.remote() {
            Some(remote) => remote
                .config
                .components
                .iter()
                .map(|(component, description)| {
                    (
                        format!("{component}/model.onnx"),
                        description.sha256.clone(),
                    )
                })
                .collect(),
            None => crate::fingerprint::model_fingerprint(path),
        };
        let info = ModelInfo {
            path: path.to_path_buf(),
            name: crate::settings::ModelEntry::display_name(path),
            inpainting_unet: model.conventions().is_inpainting_unet(),
            has_vae_encoder: match model.remote() {
                Some(remote) => remote.config.components.contains_key("vae_encoder"),
                None => model
                    .folder()
                    .component(pentimento_inference::Component::VaeEncoder)
                    .is_some(),
            },
            native_resolution: model.native_resolution(),
            size_multiple: model.size_multiple(),
            provider: match model.remote() {
                Some(_) => "inference servers".to_owned(),
                None => model.provider().active.cli_name().to_owned(),
            },
            fingerprint,
            remote,
        };
        self.model = Some((model, info.clone()));
        self.emit(Event::ModelLoaded {
            job,
            info: Box::new(info),
        });
    }

    /// Ends a generation job with an error, keeping the model.
    fn failed(&mut self, job: u64, model: (StableDiffusion, ModelInfo), err: &InferenceError) {
        self.model = Some(model);
        self.emit(Event::Failed {
            job,
            message: crate::messages::sentence(&err.to_string()),
        });
    }

    fn generate(&mut self, job: u64, request: &GenerationRequest, cancel: &CancelToken) {
        let Some((mut model, info)) = self.model.take() else {
            self.emit(Event::Failed {
                job,
                message: "No model is loaded; open a model folder in the prompt panel first."
                    .to_owned(),
            });
            return;
        };
        match model.use_loras(&request.loras) {
            Ok(loras) => self.emit(Event::LorasApplied { job, loras }),
            Err(err) => return self.failed(job, (model, info), &err),
        }
        let mut cancelled = false;
        for index in 0..request.count {
            let single = GenerationRequest {
                seed: request.seed.wrapping_add(index as u32),
                count: 1,
                initial_noise: None,
                ..request.clone()
            };
            let events = self.events.clone();
            let wake = &self.wake;
            let mut progress = |progress: &pentimento_inference::Progress<'_>| {
                let event = Event::Progress {
                    job,
                    variation: index,
                    variations: request.count,
                    step: progress.step,
                    steps: progress.steps,
                    preview: progress.preview.clone(),
                };
                if let Err(TrySendError::Full(_)) | Ok(()) = events.try_send(event) {
                    wake();
                }
                std::ops::ControlFlow::Continue(())
            };
            match model.generate(&single, &mut progress, cancel) {
                Ok(Outcome::Finished(variations)) => {
                    for variation in variations {
                        self.emit(Event::Variation {
                            job,
                            variation: Box::new(variation),
                        });
                    }
                }
                Ok(Outcome::Cancelled { completed }) => {
                    for variation in completed {
                        self.emit(Event::Variation {
                            job,
                            variation: Box::new(variation),
                        });
                    }
                    cancelled = true;
                    break;
                }
                Err(err) => return self.failed(job, (model, info), &err),
            }
        }
        self.model = Some((model, info));
        self.emit(Event::Finished { job, cancelled });
        if !cancelled {
            self.start_cache_work();
        }
    }
}
