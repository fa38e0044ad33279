//! Shared helpers for Pentimento's end-to-end tests: where the workspace and the fixtures are,
//! and driving the app until something has happened.

pub mod corpus;
#[path = "../../inference/tests/common/listing.rs"]
pub mod listing;
mod same_document;

pub use same_document::assert_same_document;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui::Pos2;
use egui_kittest::kittest::Queryable as _;
use egui_kittest::{Harness, SnapshotOptions};
use pentimento::PentimentoApp;

/// The workspace root (the folder with the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives one level below the workspace root")
        .to_path_buf()
}

/// `tests/fixtures/`.
pub fn fixtures_dir() -> PathBuf {
    workspace_root().join("tests").join("fixtures")
}

/// A tiny model pipeline under `tests/fixtures/models/`.
pub fn fixture_model(name: &str) -> PathBuf {
    fixtures_dir().join("models").join(name)
}

/// `shaders/`.
pub fn shaders_dir() -> PathBuf {
    workspace_root().join("shaders")
}

/// A private home for one app under test: its own settings and autosave folders, scripted file
/// dialogs and optimized-graph cache, so tests never read or write the user's files.
pub struct Sandbox {
    /// The temporary folder (removed on drop).
    pub dir: tempfile::TempDir,
    /// The file dialogs' answers.
    pub dialogs: std::sync::Arc<pentimento::dialogs::ScriptedDialogs>,
}

impl Sandbox {
    /// A fresh sandbox.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temporary folder"),
            dialogs: std::sync::Arc::default(),
        }
    }

    /// Its settings and data folders.
    pub fn folders(&self) -> pentimento::settings::Folders {
        pentimento::settings::Folders {
            config: self.dir.path().join("config"),
            data: self.dir.path().join("data"),
        }
    }

    /// App options living in the sandbox, without ONNX Runtime (set `runtime` to generate).
    pub fn options(&self) -> pentimento::AppOptions {
        pentimento::AppOptions {
            runtime: None,
            folders: Some(self.folders()),
            dialogs: Some(self.dialogs.clone()),
            optimized_cache: Some(self.dir.path().join("optimized")),
            ..pentimento::AppOptions::default()
        }
    }

    /// App options that load the fixture model `model` on ONNX Runtime into a canvas of
    /// `document_size`.
    pub fn with_model(&self, model: &str, document_size: [u32; 2]) -> pentimento::AppOptions {
        pentimento::AppOptions {
            runtime: Some(pentimento_inference::LocateOptions::default()),
            model: Some(fixture_model(model)),
            document_size,
            ..self.options()
        }
    }

    /// A path inside the sandbox.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

/// A key pressed with `modifiers` (a shortcut), and one frame.
pub fn press(
    harness: &mut Harness<'static, PentimentoApp>,
    modifiers: egui::Modifiers,
    key: egui::Key,
) {
    harness.key_press_modifiers(modifiers, key);
    harness.run();
}

/// Ctrl+O with the open dialog answering `path`, and one frame.
pub fn open_with_shortcut(
    harness: &mut Harness<'static, PentimentoApp>,
    sandbox: &Sandbox,
    path: PathBuf,
) {
    sandbox
        .dialogs
        .answer(pentimento::dialogs::DialogKind::OpenFile, Some(path));
    press(harness, egui::Modifiers::COMMAND, egui::Key::O);
}

/// A reproducible run: `steps` steps, `count` variations, the seed locked at `seed`.
pub fn fix_generation(
    harness: &mut Harness<'static, PentimentoApp>,
    steps: usize,
    count: usize,
    seed: u32,
) {
    let generation = &mut harness.state_mut().settings_mut().generation;
    generation.steps = steps;
    generation.count = count;
    generation.seed = seed;
    generation.seed_locked = true;
}

