//! Every component of every tiny fixture pipeline loads in the real ONNX Runtime and runs with
//! inputs built from the signature its metadata declares — in both conventions in the wild
//! (diffusers' conversion script and optimum) — and the two conventions, which hold the same
//! weights, compute the same thing.

use std::sync::Arc;

use ort::session::Session;
use ort::value::{DynValue, Tensor};
use pentimento_inference::model::signature::{TimestepInput, VaeEncoderOutput};
use pentimento_inference::model::{
    Component, ComponentSignature, Conventions, ElementType, ModelFolder, TensorSpec, load_session,
};
use pentimento_inference::{LocateOptions, OnnxRuntime};
use pentimento_tests::fixture_model;

/// The error model of the parity tests: how far two runs of the same weights may differ.
#[allow(dead_code)]
#[path = "../inference/tests/common/error_model.rs"]
mod error_model;

/// Latent size the components run at; the image is 8× larger.
const LATENT: i64 = 8;
/// Batch as classifier-free guidance uses it (unconditional + conditional).
const BATCH: i64 = 2;
/// CLIP's sequence length.
const TOKENS: i64 = 77;

fn runtime() -> Arc<OnnxRuntime> {
    OnnxRuntime::initialize(&LocateOptions::default()).unwrap_or_else(|err| panic!("{err}"))
}

struct LoadedModel {
    folder: ModelFolder,
    sessions: Vec<(Component, Session, ComponentSignature)>,
    conventions: Conventions,
}

fn load(name: &str) -> LoadedModel {
    let runtime = runtime();
    let folder = ModelFolder::open(&fixture_model(name)).unwrap_or_else(|err| panic!("{err}"));
    let mut sessions = Vec::new();
    for files in &folder.components {
        let session = load_session(&runtime, files, Some(1)).unwrap_or_else(|err| panic!("{err}"));
        let signature = ComponentSignature::of_session(files.component, &session)
            .unwrap_or_else(|err| panic!("{err}"));
        sessions.push((files.component, session, signature));
    }
    let signature = |component| {
        sessions
            .iter()
            .find(|(c, _, _)| *c == component)
            .map(|(_, _, signature)| signature)
    };
    let conventions = Conventions::detect(
        signature(Component::TextEncoder).expect("text encoder"),
        signature(Component::Unet).expect("unet"),
        signature(Component::VaeEncoder),
        &folder.component(Component::Unet).expect("unet").model,
    )
    .unwrap_or_else(|err| panic!("{err}"));
    LoadedModel {
        folder,
        sessions,
        conventions,
    }
}

/// A deterministic, non-trivial float pattern.
fn pattern(len: usize, seed: f32) -> Vec<f32> {
    (0..len)
        .map(|index| ((index as f32 * 0.618 + seed) * 2.399).sin())
        .collect()
}

fn element_count(shape: &[i64]) -> usize {
    shape.iter().product::<i64>() as usize
}

/// Concrete shape for a declared one: fixed dimensions are kept, dynamic ones take `fill`.
fn concrete(spec: &TensorSpec, fill: &[i64]) -> Vec<i64> {
    assert_eq!(
        spec.shape.len(),
        fill.len(),
        "{} has rank {}, the test expects {}",
        spec.name,
        spec.shape.len(),
        fill.len()
    );
    spec.shape
        .iter()
        .zip(fill)
        .map(|(dim, &fill)| match dim {
            pentimento_inference::model::signature::Dimension::Fixed(size) => *size as i64,
            pentimento_inference::model::signature::Dimension::Dynamic(_) => fill,
        })
        .collect()
}

fn float_tensor(spec: &TensorSpec, shape: Vec<i64>, seed: f32) -> DynValue {
    assert_eq!(spec.element, ElementType::Float32, "{}", spec.name);
    let data = pattern(element_count(&shape), seed);
    Tensor::from_array((shape, data))
        .expect("tensor")
        .into_dyn()
}

