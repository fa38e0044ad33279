//! Text to image: the loop starts from standard-normal noise scaled to the scheduler's initial
//! sigma.

use crate::pipeline::DenoisePlan;
use crate::scheduler::Scheduler;

/// The start of a text-to-image run from standard-normal `noise`.
pub fn plan(scheduler: &dyn Scheduler, noise: Vec<f32>) -> DenoisePlan {
    DenoisePlan {
        latents: scale_noise(scheduler, noise),
        start: 0,
        unet_extra: None,
        blend: None,
    }
}

/// `noise · init_noise_sigma`, in float32 as the pipelines compute it.
pub fn scale_noise(scheduler: &dyn Scheduler, mut noise: Vec<f32>) -> Vec<f32> {
    let sigma = scheduler.init_noise_sigma();
    for value in &mut noise {
        *value *= sigma;
    }
    noise
}