/// One of two versions of a small painted document (`version` 0 or 1), saved over and over by
/// the kill-during-save test.
pub fn save_victim(version: u32) -> pentimento::document::Document {
    use pentimento::document::brush::{BrushSettings, StrokeMode, StrokePoint};
    let mut document = pentimento::document::Document::new(320, 240).expect("size");
    document.add_paint_layer("Ink", None);
    document.add_paint_layer("Colour", None);
    let layers: Vec<_> = document.layers().iter().map(|layer| layer.id).collect();
    for (index, id) in layers.iter().enumerate() {
        let brush = BrushSettings {
            size: 16.0 + 10.0 * index as f32,
            color: [
                (60 * index as u32 + 90 * version) as u8,
                (40 + 70 * version) as u8,
                200,
            ],
            ..BrushSettings::default()
        };
        let wave = (0..=40).map(|step| {
            let t = step as f32 / 40.0;
            let phase = t * 9.0 + index as f32 + version as f32;
            StrokePoint::new(10.0 + 300.0 * t, 120.0 + phase.sin() * 90.0)
        });
        document
            .paint_stroke(Some(*id), StrokeMode::Paint, brush, wave)
            .expect("paintable");
    }
    document
}

/// Steps the app (with a little real time for the worker and other threads) until `done`
/// holds, then a few frames more so that the window shows it.
pub fn run_until(
    harness: &mut Harness<'static, PentimentoApp>,
    what: &str,
    timeout: Duration,
    done: impl Fn(&PentimentoApp) -> bool,
) {
    let deadline = Instant::now() + timeout;
    while !done(harness.state()) {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}; notices: {:?}",
            harness.state().notices()
        );
        std::thread::sleep(Duration::from_millis(5));
        harness.step();
    }
    harness.run_steps(3);
}

/// Clicks `label`, lets two frames take the click in, then steps until `done` as
/// [`run_until`] does.
pub fn click_then_until(
    harness: &mut Harness<'static, PentimentoApp>,
    label: &str,
    what: &str,
    timeout: Duration,
    done: impl Fn(&PentimentoApp) -> bool,
) {
    harness.get_by_label(label).click();
    harness.run_steps(2);
    run_until(harness, what, timeout, done);
}

/// Steps the app until the model it was started with has loaded; fails the test when it could
/// not be.
pub fn wait_for_model(harness: &mut Harness<'static, PentimentoApp>) {
    run_until(
        harness,
        "the model to load",
        Duration::from_secs(120),
        |app| {
            app.model.ready().is_some()
                || matches!(app.model, pentimento::app::ModelState::Failed(_))
        },
    );
    assert!(
        harness.state().model.ready().is_some(),
        "model failed: {:?}",
        harness.state().model
    );
}

/// Clicks Generate, checks that a job started, and steps the app until it ends; returns the
/// generation's log record.
pub fn generate_and_wait(
    harness: &mut Harness<'static, PentimentoApp>,
) -> pentimento::document::GenerationRecord {
    harness.get_by_label("Generate").click();
    harness.step();
    assert!(
        harness.state().generation.is_running(),
        "Generate starts a job; notices: {:?}",
        harness.state().notices()
    );
    run_until(harness, "the generation", Duration::from_secs(300), |app| {
        !app.generation.is_running()
    });
    harness
        .state()
        .document()
        .generation_log
        .last()
        .expect("the generation is logged")
        .clone()
}

/// The real app in a headless 1280 × 800 window on a software wgpu adapter.
pub fn window(options: pentimento::AppOptions) -> Harness<'static, PentimentoApp> {
    window_sized(options, [1280.0, 800.0])
}

/// The real app in a headless window of `size` points.
pub fn window_sized(
    options: pentimento::AppOptions,
    size: [f32; 2],
) -> Harness<'static, PentimentoApp> {
    Harness::builder()
        .with_size(size)
        .wgpu()
        .build_eframe(move |cc| PentimentoApp::with_options(cc, options))
}

/// The real app in a window large enough for the model manager, with the model manager open.
pub fn with_model_manager(options: pentimento::AppOptions) -> Harness<'static, PentimentoApp> {
    let mut harness = window_sized(options, [1280.0, 860.0]);
    harness.run();
    harness.get_by_label("Models…").click();
    harness.run();
    assert_eq!(
        harness.state().modal(),
        Some(&pentimento::app::Modal::Models)
    );
    harness
}

