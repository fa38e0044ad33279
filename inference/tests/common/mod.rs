//! Helpers shared by the integration tests: fixture paths, the one ONNX Runtime per test
//! process, goldens' scheduler names, recorded noise.

#![allow(dead_code)]

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use pentimento_inference::rng::NoiseSource;
use pentimento_inference::scheduler::SchedulerConfig;
use pentimento_inference::{
    CancelToken, GenerationRequest, Outcome, SchedulerKind, StableDiffusion, Variation, npy,
};

/// `tests/fixtures/`.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

#[allow(unused_imports)]
pub use triton::runtime;

/// The variations of a run left to finish; fails the test on an error.
pub fn generated(model: &mut StableDiffusion, request: &GenerationRequest) -> Vec<Variation> {
    let outcome = model
        .generate(
            request,
            &mut |_| ControlFlow::Continue(()),
            &CancelToken::new(),
        )
        .unwrap_or_else(|err| panic!("generation failed: {err}"));
    finished(outcome)
}

/// The variations of a run that must have finished.
pub fn finished(outcome: Outcome) -> Vec<Variation> {
    match outcome {
        Outcome::Finished(variations) => variations,
        Outcome::Cancelled { .. } => panic!("unexpectedly cancelled"),
    }
}

/// The final latents of a run's first variation.
pub fn first_latents(model: &mut StableDiffusion, request: &GenerationRequest) -> Vec<f32> {
    generated(model, request).remove(0).latents
}

/// A float32 `.npy` file, flattened.
pub fn load_npy(path: &Path) -> Vec<f32> {
    npy::read_f32(path)
        .unwrap_or_else(|err| panic!("{err}"))
        .iter()
        .copied()
        .collect()
}

/// The scheduler a golden's `params.json` describes.
pub fn scheduler_of(params: &serde_json::Value) -> SchedulerKind {
    match params["scheduler_class"].as_str().expect("class") {
        "DDIMScheduler" => SchedulerKind::Ddim,
        "PNDMScheduler" => SchedulerKind::Pndm,
        "EulerDiscreteScheduler" => SchedulerKind::Euler,
        "EulerAncestralDiscreteScheduler" => SchedulerKind::EulerAncestral,
        "DPMSolverMultistepScheduler"
            if params["scheduler_config"]["use_karras_sigmas"] == true =>
        {
            SchedulerKind::DpmPlusPlus2MKarras
        }
        "DPMSolverMultistepScheduler" => SchedulerKind::DpmPlusPlus2M,
        "LCMScheduler" => SchedulerKind::Lcm,
        other => panic!("no scheduler for {other}"),
    }
}

/// Where a golden's scheduler configuration comes from.
pub enum GoldenScheduler {
    /// The model folder's own `scheduler_config.json`: diffusers' pipeline was built with it
    /// and rewrote it, as Pentimento's pipeline must.
    File(SchedulerConfig),
    /// What diffusers' scheduler held, swapped in after the pipeline was built (so never
    /// rewritten).
    Held(SchedulerConfig),
}

/// A golden's scheduler configuration.
pub fn golden_scheduler(params: &serde_json::Value) -> GoldenScheduler {
    let parse = |value: &serde_json::Value| {
        SchedulerConfig::from_json(&value.to_string()).unwrap_or_else(|err| panic!("{err}"))
    };
    match params.get("scheduler_config_file") {
        Some(file) => GoldenScheduler::File(parse(file)),
        None => GoldenScheduler::Held(parse(&params["scheduler_config"])),
    }
}

/// The names of all golden runs.
pub fn golden_names() -> Vec<String> {
    let goldens = fixtures().join("goldens");
    listing::names(&goldens)
        .into_iter()
        .filter(|name| goldens.join(name).join("params.json").is_file())
        .collect()
}

/// Largest absolute difference between two equally long slices.
pub fn max_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Noise replayed from diffusers' recording, in order.
pub struct Recorded {
    /// The recorded values.
    pub values: Vec<f32>,
    /// How many have been used.
    pub position: usize,
}

impl Recorded {
    /// The recording in `step_noise.npy` of a golden folder (empty when it has none).
    pub fn from_golden(dir: &Path) -> Self {
        let path = dir.join("step_noise.npy");
        Self {
            values: if path.is_file() {
                load_npy(&path)
            } else {
                Vec::new()
            },
            position: 0,
        }
    }

    /// Whether every recorded value was used.
    pub fn exhausted(&self) -> bool {
        self.position == self.values.len()
    }
}

impl NoiseSource for Recorded {
    fn fill_standard_normal(&mut self, out: &mut [f32]) {
        let end = self.position + out.len();
        assert!(
            end <= self.values.len(),
            "more in-step noise drawn than diffusers drew"
        );
        out.copy_from_slice(&self.values[self.position..end]);
        self.position = end;
    }
}
pub mod error_model;
pub mod hub_server;
pub mod listing;
pub mod measure;
pub mod triton;

/// Checks that `error` is the kind `is_expected` accepts and that its message says each of
/// `says`; the message is returned for further checks.
pub fn assert_error<E: std::fmt::Display>(
    error: E,
    is_expected: impl FnOnce(&E) -> bool,
    says: &[&str],
) -> String {
    let text = error.to_string();
    assert!(is_expected(&error), "{text}");
    for part in says {
        assert!(text.contains(part), "expected {part:?} in: {text}");
    }
    text
}
