//! LoRA behaviour on the tiny fixture models with the real ONNX Runtime: what each layout reads
//! as, which files are refused and how, that only the sessions a change affects are re-created,
//! that merged weights never enter the optimized-graph cache, float16 weights, weights stored in
//! an external file, and keys that match nothing. Parity with diffusers' own LoRA loading is in
//! pipeline_parity (the `txt2img-euler-lora-*` goldens).

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::{first_latents as latents, fixtures, max_difference, runtime};
use pentimento_inference::lora::onnx::{ModelWeights, TensorData};
use pentimento_inference::lora::{LoraComponent, LoraFile, LoraFormat, LoraRequest, merge};
use pentimento_inference::{
    Component, GenerationRequest, InferenceError, LoadOptions, SchedulerKind, StableDiffusion,
};

fn lora(name: &str) -> PathBuf {
    fixtures().join("loras").join(name)
}

fn load_from(folder: &Path, cache: Option<&Path>) -> StableDiffusion {
    StableDiffusion::load(
        runtime(),
        folder,
        LoadOptions {
            intra_threads: Some(1),
            optimized_cache: cache.map(Path::to_path_buf),
            // These tests are about what a LoRA does with entries that exist.
            cache_write: pentimento_inference::pipeline::CacheWrite::DuringLoad,
            ..LoadOptions::default()
        },
    )
    .unwrap_or_else(|err| panic!("{err}"))
}

fn load(name: &str) -> StableDiffusion {
    load_from(&fixtures().join("models").join(name), None)
}

fn request(loras: &[(&str, f32)]) -> GenerationRequest {
    GenerationRequest {
        prompt: "a red apple on a wooden table".to_owned(),
        width: 64,
        height: 64,
        steps: 3,
        scheduler: SchedulerKind::Euler,
        seed: 42,
        count: 1,
        loras: loras
            .iter()
            .map(|(name, strength)| LoraRequest {
                path: lora(name),
                strength: *strength,
            })
            .collect(),
        ..GenerationRequest::text_to_image("")
    }
}

fn rebuilt(model: &StableDiffusion) -> Vec<Component> {
    model
        .last_lora_rebuild()
        .iter()
        .map(|rebuild| rebuild.component)
        .collect()
}

#[test]
fn each_layout_reads_with_its_pairs_and_metadata() {
    let cases = [
        ("kohya.safetensors", LoraFormat::Kohya, 60, true),
        ("locon-ldm.safetensors", LoraFormat::KohyaLdm, 14, false),
        ("peft.safetensors", LoraFormat::Peft, 32, true),
        (
            "attn-procs.safetensors",
            LoraFormat::DiffusersLegacy,
            16,
            false,
        ),
    ];
    for (name, format, pairs, text_encoder) in cases {
        let file = LoraFile::open(&lora(name)).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(file.format, format, "{name}");
        assert_eq!(file.pairs.len(), pairs, "{name}");
        assert_eq!(
            file.components().contains(&LoraComponent::TextEncoder),
            text_encoder,
            "{name}"
        );
        assert_eq!(file.sha256.len(), 64);
    }
    let kohya = LoraFile::open(&lora("kohya.safetensors")).expect("reads");
    assert_eq!(kohya.metadata.title(), Some("Tiny ink"));
    assert_eq!(kohya.metadata.author(), Some("Pentimento fixtures"));
    assert_eq!(kohya.metadata.license(), Some("CC0-1.0"));
    assert_eq!(
        kohya.metadata.trigger_words(),
        ["ink sketch", "crosshatching", "portrait"]
    );
    assert!(
        kohya
            .metadata
            .training()
            .contains(&("images", "24".to_owned()))
    );
    let locon = LoraFile::open(&lora("locon-ldm.safetensors")).expect("reads");
    assert!(locon.has_convolutions(), "3×3 convolutions");
    assert!(!kohya.has_convolutions(), "1×1 ones only");
}

