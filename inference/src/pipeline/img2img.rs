//! Image to image: the input's latents are noised to the level where the (shortened) schedule
//! starts, so `strength` decides how much of the input survives.

use crate::error::InferenceError;
use crate::pipeline::{DenoisePlan, GenerationRequest, Img2ImgSchedule};
use crate::scheduler::Scheduler;

/// Where img2img enters the schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Index of the timestep the input is noised to.
    pub noise_index: usize,
    /// Index of the first step that runs.
    pub start: usize,
}

/// The schedule entry for `strength` with `steps` steps over `timestep_count` scheduler
/// timesteps (PNDM has one more than its steps).
pub fn entry(
    schedule: Img2ImgSchedule,
    steps: usize,
    timestep_count: usize,
    steps_offset: usize,
    strength: f64,
) -> Result<Entry, InferenceError> {
    // Python's int(steps * strength): float64 product, truncated.
    let strength_steps = (steps as f64 * strength) as usize;
    let entry = match schedule {
        Img2ImgSchedule::Diffusers => {
            let init = strength_steps.min(steps);
            let start = steps - init;
            Entry {
                noise_index: start,
                start,
            }
        }
        Img2ImgSchedule::DiffusersOnnx => {
            let init = (strength_steps + steps_offset).min(steps);
            Entry {
                noise_index: timestep_count - init,
                start: (steps + steps_offset).saturating_sub(init),
            }
        }
    };
    if entry.start >= timestep_count {
        return Err(InferenceError::Parameter {
            parameter: "strength",
            value: strength.to_string(),
            expected: format!(
                "with {steps} steps this leaves no step to run; raise the strength or the steps"
            ),
        });
    }
    Ok(entry)
}

/// The start of an image-to-image run from the input's scaled `latents` and standard-normal
/// `noise`.
pub fn plan(
    scheduler: &dyn Scheduler,
    request: &GenerationRequest,
    strength: f64,
    latents: &[f32],
    noise: &[f32],
) -> Result<DenoisePlan, InferenceError> {
    let entry = entry(
        request.img2img_schedule,
        request.steps,
        scheduler.timesteps().len(),
        1,
        strength,
    )?;
    Ok(DenoisePlan {
        latents: scheduler.add_noise(latents, noise, entry.noise_index),
        start: entry.start,
        unet_extra: None,
        blend: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffusers_runs_the_last_steps() {
        // 4 steps at strength 0.75 run 3 steps, from index 1.
        let entry = entry(Img2ImgSchedule::Diffusers, 4, 4, 1, 0.75).expect("valid");
        assert_eq!(
            entry,
            Entry {
                noise_index: 1,
                start: 1
            }
        );
        // Strength 1 runs everything from pure noise level.
        let entry = entry_of(Img2ImgSchedule::Diffusers, 10, 10, 1.0);
        assert_eq!(
            entry,
            Entry {
                noise_index: 0,
                start: 0
            }
        );
    }

    #[test]
    fn onnx_pipeline_noises_one_step_higher() {
        // diffusers' ONNX img2img, 8 steps, strength 0.75: noise at 751 (index 1), start at 626
        // (index 2).
        let entry = entry_of(Img2ImgSchedule::DiffusersOnnx, 8, 8, 0.75);
        assert_eq!(
            entry,
            Entry {
                noise_index: 1,
                start: 2
            }
        );
        // PNDM's schedule has a repeated timestep: 9 entries for 8 steps.
        let entry = entry_of(Img2ImgSchedule::DiffusersOnnx, 8, 9, 0.75);
        assert_eq!(
            entry,
            Entry {
                noise_index: 2,
                start: 2
            }
        );
    }

    #[test]
    fn strength_too_low_is_explained() {
        let err = entry(Img2ImgSchedule::Diffusers, 4, 4, 1, 0.1).expect_err("no steps left");
        assert!(err.to_string().contains("raise the strength"), "{err}");
    }

    fn entry_of(schedule: Img2ImgSchedule, steps: usize, count: usize, strength: f64) -> Entry {
        entry(schedule, steps, count, 1, strength).expect("valid")
    }
}
