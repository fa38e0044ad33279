//! Euler (Karras et al. 2022, algorithm 2), as diffusers' `EulerDiscreteScheduler`, and Euler
//! ancestral, as its `EulerAncestralDiscreteScheduler`.

use crate::rng::NoiseSource;
use crate::scheduler::common::{
    Common, Defaults, Prediction, Spacing, karras_sigmas, numpy_interp_index, sigma_to_t,
};
use crate::scheduler::{Scheduler, SchedulerConfig, SchedulerError, Step};

/// The Euler schedulers' defaults (`linspace` spacing).
pub const EULER_DEFAULTS: Defaults = Defaults {
    beta_start: 0.0001,
    beta_end: 0.02,
    beta_schedule: "linear",
    spacing: "linspace",
};

/// Timesteps and sigmas of the Euler-family schedulers.
#[derive(Clone, Debug)]
pub struct SigmaSchedule {
    /// Float timesteps, highest first.
    pub timesteps: Vec<f32>,
    /// One sigma per timestep plus the final one (0 or sigma_min).
    pub sigmas: Vec<f32>,
    /// The initial noise scale.
    pub init_noise_sigma: f32,
}

impl SigmaSchedule {
    /// diffusers' Euler `set_timesteps`.
    pub fn new(
        common: &Common,
        config: &SchedulerConfig,
        steps: usize,
        karras: bool,
    ) -> Result<Self, SchedulerError> {
        let mut timesteps = common.float_timesteps(steps);
        let training_sigmas = common.training_sigmas();
        let mut sigmas: Vec<f64> = match config.interpolation_type.as_deref().unwrap_or("linear") {
            "linear" => timesteps
                .iter()
                .map(|&t| numpy_interp_index(f64::from(t), &training_sigmas))
                .collect(),
            "log_linear" => {
                // From the largest training sigma down to the smallest.
                let largest = training_sigmas[training_sigmas.len() - 1].ln();
                let smallest = training_sigmas[0].ln();
                crate::scheduler::common::torch_linspace_f32(largest, smallest, steps + 1)
                    .into_iter()
                    .map(|value| f64::from(value.exp()))
                    .collect()
            }
            other => {
                return Err(SchedulerError::Unsupported {
                    key: "interpolation_type",
                    value: other.to_owned(),
                    supported: "linear, log_linear",
                });
            }
        };
        if config.timestep_type.as_deref().unwrap_or("discrete") != "discrete" {
            return Err(SchedulerError::Unsupported {
                key: "timestep_type",
                value: config.timestep_type.clone().unwrap_or_default(),
                supported: "discrete",
            });
        }
        if karras {
            let log_sigmas: Vec<f32> = training_sigmas.iter().map(|sigma| sigma.ln()).collect();
            let sigma_min = config.sigma_min.unwrap_or(sigmas[sigmas.len() - 1]);
            let sigma_max = config.sigma_max.unwrap_or(sigmas[0]);
            sigmas = karras_sigmas(sigma_min, sigma_max, steps);
            timesteps = sigmas
                .iter()
                .map(|&sigma| sigma_to_t(sigma, &log_sigmas) as f32)
                .collect();
        }
        let last = match config.final_sigmas_type.as_deref().unwrap_or("zero") {
            "zero" => 0.0,
            "sigma_min" => {
                let alpha = common.alphas_cumprod[0];
                f64::from(((1.0 - alpha) / alpha).sqrt())
            }
            other => {
                return Err(SchedulerError::Unsupported {
                    key: "final_sigmas_type",
                    value: other.to_owned(),
                    supported: "zero, sigma_min",
                });
            }
        };
        sigmas.push(last);
        let sigmas: Vec<f32> = sigmas.into_iter().map(|sigma| sigma as f32).collect();
        let max_sigma = sigmas.iter().copied().fold(f32::MIN, f32::max);
        let init_noise_sigma = match common.spacing {
            Spacing::Linspace | Spacing::Trailing => max_sigma,
            Spacing::Leading => (max_sigma * max_sigma + 1.0).sqrt(),
        };
        Ok(Self {
            timesteps,
            sigmas,
            init_noise_sigma,
        })
    }

    /// Divides the UNet input by sqrt(sigma² + 1).
    pub fn scale(&self, sample: &mut [f32], index: usize) {
        let sigma = self.sigmas[index];
        let scale = (sigma * sigma + 1.0).sqrt();
        for value in sample {
            *value /= scale;
        }
    }

