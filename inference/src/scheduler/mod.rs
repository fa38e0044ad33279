//! Noise schedulers, each in its own file behind one trait, computing what diffusers'
//! schedulers compute (checked step by step against diffusers' own output in the tests).
//!
//! A scheduler is created for a number of inference steps and then driven by step index: the
//! pipeline scales the UNet input, runs the UNet at `timesteps()[index]`, and hands the
//! prediction to `step`.

pub mod common;
pub mod config;
pub mod ddim;
pub mod dpm_solver;
pub mod euler;
pub mod lcm;
pub mod pndm;

use std::path::PathBuf;

pub use config::{PipelineAdjustment, SchedulerConfig};

use crate::rng::NoiseSource;

/// Why a scheduler cannot be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchedulerError {
    /// The configuration asks for something not supported.
    #[error(
        "the scheduler configuration sets {key} to \"{value}\", which is not supported (use {supported})"
    )]
    Unsupported {
        /// The configuration key.
        key: &'static str,
        /// Its value.
        value: String,
        /// What works.
        supported: &'static str,
    },
    /// The configuration is malformed.
    #[error("the scheduler configuration is invalid: {reason}")]
    Invalid {
        /// What is wrong.
        reason: String,
    },
    /// The configuration file could not be read or parsed.
    #[error("could not use this scheduler configuration ({reason}): {}", path.display())]
    Config {
        /// What is wrong.
        reason: String,
        /// The file.
        path: PathBuf,
    },
    /// The step count does not suit the scheduler.
    #[error("{scheduler} cannot run {steps} steps: {reason}")]
    Steps {
        /// The scheduler.
        scheduler: SchedulerKind,
        /// The requested count.
        steps: usize,
        /// Why.
        reason: String,
    },
}

impl SchedulerError {
    fn unsupported(key: &'static str, value: &str, supported: &'static str) -> Self {
        Self::Unsupported {
            key,
            value: value.to_owned(),
            supported,
        }
    }
}

/// The schedulers Pentimento offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchedulerKind {
    /// DDIM (eta configurable).
    Ddim,
    /// PNDM (the SD 1.x default; PLMS when PRK steps are skipped).
    Pndm,
    /// Euler (discrete).
    Euler,
    /// Euler ancestral.
    EulerAncestral,
    /// DPM-Solver++ 2M.
    DpmPlusPlus2M,
    /// DPM-Solver++ 2M with Karras sigmas.
    DpmPlusPlus2MKarras,
    /// Latent consistency model scheduler.
    Lcm,
}

impl SchedulerKind {
    /// Every scheduler, in menu order.
    pub const ALL: [Self; 7] = [
        Self::Ddim,
        Self::Pndm,
        Self::Euler,
        Self::EulerAncestral,
        Self::DpmPlusPlus2M,
        Self::DpmPlusPlus2MKarras,
        Self::Lcm,
    ];

    /// The command-line name (`ddim`, `euler-a`, `dpmpp-2m-karras`, …).
    pub fn cli_name(self) -> &'static str {
        match self {
            Self::Ddim => "ddim",
            Self::Pndm => "pndm",
            Self::Euler => "euler",
            Self::EulerAncestral => "euler-a",
            Self::DpmPlusPlus2M => "dpmpp-2m",
            Self::DpmPlusPlus2MKarras => "dpmpp-2m-karras",
            Self::Lcm => "lcm",
        }
    }

    /// The name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ddim => "DDIM",
            Self::Pndm => "PNDM",
            Self::Euler => "Euler",
            Self::EulerAncestral => "Euler ancestral",
            Self::DpmPlusPlus2M => "DPM++ 2M",
            Self::DpmPlusPlus2MKarras => "DPM++ 2M Karras",
            Self::Lcm => "LCM",
        }
    }

    /// Whether the scheduler draws fresh noise inside its steps (then the seed matters
    /// throughout the run, not only for the initial latents).
    pub fn draws_noise_in_steps(self, eta: f32) -> bool {
        match self {
            Self::EulerAncestral | Self::Lcm => true,
            Self::Ddim => eta > 0.0,
            _ => false,
        }
    }
}

crate::choice_text!(SchedulerKind, "scheduler");

/// What one denoising step starts from. The two slices have the same length (the latents);
/// naming them keeps a call from swapping the sample and the prediction.
#[derive(Clone, Copy, Debug)]
pub struct Step<'a> {
    /// Which step of the run (an index into `timesteps`).
    pub index: usize,
    /// The latents at this step.
    pub sample: &'a [f32],
    /// The UNet's (guided) prediction for them.
    pub model_output: &'a [f32],
}

/// A noise scheduler set up for one run.
pub trait Scheduler: Send + std::fmt::Debug {
    /// The timesteps the UNet runs at, in order (one per `step` call).
    fn timesteps(&self) -> &[f32];

    /// The factor the initial standard-normal noise is multiplied by: 1 for the ᾱ-indexed
    /// schedulers, the largest sigma for the Euler family (sqrt(σ_max² + 1) with leading spacing).
    fn init_noise_sigma(&self) -> f32 {
        1.0
    }

    /// Scales the UNet input in place for step `index` (Euler-type schedulers divide by
    /// sqrt(sigma² + 1); the others leave it).
    fn scale_model_input(&self, _sample: &mut [f32], _index: usize) {}

    /// One denoising step: from `step.sample` at step `step.index` and the UNet's (guided) prediction,
    /// the sample at the next step. Schedulers that inject noise draw it from `noise`.
    fn step(&mut self, step: Step<'_>, noise: &mut dyn NoiseSource) -> Vec<f32>;

    /// `original` noised to the level of step `index` with the standard-normal `noise`
    /// (img2img's starting point, and latent-blend inpainting's background each step).
    fn add_noise(&self, original: &[f32], noise: &[f32], index: usize) -> Vec<f32>;
}

/// Creates a scheduler of `kind` from a model's configuration for `steps` inference steps.
/// `eta` is DDIM's noise amount (0 = deterministic); other schedulers ignore it.
pub fn create(
    kind: SchedulerKind,
    config: &SchedulerConfig,
    steps: usize,
    eta: f32,
) -> Result<Box<dyn Scheduler>, SchedulerError> {
    if steps == 0 {
        return Err(SchedulerError::Steps {
            scheduler: kind,
            steps,
            reason: "at least one step is needed".to_owned(),
        });
    }
    let train_steps = config.num_train_timesteps.unwrap_or(1000);
    if steps > train_steps {
        return Err(SchedulerError::Steps {
            scheduler: kind,
            steps,
            reason: format!("the model was trained with {train_steps} timesteps"),
        });
    }
    Ok(match kind {
        SchedulerKind::Ddim => Box::new(ddim::Ddim::new(config, steps, eta)?),
        SchedulerKind::Pndm => Box::new(pndm::Pndm::new(config, steps)?),
        SchedulerKind::Euler => Box::new(euler::Euler::new(config, steps)?),
        SchedulerKind::EulerAncestral => Box::new(euler::Euler::ancestral(config, steps)?),
        SchedulerKind::DpmPlusPlus2M => Box::new(dpm_solver::DpmSolver::new(config, steps, false)?),
        SchedulerKind::DpmPlusPlus2MKarras => {
            Box::new(dpm_solver::DpmSolver::new(config, steps, true)?)
        }
        SchedulerKind::Lcm => Box::new(lcm::Lcm::new(config, steps)?),
    })
}
