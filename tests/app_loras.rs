//! LoRAs in the window, as an artist uses them: one found in the LoRA folder is added from the
//! prompt panel, its trigger word goes into the prompt, its strength is moved with the keyboard,
//! a generation runs with it, and the generation log names it with its file hash, strength and
//! metadata. A `<lora:…>` tag naming a file that is not there is explained, not ignored.

use egui::Key;
use egui_kittest::kittest::Queryable as _;
use pentimento::settings::ChosenLora;
use pentimento_tests::{
    Sandbox, click, fix_generation, fixtures_dir, generate_and_wait, last_notice, snapshot_options,
    wait_for_model, window,
};

fn with_kohya_in_the_lora_folder(sandbox: &Sandbox) -> std::path::PathBuf {
    let folder = sandbox.folders().default_lora_dir();
    std::fs::create_dir_all(&folder).expect("folder");
    let file = folder.join("kohya.safetensors");
    std::fs::copy(fixtures_dir().join("loras/kohya.safetensors"), &file).expect("copy");
    file
}

fn ready_window(sandbox: &Sandbox) -> egui_kittest::Harness<'static, pentimento::PentimentoApp> {
    let mut harness = window(sandbox.with_model("tiny-sd", [256, 192]));
    fix_generation(&mut harness, 2, 1, 5);
    harness.state_mut().settings_mut().generation.prompt = "a harbour at dusk".to_owned();
    wait_for_model(&mut harness);
    harness
}

#[test]
fn a_lora_is_added_tuned_used_and_named_in_the_log() {
    let sandbox = Sandbox::new();
    let file = with_kohya_in_the_lora_folder(&sandbox);
    let mut harness = ready_window(&sandbox);

    click(&mut harness, "LoRAs");
    click(&mut harness, "Add LoRA");
    click(&mut harness, "kohya");
    assert_eq!(
        harness.state().settings().generation.loras,
        [ChosenLora {
            path: file.clone(),
            strength: 1.0,
            enabled: true
        }]
    );
    // Its trigger words come from the file's training captions.
    click(&mut harness, "crosshatching");
    assert_eq!(
        harness.state().settings().generation.prompt,
        "a harbour at dusk, crosshatching"
    );
    // Four steps down with the keyboard: 0.8.
    harness
        .get_by_role_and_label(egui::accesskit::Role::Slider, "kohya")
        .focus();
    harness.run();
    for _ in 0..4 {
        harness.key_press(Key::ArrowLeft);
        harness.run();
    }
    let strength = harness.state().settings().generation.loras[0].strength;
    assert!((strength - 0.8).abs() < 1e-6, "strength {strength}");
    harness.snapshot_options("lora_chosen", &snapshot_options());

    let record = generate_and_wait(&mut harness);
    assert_eq!(
        record.outcome,
        "finished",
        "{:?}",
        harness.state().notices()
    );
    assert_eq!(record.prompt, "a harbour at dusk, crosshatching");
    assert_eq!(record.loras.len(), 1);
    let lora = &record.loras[0];
    assert_eq!(lora.name, "kohya");
    assert!((lora.strength - 0.8).abs() < 1e-6);
    assert_eq!(
        lora.sha256,
        pentimento_inference::sha256::of_file(&file).expect("hash")
    );
    assert_eq!(lora.credits.title.as_deref(), Some("Tiny ink"));
    assert_eq!(lora.credits.license.as_deref(), Some("CC0-1.0"));

    click(&mut harness, "Provenance");
    click(&mut harness, "Show log");
    harness.get_by_label(&format!(
        "LoRA: kohya at {} (\"Tiny ink\", by Pentimento fixtures, license CC0-1.0)",
        lora.strength
    ));
}

#[test]
fn a_prompt_tag_for_a_missing_lora_is_explained() {
    let sandbox = Sandbox::new();
    with_kohya_in_the_lora_folder(&sandbox);
    let mut harness = ready_window(&sandbox);
    harness.state_mut().settings_mut().generation.prompt =
        "a harbour <lora:watercolour:0.7>".to_owned();
    click(&mut harness, "Generate");
    assert!(!harness.state().generation.is_running());
    let notice = last_notice(&harness);
    assert!(
        notice.contains("no watercolour.safetensors in the LoRA folder"),
        "{notice}"
    );
    // The tag of one that is there works.
    harness.state_mut().settings_mut().generation.prompt = "a harbour <lora:kohya:0.5>".to_owned();
    let record = generate_and_wait(&mut harness);
    assert_eq!(record.prompt, "a harbour");
    assert_eq!(record.loras[0].strength, 0.5);
}
