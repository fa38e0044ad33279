//! A remote model in the running app, on a real Triton Inference Server on loopback: the model
//! manager lists the client folder with where it is served and, once loaded, its server and the
//! server's state; the prompt panel shows the servers; a generation runs there and the status
//! bar and the log say which server answered; when the server dies the error is a sentence and
//! "Continue on this computer" finishes the job with the local copy.

#[path = "../inference/tests/common/triton.rs"]
#[allow(dead_code)]
mod triton;

use std::time::Duration;

use egui_kittest::kittest::Queryable as _;
use pentimento::dialogs::DialogKind;
use pentimento_inference::LocateOptions;
use pentimento_inference::remote::RemoteConfig;
use pentimento_tests::{
    Sandbox, click, click_then_until, fixture_model, generate_and_wait, wait_for_model,
};

/// The generation log's newest record.
fn last_record(
    harness: &egui_kittest::Harness<'static, pentimento::PentimentoApp>,
) -> pentimento::document::GenerationRecord {
    harness
        .state()
        .document()
        .generation_log
        .last()
        .expect("logged")
        .clone()
}

#[test]
fn a_remote_model_generates_on_its_server_and_continues_here_when_the_server_is_gone() {
    let sandbox = Sandbox::new();
    let written = triton::repository_for(
        &fixture_model("tiny-sd"),
        &sandbox.path("studio"),
        "studio-sd",
        0,
    );
    let mut server = triton::Server::start(&sandbox.path("studio").join("repository"));
    let mut config = RemoteConfig::read(&written.client).expect("remote.json");
    config.servers = vec![server.url.clone()];
    config.write(&written.client).expect("remote.json");
    let address = server.url.clone();

    let options = pentimento::AppOptions {
        runtime: Some(LocateOptions::default()),
        document_size: [128, 128],
        threads: Some(1),
        ..sandbox.options()
    };
    // The model manager takes the client folder like any model folder.
    let mut harness = pentimento_tests::with_model_manager(options);
    sandbox
        .dialogs
        .answer(DialogKind::ModelFolder, Some(written.client.clone()));
    click(&mut harness, "Add folder…");
    harness.get_by_label_contains("served as studio-sd by 1 server");
    harness.get_by_label("Its servers are asked when it loads.");
    harness.get_by_label("Use now").click();
    harness.run_steps(2);
    wait_for_model(&mut harness);
    let info = harness.state().model.ready().expect("loaded").clone();
    assert!(info.remote.is_some(), "{info:?}");

    // The prompt panel lists the server, ready after loading asked it for the models.
    harness.get_by_label(address.as_str());
    harness.get_by_label("ready");
    harness.get_by_label("served as studio-sd");

    // A generation on the server: the status bar and the log name it.
    harness.state_mut().settings_mut().generation.prompt = "a lighthouse at dusk".to_owned();
    harness.state_mut().settings_mut().generation.steps = 3;
    let record = generate_and_wait(&mut harness);
    assert_eq!(record.outcome, "finished", "{record:?}");
    assert_eq!(
        record.execution_provider,
        format!("inference server {address}")
    );
    harness.get_by_label(&format!("{} on inference server {address}", info.name));
    harness.get_by_label("ready, answered last");
    assert!(
        !harness
            .state()
            .generation
            .staging
            .as_ref()
            .expect("staged")
            .variations
            .is_empty()
    );

    // The model manager shows the loaded remote model's server and its state.
    click(&mut harness, "Models…");
    assert!(harness.get_all_by_label(address.as_str()).count() >= 1);
    harness.key_press(egui::Key::Escape);
    harness.run();

    // The server dies: the next generation fails with a sentence, and the prompt panel offers
    // the local copy.
    server.kill();
    click_then_until(
        &mut harness,
        "Generate",
        "the failure",
        Duration::from_secs(120),
        |app| !app.generation.is_running(),
    );
    let notice = pentimento_tests::last_notice(&harness);
    assert!(
        notice.starts_with("No inference server could run the"),
        "{notice}"
    );
    assert!(notice.contains("continue on this computer"), "{notice}");
    harness.get_by_label("No inference server is left for this model.");
    harness.get_by_label("unavailable");
    let failed = last_record(&harness);
    assert!(failed.outcome.starts_with("failed:"), "{failed:?}");

    let failed_seed = harness
        .state()
        .generation
        .local_offer
        .as_ref()
        .expect("the offer")
        .generation
        .1
        .seed;

    // Continue on this computer: the local copy loads and the failed generation runs here,
    // unchanged.
    click_then_until(
        &mut harness,
        "Continue on this computer",
        "the local generation",
        Duration::from_secs(300),
        |app| {
            app.model.ready().is_some_and(|info| info.remote.is_none())
                && !app.generation.is_running()
                && app.document().generation_log.len() == 3
        },
    );
    let local = last_record(&harness);
    assert_eq!(local.outcome, "finished", "{local:?}");
    assert_eq!(local.execution_provider, "cpu");
    assert_eq!(local.seeds.len(), record.seeds.len());
    assert_eq!(local.seeds[0], failed_seed, "the failed generation's seeds");
    assert!(harness.state().generation.local_offer.is_none());
}