/// Where the whole-window snapshots live (`tests/snapshots/`).
pub fn snapshot_options() -> SnapshotOptions {
    SnapshotOptions::new().output_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"))
}

/// Drags the pointer through document points on the canvas, as a stroke.
pub fn drag_through(harness: &mut Harness<'static, PentimentoApp>, points: &[(f32, f32)]) {
    let area = harness.get_by_label("Canvas").rect();
    let size = [
        harness.state().document().width(),
        harness.state().document().height(),
    ];
    let screen: Vec<Pos2> = points
        .iter()
        .map(|&(x, y)| harness.state().view().to_screen(area, size, x, y))
        .collect();
    harness.hover_at(screen[0]);
    harness.step();
    harness.drag_at(screen[0]);
    harness.step();
    for &point in &screen[1..] {
        harness.hover_at(point);
        harness.step();
    }
    harness.drop_at(screen[screen.len() - 1]);
    harness.run_steps(3);
}

/// Runs frames until ONNX Runtime has been found or refused (within 30 s).
pub fn wait_for_runtime(harness: &mut Harness<'_, PentimentoApp>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while matches!(
        harness.state().runtime_status(),
        pentimento::runtime_status::RuntimeStatus::Starting(..)
    ) {
        assert!(Instant::now() < deadline, "the loader never answered");
        std::thread::sleep(Duration::from_millis(20));
        harness.run();
    }
    harness.run();
}

/// Runtime search options that find nothing by themselves: `cache_root` (an empty folder, as
/// when offline), downloads off, no environment overrides, and only `library` when given.
pub fn offline_runtime(
    cache_root: PathBuf,
    library: Option<PathBuf>,
) -> pentimento_inference::LocateOptions {
    pentimento_inference::LocateOptions {
        cache_root: Some(cache_root),
        allow_download: false,
        use_overrides: false,
        library,
        progress: None,
    }
}

/// Runs frames until the runtime has been refused and returns the sentence the app shows for it;
/// fails the test if the runtime started.
pub fn unavailable_runtime_message(harness: &mut Harness<'_, PentimentoApp>) -> String {
    wait_for_runtime(harness);
    let pentimento::runtime_status::RuntimeStatus::Unavailable(message) =
        harness.state().runtime_status()
    else {
        panic!(
            "expected an explanation, got {:?}",
            harness.state().runtime_status()
        );
    };
    message.clone()
}

/// The text of the newest notice; fails the test if there is none.
pub fn last_notice(harness: &Harness<'_, PentimentoApp>) -> String {
    harness
        .state()
        .notices()
        .last()
        .expect("a notice")
        .text
        .clone()
}

/// Types `text` into the empty field labelled `label` and checks that the field shows it.
pub fn type_into(harness: &mut Harness<'static, PentimentoApp>, label: &str, text: &str) {
    harness.get_by_label(label).click();
    harness.run();
    harness.get_by_label(label).type_text(text);
    harness.run();
    assert_eq!(
        harness.get_by_label(label).value().as_deref(),
        Some(text),
        "{label} takes text"
    );
}

/// Clicks the widget labelled `label` and runs until the app settles.
pub fn click(harness: &mut Harness<'_, PentimentoApp>, label: &str) {
    harness.get_by_label(label).click();
    harness.run();
}

/// Opens the menu `menu` and clicks its item `item`.
pub fn click_menu(harness: &mut Harness<'static, PentimentoApp>, menu: &str, item: &str) {
    click(harness, menu);
    click(harness, item);
}

/// The artist confirms replacing the document over unsaved work: the app asked first, and
/// "Discard changes" is clicked.
pub fn discard_changes(harness: &mut Harness<'static, PentimentoApp>) {
    assert!(matches!(
        harness.state().modal(),
        Some(pentimento::app::Modal::ConfirmReplace(_))
    ));
    harness.get_by_label("Discard changes").click();
    harness.run();
}
