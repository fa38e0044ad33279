//! The latent consistency model scheduler, as diffusers' `LCMScheduler`.

use crate::rng::NoiseSource;
use crate::scheduler::common::{Common, Defaults, clip_to};
use crate::scheduler::ddim::add_noise_alpha;
use crate::scheduler::{Scheduler, SchedulerConfig, SchedulerError, SchedulerKind, Step};

const LCM_DEFAULTS: Defaults = Defaults {
    beta_start: 0.00085,
    beta_end: 0.012,
    beta_schedule: "scaled_linear",
    spacing: "leading",
};

/// Multi-step consistency sampling: each step predicts the clean sample and re-noises it to the
/// next timestep (with fresh noise).
#[derive(Clone, Debug)]
pub struct Lcm {
    common: Common,
    final_alpha: f32,
    integer_timesteps: Vec<i64>,
    timesteps: Vec<f32>,
    /// aka `config.timestep_scaling`.
    timestep_scaling: f32,
    clip: Option<f32>,
}

impl Lcm {
    /// LCM for `steps` inference steps.
    pub fn new(config: &SchedulerConfig, steps: usize) -> Result<Self, SchedulerError> {
        let common = Common::new(config, &LCM_DEFAULTS)?;
        let final_alpha = common.final_alpha(config.set_alpha_to_one.unwrap_or(true));
        let original_steps = config.original_inference_steps.unwrap_or(50);
        let steps_error = |reason: String| SchedulerError::Steps {
            scheduler: SchedulerKind::Lcm,
            steps,
            reason,
        };
        if original_steps == 0 || original_steps > common.train_steps {
            return Err(SchedulerError::Invalid {
                reason: format!("original_inference_steps is {original_steps}"),
            });
        }
        if steps > original_steps {
            return Err(steps_error(format!(
                "at most {original_steps} (the model's original_inference_steps)"
            )));
        }
        let k = (common.train_steps / original_steps) as i64;
        let origin: Vec<i64> = (1..=original_steps as i64)
            .rev()
            .map(|index| index * k - 1)
            .collect();
        // np.floor(np.linspace(0, len, num=steps, endpoint=False))
        let stride = origin.len() as f64 / steps as f64;
        let integer_timesteps: Vec<i64> = (0..steps)
            .map(|index| origin[(index as f64 * stride).floor() as usize])
            .collect();
        let timesteps = integer_timesteps.iter().map(|&t| t as f32).collect();
        let clip = config.clip_range(false);
        Ok(Self {
            common,
            final_alpha,
            integer_timesteps,
            timesteps,
            timestep_scaling: config.timestep_scaling.unwrap_or(10.0) as f32,
            clip,
        })
    }
}

impl Scheduler for Lcm {
    fn timesteps(&self) -> &[f32] {
        &self.timesteps
    }

    fn step(&mut self, step: Step<'_>, noise: &mut dyn NoiseSource) -> Vec<f32> {
        let (index, sample, model_output) = (step.index, step.sample, step.model_output);
        let timestep = self.integer_timesteps[index];
        let previous = self
            .integer_timesteps
            .get(index + 1)
            .copied()
            .unwrap_or(timestep);
        let alpha_t = self.common.alpha_at(timestep, self.final_alpha);
        let alpha_prev = self.common.alpha_at(previous, self.final_alpha);
        let beta_t = 1.0 - alpha_t;
        let beta_prev = 1.0 - alpha_prev;

        // Boundary-condition scalings, in float32 as torch computes them from the int timestep.
        let sigma_data_squared = 0.25_f32;
        let scaled = timestep as f32 * self.timestep_scaling;
        let c_skip = sigma_data_squared / (scaled * scaled + sigma_data_squared);
        let c_out = scaled / (scaled * scaled + sigma_data_squared).sqrt();

        let (sqrt_alpha, sqrt_beta) = (alpha_t.sqrt(), beta_t.sqrt());
        let mut original =
            (self.common.prediction).original(sqrt_alpha, sqrt_beta, model_output, sample);
        clip_to(&mut original, self.clip);
        let denoised: Vec<f32> = original
            .iter()
            .zip(sample)
            .map(|(&x0, &x)| c_out * x0 + c_skip * x)
            .collect();
        if index + 1 == self.integer_timesteps.len() {
            return denoised;
        }
        let mut fresh = vec![0.0; denoised.len()];
        noise.fill_standard_normal(&mut fresh);
        let (a, b) = (alpha_prev.sqrt(), beta_prev.sqrt());
        denoised
            .iter()
            .zip(&fresh)
            .map(|(&d, &n)| a * d + b * n)
            .collect()
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], index: usize) -> Vec<f32> {
        add_noise_alpha(&self.common, original, noise, self.integer_timesteps[index])
    }
}