#[test]
fn other_kinds_of_file_are_refused_with_what_they_are() {
    let message = |path: &Path| LoraFile::open(path).expect_err("refused").to_string();
    let loha = message(&lora("loha.safetensors"));
    assert!(loha.contains("LoHa"), "{loha}");
    let sdxl = message(&lora("sdxl.safetensors"));
    assert!(sdxl.contains("SDXL"), "{sdxl}");

    let dir = tempfile::tempdir().expect("folder");
    let pickle = dir.path().join("style.ckpt");
    std::fs::write(&pickle, b"PK\x03\x04 not read").expect("write");
    let refused = message(&pickle);
    assert!(refused.contains("only .safetensors"), "{refused}");
    let truncated = dir.path().join("cut.safetensors");
    let bytes = std::fs::read(lora("kohya.safetensors")).expect("read");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let damaged = message(&truncated);
    assert!(damaged.starts_with("cannot read the LoRA"), "{damaged}");
    assert!(damaged.contains("cut.safetensors"), "{damaged}");
}

#[test]
fn a_lora_for_another_base_is_refused_with_what_it_was_made_for() {
    let mut model = load("tiny-sd");
    let err = model
        .use_loras(&request(&[("sd2-shapes.safetensors", 1.0)]).loras)
        .expect_err("SD 2.x shapes");
    let message = err.to_string();
    assert!(matches!(err, InferenceError::Lora(_)), "{err:?}");
    assert!(message.contains("does not fit this model"), "{message}");
    assert!(message.contains("sd_v2"), "{message}");
    assert!(message.contains("1024"), "{message}");
    // The model still works without it.
    assert!(model.applied_loras().is_empty());
    latents(&mut model, &request(&[]));
}

#[test]
fn only_the_sessions_a_change_affects_are_created_again() {
    let mut model = load("tiny-sd");
    let base = latents(&mut model, &request(&[]));
    assert!(rebuilt(&model).is_empty(), "no LoRA, nothing to do");

    // The LDM LoCon changes the UNet only.
    let locon = latents(&mut model, &request(&[("locon-ldm.safetensors", 1.0)]));
    assert_eq!(rebuilt(&model), [Component::Unet]);
    assert!(
        max_difference(&base, &locon) > 0.05,
        "the LoRA changes the result"
    );
    let weaker = latents(&mut model, &request(&[("locon-ldm.safetensors", 0.5)]));
    assert_eq!(rebuilt(&model), [Component::Unet]);
    let same = latents(&mut model, &request(&[("locon-ldm.safetensors", 0.5)]));
    assert!(rebuilt(&model).is_empty(), "same LoRAs, same sessions");
    assert_eq!(weaker, same);
    // One that also changes the text encoder.
    latents(&mut model, &request(&[("peft.safetensors", 0.7)]));
    assert_eq!(rebuilt(&model), [Component::TextEncoder, Component::Unet]);
    let applied = model.applied_loras();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].merged, 32);
    assert!(applied[0].unmatched.is_empty());
    // Back to none: the base model's results again, exactly.
    let again = latents(&mut model, &request(&[]));
    assert_eq!(rebuilt(&model), [Component::TextEncoder, Component::Unet]);
    assert_eq!(again, base);
}

#[test]
fn strength_zero_is_the_base_model_and_negative_strength_goes_the_other_way() {
    let mut model = load("tiny-sd");
    let base = latents(&mut model, &request(&[]));
    let zero = latents(&mut model, &request(&[("kohya.safetensors", 0.0)]));
    // W + 0·ΔW is W bit for bit; the in-memory model is optimized like the file.
    assert_eq!(zero, base);
    let plus = latents(&mut model, &request(&[("kohya.safetensors", 0.6)]));
    let minus = latents(&mut model, &request(&[("kohya.safetensors", -0.6)]));
    let moved = |a: &[f32]| max_difference(a, &base);
    assert!(moved(&plus) > 0.05 && moved(&minus) > 0.05);
    assert!(max_difference(&plus, &minus) > moved(&plus));
}

