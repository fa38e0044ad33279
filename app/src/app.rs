//! The main window: canvas in the middle, toolbar and prompt panel on the left, layers on the
//! right, the staging strip under the canvas, the status bar at the bottom.
//!
//! `PentimentoApp` is the composition: it owns the shared state (the workspace with the document,
//! the model, the generation, the settings, the notices), the views (`views/`, each drawing
//! itself and holding its own UI state), the worker and the file dialogs. Each frame it routes
//! input to the canvas and the views, carries out the actions they ask for (`action.rs`), and
//! turns the worker's events into state (`generation.rs`). Generation runs on the worker thread,
//! which the app talks to only through commands and events.

mod action;
mod files;
mod generation;
pub mod loras;
mod model_list;
mod notices;
pub mod views;
mod workspace;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use egui::Panel;
use pentimento_inference::LocateOptions;

pub use action::{Action, AfterSave, CanvasSizeForm, Edit, FilePurpose, Modal, ReplaceWith};
pub use generation::{GenerationState, ModelState};
pub use notices::{Notice, Notices};
pub use workspace::Workspace;

use crate::autosave::Autosave;
use crate::canvas::gpu::CanvasGpu;
use crate::canvas::{CanvasEvent, CanvasView, Overlays};
use crate::dialogs::{FileDialogs, NativeDialogs};
use crate::document::Document;
use crate::document::layer::LayerId;
use crate::runtime_status::RuntimeStatus;
use crate::settings::{Folders, Settings};
use crate::tools::Tool;
use crate::worker::Worker;
use views::file_browser::FileBrowser;
use views::{Views, prompt, staging, status_bar};

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
#[derive(Clone, derive_more::Debug)]
pub struct AppOptions {
    /// Where to look for ONNX Runtime; `None` starts neither ONNX Runtime nor the worker (tests
    /// of the bare UI).
    pub runtime: Option<LocateOptions>,
    /// Size of the initial empty canvas.
    pub document_size: [u32; 2],
    /// Settings and autosave folders (`None`: the platform's).
    pub folders: Option<Folders>,
    /// File dialogs (`None`: native ones).
    #[debug(skip)]
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

/// The application: the composition of the shared state, the views, the worker and the file
/// dialogs.
pub struct PentimentoApp {
    runtime: RuntimeStatus,
    worker: Option<Worker>,
    /// The loaded model and its state.
    pub model: ModelState,
    /// The running generation and the staged variations.
    pub generation: GenerationState,
    /// The document and what belongs to it.
    workspace: Workspace,
    /// Pan and zoom of the canvas.
    view: CanvasView,
    /// What the canvas shows over the document (mask, provenance).
    overlays: Overlays,
    settings: Settings,
    folders: Folders,
    notices: Notices,
    /// The modal window or question on screen.
    modal: Option<Modal>,
    /// The panels and windows.
    views: Views,
    dialogs: Arc<dyn FileDialogs>,
    /// Pentimento's own file dialog while it is open, and what its choice is for.
    file_browser: Option<(FileBrowser, FilePurpose)>,
    /// A model download in progress.
    download: Option<crate::models::Download>,
    /// The LoRA files the prompt panel offers.
    loras: loras::LoraLibrary,
    gpu_canvas: bool,
    allow_close: bool,
    options: AppOptions,
    next_job: u64,
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
        let mut problems: Vec<String> = settings_problem.into_iter().collect();
        let worker = match options.runtime.clone() {
            Some(locate) => {
                let ctx = cc.egui_ctx.clone();
                match Worker::spawn(locate, options.optimized_cache.clone(), move || {
                    ctx.request_repaint();
                }) {
                    Ok(worker) => Some(worker),
                    Err(err) => {
                        problems.push(format!(
                            "Could not start the generation worker ({err}); restart Pentimento."
                        ));
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
            workspace: Workspace::new(document, autosave, recoveries),
            view: CanvasView::default(),
            overlays: Overlays {
                mask: true,
                ..Overlays::default()
            },
            settings,
            folders,
            notices: Notices::from_errors(problems),
            modal,
            views: Views::default(),
            dialogs,
            file_browser: None,
            download: None,
            loras: loras::LoraLibrary::default(),
            gpu_canvas,
            allow_close: false,
            options: options.clone(),
            next_job: 1,
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
        &self.workspace.document
    }

    /// The open document, for changing it (tests drive it like the tools do).
    pub fn document_mut(&mut self) -> &mut Document {
        &mut self.workspace.document
    }

    /// The file the document was opened from or saved to.
    pub fn document_path(&self) -> Option<&Path> {
        self.workspace.path.as_deref()
    }

    /// The layer strokes go to.
    pub fn active_layer(&self) -> Option<LayerId> {
        self.workspace.active_layer
    }

    /// Selects the layer strokes go to.
    pub fn set_active_layer(&mut self, layer: LayerId) {
        self.workspace.active_layer = Some(layer);
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
        self.notices.list()
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
        self.views.layers.thumbnail(id)
    }

    /// The autosave file.
    pub fn autosave_file(&self) -> PathBuf {
        self.workspace.autosave.file()
    }

    /// Writes an autosave now (if there are unsaved changes) and waits for it.
    pub fn autosave_now(&mut self) {
        self.workspace.autosave(true);
        self.workspace.autosave.wait();
    }

    // ---- Shared helpers --------------------------------------------------------------------

    fn notify(&mut self, ctx: &egui::Context, text: impl Into<String>, is_error: bool) {
        let now = ctx.input(|input| input.time);
        self.notices.post(text.into(), is_error, now);
    }

    fn job_id(&mut self) -> u64 {
        let job = self.next_job;
        self.next_job += 1;
        job
    }

    fn save_settings(&self) {
        let _ = self.settings.save(&self.folders.settings_file());
    }

    // ---- Input -------------------------------------------------------------------------------

    /// The keyboard shortcuts, as actions (tool keys and brush size change the tool settings
    /// directly).
    fn handle_shortcuts(&mut self, ctx: &egui::Context, actions: &mut Vec<Action>) {
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
            actions.push(Action::Generate);
        }
        if self.workspace.document.is_moving() && pressed(Modifiers::NONE, Key::Escape) {
            actions.push(Action::Edit(Edit::CancelMove));
        }
        if self.generation.is_running() && pressed(Modifiers::NONE, Key::Escape) {
            actions.push(Action::CancelGeneration);
        }
        if ctx.text_edit_focused() {
            return;
        }
        if pressed(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z)
            || pressed(Modifiers::COMMAND, Key::Y)
        {
            actions.push(Action::Edit(Edit::Redo));
        } else if pressed(Modifiers::COMMAND, Key::Z) {
            actions.push(Action::Edit(Edit::Undo));
        }
        if pressed(Modifiers::COMMAND | Modifiers::SHIFT, Key::S) {
            actions.push(Action::AskFile(FilePurpose::Save(AfterSave::Nothing)));
        } else if pressed(Modifiers::COMMAND, Key::S) {
            actions.push(Action::Save(AfterSave::Nothing));
        }
        if pressed(Modifiers::COMMAND, Key::O) {
            actions.push(Action::AskFile(FilePurpose::Open));
        }
        if pressed(Modifiers::COMMAND, Key::N) {
            let document = &self.workspace.document;
            actions.push(Action::Show(Modal::NewCanvas {
                width: document.width(),
                height: document.height(),
            }));
        }
        if self.generation.has_staging() {
            if pressed(Modifiers::NONE, Key::ArrowRight) {
                actions.push(Action::CycleVariation(1));
            }
            if pressed(Modifiers::NONE, Key::ArrowLeft) {
                actions.push(Action::CycleVariation(-1));
            }
            if pressed(Modifiers::NONE, Key::Enter) {
                actions.push(Action::AcceptSelected);
            }
        }
        if pressed(Modifiers::COMMAND, Key::Num0) {
            actions.push(Action::FitCanvas);
        }
        if pressed(Modifiers::COMMAND, Key::Num1) {
            actions.push(Action::ActualPixels { recentre: false });
        }
        let tools = &mut self.settings.tools;
        for (modifiers, key, tool) in [
            (Modifiers::NONE, Key::B, Tool::Brush),
            (Modifiers::NONE, Key::E, Tool::Eraser),
            (Modifiers::SHIFT, Key::M, Tool::MaskEraser),
            (Modifiers::NONE, Key::M, Tool::MaskBrush),
            (Modifiers::NONE, Key::G, Tool::VariationBrush),
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

    /// A request to close the window: asks first when there are unsaved changes.
    fn handle_close(&mut self, ctx: &egui::Context) {
        if ctx.input(|input| input.viewport().close_requested()) && !self.allow_close {
            if self.workspace.document.has_unsaved_changes() {
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                self.modal = Some(Modal::ConfirmQuit);
            } else {
                self.quit_cleanly();
            }
        }
    }

    /// Lets the window close: stops the generation, removes the autosave (the work is saved
    /// or was declined), keeps the settings.
    pub(super) fn quit_cleanly(&mut self) {
        self.allow_close = true;
        self.generation.cancel();
        self.workspace.autosave.clear();
        self.save_settings();
    }

    /// The modal window or question, if any: its view draws inside one modal frame, and a click
    /// beside a window (not a question) closes it.
    fn modal_ui(&mut self, ctx: &egui::Context, actions: &mut Vec<Action>) {
        let Some(mut modal) = self.modal.clone() else {
            return;
        };
        if modal == Modal::Models {
            self.check_listed_models();
        }
        let views = &mut self.views;
        let response = egui::Modal::new(egui::Id::unique("pentimento_modal")).show(ctx, |ui| {
            ui.set_max_width(420.0);
            if views.questions.ui(ui, &mut modal, actions) {
                return;
            }
            match &mut modal {
                Modal::GenerationLog => {
                    views
                        .generation_log
                        .ui(ui, &self.workspace.document, actions);
                }
                Modal::Models => {
                    ui.set_min_width(560.0);
                    views.model_manager.ui(
                        ui,
                        &self.settings,
                        self.generation.is_running(),
                        self.download.as_ref(),
                        self.model.ready(),
                        actions,
                    );
                }
                Modal::Export(form) => {
                    views.export.ui(ui, form, actions);
                }
                Modal::Settings => {
                    let history = self.workspace.document.history();
                    let system_dialogs = self
                        .options
                        .dialogs
                        .is_none()
                        .then(crate::dialogs::system_dialogs_known)
                        .flatten();
                    views.settings.ui(
                        ui,
                        &mut self.settings,
                        (history.undo_depth(), history.memory_bytes()),
                        &self.folders,
                        system_dialogs,
                        actions,
                    );
                }
                _ => {}
            }
        });
        // The question's own state (a new canvas's size) is kept for the next frame.
        if let Some(shown) = &mut self.modal
            && std::mem::discriminant(shown) == std::mem::discriminant(&modal)
        {
            *shown = modal.clone();
        }
        let dismissable = matches!(
            modal,
            Modal::NewCanvas { .. }
                | Modal::CanvasSize(_)
                | Modal::Settings
                | Modal::Models
                | Modal::GenerationLog
                | Modal::Credentials { .. }
                | Modal::Export(_)
                | Modal::ConfirmReplace(_)
        );
        if dismissable && response.should_close() {
            actions.push(Action::CloseModal);
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
        self.poll_fill(ctx);
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
        let mut actions = Vec::new();
        self.handle_shortcuts(ctx, &mut actions);
        for action in actions {
            self.apply(ctx, action);
        }
        if !self.workspace.document.is_stroking() {
            self.workspace.autosave(false);
            if let Some(error) = self.workspace.autosave.error.take() {
                self.notify(ctx, error, true);
            }
        }
        // Keep the autosave clock and notices ticking.
        ctx.request_repaint_after(Duration::from_secs(1));
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let mut actions = Vec::new();
        let views = &mut self.views;
        let document = &self.workspace.document;
        Panel::top("menu_bar").show(ui, |ui| {
            views.menu.ui(
                ui,
                document,
                &self.settings.recent_files,
                &mut self.overlays,
                &mut actions,
            );
        });
        Panel::bottom("status_bar").show(ui, |ui| {
            views.status_bar.ui(
                ui,
                &status_bar::Shown {
                    runtime: &self.runtime,
                    model: &self.model,
                    download: self.download.as_ref(),
                    document,
                    zoom: self.view.zoom,
                },
            );
        });
        let shown = prompt::Shown {
            runtime: &self.runtime,
            model: &self.model,
            generation: &self.generation,
            mask_empty: document.mask().is_empty(),
            document_blank: document.is_blank(),
            loras: &self.loras,
        };
        Panel::left("prompt_panel")
            .resizable(true)
            .default_size(300.0)
            .show(ui, |ui| {
                // Generate (or the progress and Cancel) stays in view however long the panel.
                Panel::bottom("generate_bar")
                    .resizable(false)
                    .show(ui, |ui| {
                        ui.add_space(6.0);
                        views.prompt.generate_controls(ui, &shown, &mut actions);
                        ui.add_space(2.0);
                    });
                egui::ScrollArea::vertical().show(ui, |ui| {
                    views
                        .prompt
                        .runtime_problem(ui, &self.runtime, &mut actions);
                    views.tools.ui(
                        ui,
                        &mut self.settings.tools,
                        &mut self.overlays,
                        document,
                        self.workspace.active_layer,
                        &mut actions,
                    );
                    ui.separator();
                    views
                        .prompt
                        .ui(ui, &shown, &mut self.settings.generation, &mut actions);
                });
            });
        Panel::right("layer_panel")
            .resizable(true)
            .default_size(260.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    views.layers.ui(
                        ui,
                        document,
                        self.workspace.active_layer,
                        &mut self.overlays,
                        &mut actions,
                    );
                });
            });
        if self.generation.has_staging() {
            Panel::bottom("staging_strip")
                .resizable(false)
                .min_size(staging::STAGING_HEIGHT)
                .show(ui, |ui| {
                    views.staging.ui(
                        ui,
                        &self.generation,
                        self.model.ready().is_some(),
                        &mut actions,
                    );
                });
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
                    // The canvas is where strokes are painted: it changes the document directly.
                    let (_, events) = self.view.show(
                        ui,
                        &mut self.workspace.document,
                        &mut self.settings.tools,
                        self.workspace.active_layer,
                        &overlays,
                        interactive,
                    );
                    for event in events {
                        match event {
                            CanvasEvent::ColorPicked(color) => {
                                self.settings.tools.remember_color(color);
                            }
                            CanvasEvent::Refused(message) => actions.push(Action::Notify {
                                text: crate::messages::sentence(&message),
                                is_error: true,
                            }),
                            CanvasEvent::Told(message) => actions.push(Action::Notify {
                                text: message,
                                is_error: false,
                            }),
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
        let ctx = ui.ctx().clone();
        for action in actions.drain(..) {
            self.apply(&ctx, action);
        }
        self.notices.ui(&ctx, canvas_area);
        self.modal_ui(&ctx, &mut actions);
        for action in actions.drain(..) {
            self.apply(&ctx, action);
        }
        self.file_browser_ui(&ctx);
    }

    fn on_exit(&mut self) {
        if !self.allow_close && !self.workspace.document.has_unsaved_changes() {
            self.quit_cleanly();
        }
        self.save_settings();
    }
}
