//! The main window: canvas in the middle, toolbar and prompt panel on the left, layers on the
//! right, the staging strip under the canvas, the status bar at the bottom.
//!
//! The app owns the document and the UI state; generation runs on the worker thread, which it
//! talks to only through commands and events.

mod generation;
mod panels;
mod thumbnails;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use egui::{Panel, RichText};
use pentimento_inference::LocateOptions;

use crate::autosave::{Autosave, Recovery};
use crate::canvas::gpu::CanvasGpu;
use crate::canvas::{CanvasEvent, CanvasView, Overlays};
use crate::dialogs::{DialogAnswer, DialogKind, FileDialogs, FileRequest, NativeDialogs};
use crate::document::Document;
use crate::document::layer::LayerId;
use crate::file_browser::{BrowserOutcome, FileBrowser};
use crate::io::ora;
use crate::runtime_status::RuntimeStatus;
use crate::settings::{FileDialogChoice, Folders, Settings};
use crate::tools::Tool;
use crate::worker::Worker;
pub use generation::{GenerationState, ModelState};

/// The application icon, `assets/icon.png`.
pub const ICON_PNG: &[u8] = include_bytes!("../../assets/icon.png");

/// Size of a new canvas, in pixels.
pub const DEFAULT_DOCUMENT_SIZE: [u32; 2] = [1024, 1024];

/// Canvas size presets of the New dialog.
pub const SIZE_PRESETS: [(&str, u32, u32); 6] = [
    ("Square 512", 512, 512),
    ("Square 1024", 1024, 1024),
    ("Portrait 768 × 1024", 768, 1024),
    ("Landscape 1024 × 768", 1024, 768),
    ("Landscape 1920 × 1080", 1920, 1080),
    ("Square 2048", 2048, 2048),
];

/// How the app starts.
#[derive(Clone)]
pub struct AppOptions {
    /// Where to look for ONNX Runtime; `None` starts neither ONNX Runtime nor the worker (tests
    /// of the bare UI).
    pub runtime: Option<LocateOptions>,
    /// Size of the initial empty canvas.
    pub document_size: [u32; 2],
    /// Settings and autosave folders (`None`: the platform's).
    pub folders: Option<Folders>,
    /// File dialogs (`None`: native ones).
    pub dialogs: Option<Arc<dyn FileDialogs>>,
    /// A model folder to load at start (overrides the remembered one).
    pub model: Option<PathBuf>,
    /// Where ONNX Runtime's optimized graphs are cached (`None`: the user cache).
    pub optimized_cache: Option<PathBuf>,
    /// ONNX Runtime threads per operator (`None`: one per core).
    pub threads: Option<usize>,
    /// A project or image to open at start.
    pub open: Option<PathBuf>,
    /// The Hugging Face Hub endpoint for downloads (`None`: `HF_ENDPOINT` or the Hub).
    pub hub_endpoint: Option<String>,
    /// The Hugging Face cache to download into (`None`: the standard one).
    pub hub_cache: Option<PathBuf>,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            runtime: Some(LocateOptions::default()),
            document_size: DEFAULT_DOCUMENT_SIZE,
            folders: None,
            dialogs: None,
            model: None,
            optimized_cache: crate::settings::optimized_cache_folder(),
            threads: None,
            open: None,
            hub_endpoint: None,
            hub_cache: None,
        }
    }
}

impl std::fmt::Debug for AppOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppOptions")
            .field("document_size", &self.document_size)
            .field("folders", &self.folders)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// A message shown to the artist.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    /// The sentence.
    pub text: String,
    /// Errors stay until dismissed; information fades.
    pub is_error: bool,
    /// When it was posted (seconds of app time).
    pub posted: f64,
}

/// A modal question waiting for an answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Modal {
    /// Offer to recover an autosave.
    Recover(Recovery),
    /// Unsaved changes before closing the window.
    ConfirmQuit,
    /// Unsaved changes before replacing the document.
    ConfirmReplace(ReplaceWith),
    /// Choose a size for a new canvas.
    NewCanvas {
        /// Width being edited.
        width: u32,
        /// Height being edited.
        height: u32,
    },
    /// The settings window.
    Settings,
    /// The model manager.
    Models,
    /// Every generation in the document's log.
    GenerationLog,
}

/// The model manager's download form.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DownloadForm {
    /// `owner/name`.
    pub repo: String,
    /// Branch, tag or commit.
    pub revision: String,
    /// The pipeline's folder in the repository.
    pub subfolder: String,
    /// Access token (empty: the usual defaults).
    pub token: String,
}

