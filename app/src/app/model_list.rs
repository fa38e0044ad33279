//! The model list and the model in use: loading a model in the worker, adding, choosing and
//! removing models, downloads from the Hugging Face Hub, and starting ONNX Runtime again.

use std::path::{Path, PathBuf};

use super::{Modal, ModelState, PentimentoApp};
use crate::runtime_status::RuntimeStatus;

impl PentimentoApp {
    /// Loads a model folder in the worker.
    pub fn load_model(&mut self, path: PathBuf) {
        let job = self.job_id();
        let Some(worker) = &self.worker else {
            self.model = ModelState::Failed(
                "Generation is unavailable in this session (ONNX Runtime was not started)."
                    .to_owned(),
            );
            return;
        };
        let options = pentimento_inference::LoadOptions {
            provider: self.settings.generation.provider,
            intra_threads: self.options.threads,
            optimized_cache: self.options.optimized_cache.clone(),
            ..pentimento_inference::LoadOptions::default()
        };
        match worker.send(crate::worker::Command::LoadModel {
            job,
            path: path.clone(),
            options,
        }) {
            Ok(()) => {
                self.model = ModelState::Loading {
                    job,
                    path,
                    stage: "Waiting for the worker…".to_owned(),
                };
            }
            Err(message) => self.model = ModelState::Failed(message),
        }
    }

    /// Asks the loaded remote model's servers for their state, on a thread of its own (a
    /// server that does not answer must not hold up the window).
    pub(super) fn check_servers(&mut self, ctx: &egui::Context) {
        let Some(remote) = self.model.ready().and_then(|info| info.remote.clone()) else {
            return;
        };
        let wake = ctx.clone();
        std::thread::spawn(move || {
            let models: Vec<String> = ["text_encoder", "unet", "vae_decoder"]
                .into_iter()
                .map(|component| format!("{}-{component}", remote.model))
                .collect();
            let _ = remote.pool.probe_all(&models);
            wake.request_repaint();
        });
    }

    /// Loads the local copy of the remote model and runs the generation that found no server
    /// again there, unchanged (same region, settings and seeds).
    pub(super) fn continue_locally(&mut self, path: PathBuf) {
        if let Some(offer) = self.generation.local_offer.take() {
            self.generation.resubmit = Some(offer.generation);
        }
        self.load_model(path);
    }

    /// Adds a model folder to the model manager's list after checking it.
    pub(super) fn add_model_folder(&mut self, path: &Path) {
        self.views.model_manager.set_download_error(None);
        match crate::models::add(&mut self.settings, path, None) {
            Ok(_) => {
                self.views.model_manager.set_add_error(None);
                self.views.model_manager.forget_summaries();
                self.follow_default_model();
                self.save_settings();
            }
            Err(message) => self.views.model_manager.set_add_error(Some(message)),
        }
    }

    /// Makes a listed model the default one.
    pub(super) fn make_default_model(&mut self, path: &Path) {
        crate::models::set_default(&mut self.settings, path);
        self.follow_default_model();
        self.save_settings();
    }

    /// Takes a model off the list (its files stay).
    pub(super) fn remove_model(&mut self, path: &Path) {
        crate::models::remove(&mut self.settings, path);
        self.follow_default_model();
        self.save_settings();
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

    /// Reads what each listed model can do, for the models the model manager has not seen yet
    /// (from the graphs, without ONNX Runtime).
    pub(super) fn check_listed_models(&mut self) {
        let unchecked: Vec<PathBuf> = self
            .views
            .model_manager
            .unchecked(&self.settings)
            .map(Path::to_path_buf)
            .collect();
        for path in unchecked {
            let summary = crate::models::summary(&path);
            self.views.model_manager.set_summary(path, summary);
        }
    }

    /// Starts a download from the Hugging Face Hub.
    pub(super) fn start_download(
        &mut self,
        ctx: &egui::Context,
        source: pentimento_inference::hub::HubSource,
        token: Option<String>,
    ) {
        let options = pentimento_inference::hub::HubOptions {
            endpoint: self.options.hub_endpoint.clone(),
            token,
            cache_dir: self.options.hub_cache.clone(),
        };
        let wake = ctx.clone();
        match crate::models::Download::start(source, options, move || wake.request_repaint()) {
            Ok(download) => {
                // Each error is about the last thing done.
                self.views.model_manager.set_add_error(None);
                self.views.model_manager.set_download_error(None);
                self.download = Some(download);
            }
            Err(err) => {
                self.views
                    .model_manager
                    .set_download_error(Some(format!("Could not start the download ({err}).")));
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
                        self.views.model_manager.forget_summaries();
                        self.follow_default_model();
                        self.save_settings();
                        self.notify(
                            ctx,
                            format!("Downloaded {label}: {}.", capabilities.summary()),
                            false,
                        );
                    }
                    Err(message) => self.views.model_manager.set_download_error(Some(message)),
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
                self.views.model_manager.set_download_error(Some(message));
            }
            crate::models::DownloadEvent::Progress(_) => {}
        }
    }

    /// Starts ONNX Runtime again after it failed, and the model that failed with it.
    pub(super) fn retry_runtime(&mut self, ctx: &egui::Context) {
        let Some(options) = self.options.runtime.clone() else {
            return;
        };
        let wake = ctx.clone();
        self.runtime = RuntimeStatus::start(options, move || wake.request_repaint());
        if let Some(path) = self.settings.model_folder.clone()
            && matches!(self.model, ModelState::Failed(_))
        {
            self.load_model(path);
        }
    }
}