    /// `x + sigma·noise` at step `index`.
    pub fn add_noise(&self, original: &[f32], noise: &[f32], index: usize) -> Vec<f32> {
        let sigma = self.sigmas[index];
        original
            .iter()
            .zip(noise)
            .map(|(&x, &n)| x + n * sigma)
            .collect()
    }

    /// The predicted clean sample at step `index`.
    pub fn original_sample(
        prediction: Prediction,
        sigma: f32,
        model_output: &[f32],
        sample: &[f32],
    ) -> Vec<f32> {
        match prediction {
            Prediction::Epsilon => sample
                .iter()
                .zip(model_output)
                .map(|(&x, &e)| x - sigma * e)
                .collect(),
            Prediction::VPrediction => {
                let output_factor = -sigma / (sigma * sigma + 1.0).sqrt();
                let sample_divisor = sigma * sigma + 1.0;
                sample
                    .iter()
                    .zip(model_output)
                    .map(|(&x, &v)| v * output_factor + x / sample_divisor)
                    .collect()
            }
            Prediction::Sample => model_output.to_vec(),
        }
    }
}

/// Euler's method on the probability-flow ODE, plain (deterministic) or ancestral (an Euler
/// step to a lower noise level, then fresh noise back up to the next one, as diffusers'
/// `EulerAncestralDiscreteScheduler`). Both walk the same sigma schedule.
#[derive(Clone, Debug)]
pub struct Euler {
    common: Common,
    schedule: SigmaSchedule,
    ancestral: bool,
}

impl Euler {
    /// Euler for `steps` inference steps (Karras sigmas when the configuration asks).
    pub fn new(config: &SchedulerConfig, steps: usize) -> Result<Self, SchedulerError> {
        let common = Common::new(config, &EULER_DEFAULTS)?;
        let karras = config.use_karras_sigmas.unwrap_or(false);
        let schedule = SigmaSchedule::new(&common, config, steps, karras)?;
        Ok(Self {
            common,
            schedule,
            ancestral: false,
        })
    }

    /// Euler ancestral for `steps` inference steps; draws noise every step.
    pub fn ancestral(config: &SchedulerConfig, steps: usize) -> Result<Self, SchedulerError> {
        let common = Common::new(config, &EULER_DEFAULTS)?;
        // diffusers' ancestral scheduler always interpolates linearly and ends at zero.
        let plain = SchedulerConfig {
            use_karras_sigmas: None,
            interpolation_type: None,
            final_sigmas_type: None,
            ..config.clone()
        };
        let schedule = SigmaSchedule::new(&common, &plain, steps, false)?;
        Ok(Self {
            common,
            schedule,
            ancestral: true,
        })
    }
}

impl Scheduler for Euler {
    fn timesteps(&self) -> &[f32] {
        &self.schedule.timesteps
    }

    fn init_noise_sigma(&self) -> f32 {
        self.schedule.init_noise_sigma
    }

    fn scale_model_input(&self, sample: &mut [f32], index: usize) {
        self.schedule.scale(sample, index);
    }

    fn step(&mut self, step: Step<'_>, noise: &mut dyn NoiseSource) -> Vec<f32> {
        let (index, sample, model_output) = (step.index, step.sample, step.model_output);
        let sigma = self.schedule.sigmas[index];
        let original =
            SigmaSchedule::original_sample(self.common.prediction, sigma, model_output, sample);
        let sigma_to = self.schedule.sigmas[index + 1];
        if !self.ancestral {
            let dt = sigma_to - sigma;
            return sample
                .iter()
                .zip(&original)
                .map(|(&x, &x0)| {
                    let derivative = (x - x0) / sigma;
                    x + derivative * dt
                })
                .collect();
        }
        let sigma_from = sigma;
        let sigma_up = (sigma_to * sigma_to * (sigma_from * sigma_from - sigma_to * sigma_to)
            / (sigma_from * sigma_from))
            .sqrt();
        let sigma_down = (sigma_to * sigma_to - sigma_up * sigma_up).sqrt();
        let dt = sigma_down - sigma;
        let mut fresh = vec![0.0; sample.len()];
        noise.fill_standard_normal(&mut fresh);
        sample
            .iter()
            .zip(&original)
            .zip(&fresh)
            .map(|((&x, &x0), &n)| {
                let derivative = (x - x0) / sigma;
                let stepped = x + derivative * dt;
                stepped + n * sigma_up
            })
            .collect()
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], index: usize) -> Vec<f32> {
        self.schedule.add_noise(original, noise, index)
    }
}