/// What a file or folder being chosen is for: the step that follows the choice, whichever
/// dialog (the system's or Pentimento's own) makes it.
#[derive(Clone, Debug, PartialEq)]
pub enum FilePurpose {
    /// Load this model folder now (the prompt panel's Open model folder…).
    LoadModel,
    /// Add this model folder to the list (the model manager's Add folder…).
    AddModel,
    /// Use this ONNX Runtime library from the next start (Settings).
    RuntimeLibrary,
    /// Open this project or image as the document.
    Open,
    /// Add this image as a layer.
    ImportLayer,
    /// Save the project here, then do what follows.
    Save(AfterSave),
    /// Export the flattened image here.
    Export,
}

impl FilePurpose {
    /// The dialog that asks for it.
    pub fn dialog(&self) -> DialogKind {
        match self {
            Self::LoadModel | Self::AddModel => DialogKind::ModelFolder,
            Self::RuntimeLibrary => DialogKind::RuntimeLibrary,
            Self::Open => DialogKind::OpenFile,
            Self::ImportLayer => DialogKind::OpenImage,
            Self::Save(_) => DialogKind::SaveProject,
            Self::Export => DialogKind::ExportPng,
        }
    }
}

/// What happens once the project is saved.
#[derive(Clone, Debug, PartialEq)]
pub enum AfterSave {
    /// Nothing more.
    Nothing,
    /// Close the window.
    Quit,
    /// Replace the document.
    Replace(ReplaceWith),
}

/// What replaces the current document once the artist confirms.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplaceWith {
    /// A new canvas.
    New(u32, u32),
    /// A file.
    Open(PathBuf),
}

/// The application state shown in the main window.
pub struct PentimentoApp {
    runtime: RuntimeStatus,
    worker: Option<Worker>,
    /// The loaded model and its state.
    pub model: ModelState,
    /// The running generation and the staged variations.
    pub generation: GenerationState,
    document: Document,
    document_path: Option<PathBuf>,
    view: CanvasView,
    active_layer: Option<LayerId>,
    settings: Settings,
    folders: Folders,
    dialogs: Arc<dyn FileDialogs>,
    /// Pentimento's own file dialog while it is open, and what its choice is for.
    file_browser: Option<(FileBrowser, FilePurpose)>,
    autosave: Autosave,
    notices: Vec<Notice>,
    modal: Option<Modal>,
    /// Further autosaves of windows that did not close cleanly, offered after the first.
    more_recoveries: Vec<Recovery>,
    overlays: Overlays,
    renaming: Option<(LayerId, String)>,
    thumbnails: thumbnails::LayerThumbnails,
    /// Provenance shares of the composite, with the revision they were counted at.
    provenance_shares: Option<(u64, crate::document::compositor::ProvenanceShares)>,
    gpu_canvas: bool,
    allow_close: bool,
    options: AppOptions,
    next_job: u64,
    /// Generate as soon as the model being loaded is ready.
    generate_when_loaded: bool,
    /// A model download in progress.
    download: Option<crate::models::Download>,
    /// The model manager's download form.
    download_form: DownloadForm,
    /// What each listed model can do (or why it cannot be used), by folder.
    model_summaries: std::collections::HashMap<PathBuf, Result<String, String>>,
    /// Why the last folder could not be added.
    models_error: Option<String>,
    /// Why the last download failed.
    download_error: Option<String>,
}

impl PentimentoApp {
    /// Creates the app with default options.
    pub fn new(cc: &eframe::CreationContext<'_>) -> Self {
        Self::with_options(cc, AppOptions::default())
    }

