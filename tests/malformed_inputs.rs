//! The malformed-input corpus (`pentimento_tests::corpus`, 44 cases): every broken model
//! folder, image and project gives an error that says what is wrong, never a panic, both from
//! the libraries and through the running app, where the open document stays as it was and the
//! app keeps working.

use std::sync::Arc;
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use pentimento::PentimentoApp;
use pentimento::app::ModelState;
use pentimento::dialogs::DialogKind;
use pentimento_inference::{LoadOptions, LocateOptions, ModelFolder, ModelReport, OnnxRuntime};
use pentimento_tests::corpus::{self, Case};
use pentimento_tests::{
    Sandbox, click, click_menu, discard_changes, open_with_shortcut, run_until, wait_for_model,
};

fn runtime() -> Arc<OnnxRuntime> {
    OnnxRuntime::initialize(&LocateOptions::default()).unwrap_or_else(|err| panic!("{err}"))
}

fn check(case: &Case, message: &str) {
    for expected in case.expected {
        assert!(
            message.contains(expected),
            "{}: the message should contain {expected:?}: {message}",
            case.name
        );
    }
    assert!(!message.contains("panicked"), "{}: {message}", case.name);
}

#[test]
fn the_corpus_has_at_least_thirty_cases() {
    let count =
        corpus::model_cases().len() + corpus::image_cases().len() + corpus::project_cases().len();
    assert!(count >= 30, "{count} cases");
}

#[test]
fn broken_model_folders_are_refused_with_what_to_do() {
    let runtime = runtime();
    for case in corpus::model_cases() {
        let scratch = tempfile::tempdir().expect("scratch");
        let path = case.build(scratch.path());
        // What the app and `pentimento generate` do.
        let error = pentimento_inference::StableDiffusion::load(
            runtime.clone(),
            &path,
            LoadOptions {
                intra_threads: Some(1),
                ..LoadOptions::default()
            },
        )
        .err()
        .unwrap_or_else(|| panic!("{}: the model loaded", case.name));
        check(&case, &error.to_string());
        // What `pentimento info` and the model manager do.
        let report = ModelFolder::open(&path)
            .map_err(pentimento_inference::InferenceError::from)
            .and_then(|folder| ModelReport::inspect(&runtime, folder));
        match report {
            Err(error) => check(&case, &error.to_string()),
            Ok(report) => panic!("{}: info accepted it:\n{report}", case.name),
        }
    }
}

#[test]
fn broken_images_and_projects_are_refused_with_what_to_do() {
    for case in corpus::image_cases() {
        let scratch = tempfile::tempdir().expect("scratch");
        let path = case.build(scratch.path());
        let error = pentimento::io::read_rgba(&path)
            .err()
            .unwrap_or_else(|| panic!("{}: the image opened", case.name));
        check(&case, &error.to_string());
    }
    for case in corpus::project_cases() {
        let scratch = tempfile::tempdir().expect("scratch");
        let path = case.build(scratch.path());
        let error = pentimento::io::ora::open(&path)
            .err()
            .unwrap_or_else(|| panic!("{}: the project opened", case.name));
        check(&case, &error.to_string());
    }
}

/// Drags a stroke from `from` to `to` (document points) through ten steps.
fn stroke(harness: &mut Harness<'static, PentimentoApp>, from: (f32, f32), to: (f32, f32)) {
    let points: Vec<(f32, f32)> = (0..=10)
        .map(|step| {
            let t = step as f32 / 10.0;
            (from.0 + (to.0 - from.0) * t, from.1 + (to.1 - from.1) * t)
        })
        .collect();
    pentimento_tests::drag_through(harness, &points);
}

/// A fresh scratch sub-folder for one case.
fn folder(scratch: &tempfile::TempDir, kind: &str, index: usize) -> std::path::PathBuf {
    let path = scratch.path().join(format!("{kind}-{index}"));
    std::fs::create_dir_all(&path).expect("scratch folder");
    path
}

/// What must not change: the pixels, the layers and the log.
fn fingerprint(app: &PentimentoApp) -> (Vec<u8>, usize, usize) {
    let document = app.document();
    let (rgba, _) = document.composite(&document.bounds());
    (rgba, document.layers().len(), document.generation_log.len())
}