/// Inputs for one component, built only from its declared signature and the detected
/// conventions.
fn inputs_for(
    component: Component,
    signature: &ComponentSignature,
    conventions: &Conventions,
) -> Vec<(String, DynValue)> {
    let mut inputs = Vec::new();
    for spec in &signature.inputs {
        let value = match (component, spec.name.as_str()) {
            (Component::TextEncoder, "input_ids") => {
                let shape = concrete(spec, &[BATCH, TOKENS]);
                let ids: Vec<i64> = (0..element_count(&shape) as i64)
                    .map(|index| index % 997)
                    .collect();
                match conventions.input_ids {
                    ElementType::Int32 => Tensor::from_array((
                        shape,
                        ids.iter().map(|&id| id as i32).collect::<Vec<_>>(),
                    ))
                    .expect("tensor")
                    .into_dyn(),
                    ElementType::Int64 => {
                        Tensor::from_array((shape, ids)).expect("tensor").into_dyn()
                    }
                    ref other => panic!("input_ids of type {other}"),
                }
            }
            (Component::Unet, "sample") => {
                let channels = conventions.unet_in_channels as i64;
                float_tensor(
                    spec,
                    concrete(spec, &[BATCH, channels, LATENT, LATENT]),
                    1.0,
                )
            }
            (Component::Unet, "timestep") => match conventions.timestep {
                TimestepInput::Float32Batch => {
                    Tensor::from_array((vec![BATCH], vec![501.0_f32; BATCH as usize]))
                        .expect("tensor")
                        .into_dyn()
                }
                TimestepInput::Float32Scalar => Tensor::from_array(((), vec![501.0_f32]))
                    .expect("tensor")
                    .into_dyn(),
                TimestepInput::Int64Batch => {
                    Tensor::from_array((vec![BATCH], vec![501_i64; BATCH as usize]))
                        .expect("tensor")
                        .into_dyn()
                }
                TimestepInput::Int64Scalar => Tensor::from_array(((), vec![501_i64]))
                    .expect("tensor")
                    .into_dyn(),
                other => panic!("the fixtures are fp32, timestep is {other:?}"),
            },
            (Component::Unet, "encoder_hidden_states") => {
                let width = conventions
                    .text_embedding_width
                    .expect("the text encoder declares its width")
                    as i64;
                float_tensor(spec, concrete(spec, &[BATCH, TOKENS, width]), 2.0)
            }
            (Component::VaeEncoder, "sample") => {
                float_tensor(spec, concrete(spec, &[1, 3, LATENT * 8, LATENT * 8]), 3.0)
            }
            (Component::VaeDecoder, "latent_sample") => {
                float_tensor(spec, concrete(spec, &[1, 4, LATENT, LATENT]), 4.0)
            }
            (component, name) => panic!("unexpected input `{name}` of the {component}"),
        };
        inputs.push((spec.name.clone(), value));
    }
    inputs
}

/// The output shape each component must produce from the inputs above.
fn expected_output(component: Component, conventions: &Conventions) -> (&'static str, Vec<i64>) {
    let width = conventions.text_embedding_width.expect("width") as i64;
    match component {
        Component::TextEncoder => ("last_hidden_state", vec![BATCH, TOKENS, width]),
        Component::Unet => ("out_sample", vec![BATCH, 4, LATENT, LATENT]),
        Component::VaeEncoder => match conventions.vae_encoder_output {
            Some(VaeEncoderOutput::LatentSample) => ("latent_sample", vec![1, 4, LATENT, LATENT]),
            Some(VaeEncoderOutput::LatentParameters) => {
                ("latent_parameters", vec![1, 8, LATENT, LATENT])
            }
            None => panic!("no VAE encoder convention"),
        },
        Component::VaeDecoder => ("sample", vec![1, 3, LATENT * 8, LATENT * 8]),
    }
}

/// Runs one component and returns its main output, after checking its shape and values.
fn run_component(model: &mut LoadedModel, component: Component) -> Vec<f32> {
    let conventions = model.conventions.clone();
    let (_, session, signature) = model
        .sessions
        .iter_mut()
        .find(|(c, _, _)| *c == component)
        .unwrap_or_else(|| panic!("{} has no {component}", model.folder.root.display()));
    let inputs = inputs_for(component, signature, &conventions);
    let (output_name, expected_shape) = expected_output(component, &conventions);
    let outputs = session
        .run(inputs)
        .unwrap_or_else(|err| panic!("{component} failed to run: {err}"));
    let (shape, data) = outputs[output_name]
        .try_extract_tensor::<f32>()
        .expect("float output");
    let shape: Vec<i64> = shape.iter().copied().collect();
    assert_eq!(shape, expected_shape, "{component} output `{output_name}`");
    assert!(
        data.iter().all(|value| value.is_finite()),
        "{component} produced non-finite values"
    );
    let spread = data.iter().fold(0.0_f32, |acc, v| acc.max(v.abs()));
    assert!(spread > 0.0, "{component} produced all zeros");
    data.to_vec()
}

fn max_abs_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The fixture `name` takes `input_ids` and the timestep as `inputs` says, its VAE encoder
/// returns `vae_output`, and its text embeddings are 32 wide.
fn assert_convention(
    name: &str,
    c: &Conventions,
    (input_ids, timestep): (ElementType, TimestepInput),
    vae_output: VaeEncoderOutput,
) {
    assert_eq!(c.input_ids, input_ids, "{name}");
    assert_eq!(c.timestep, timestep, "{name}");
    assert_eq!(c.vae_encoder_output, Some(vae_output), "{name}");
    assert_eq!(c.text_embedding_width, Some(32), "{name}");
}