    /// Creates the app; starts loading ONNX Runtime and the remembered model in the
    /// background when asked to.
    pub fn with_options(cc: &eframe::CreationContext<'_>, options: AppOptions) -> Self {
        let gpu_canvas = match cc.wgpu_render_state.as_ref() {
            Some(render_state) => {
                CanvasGpu::install(render_state);
                true
            }
            None => false,
        };
        let folders = options.folders.clone().unwrap_or_else(Folders::platform);
        let (settings, settings_problem) = Settings::load(&folders.settings_file());
        // A library chosen in the settings is used unless the caller named one.
        let mut options = options;
        if let Some(locate) = &mut options.runtime
            && locate.library.is_none()
        {
            locate.library = settings.onnx_runtime_library.clone();
        }
        let dialogs = options.dialogs.clone().unwrap_or_else(|| {
            crate::dialogs::probe_system_dialogs_in_background();
            Arc::new(NativeDialogs::default())
        });
        let runtime = match options.runtime.clone() {
            Some(locate) => {
                let ctx = cc.egui_ctx.clone();
                RuntimeStatus::start(locate, move || ctx.request_repaint())
            }
            None => RuntimeStatus::NotStarted,
        };
        let mut notices: Vec<Notice> = settings_problem
            .into_iter()
            .map(|text| Notice {
                text,
                is_error: true,
                posted: 0.0,
            })
            .collect();
        let worker = match options.runtime.clone() {
            Some(locate) => {
                let ctx = cc.egui_ctx.clone();
                match Worker::spawn(locate, options.optimized_cache.clone(), move || {
                    ctx.request_repaint();
                }) {
                    Ok(worker) => Some(worker),
                    Err(err) => {
                        notices.push(Notice {
                            text: format!(
                                "Could not start the generation worker ({err}); restart Pentimento."
                            ),
                            is_error: true,
                            posted: 0.0,
                        });
                        None
                    }
                }
            }
            None => None,
        };
        let document = Document::new(options.document_size[0], options.document_size[1])
            .or_else(|_| Document::new(DEFAULT_DOCUMENT_SIZE[0], DEFAULT_DOCUMENT_SIZE[1]));
        let Ok(mut document) = document else {
            unreachable!("the default canvas size is valid");
        };
        document.set_history_budget(settings.history_budget_mib << 20);
        let active_layer = document.layers().last().map(|layer| layer.id);
        let autosave = Autosave::new(
            folders.autosave_dir(),
            Duration::from_secs(settings.autosave_seconds.max(5)),
        );
        let mut recoveries = Autosave::pending_recoveries(&folders.autosave_dir());
        let modal = (!recoveries.is_empty()).then(|| Modal::Recover(recoveries.remove(0)));
        let mut app = Self {
            runtime,
            worker,
            model: ModelState::None,
            generation: GenerationState::default(),
            document,
            document_path: None,
            view: CanvasView::default(),
            active_layer,
            settings,
            folders,
            dialogs,
            file_browser: None,
            autosave,
            notices,
            modal,
            more_recoveries: recoveries,
            overlays: Overlays {
                mask: true,
                ..Overlays::default()
            },
            renaming: None,
            thumbnails: thumbnails::LayerThumbnails::default(),
            provenance_shares: None,
            gpu_canvas,
            allow_close: false,
            next_job: 1,
            generate_when_loaded: false,
            download: None,
            download_form: DownloadForm {
                revision: "main".to_owned(),
                ..DownloadForm::default()
            },
            model_summaries: std::collections::HashMap::new(),
            models_error: None,
            download_error: None,
            options: options.clone(),
        };
        // A model named at start loads now; the remembered one loads when first needed, so
        // the window opens at once and painting never waits for it.
        if let Some(path) = options.model.clone()
            && app.worker.is_some()
        {
            app.load_model(path);
        } else if let Some(path) = app.settings.model_folder.clone() {
            app.model = ModelState::Remembered(path);
        }
        if let Some(path) = options.open {
            app.open_path(&path);
        }
        app
    }

    // ---- Accessors (tests and panels) -----------------------------------------------------

    /// Where ONNX Runtime stands.
    pub fn runtime_status(&self) -> &RuntimeStatus {
        &self.runtime
    }

    /// The canvas view (pan and zoom).
    pub fn view(&self) -> &CanvasView {
        &self.view
    }

    /// The open document.
    pub fn document(&self) -> &Document {
        &self.document
    }

    /// The open document, for changing it (tests drive it like the tools do).
    pub fn document_mut(&mut self) -> &mut Document {
        &mut self.document
    }

    /// The file the document was opened from or saved to.
    pub fn document_path(&self) -> Option<&Path> {
        self.document_path.as_deref()
    }

    /// The layer strokes go to.
    pub fn active_layer(&self) -> Option<LayerId> {
        self.active_layer
    }

    /// Selects the layer strokes go to.
    pub fn set_active_layer(&mut self, layer: LayerId) {
        self.active_layer = Some(layer);
    }

    /// The download in progress.
    pub fn download(&self) -> Option<&crate::models::Download> {
        self.download.as_ref()
    }

    /// The remembered settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The remembered settings, for changing them.
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// Messages on screen.
    pub fn notices(&self) -> &[Notice] {
        &self.notices
    }

    /// The modal question on screen.
    pub fn modal(&self) -> Option<&Modal> {
        self.modal.as_ref()
    }

    /// Pentimento's own file dialog, while it is open.
    pub fn file_browser(&self) -> Option<&FileBrowser> {
        self.file_browser.as_ref().map(|(browser, _)| browser)
    }

    /// A layer's thumbnail as the layer panel shows it (premultiplied RGBA), once drawn.
    pub fn layer_thumbnail(&self, id: LayerId) -> Option<&crate::document::tiles::Thumbnail> {
        self.thumbnails.get(id).map(|(thumbnail, _)| thumbnail)
    }

    /// The autosave file.
    pub fn autosave_file(&self) -> PathBuf {
        self.autosave.file()
    }

