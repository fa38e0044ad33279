//! Euler ancestral, as diffusers' `EulerAncestralDiscreteScheduler`: an Euler step to a lower
//! noise level, then fresh noise back up to the next one.

use crate::rng::NoiseSource;
use crate::scheduler::common::Common;
use crate::scheduler::euler::{EULER_DEFAULTS, SigmaSchedule};
use crate::scheduler::{Scheduler, SchedulerConfig, SchedulerError};

/// Ancestral sampling with Euler steps; draws noise every step.
#[derive(Clone, Debug)]
pub struct EulerAncestral {
    common: Common,
    schedule: SigmaSchedule,
}

impl EulerAncestral {
    /// Euler ancestral for `steps` inference steps.
    pub fn new(config: &SchedulerConfig, steps: usize) -> Result<Self, SchedulerError> {
        let common = Common::new(config, &EULER_DEFAULTS)?;
        // diffusers' ancestral scheduler always interpolates linearly and ends at zero.
        let plain = SchedulerConfig {
            use_karras_sigmas: None,
            interpolation_type: None,
            final_sigmas_type: None,
            ..config.clone()
        };
        let schedule = SigmaSchedule::new(&common, &plain, steps, false)?;
        Ok(Self { common, schedule })
    }
}

impl Scheduler for EulerAncestral {
    fn timesteps(&self) -> &[f32] {
        &self.schedule.timesteps
    }

    fn init_noise_sigma(&self) -> f32 {
        self.schedule.init_noise_sigma
    }

    fn scale_model_input(&self, sample: &mut [f32], index: usize) {
        self.schedule.scale(sample, index);
    }

    fn step(
        &mut self,
        model_output: &[f32],
        index: usize,
        sample: &[f32],
        noise: &mut dyn NoiseSource,
    ) -> Vec<f32> {
        let sigma = self.schedule.sigmas[index];
        let original =
            SigmaSchedule::original_sample(self.common.prediction, sigma, model_output, sample);
        let sigma_from = sigma;
        let sigma_to = self.schedule.sigmas[index + 1];
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
