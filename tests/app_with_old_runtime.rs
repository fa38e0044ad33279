//! An ONNX Runtime that is too old (here a stand-in library built by the test that answers as
//! ONNX Runtime 1.15.1 does, chosen as the settings choose a library): the app opens, explains in one
//! sentence what is wrong and what to do, refuses to load a model with the same words, and the
//! canvas still paints. A separate test binary: ONNX Runtime can be started once per process.

#![cfg(target_os = "linux")]

use std::process::Command;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use pentimento::app::ModelState;
use pentimento::dialogs::DialogKind;
use pentimento::{AppOptions, PentimentoApp};
use pentimento_tests::Sandbox;

/// The entry point every ONNX Runtime exports, answering with an old version and no API.
const OLD_RUNTIME: &str = r#"
typedef struct OrtApiBase {
    const void *(*GetApi)(unsigned int version);
    const char *(*GetVersionString)(void);
} OrtApiBase;
static const void *get_api(unsigned int version) { (void)version; return 0; }
static const char *get_version(void) { return "1.15.1"; }
static const OrtApiBase base = { get_api, get_version };
const OrtApiBase *OrtGetApiBase(void) { return &base; }
"#;

#[test]
fn an_old_onnx_runtime_is_explained_and_painting_still_works() {
    let sandbox = Sandbox::new();
    let source = sandbox.path("old_runtime.c");
    let library = sandbox.path("libonnxruntime.so.1.15.1");
    std::fs::write(&source, OLD_RUNTIME).expect("write the C source");
    let compiled = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&library)
        .arg(&source)
        .status()
        .expect("the C compiler Rust links with (cc) runs");
    assert!(
        compiled.success(),
        "cc could not build the stand-in library"
    );
    let options = AppOptions {
        runtime: Some(pentimento_tests::offline_runtime(
            sandbox.path("empty-cache"),
            Some(library),
        )),
        document_size: [300, 200],
        ..sandbox.options()
    };
    let mut harness = pentimento_tests::window(options);
    let message = pentimento_tests::unavailable_runtime_message(&mut harness);
    assert!(message.contains("version 1.15.1"), "{message}");
    assert!(
        message.contains("choose another ONNX Runtime library in Settings"),
        "says how to fix it: {message}"
    );
    harness.get_by_label(message.as_str());
    harness.get_by_label("ONNX Runtime unavailable");
    assert!(
        harness
            .get_by_label("Generate")
            .accesskit_node()
            .is_disabled()
    );

    // Loading a model gives the same explanation; nothing else changes.
    sandbox.dialogs.answer(
        DialogKind::ModelFolder,
        Some(pentimento_tests::fixture_model("tiny-sd")),
    );
    harness.get_by_label("Open model folder…").click();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        harness.step();
        match &harness.state().model {
            ModelState::Failed(reason) => {
                assert!(reason.contains("version 1.15.1"), "{reason}");
                break;
            }
            ModelState::Ready(_) => panic!("a model loaded on a stand-in library"),
            _ => {}
        }
        assert!(Instant::now() < deadline, "the model never failed");
        std::thread::sleep(Duration::from_millis(10));
    }

    // The canvas paints.
    let area = harness.get_by_label("Canvas").rect();
    let to_screen = |harness: &Harness<'_, PentimentoApp>, x: f32, y: f32| {
        harness.state().view().to_screen(area, [300, 200], x, y)
    };
    let start = to_screen(&harness, 50.0, 100.0);
    harness.hover_at(start);
    harness.step();
    harness.drag_at(start);
    harness.step();
    for step in 1..=10 {
        let point = to_screen(&harness, 50.0 + 20.0 * step as f32, 100.0);
        harness.hover_at(point);
        harness.step();
    }
    harness.drop_at(to_screen(&harness, 250.0, 100.0));
    harness.run();
    let document = harness.state().document();
    let (rgba, _) = document.composite(&document.bounds());
    let index = (100 * 300 + 150) * 4;
    assert_eq!(rgba[index + 3], 255, "the stroke is on the canvas");
}