    /// Writes an autosave now (if there are unsaved changes) and waits for it.
    pub fn autosave_now(&mut self) {
        self.autosave
            .tick(&self.document, self.document_path.as_deref(), true);
        self.autosave.wait();
    }

    fn notify(&mut self, ctx: &egui::Context, text: impl Into<String>, is_error: bool) {
        let text = text.into();
        self.notices.retain(|notice| notice.text != text);
        self.notices.push(Notice {
            text,
            is_error,
            posted: ctx.input(|input| input.time),
        });
        // The newest six stay.
        let excess = self.notices.len().saturating_sub(6);
        self.notices.drain(..excess);
    }

    fn job_id(&mut self) -> u64 {
        let job = self.next_job;
        self.next_job += 1;
        job
    }

    // ---- Files -------------------------------------------------------------------------------

    fn replace_document(&mut self, document: Document, path: Option<PathBuf>) {
        // A running generation belongs to the document it was planned on.
        self.generation.cancel();
        self.generation.running = None;
        self.document = document;
        self.document
            .set_history_budget(self.settings.history_budget_mib << 20);
        self.document_path = path;
        // Layer ids and revisions start again in another document.
        self.thumbnails = thumbnails::LayerThumbnails::default();
        self.active_layer = self.document.layers().last().map(|layer| layer.id);
        self.generation.discard_staging();
        self.view.reset_document();
    }