#[test]
fn merged_weights_never_enter_the_optimized_graph_cache() {
    let cache = tempfile::tempdir().expect("cache");
    let entries = || common::listing::names(cache.path());
    let folder = fixtures().join("models/tiny-sd");
    let mut model = load_from(&folder, Some(cache.path()));
    let before = entries();
    assert_eq!(
        before.len(),
        3,
        "text encoder, UNet, VAE decoder: {before:?}"
    );
    let with_lora = latents(&mut model, &request(&[("kohya.safetensors", 0.8)]));
    assert_eq!(entries(), before, "nothing stored for the LoRA set");
    let base = latents(&mut model, &request(&[]));
    assert_eq!(entries(), before);
    // A fresh load reads the base model from the cache and gives the base results.
    let mut fresh = load_from(&folder, Some(cache.path()));
    assert_eq!(latents(&mut fresh, &request(&[])), base);
    assert_ne!(with_lora, base);
}

#[test]
fn float16_weights_are_merged_in_float32_and_rounded_once() {
    let choice = [pentimento_inference::lora::LoraChoice {
        lora: std::sync::Arc::new(LoraFile::open(&lora("kohya.safetensors")).expect("reads")),
        strength: 0.8,
    }];
    let unet = |model: &str| {
        ModelWeights::read(
            &fixtures()
                .join("models")
                .join(model)
                .join("unet/model.onnx"),
        )
        .expect("reads")
    };
    let (full, half) = (unet("tiny-sd-inpaint"), unet("tiny-sd-inpaint-fp16"));
    let merged_full = merge::merge(&full, LoraComponent::Unet, &choice).expect("merges");
    let merged_half = merge::merge(&half, LoraComponent::Unet, &choice).expect("merges");
    assert_eq!(merged_half.tensors.len(), 48);
    assert_eq!(merged_full.tensors.len(), merged_half.tensors.len());
    let by_layer = |merged: &merge::Merged, weights: &ModelWeights| -> HashMap<String, Vec<f32>> {
        let names: HashMap<&str, &str> = weights
            .layers
            .iter()
            .map(|(path, layer)| (layer.initializer.as_str(), path.as_str()))
            .collect();
        merged
            .tensors
            .iter()
            .map(|tensor| {
                let values = tensor.to_f32();
                (names[tensor.name.as_str()].to_owned(), values)
            })
            .collect()
    };
    let full_values = by_layer(&merged_full, &full);
    for (layer, values) in by_layer(&merged_half, &half) {
        let reference = &full_values[&layer];
        let (base, _) = full
            .weight(&full.layers[&layer])
            .expect("the float32 weight");
        for ((value, exact), w) in values.iter().zip(reference).zip(&base) {
            // The float16 model's weight is W rounded to float16 (error ≤ half a float16 ulp of
            // W, 2^-11·|W|); the merge adds ΔW in float32 and rounds once more (≤ 2^-11 of the
            // result), and float16's smallest step is 2^-24.
            let bound = 2.0_f32.powi(-11) * (w.abs() + exact.abs()) + 2.0_f32.powi(-24);
            assert!(
                (value - exact).abs() <= bound,
                "{layer}: {value} against {exact} (W = {w})"
            );
        }
    }
    // And ONNX Runtime runs it.
    let mut model = load("tiny-sd-inpaint-fp16");
    let result = latents(&mut model, &request(&[("kohya.safetensors", 0.8)]));
    assert!(result.iter().all(|value| value.is_finite()));
}

/// A copy of tiny-sd whose UNet keeps every weight in `weights.pb`, as large exports do.
fn with_external_unet(dir: &Path) -> PathBuf {
    let source = fixtures().join("models/tiny-sd");
    let target = dir.join("tiny-sd-external");
    copy_folder(&source, &target);
    let weights = ModelWeights::read(&source.join("unet/model.onnx")).expect("reads");
    let mut blob = Vec::new();
    let mut moved = HashMap::new();
    for (name, initializer) in &weights.initializers {
        if let TensorData::Inline(range) = &initializer.data {
            blob.resize(blob.len().next_multiple_of(4096), 0);
            let start = blob.len() as u64;
            blob.extend_from_slice(&weights.bytes[range.clone()]);
            moved.insert(name.clone(), start..blob.len() as u64);
        }
    }
    std::fs::write(
        target.join("unet/model.onnx"),
        weights.with_external(&moved, "weights.pb"),
    )
    .expect("write");
    std::fs::write(target.join("unet/weights.pb"), blob).expect("write");
    target
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("folder");
    for entry in std::fs::read_dir(from).expect("folder") {
        let entry = entry.expect("entry");
        let path = entry.path();
        if path.is_dir() {
            copy_folder(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).expect("copy");
        }
    }
}

