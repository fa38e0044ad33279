//! A Pentimento session that paints, waits for its periodic autosave, says so on stdout and then
//! keeps running until it is killed: the crash of the crash-recovery test (`app_files.rs`).
//!
//! Usage: `autosave_child SANDBOX_FOLDER` (the test writes the settings there first).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use pentimento::document::brush::{BrushSettings, StrokeMode, StrokePoint};
use pentimento::settings::Folders;
use pentimento::{AppOptions, PentimentoApp};

fn main() {
    let dir = PathBuf::from(
        std::env::args_os()
            .nth(1)
            .expect("usage: autosave_child FOLDER"),
    );
    let folders = Folders {
        config: dir.join("config"),
        data: dir.join("data"),
    };
    let options = AppOptions {
        runtime: None,
        folders: Some(folders),
        dialogs: Some(std::sync::Arc::new(
            pentimento::dialogs::ScriptedDialogs::default(),
        )),
        document_size: [320, 240],
        ..AppOptions::default()
    };
    let mut harness = Harness::builder()
        .with_size([1000.0, 700.0])
        .build_eframe(move |cc| PentimentoApp::with_options(cc, options));
    harness.run();

    let app = harness.state_mut();
    let layer = app.active_layer();
    let document = app.document_mut();
    let brush = BrushSettings {
        color: [10, 120, 60],
        size: 16.0,
        hardness: 1.0,
        ..BrushSettings::default()
    };
    let line = (20..300)
        .step_by(4)
        .map(|x| StrokePoint::new(x as f32, 120.0));
    document
        .paint_stroke(layer, StrokeMode::Paint, brush, line)
        .expect("the first layer takes paint");

    // The periodic autosave, as the window runs it, into this window's own slot.
    let autosave = harness.state().autosave_file();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !autosave.is_file() {
        assert!(Instant::now() < deadline, "no autosave within a minute");
        std::thread::sleep(Duration::from_millis(100));
        harness.step();
    }
    // Let the background writer finish its rename and session file.
    std::thread::sleep(Duration::from_millis(300));
    println!("autosaved");
    loop {
        std::thread::sleep(Duration::from_millis(100));
        harness.step();
    }
}