    /// Opens a project (`.ora`) or an image as a new document. Errors leave the current
    /// document untouched.
    pub fn open_path(&mut self, path: &Path) -> Option<String> {
        let is_project = path
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("ora"));
        let result = if is_project {
            ora::open(path)
                .map(|document| (document, Some(path.to_path_buf())))
                .map_err(|err| crate::messages::sentence(&err.to_string()))
        } else {
            crate::io::read_rgba(path)
                .map_err(|err| crate::messages::sentence(&err.to_string()))
                .and_then(|(width, height, rgba)| {
                    let mut document = Document::from_parts(
                        width,
                        height,
                        Vec::new(),
                        crate::document::tiles::MaskTiles::new(width, height),
                        Vec::new(),
                    )
                    .map_err(|err| crate::messages::sentence(&err.to_string()))?;
                    let name = path
                        .file_stem()
                        .map(|stem| stem.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "Image".to_owned());
                    document.import_layer(&name, width, height, &rgba, 0, 0);
                    document.mark_saved();
                    Ok((document, None))
                })
        };
        match result {
            Ok((document, saved_path)) => {
                self.replace_document(document, saved_path);
                self.settings.remember_file(path);
                None
            }
            Err(message) => Some(message),
        }
    }

    /// Adds a model folder to the model manager's list after checking it.
    fn add_model_folder(&mut self, path: &Path) {
        self.download_error = None;
        match crate::models::add(&mut self.settings, path, None) {
            Ok(_) => {
                self.models_error = None;
                self.model_summaries.clear();
                self.save_settings();
            }
            Err(message) => self.models_error = Some(message),
        }
    }

    /// Adds an image file as a new layer on top.
    pub fn import_layer(&mut self, path: &Path) -> Option<String> {
        match crate::io::read_rgba(path) {
            Ok((width, height, rgba)) => {
                let name = path
                    .file_stem()
                    .map(|stem| stem.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "Image".to_owned());
                let id = self
                    .document
                    .import_layer(&name, width, height, &rgba, 0, 0);
                self.active_layer = Some(id);
                None
            }
            Err(err) => Some(crate::messages::sentence(&err.to_string())),
        }
    }

    /// Saves the document to its own file, or asks where first; then does what `then` says.
    pub fn save(&mut self, ctx: &egui::Context, then: AfterSave) {
        match self.document_path.clone() {
            Some(path) => self.save_and_continue(ctx, &path, then),
            None => self.ask_file(ctx, FilePurpose::Save(then)),
        }
    }

    fn save_and_continue(&mut self, ctx: &egui::Context, path: &Path, then: AfterSave) {
        if let Err(message) = self.save_to(path) {
            self.notify(ctx, message, true);
            return;
        }
        match then {
            AfterSave::Nothing => {}
            AfterSave::Quit => {
                self.quit_cleanly();
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
            AfterSave::Replace(with) => {
                if let Some(message) = self.do_replace(with) {
                    self.notify(ctx, message, true);
                }
            }
        }
    }

    /// Saves the document to `path`. Returns an error sentence.
    pub fn save_to(&mut self, path: &Path) -> Result<(), String> {
        let path = path.to_path_buf();
        ora::save(&self.document, &path)
            .map_err(|err| crate::messages::sentence(&err.to_string()))?;
        self.document.mark_saved();
        self.document_path = Some(path.clone());
        self.settings.remember_file(&path);
        self.autosave.clear();
        Ok(())
    }

    /// Exports the flattened image as PNG, with the provenance summary in its text chunks.
    pub fn export_png(&mut self, path: &Path) -> Result<(), String> {
        crate::io::export_flattened(&self.document, path)
            .map(|_| ())
            .map_err(|err| crate::messages::sentence(&err.to_string()))
    }

    fn request_replace(&mut self, with: ReplaceWith) {
        if self.document.has_unsaved_changes() {
            self.modal = Some(Modal::ConfirmReplace(with));
        } else {
            self.do_replace(with);
        }
    }

    fn do_replace(&mut self, with: ReplaceWith) -> Option<String> {
        match with {
            ReplaceWith::New(width, height) => match Document::new(width, height) {
                Ok(document) => {
                    self.replace_document(document, None);
                    None
                }
                Err(err) => Some(crate::messages::sentence(&err.to_string())),
            },
            ReplaceWith::Open(path) => self.open_path(&path),
        }
    }

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

    fn save_settings(&self) {
        let _ = self.settings.save(&self.folders.settings_file());
    }

    // ---- File dialogs ------------------------------------------------------------------------

    /// Asks for a file or folder for `purpose` and carries on with it once chosen: at once with
    /// the system's dialog, or when Pentimento's own dialog (shown where the system's cannot
    /// be) closes.
    pub fn ask_file(&mut self, ctx: &egui::Context, purpose: FilePurpose) {
        if self.file_browser.is_some() {
            return;
        }
        let request = self.file_request(&purpose);
        let answer = match self.settings.file_dialogs {
            FileDialogChoice::Pentimento => DialogAnswer::Unavailable,
            FileDialogChoice::System => self.dialogs.ask(&request),
        };
        match answer {
            DialogAnswer::Chosen(path) => self.file_chosen(ctx, purpose, path),
            DialogAnswer::Cancelled => self.file_not_chosen(ctx, &purpose),
            DialogAnswer::Unavailable => {
                let places = crate::file_browser::places(&self.settings.recent_folders);
                let fallback = self.settings.recent_folders.first().cloned();
                self.file_browser = Some((FileBrowser::new(request, places, fallback), purpose));
            }
        }
    }

    /// The dialog's question: the suggested name, and the folder to start in (the document's
    /// for saving and exporting, else the last one a file was chosen in).
    fn file_request(&self, purpose: &FilePurpose) -> FileRequest {
        let document_folder = self
            .document_path
            .as_ref()
            .and_then(|path| path.parent())
            .map(Path::to_path_buf);
        let stem = self
            .document_path
            .as_ref()
            .and_then(|path| path.file_stem())
            .map(|stem| stem.to_string_lossy().into_owned());
        let suggested_name = match purpose {
            FilePurpose::Save(_) => Some(format!("{}.ora", stem.as_deref().unwrap_or("untitled"))),
            FilePurpose::Export => Some(format!("{}.png", stem.as_deref().unwrap_or("export"))),
            _ => None,
        };
        let kind = purpose.dialog();
        let folder = match purpose {
            FilePurpose::Save(_) | FilePurpose::Export => document_folder,
            _ => None,
        }
        .or_else(|| self.settings.dialog_folders.get(kind.key()).cloned())
        .or_else(|| self.settings.recent_folders.first().cloned());
        FileRequest {
            kind,
            suggested_name,
            folder,
        }
    }

    fn file_chosen(&mut self, ctx: &egui::Context, purpose: FilePurpose, path: PathBuf) {
        // The folder it is in (for a model folder, the folder that holds the models).
        if let Some(folder) = path
            .parent()
            .filter(|folder| !folder.as_os_str().is_empty())
        {
            self.settings
                .remember_folder(purpose.dialog().key(), folder);
        }
        match purpose {
            FilePurpose::LoadModel => self.load_model(path),
            FilePurpose::AddModel => self.add_model_folder(&path),
            FilePurpose::RuntimeLibrary => self.settings.onnx_runtime_library = Some(path),
            FilePurpose::Open => self.request_replace(ReplaceWith::Open(path)),
            FilePurpose::ImportLayer => {
                if let Some(message) = self.import_layer(&path) {
                    self.notify(ctx, message, true);
                }
            }
            FilePurpose::Save(then) => self.save_and_continue(ctx, &path, then),
            FilePurpose::Export => {
                if let Err(message) = self.export_png(&path) {
                    self.notify(ctx, message, true);
                }
            }
        }
    }

    fn file_not_chosen(&mut self, ctx: &egui::Context, purpose: &FilePurpose) {
        if let FilePurpose::Save(_) = purpose {
            self.notify(ctx, "Not saved: no file was chosen.", true);
        }
    }

    /// Draws Pentimento's own file dialog while it is open and carries on once it closes.
    fn file_browser_ui(&mut self, ctx: &egui::Context) {
        let Some((browser, _)) = &mut self.file_browser else {
            return;
        };
        let Some(outcome) = browser.show(ctx) else {
            return;
        };
        let Some((_, purpose)) = self.file_browser.take() else {
            return;
        };
        match outcome {
            BrowserOutcome::Chosen(path) => self.file_chosen(ctx, purpose, path),
            BrowserOutcome::Cancelled => self.file_not_chosen(ctx, &purpose),
        }
    }

    // ---- Frame -------------------------------------------------------------------------------

    fn handle_shortcuts(&mut self, ctx: &egui::Context) {
        if self.modal.is_some() || self.file_browser.is_some() {
            return;
        }
        use egui::{Key, KeyboardShortcut, Modifiers};
        let pressed = |modifiers, key| {
            ctx.input_mut(|input| input.consume_shortcut(&KeyboardShortcut::new(modifiers, key)))
        };
        // Generating and cancelling work from the prompt field too (they are taken before the
        // field sees the keys).
        if pressed(Modifiers::COMMAND, Key::Enter) {
            self.start_generation(ctx);
        }
        if self.document.is_moving() && pressed(Modifiers::NONE, Key::Escape) {
            self.document.cancel_move();
        }
        if self.generation.is_running() && pressed(Modifiers::NONE, Key::Escape) {
            self.generation.cancel();
        }
        if ctx.text_edit_focused() {
            return;
        }
        if pressed(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z)
            || pressed(Modifiers::COMMAND, Key::Y)
        {
            self.document.redo();
        } else if pressed(Modifiers::COMMAND, Key::Z) {
            self.document.undo();
        }
        if pressed(Modifiers::COMMAND | Modifiers::SHIFT, Key::S) {
            self.ask_file(ctx, FilePurpose::Save(AfterSave::Nothing));
        } else if pressed(Modifiers::COMMAND, Key::S) {
            self.save(ctx, AfterSave::Nothing);
        }
        if pressed(Modifiers::COMMAND, Key::O) {
            self.ask_file(ctx, FilePurpose::Open);
        }
        if pressed(Modifiers::COMMAND, Key::N) {
            self.modal = Some(Modal::NewCanvas {
                width: self.document.width(),
                height: self.document.height(),
            });
        }
        if self.generation.has_staging() {
            if pressed(Modifiers::NONE, Key::ArrowRight) {
                self.generation.cycle(1);
            }
            if pressed(Modifiers::NONE, Key::ArrowLeft) {
                self.generation.cycle(-1);
            }
            if pressed(Modifiers::NONE, Key::Enter) {
                self.accept_selected(ctx);
            }
        }
        if pressed(Modifiers::COMMAND, Key::Num0) {
            self.view.fit_pending = true;
        }
        if pressed(Modifiers::COMMAND, Key::Num1) {
            self.view.zoom = 1.0;
        }
        let tools = &mut self.settings.tools;
        for (modifiers, key, tool) in [
            (Modifiers::NONE, Key::B, Tool::Brush),
            (Modifiers::NONE, Key::E, Tool::Eraser),
            (Modifiers::SHIFT, Key::M, Tool::MaskEraser),
            (Modifiers::NONE, Key::M, Tool::MaskBrush),
            (Modifiers::NONE, Key::R, Tool::RectangleSelect),
            (Modifiers::NONE, Key::L, Tool::LassoSelect),
            (Modifiers::NONE, Key::V, Tool::Move),
            (Modifiers::NONE, Key::I, Tool::Eyedropper),
            (Modifiers::NONE, Key::H, Tool::Pan),
        ] {
            if pressed(modifiers, key) {
                tools.tool = tool;
            }
        }
        if pressed(Modifiers::NONE, Key::OpenBracket) {
            tools.scale_size(1.0 / 1.15);
        }
        if pressed(Modifiers::NONE, Key::CloseBracket) {
            tools.scale_size(1.15);
        }
    }

    fn handle_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|input| {
            input
                .raw
                .dropped_files
                .iter()
                .map(|file| file.path().to_path_buf())
                .filter(|path| !path.as_os_str().is_empty())
                .collect()
        });
        for path in dropped {
            let is_project = path
                .extension()
                .is_some_and(|extension| extension.eq_ignore_ascii_case("ora"));
            let message = if is_project || self.document.is_blank() {
                self.request_replace(ReplaceWith::Open(path));
                None
            } else {
                self.import_layer(&path)
            };
            if let Some(message) = message {
                self.notify(ctx, message, true);
            }
        }
    }

    fn handle_close(&mut self, ctx: &egui::Context) {
        if ctx.input(|input| input.viewport().close_requested()) && !self.allow_close {
            if self.document.has_unsaved_changes() {
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                self.modal = Some(Modal::ConfirmQuit);
            } else {
                self.quit_cleanly();
            }
        }
    }

    fn quit_cleanly(&mut self) {
        self.allow_close = true;
        self.generation.cancel();
        self.autosave.clear();
        self.save_settings();
    }

    fn menu_bar(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("New…").clicked() {
                    self.modal = Some(Modal::NewCanvas {
                        width: self.document.width(),
                        height: self.document.height(),
                    });
                }
                if ui.button("Open…").clicked() {
                    self.ask_file(ui.ctx(), FilePurpose::Open);
                }
                if ui.button("Add image as layer…").clicked() {
                    self.ask_file(ui.ctx(), FilePurpose::ImportLayer);
                }
                ui.menu_button("Open recent", |ui| {
                    let recent = self.settings.recent_files.clone();
                    if recent.is_empty() {
                        ui.weak("No recent files");
                    }
                    for path in recent {
                        if ui.button(path.display().to_string()).clicked() {
                            self.request_replace(ReplaceWith::Open(path));
                        }
                    }
                });
                ui.separator();
                if ui.button("Save").clicked() {
                    self.save(ui.ctx(), AfterSave::Nothing);
                }
                if ui.button("Save as…").clicked() {
                    self.ask_file(ui.ctx(), FilePurpose::Save(AfterSave::Nothing));
                }
                if ui.button("Export PNG…").clicked() {
                    self.ask_file(ui.ctx(), FilePurpose::Export);
                }
                ui.separator();
                if ui.button("Models…").clicked() {
                    self.modal = Some(Modal::Models);
                }
                if ui.button("Settings…").clicked() {
                    self.modal = Some(Modal::Settings);
                }
                if ui.button("Quit").clicked() {
                    ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("Edit", |ui| {
                let undo = self
                    .document
                    .history()
                    .undo_label()
                    .map(|label| format!("Undo {label}"));
                if ui
                    .add_enabled(
                        undo.is_some(),
                        egui::Button::new(undo.as_deref().unwrap_or("Undo")),
                    )
                    .clicked()
                {
                    self.document.undo();
                }
                let redo = self
                    .document
                    .history()
                    .redo_label()
                    .map(|label| format!("Redo {label}"));
                if ui
                    .add_enabled(
                        redo.is_some(),
                        egui::Button::new(redo.as_deref().unwrap_or("Redo")),
                    )
                    .clicked()
                {
                    self.document.redo();
                }
                ui.separator();
                if ui.button("Clear mask").clicked() {
                    self.document.clear_mask();
                }
            });
            ui.menu_button("View", |ui| {
                if ui.button("Fit canvas").clicked() {
                    self.view.fit_pending = true;
                }
                if ui.button("Actual pixels (100 %)").clicked() {
                    self.view.zoom = 1.0;
                    self.view.pan = egui::Vec2::ZERO;
                }
                ui.checkbox(&mut self.overlays.mask, "Show mask");
                ui.checkbox(
                    &mut self.overlays.provenance,
                    "Show AI and hand-painted areas",
                );
            });
        });
    }

    fn status_bar(&self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            match &self.runtime {
                RuntimeStatus::Unavailable(message) => {
                    ui.label(
                        RichText::new("ONNX Runtime unavailable").color(ui.visuals().warn_fg_color),
                    )
                    .on_hover_text(message);
                }
                status => {
                    ui.label(status.summary());
                }
            }
            ui.separator();
            ui.label(self.model.summary());
            if let Some(download) = &self.download {
                ui.separator();
                let label = crate::models::source_label(&download.source);
                ui.label(match &download.progress {
                    Some(progress) => format!(
                        "Downloading {label}: {}",
                        crate::models::describe_progress(progress)
                    ),
                    None => format!("Downloading {label}…"),
                });
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.label(format!("{:.0} %", self.view.zoom * 100.0));
                ui.separator();
                ui.label(format!(
                    "{} × {} px",
                    self.document.width(),
                    self.document.height()
                ));
                if self.document.has_unsaved_changes() {
                    ui.separator();
                    ui.weak("unsaved changes");
                }
            });
        });
    }

    /// The notices, floating over the bottom right of the canvas area (newest at the bottom):
    /// information fades after a few seconds, errors stay until dismissed.
    fn notices_ui(&mut self, ctx: &egui::Context, area: egui::Rect) {
        let now = ctx.input(|input| input.time);
        self.notices
            .retain(|notice| notice.is_error || now - notice.posted < 6.0);
        if self.notices.is_empty() {
            return;
        }
        let mut dismiss = None;
        egui::Area::new(egui::Id::unique("notices"))
            .order(egui::Order::Foreground)
            .pivot(egui::Align2::RIGHT_BOTTOM)
            .fixed_pos(area.right_bottom() - egui::vec2(12.0, 12.0))
            .show(ctx, |ui| {
                ui.set_max_width(420.0_f32.min(area.width() - 24.0).max(160.0));
                for (index, notice) in self.notices.iter().enumerate() {
                    let color = if notice.is_error {
                        ui.visuals().warn_fg_color
                    } else {
                        ui.visuals().text_color()
                    };
                    egui::Frame::popup(ui.style())
                        .stroke(egui::Stroke::new(1.0, color))
                        .show(ui, |ui| {
                            ui.label(RichText::new(&notice.text).color(color));
                            if notice.is_error && ui.small_button("Dismiss").clicked() {
                                dismiss = Some(index);
                            }
                        });
                    ui.add_space(4.0);
                }
            });
        if let Some(index) = dismiss {
            self.notices.remove(index);
        }
    }
}

