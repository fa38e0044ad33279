//! The attention rewrite against the exported graph, on ONNX Runtime: each rewritten UNet and
//! VAE gives the original's outputs, and a model loaded with fused attention generates what the
//! exported graph generates.
//!
//! Tolerance: the fused kernel computes the same sums in another order (tiles, one scale
//! instead of √s on both factors). Each reordering moves a float32 result by a few units in the
//! last place (~1e-7 relative); through a network of this depth the differences stay within
//! 1e-4 absolute on outputs of magnitude ~1, the bound we hold the rewrite to on every model.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::max_difference;
use common::measure::values;
use ort::session::Session;
use ort::value::Tensor;
use pentimento_inference::pipeline::AttentionGraph;
use pentimento_inference::pipeline::fused_attention::fuse_attention;
use pentimento_inference::{
    GenerationRequest, LoadOptions, LocateOptions, OnnxRuntime, SchedulerKind, StableDiffusion,
};

const TOLERANCE: f32 = 1e-4;

/// A named input: its shape and values.
type Input<'a> = (&'a str, Vec<usize>, Vec<f32>);

fn models() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/models")
}

fn runtime() -> Arc<OnnxRuntime> {
    OnnxRuntime::initialize(&LocateOptions::default()).unwrap_or_else(|err| panic!("{err}"))
}

fn session(runtime: &OnnxRuntime, model: &Path, fused: Option<&[u8]>) -> Session {
    let mut builder = Session::builder(runtime.environment())
        .expect("builder")
        .with_intra_threads(1)
        .expect("threads");
    match fused {
        None => builder.commit_from_file(model).expect("original session"),
        Some(bytes) => {
            let folder = model
                .parent()
                .expect("folder")
                .to_string_lossy()
                .into_owned();
            builder = builder
                .with_config_entry(
                    "session.model_external_initializers_file_folder_path",
                    folder,
                )
                .expect("config");
            builder.commit_from_memory(bytes).expect("fused session")
        }
    }
}

fn run(session: &mut Session, inputs: &[Input<'_>]) -> Vec<f32> {
    let values: Vec<(String, ort::value::DynValue)> = inputs
        .iter()
        .map(|(name, shape, data)| {
            let tensor = Tensor::from_array((shape.clone(), data.clone())).expect("tensor");
            ((*name).to_owned(), tensor.into_dyn())
        })
        .collect();
    let outputs = session.run(values).expect("runs");
    let (_, data) = outputs[0]
        .try_extract_tensor::<f32>()
        .expect("float output");
    data.to_vec()
}

#[test]
fn each_rewritten_graph_gives_the_original_outputs() {
    let runtime = runtime();
    // optimum's exports take the timestep as a scalar, the conversion script's one per sample.
    for (model, unet_channels, timestep) in [
        ("tiny-sd", 4, vec![2]),
        ("tiny-sd-inpaint", 9, vec![2]),
        ("tiny-sd-optimum", 4, vec![]),
        ("tiny-sd-inpaint-optimum", 9, vec![]),
    ] {
        let timestep_values = vec![901.0; timestep.iter().product()];
        // 16² latents: self-attention over 256 positions, cross-attention over 77 tokens.
        let cases: [(&str, Vec<Input<'_>>); 3] = [
            (
                "unet",
                vec![
                    (
                        "sample",
                        vec![2, unet_channels, 16, 16],
                        values(2 * unet_channels * 256, 1),
                    ),
                    ("timestep", timestep.clone(), timestep_values.clone()),
                    (
                        "encoder_hidden_states",
                        vec![2, 77, 32],
                        values(2 * 77 * 32, 2),
                    ),
                ],
            ),
            (
                "vae_decoder",
                vec![("latent_sample", vec![1, 4, 16, 16], values(4 * 256, 3))],
            ),
            (
                "vae_encoder",
                vec![("sample", vec![1, 3, 64, 64], values(3 * 64 * 64, 4))],
            ),
        ];
        for (component, inputs) in cases {
            let path = models().join(model).join(component).join("model.onnx");
            let original = std::fs::read(&path).expect("model");
            let fusion = fuse_attention(&original).expect("readable");
            let fused = fusion.model.expect("fused");
            let expected = run(&mut session(&runtime, &path, None), &inputs);
            let actual = run(&mut session(&runtime, &path, Some(&fused)), &inputs);
            let difference = max_difference(&expected, &actual);
            let magnitude = expected.iter().map(|v| v.abs()).fold(0.0, f32::max);
            eprintln!(
                "{model}/{component}: max difference {difference:e}, outputs up to {magnitude}"
            );
            assert!(
                difference <= TOLERANCE,
                "{model}/{component}: max difference {difference:e} (outputs up to {magnitude})"
            );
            assert!(magnitude > 0.1, "{model}/{component}: a degenerate output");
        }
    }
}

fn generate(model: &str, attention: AttentionGraph, request: &GenerationRequest) -> Vec<f32> {
    let mut loaded = StableDiffusion::load(
        runtime(),
        &models().join(model),
        LoadOptions {
            intra_threads: Some(1),
            attention,
            ..LoadOptions::default()
        },
    )
    .unwrap_or_else(|err| panic!("{err}"));
    common::first_latents(&mut loaded, request)
}

#[test]
fn a_model_with_fused_attention_generates_what_the_exported_graph_generates() {
    let request = GenerationRequest {
        prompt: "a red apple".to_owned(),
        width: 128,
        height: 128,
        steps: 4,
        scheduler: SchedulerKind::Ddim,
        seed: 5,
        ..GenerationRequest::text_to_image("")
    };
    let exported = generate("tiny-sd", AttentionGraph::Exported, &request);
    let fused = generate("tiny-sd", AttentionGraph::Fused, &request);
    let difference = max_difference(&exported, &fused);
    eprintln!("final latents: max difference {difference:e}");
    // Four steps of a deterministic scheduler pass the UNet's difference on with factors near
    // one: the same bound holds for the final latents.
    assert!(difference <= TOLERANCE, "latents differ by {difference:e}");
}
