//! The model manager in the running app: adding a folder shows what the model can do, a broken
//! folder is explained, a model downloads from a server that answers like the Hugging Face Hub
//! (with progress, a cancel that keeps the partial file, and a resume), the default is chosen,
//! a model is removed, and "Use now" loads one.

#[path = "../inference/tests/common/hub_server.rs"]
mod hub_server;

use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use pentimento::PentimentoApp;
use pentimento::dialogs::DialogKind;
use pentimento_inference::LocateOptions;
use pentimento_tests::{
    Sandbox, click, click_then_until, fixture_model, run_until, snapshot_options, wait_for_model,
};

/// Types `repo` over whatever the download form's Repository field holds and clicks Download.
fn start_download(harness: &mut Harness<'static, PentimentoApp>, repo: &str) {
    harness.get_by_label("Repository").click();
    harness.run_steps(1);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.get_by_label("Repository").type_text(repo);
    harness.run_steps(2);
    assert_eq!(
        harness.get_by_label("Repository").value().as_deref(),
        Some(repo)
    );
    harness.get_by_label("Download").click();
    harness.step();
}

#[test]
fn the_model_manager_adds_downloads_chooses_and_removes_models() {
    let server = hub_server::HubServer::start();
    let sandbox = Sandbox::new();
    let hub_cache = sandbox.path("hf-cache");
    let options = pentimento::AppOptions {
        runtime: Some(LocateOptions::default()),
        hub_endpoint: Some(server.endpoint.clone()),
        hub_cache: Some(hub_cache.clone()),
        document_size: [256, 256],
        ..sandbox.options()
    };
    let mut harness = pentimento_tests::with_model_manager(options);
    harness.get_by_label("No models yet: add a folder or download one below.");

    // A local folder: checked, listed with what it can do, and the default as the first.
    sandbox.dialogs.answer(
        DialogKind::ModelFolder,
        Some(fixture_model("tiny-sd-inpaint")),
    );
    click(&mut harness, "Add folder…");
    assert!(
        harness.get_all_by_label("tiny-sd-inpaint").count() >= 1,
        "the folder is listed by name"
    );
    harness.get_by_label_contains("text to image, image to image, inpainting UNet · fp32");
    let inpaint = std::fs::canonicalize(fixture_model("tiny-sd-inpaint")).expect("path");
    assert_eq!(
        harness.state().settings().model_folder.as_deref(),
        Some(inpaint.as_path())
    );

    // A PyTorch folder is refused with what to do.
    let pytorch = sandbox.path("sd-pytorch");
    std::fs::create_dir_all(pytorch.join("unet")).expect("folder");
    std::fs::write(
        pytorch
            .join("unet")
            .join("diffusion_pytorch_model.safetensors"),
        b"{}",
    )
    .expect("write");
    sandbox
        .dialogs
        .answer(DialogKind::ModelFolder, Some(pytorch));
    click(&mut harness, "Add folder…");
    harness.get_by_label_contains("holds a diffusers model with PyTorch weights");
    assert_eq!(harness.state().settings().models.len(), 1);

    // A download: cancelled while the slow UNet arrives, then resumed to the end.
    server.faults().slow.insert("unet/model.onnx".to_owned());
    server.faults().slow_pause = Duration::from_millis(60);
    start_download(&mut harness, hub_server::REPO);
    run_until(
        &mut harness,
        "the UNet to start downloading",
        Duration::from_secs(60),
        |app| {
            app.download()
                .and_then(|download| download.progress.as_ref())
                .is_some_and(|progress| {
                    progress.file == "unet/model.onnx" && progress.bytes_done > 0
                })
        },
    );
    harness.get_by_label_contains("unet/model.onnx (");
    // With the window closed, the status bar keeps showing it.
    harness.get_by_label("Close").click();
    harness.run_steps(2);
    assert!(harness.state().modal().is_none());
    harness.get_by_label_contains("Downloading test-org/tiny-sd@main: ");
    harness.get_by_label("Models…").click();
    harness.run_steps(2);
    harness.get_by_label("Cancel download").click();
    run_until(&mut harness, "the cancel", Duration::from_secs(60), |app| {
        app.download().is_none()
    });
    assert!(
        harness
            .state()
            .notices()
            .iter()
            .any(|notice| notice.text.contains("stopped")),
        "{:?}",
        harness.state().notices()
    );
    assert_eq!(
        harness.state().settings().models.len(),
        1,
        "nothing added yet"
    );
    let partial_files = pentimento_tests::listing::files_under(&hub_cache)
        .into_iter()
        .filter(|path| path.to_string_lossy().ends_with(".incomplete"))
        .count();
    assert_eq!(partial_files, 1, "the partial UNet is kept");

    server.faults().slow.clear();
    click_then_until(
        &mut harness,
        "Download",
        "the download",
        Duration::from_secs(60),
        |app| app.download().is_none(),
    );
    let label = format!("{}@main", hub_server::REPO);
    assert!(
        harness.get_all_by_label(label.as_str()).count() >= 1,
        "the download is listed"
    );
    assert_eq!(
        harness.state().settings().models.len(),
        2,
        "{:?}",
        harness.state().notices()
    );
    assert!(
        server.resumed(hub_server::REPO, "unet/model.onnx"),
        "the UNet resumed with a Range request"
    );

    // The downloaded model becomes the default; the local one is removed from the list.
    let make_default: Vec<_> = harness
        .get_all_by_label("Make default")
        .filter(|node| !node.accesskit_node().is_disabled())
        .collect();
    assert_eq!(make_default.len(), 1);
    make_default[0].click();
    harness.run();
    let downloaded = harness.state().settings().models[1].path.clone();
    assert_eq!(
        harness.state().settings().model_folder.as_deref(),
        Some(downloaded.as_path())
    );
    harness
        .get_all_by_label("Remove")
        .next()
        .expect("a Remove button")
        .click();
    harness.run();
    assert_eq!(harness.state().settings().models.len(), 1);
    assert!(inpaint.is_dir(), "removing never deletes files");

    // The list is kept in the settings file.
    let saved = pentimento::settings::Settings::load(&sandbox.folders().settings_file()).0;
    assert_eq!(saved.models.len(), 1);
    assert_eq!(saved.model_folder.as_deref(), Some(downloaded.as_path()));

    // The temporary cache path differs from run to run.
    let path = harness
        .get_by_label_contains("hf-cache/models--test-org--tiny-sd")
        .rect();
    // Its width varies with the random name, so a fixed width is masked.
    let mut masked = path.expand(2.0);
    masked.max.x = masked.min.x + 540.0;
    harness.mask(masked);
    harness.snapshot_options("model_manager", &snapshot_options());

    // "Use now" loads it.
    harness.get_by_label("Use now").click();
    harness.run_steps(2);
    wait_for_model(&mut harness);
    assert!(harness.state().modal().is_none(), "the window closes");

    // A repository without an ONNX pipeline is explained under the download form.
    harness.get_by_label("Models…").click();
    harness.run_steps(2);
    start_download(&mut harness, hub_server::PYTORCH_REPO);
    run_until(
        &mut harness,
        "the refusal",
        Duration::from_secs(60),
        |app| app.download().is_none(),
    );
    harness.get_by_label_contains("has no ONNX model (no unet/model.onnx");
    assert_eq!(harness.state().settings().models.len(), 1);
}