#[test]
fn diffusers_convention_is_detected() {
    for name in ["tiny-sd", "tiny-sd-inpaint"] {
        let model = load(name);
        let c = &model.conventions;
        assert_convention(
            name,
            c,
            (ElementType::Int32, TimestepInput::Float32Batch),
            VaeEncoderOutput::LatentSample,
        );
        assert_eq!(c.latent_element, ElementType::Float32, "{name}");
        assert_eq!(c.unet_output, "out_sample", "{name}");
        assert_eq!(c.is_inpainting_unet(), name.contains("inpaint"), "{name}");
        assert_eq!(
            model.folder.pipeline_class(),
            Some("OnnxStableDiffusionPipeline").filter(|_| !name.contains("inpaint")).or(
                Some("OnnxStableDiffusionInpaintPipeline").filter(|_| name.contains("inpaint"))
            ),
            "{name}"
        );
    }
}

#[test]
fn optimum_convention_is_detected() {
    for name in ["tiny-sd-optimum", "tiny-sd-inpaint-optimum"] {
        let model = load(name);
        assert_convention(
            name,
            &model.conventions,
            (ElementType::Int64, TimestepInput::Float32Scalar),
            VaeEncoderOutput::LatentParameters,
        );
        assert_eq!(
            model.conventions.is_inpainting_unet(),
            name.contains("inpaint"),
            "{name}"
        );
    }
}

macro_rules! component_runs {
    ($($test:ident: $model:literal, $component:expr;)+) => {
        $(
            #[test]
            fn $test() {
                let mut model = load($model);
                run_component(&mut model, $component);
            }
        )+
    };
}

component_runs! {
    tiny_sd_text_encoder_runs: "tiny-sd", Component::TextEncoder;
    tiny_sd_unet_runs: "tiny-sd", Component::Unet;
    tiny_sd_vae_encoder_runs: "tiny-sd", Component::VaeEncoder;
    tiny_sd_vae_decoder_runs: "tiny-sd", Component::VaeDecoder;
    tiny_sd_inpaint_text_encoder_runs: "tiny-sd-inpaint", Component::TextEncoder;
    tiny_sd_inpaint_unet_runs: "tiny-sd-inpaint", Component::Unet;
    tiny_sd_inpaint_vae_encoder_runs: "tiny-sd-inpaint", Component::VaeEncoder;
    tiny_sd_inpaint_vae_decoder_runs: "tiny-sd-inpaint", Component::VaeDecoder;
    tiny_sd_optimum_text_encoder_runs: "tiny-sd-optimum", Component::TextEncoder;
    tiny_sd_optimum_unet_runs: "tiny-sd-optimum", Component::Unet;
    tiny_sd_optimum_vae_encoder_runs: "tiny-sd-optimum", Component::VaeEncoder;
    tiny_sd_optimum_vae_decoder_runs: "tiny-sd-optimum", Component::VaeDecoder;
    tiny_sd_inpaint_optimum_text_encoder_runs: "tiny-sd-inpaint-optimum", Component::TextEncoder;
    tiny_sd_inpaint_optimum_unet_runs: "tiny-sd-inpaint-optimum", Component::Unet;
    tiny_sd_inpaint_optimum_vae_encoder_runs: "tiny-sd-inpaint-optimum", Component::VaeEncoder;
    tiny_sd_inpaint_optimum_vae_decoder_runs: "tiny-sd-inpaint-optimum", Component::VaeDecoder;
}

/// The same weights exported both ways give the same results once each input is fed the way its
/// signature asks: the adaptation to each convention is right, not merely accepted. The two
/// graphs fuse operations differently, so they round differently, as two kernel families do.
#[test]
fn both_conventions_compute_the_same() {
    for (diffusers, optimum) in [
        ("tiny-sd", "tiny-sd-optimum"),
        ("tiny-sd-inpaint", "tiny-sd-inpaint-optimum"),
    ] {
        let mut a = load(diffusers);
        let mut b = load(optimum);
        for component in [
            Component::TextEncoder,
            Component::Unet,
            Component::VaeDecoder,
        ] {
            let expected = run_component(&mut a, component);
            let difference = max_abs_difference(&expected, &run_component(&mut b, component));
            let bound = error_model::component_bound(error_model::largest_magnitude(&expected));
            assert!(
                difference <= bound,
                "{diffusers} vs {optimum}: {component} differs by {difference} (bound {bound})"
            );
        }
        // The diffusers-style encoder returns the mean; optimum's returns mean and log-variance.
        let mean = run_component(&mut a, Component::VaeEncoder);
        let parameters = run_component(&mut b, Component::VaeEncoder);
        let difference = max_abs_difference(&mean, &parameters[..mean.len()]);
        let bound = error_model::component_bound(error_model::largest_magnitude(&mean));
        assert!(
            difference <= bound,
            "{diffusers} vs {optimum}: VAE encoder mean differs by {difference} (bound {bound})"
        );
    }
}