#[test]
fn weights_in_an_external_file_take_the_lora_the_same_way() {
    let dir = tempfile::tempdir().expect("folder");
    let external = with_external_unet(dir.path());
    let unet = ModelWeights::read(&external.join("unet/model.onnx")).expect("reads");
    assert!(unet.layers.values().all(|layer| matches!(
        unet.initializers[&layer.initializer].data,
        TensorData::External { .. }
    )));
    let loras = [("kohya.safetensors", 0.8)];
    let mut inline = load("tiny-sd");
    let mut outside = load_from(&external, None);
    assert_eq!(
        latents(&mut outside, &request(&[])),
        latents(&mut inline, &request(&[]))
    );
    assert_eq!(
        latents(&mut outside, &request(&loras)),
        latents(&mut inline, &request(&loras))
    );
}

#[test]
fn keys_that_match_nothing_are_reported() {
    // The kohya fixture with two pairs for layers no SD model has.
    let bytes = std::fs::read(lora("kohya.safetensors")).expect("read");
    let original = safetensors::SafeTensors::deserialize(&bytes).expect("reads");
    let mut tensors: Vec<(String, safetensors::tensor::TensorView<'_>)> = original.tensors();
    let (down, up) = (
        original
            .tensor("lora_unet_mid_block_attentions_0_proj_in.lora_down.weight")
            .expect("pair"),
        original
            .tensor("lora_unet_mid_block_attentions_0_proj_in.lora_up.weight")
            .expect("pair"),
    );
    for stem in [
        "lora_unet_extra_block_0_proj",
        "lora_unet_mid_block_attentions_9_proj_in",
    ] {
        tensors.push((format!("{stem}.lora_down.weight"), down.clone()));
        tensors.push((format!("{stem}.lora_up.weight"), up.clone()));
    }
    let dir = tempfile::tempdir().expect("folder");
    let path = dir.path().join("extra.safetensors");
    std::fs::write(
        &path,
        safetensors::serialize(tensors, None).expect("serializes"),
    )
    .expect("write");
    let mut model = load("tiny-sd");
    let applied = model
        .use_loras(&[LoraRequest {
            path,
            strength: 1.0,
        }])
        .expect("applies what matches");
    assert_eq!(applied[0].merged, 60);
    assert_eq!(
        applied[0].unmatched,
        [
            "lora_unet_extra_block_0_proj",
            "lora_unet_mid_block_attentions_9_proj_in"
        ]
    );
}

#[test]
fn the_cached_graph_takes_merged_attention_weights_like_a_fresh_optimization() {
    use pentimento_inference::pipeline::RebuildKind;
    let cache = tempfile::tempdir().expect("cache");
    let folder = fixtures().join("models/tiny-sd");
    // The PEFT fixture changes attention projections and feed-forward MatMuls only, whose
    // weights ONNX Runtime's optimizer keeps as they are; kohya's also changes 1×1 convolutions,
    // which it reorders.
    let peft = request(&[("peft.safetensors", 0.7)]);
    let mut cached = load_from(&folder, Some(cache.path()));
    let from_cache = latents(&mut cached, &peft);
    let kinds: Vec<RebuildKind> = cached.last_lora_rebuild().iter().map(|r| r.how).collect();
    assert_eq!(kinds, [RebuildKind::CachedGraph, RebuildKind::CachedGraph]);
    let mut fresh = load("tiny-sd");
    let optimized = latents(&mut fresh, &peft);
    let kinds: Vec<RebuildKind> = fresh.last_lora_rebuild().iter().map(|r| r.how).collect();
    assert_eq!(kinds, [RebuildKind::InMemory, RebuildKind::InMemory]);
    assert_eq!(from_cache, optimized);
    // Convolutions reordered by the optimizer: the graph is optimized again.
    latents(&mut cached, &request(&[("locon-ldm.safetensors", 1.0)]));
    let unet = cached
        .last_lora_rebuild()
        .iter()
        .find(|rebuild| rebuild.component == Component::Unet)
        .expect("the UNet was made again");
    assert_eq!(unet.how, RebuildKind::InMemory);
}
