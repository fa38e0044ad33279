//! The real app in a headless window (egui_kittest on a software wgpu adapter): the panels are
//! where an artist expects them, and the main window matches its snapshot.

use egui_kittest::kittest::{NodeT as _, Queryable as _};
use pentimento_tests::{Sandbox, snapshot_options, type_into, window as harness};

#[test]
fn main_window_has_its_panels() {
    let sandbox = Sandbox::new();
    let mut harness = harness(sandbox.options());
    harness.run();

    harness.get_by_label("Prompt");
    harness.get_by_label("Layers");
    harness.get_by_label("Canvas");
    harness.get_by_label("ONNX Runtime not loaded");
    harness.get_by_label("1024 × 1024 px");
    let generate = harness.get_by_label("Generate");
    assert!(
        generate.accesskit_node().is_disabled(),
        "Generate must be disabled without a model"
    );

    // The canvas fills the space between the panels and the document is fitted inside it.
    let canvas = harness.get_by_label("Canvas").rect();
    let prompt = harness.get_by_label("Prompt").rect();
    let layers = harness.get_by_label("Layers").rect();
    assert!(
        prompt.max.x <= canvas.min.x,
        "prompt panel left of the canvas"
    );
    assert!(
        layers.min.x >= canvas.max.x,
        "layer panel right of the canvas"
    );
    assert!(
        canvas.width() > 600.0 && canvas.height() > 600.0,
        "{canvas:?}"
    );
    let zoom = harness.state().view().zoom;
    assert!(
        zoom < 1.0 && zoom > 0.5,
        "a 1024 px canvas is fitted into a ~700 px area, zoom was {zoom}"
    );

    harness.snapshot_options("main_window", &snapshot_options());
}

#[test]
fn prompt_fields_take_text() {
    let sandbox = Sandbox::new();
    let mut harness = harness(sandbox.options());
    harness.run();
    type_into(
        &mut harness,
        "Describe what to paint",
        "a lighthouse at dusk",
    );
}

#[test]
fn a_loading_model_does_not_widen_the_prompt_panel() {
    let sandbox = Sandbox::new();
    let mut harness = harness(sandbox.options());
    harness.run();
    let canvas = harness.get_by_label("Canvas").rect();
    // The longest stage the worker reports, and a folder path with nowhere to wrap.
    harness.state_mut().model = pentimento::app::ModelState::Loading {
        job: 1,
        path: std::path::PathBuf::from(format!("/{}/tiny-sd-inpaint", "models".repeat(30))),
        stage: "First load: after the first image, a copy optimized for this computer is saved in the background, so later loads are faster.".to_owned(),
    };
    // The spinner keeps repainting: a few frames, not until it settles.
    harness.run_steps(4);
    assert!(
        harness
            .query_all_by_label("First load: after the first image, a copy optimized for this computer is saved in the background, so later loads are faster.")
            .count()
            >= 1,
        "the stage is shown"
    );
    assert_eq!(
        harness.get_by_label("Canvas").rect(),
        canvas,
        "the panels keep their width"
    );
}