/// The newest notice, checked against the case, with the document as it was before.
fn refused(
    harness: &Harness<'static, PentimentoApp>,
    case: &Case,
    before: &(Vec<u8>, usize, usize),
) -> String {
    let notice = pentimento_tests::last_notice(harness);
    check(case, &notice);
    assert!(
        fingerprint(harness.state()) == *before,
        "{}: the document changed",
        case.name
    );
    notice
}

#[test]
fn the_app_survives_every_case_with_the_document_unchanged() {
    let sandbox = Sandbox::new();
    let mut harness = pentimento_tests::window(pentimento::AppOptions {
        runtime: Some(LocateOptions::default()),
        document_size: [400, 300],
        ..sandbox.options()
    });
    harness.run();
    stroke(&mut harness, (40.0, 150.0), (360.0, 150.0));
    let before = fingerprint(harness.state());
    assert!(
        before.0.iter().any(|&value| value != 0),
        "the stroke was painted"
    );
    let scratch = tempfile::tempdir().expect("scratch");

    for (index, case) in corpus::model_cases().iter().enumerate() {
        let path = case.build(&folder(&scratch, "model", index));
        sandbox.dialogs.answer(DialogKind::ModelFolder, Some(path));
        harness.get_by_label("Open model folder…").click();
        harness.run_steps(2);
        run_until(&mut harness, case.name, Duration::from_secs(60), |app| {
            !matches!(app.model, ModelState::Loading { .. })
        });
        let ModelState::Failed(message) = &harness.state().model else {
            panic!("{}: {:?}", case.name, harness.state().model);
        };
        check(case, message);
        harness.get_by_label("The model could not be loaded");
        assert!(
            fingerprint(harness.state()) == before,
            "{}: the document changed",
            case.name
        );
    }

    for (index, case) in corpus::image_cases().iter().enumerate() {
        let path = case.build(&folder(&scratch, "image", index));
        // As a layer…
        sandbox
            .dialogs
            .answer(DialogKind::OpenImage, Some(path.clone()));
        click_menu(&mut harness, "File", "Add image as layer…");
        refused(&harness, case, &before);
        // …and as the document, over unsaved work.
        open_with_shortcut(&mut harness, &sandbox, path);
        discard_changes(&mut harness);
        refused(&harness, case, &before);
    }

    for (index, case) in corpus::project_cases().iter().enumerate() {
        let path = case.build(&folder(&scratch, "project", index));
        open_with_shortcut(&mut harness, &sandbox, path);
        click(&mut harness, "Discard changes");
        let notice = refused(&harness, case, &before);
        harness.get_by_label(notice.as_str());
    }

    // Still usable: painting works and a good model loads after all the bad ones.
    stroke(&mut harness, (200.0, 40.0), (200.0, 260.0));
    assert!(
        fingerprint(harness.state()) != before,
        "a new stroke changes the document"
    );
    sandbox.dialogs.answer(
        DialogKind::ModelFolder,
        Some(pentimento_tests::fixture_model("tiny-sd")),
    );
    harness.get_by_label("Open model folder…").click();
    harness.run_steps(2);
    wait_for_model(&mut harness);
}

#[test]
fn components_in_the_wrong_folder_are_named_by_the_quick_check_too() {
    // The model manager lists and adds models with the quick check, which reads the graphs
    // without ONNX Runtime; a swapped component must not pass it.
    let cases: Vec<Case> = corpus::model_cases()
        .into_iter()
        .filter(|case| case.name.contains("copied over"))
        .collect();
    assert_eq!(cases.len(), 4);
    for case in cases {
        let scratch = tempfile::tempdir().expect("scratch");
        let path = case.build(scratch.path());
        let folder = ModelFolder::open(&path).expect("the layout is complete");
        let error = pentimento_inference::Capabilities::inspect(&folder)
            .err()
            .unwrap_or_else(|| panic!("{}: the quick check accepted it", case.name));
        check(&case, &error.to_string());
    }
}