impl eframe::App for PentimentoApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.runtime.poll();
        if matches!(self.runtime, RuntimeStatus::Starting(..)) {
            // The status bar follows a download of the library.
            ctx.request_repaint_after(Duration::from_millis(250));
        }
        self.poll_worker(ctx);
        self.poll_download(ctx);
        if let Some(error) = crate::canvas::gpu::take_gpu_error() {
            self.notify(
                ctx,
                format!(
                    "The canvas hit a graphics error ({error}); your work is safe: save it and \
                     restart Pentimento if the canvas looks wrong."
                ),
                true,
            );
        }
        self.handle_close(ctx);
        self.handle_dropped_files(ctx);
        self.handle_shortcuts(ctx);
        if !self.document.is_stroking() {
            self.autosave
                .tick(&self.document, self.document_path.as_deref(), false);
            if let Some(error) = self.autosave.error.take() {
                self.notify(ctx, error, true);
            }
        }
        // Keep the autosave clock and notices ticking.
        ctx.request_repaint_after(Duration::from_secs(1));
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        Panel::top("menu_bar").show(ui, |ui| self.menu_bar(ui));
        Panel::bottom("status_bar").show(ui, |ui| self.status_bar(ui));
        Panel::left("prompt_panel")
            .resizable(true)
            .default_size(300.0)
            .show(ui, |ui| {
                // Generate (or the progress and Cancel) stays in view however long the panel.
                Panel::bottom("generate_bar")
                    .resizable(false)
                    .show(ui, |ui| {
                        ui.add_space(6.0);
                        self.generate_controls(ui);
                        ui.add_space(2.0);
                    });
                egui::ScrollArea::vertical().show(ui, |ui| {
                    self.runtime_problem(ui);
                    self.toolbar(ui);
                    ui.separator();
                    self.prompt_panel(ui);
                });
            });
        Panel::right("layer_panel")
            .resizable(true)
            .default_size(260.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| self.layer_panel(ui));
            });
        if self.generation.has_staging() {
            Panel::bottom("staging_strip")
                .resizable(false)
                .min_size(panels::STAGING_HEIGHT)
                .show(ui, |ui| self.staging_strip(ui));
        }
        let canvas_area = egui::CentralPanel::no_frame()
            .show(ui, |ui| {
                let area = ui.max_rect();
                if self.gpu_canvas {
                    let overlays = Overlays {
                        region: self.generation.region_overlay(),
                        ..self.overlays.clone()
                    };
                    let interactive = self.modal.is_none() && self.file_browser.is_none();
                    let (_, events) = self.view.show(
                        ui,
                        &mut self.document,
                        &mut self.settings.tools,
                        self.active_layer,
                        &overlays,
                        interactive,
                    );
                    for event in events {
                        match event {
                            CanvasEvent::ColorPicked(color) => {
                                self.settings.tools.remember_color(color);
                            }
                            CanvasEvent::Refused(message) => {
                                self.notify(ui.ctx(), crate::messages::sentence(&message), true);
                            }
                            CanvasEvent::Told(message) => self.notify(ui.ctx(), message, false),
                        }
                    }
                } else {
                    ui.centered_and_justified(|ui| {
                        ui.label("The canvas needs a GPU renderer (wgpu), which is not available.");
                    });
                }
                area
            })
            .inner;
        self.notices_ui(ui.ctx(), canvas_area);
        self.modal_ui(ui.ctx());
        self.file_browser_ui(ui.ctx());
    }

    fn on_exit(&mut self) {
        if !self.allow_close && !self.document.has_unsaved_changes() {
            self.quit_cleanly();
        }
        self.save_settings();
    }
}
