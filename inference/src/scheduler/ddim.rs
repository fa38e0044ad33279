//! DDIM (Song et al. 2020), as diffusers' `DDIMScheduler`.

use crate::rng::NoiseSource;
use crate::scheduler::common::{Common, LINEAR_LEADING, clip_to};
use crate::scheduler::{Scheduler, SchedulerConfig, SchedulerError, Step};

/// Denoising diffusion implicit models; deterministic at eta 0.
#[derive(Clone, Debug)]
pub struct Ddim {
    common: Common,
    /// ᾱ used after the last training step (aka `final_alpha_cumprod`).
    final_alpha: f32,
    /// Integer timesteps, highest first.
    integer_timesteps: Vec<i64>,
    timesteps: Vec<f32>,
    /// Training steps between consecutive inference steps, as diffusers computes it.
    step_gap: i64,
    eta: f32,
    /// aka `config.clip_sample` with `config.clip_sample_range`.
    clip: Option<f32>,
}

impl Ddim {
    /// DDIM for `steps` inference steps with noise amount `eta`.
    pub fn new(config: &SchedulerConfig, steps: usize, eta: f32) -> Result<Self, SchedulerError> {
        let common = Common::new(config, &LINEAR_LEADING)?;
        let final_alpha = common.final_alpha(config.set_alpha_to_one.unwrap_or(true));
        let integer_timesteps = common.integer_timesteps(steps);
        let timesteps = integer_timesteps.iter().map(|&t| t as f32).collect();
        let clip = config.clip_range(true);
        Ok(Self {
            step_gap: (common.train_steps / steps) as i64,
            common,
            final_alpha,
            integer_timesteps,
            timesteps,
            eta: eta.max(0.0),
            clip,
        })
    }
}

impl Scheduler for Ddim {
    fn timesteps(&self) -> &[f32] {
        &self.timesteps
    }

    fn step(&mut self, step: Step<'_>, noise: &mut dyn NoiseSource) -> Vec<f32> {
        let (index, sample, model_output) = (step.index, step.sample, step.model_output);
        let timestep = self.integer_timesteps[index];
        let previous = timestep - self.step_gap;
        let alpha_t = self.common.alpha_at(timestep, self.final_alpha);
        let alpha_prev = self.common.alpha_at(previous, self.final_alpha);
        let beta_t = 1.0 - alpha_t;
        let (sqrt_alpha, sqrt_beta) = (alpha_t.sqrt(), beta_t.sqrt());

        let prediction = self.common.prediction;
        let mut original = prediction.original(sqrt_alpha, sqrt_beta, model_output, sample);
        let epsilon = prediction.noise(sqrt_alpha, sqrt_beta, model_output, sample);
        clip_to(&mut original, self.clip);
        let beta_prev = 1.0 - alpha_prev;
        let variance = beta_prev / beta_t * (1.0 - alpha_t / alpha_prev);
        let std_dev = self.eta * variance.sqrt();
        let direction = (1.0 - alpha_prev - std_dev * std_dev).sqrt();
        let sqrt_alpha_prev = alpha_prev.sqrt();
        let mut previous_sample: Vec<f32> = original
            .iter()
            .zip(&epsilon)
            .map(|(&x0, &e)| sqrt_alpha_prev * x0 + direction * e)
            .collect();
        if self.eta > 0.0 {
            let mut variance_noise = vec![0.0; previous_sample.len()];
            noise.fill_standard_normal(&mut variance_noise);
            for (value, n) in previous_sample.iter_mut().zip(&variance_noise) {
                *value += std_dev * n;
            }
        }
        previous_sample
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], index: usize) -> Vec<f32> {
        add_noise_alpha(&self.common, original, noise, self.integer_timesteps[index])
    }
}

/// `sqrt(ᾱ_t)·x + sqrt(1 − ᾱ_t)·noise`, shared by the ᾱ-indexed schedulers.
pub(crate) fn add_noise_alpha(
    common: &Common,
    original: &[f32],
    noise: &[f32],
    timestep: i64,
) -> Vec<f32> {
    let alpha = common.alpha_at(timestep, 1.0);
    let (a, b) = (alpha.sqrt(), (1.0 - alpha).sqrt());
    original
        .iter()
        .zip(noise)
        .map(|(&x, &n)| a * x + b * n)
        .collect()
}
