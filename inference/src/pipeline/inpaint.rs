//! Inpainting: regenerate where the mask is white, keep the rest.
//!
//! - With an inpainting UNet (9 input channels) the UNet sees the latents, the mask at latent
//!   resolution and the latents of the image with the masked area blanked, as diffusers'
//!   inpainting pipelines prepare them.
//! - With an ordinary UNet (4 channels) the area outside the mask is held to the input by latent
//!   blending: after every step it is replaced by the input's latents noised to the level the
//!   latents now have (the clean input after the last step). The mask is used soft (its coverage
//!   of each 8×8 cell), so edges blend.
//! - Soft inpainting (either UNet): the mask's level `s` in each 8×8 cell is how strongly it is
//!   regenerated, as differential diffusion (Levin & Fried, 2023) does it: the cell is held to
//!   the input, noised to the current level, for the first `1 − s` of the steps and left to the
//!   model for the rest. A feathered edge so comes out close to the artist's pixels and the
//!   core fully regenerated, and where the mask is black the latents stay the input's. The
//!   inpainting UNet still sees the mask binarised at half, as it was trained.

use crate::error::InferenceError;
use crate::image::{GrayImage, RgbImage};
use crate::pipeline::{
    CancelToken, DenoisePlan, GenerationRequest, StableDiffusion, VAE_FACTOR, img2img, txt2img,
};
use crate::scheduler::Scheduler;

/// Latent blending for inpainting with an ordinary UNet, and soft inpainting.
#[derive(Clone, Debug)]
pub struct LatentBlend {
    /// The input's scaled latents.
    original: Vec<f32>,
    /// The noise the background is re-noised with (fixed for the run).
    noise: Vec<f32>,
    /// Per latent cell: 1 = regenerate, 0 = keep (fractions at soft edges).
    mask: Vec<f32>,
    /// How the fractions are used.
    grading: Grading,
}

/// How a latent blend uses the mask's fractions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grading {
    /// Every step mixes the input and the result by the fraction.
    Coverage,
    /// Differential: a cell at fraction `s` is held to the input while the share of the run's
    /// steps done is at most `1 − s` (the run starting at step `start`).
    Differential {
        /// The run's first step.
        start: usize,
    },
}

impl LatentBlend {
    /// Replaces the kept area of `latents` (just produced by step `index`) with the original
    /// at the noise level of the next step, or the clean original after the last step.
    pub fn apply(&self, scheduler: &dyn Scheduler, latents: &mut [f32], index: usize) {
        let next = index + 1;
        let steps = scheduler.timesteps().len();
        let background = if next < steps {
            scheduler.add_noise(&self.original, &self.noise, next)
        } else {
            self.original.clone()
        };
        let plane = self.mask.len();
        let keep_of = |fraction: f32| match self.grading {
            Grading::Coverage => 1.0 - fraction,
            Grading::Differential { start } => {
                // The loop runs steps `start..steps`, so `index ≥ start`.
                let start = start.min(index);
                let done = (next - start) as f32 / (steps - start) as f32;
                if done <= 1.0 - fraction { 1.0 } else { 0.0 }
            }
        };
        for (position, value) in latents.iter_mut().enumerate() {
            let keep = keep_of(self.mask[position % plane]);
            *value = background[position] * keep + *value * (1.0 - keep);
        }
    }
}

/// The start of an inpainting run. `None` when cancelled.
#[allow(clippy::too_many_arguments)]
pub fn plan(
    model: &mut StableDiffusion,
    scheduler: &dyn Scheduler,
    request: &GenerationRequest,
    image: &RgbImage,
    mask: &GrayImage,
    strength: f64,
    noise: Vec<f32>,
    cancel: &CancelToken,
) -> Result<Option<DenoisePlan>, InferenceError> {
    let latent_width = image.width / VAE_FACTOR;
    let latent_height = image.height / VAE_FACTOR;
    if model.conventions().is_inpainting_unet() {
        // The masked image: pixels under the mask (≥ 127.5) set to 0, i.e. mid-grey.
        let mut masked = image.to_tensor_inpaint();
        let plane = mask.pixels.len();
        for (index, &value) in mask.pixels.iter().enumerate() {
            if f32::from(value) >= 127.5 {
                for channel in 0..3 {
                    masked[channel * plane + index] = 0.0;
                }
            }
        }
        let Some(masked_latents) =
            model.encode_tensor(&masked, image.width, image.height, cancel)?
        else {
            return Ok(None);
        };
        let latent_mask: Vec<f32> = mask
            .resize_nearest(latent_width, latent_height)
            .pixels
            .iter()
            .map(|&value| {
                if f32::from(value) / 255.0 >= 0.5 {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let mut extra = latent_mask;
        extra.extend_from_slice(&masked_latents);
        let original = if strength < 1.0 || request.soft_inpainting {
            let Some(original) = model.encode_image(image, cancel)? else {
                return Ok(None);
            };
            Some(original)
        } else {
            None
        };
        let (latents, start) = match &original {
            Some(original) if strength < 1.0 => {
                noised_start(scheduler, request, strength, original, &noise)?
            }
            _ => (txt2img::scale_noise(scheduler, noise.clone()), 0),
        };
        let blend = original
            .filter(|_| request.soft_inpainting)
            .map(|original| LatentBlend {
                original,
                noise,
                mask: mask.coverage(VAE_FACTOR),
                grading: Grading::Differential { start },
            });
        return Ok(Some(DenoisePlan {
            latents,
            start,
            unet_extra: Some(extra),
            blend,
        }));
    }

    let Some(original) = model.encode_image(image, cancel)? else {
        return Ok(None);
    };
    let (latents, start) = if strength >= 1.0 {
        (txt2img::scale_noise(scheduler, noise.clone()), 0)
    } else {
        noised_start(scheduler, request, strength, &original, &noise)?
    };
    Ok(Some(DenoisePlan {
        latents,
        start,
        unet_extra: None,
        blend: Some(LatentBlend {
            original,
            noise,
            mask: mask.coverage(VAE_FACTOR),
            grading: if request.soft_inpainting {
                Grading::Differential { start }
            } else {
                Grading::Coverage
            },
        }),
    }))
}

/// Starting latents for strength below 1: the input noised as img2img does.
fn noised_start(
    scheduler: &dyn Scheduler,
    request: &GenerationRequest,
    strength: f64,
    original: &[f32],
    noise: &[f32],
) -> Result<(Vec<f32>, usize), InferenceError> {
    let entry = img2img::entry(
        request.img2img_schedule,
        request.steps,
        scheduler.timesteps().len(),
        1,
        strength,
    )?;
    Ok((
        scheduler.add_noise(original, noise, entry.noise_index),
        entry.start,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::{SchedulerConfig, SchedulerKind, create};

    /// Runs a blend over `steps` steps from `start` on latents the "model" sets to 100 every
    /// step; returns, per cell, at which step indices it was held to the input.
    fn held_steps(
        fractions: &[f32],
        grading: Grading,
        steps: usize,
        start: usize,
    ) -> Vec<Vec<usize>> {
        let scheduler = create(SchedulerKind::Ddim, &SchedulerConfig::default(), steps, 0.0)
            .expect("scheduler");
        let cells = fractions.len();
        let blend = LatentBlend {
            original: vec![0.0; cells],
            noise: vec![0.0; cells],
            mask: fractions.to_vec(),
            grading,
        };
        let mut held = vec![Vec::new(); cells];
        for index in start..steps {
            let mut latents = vec![100.0; cells];
            blend.apply(scheduler.as_ref(), &mut latents, index);
            for (cell, &value) in latents.iter().enumerate() {
                if value == 0.0 {
                    held[cell].push(index);
                } else {
                    assert_eq!(
                        value, 100.0,
                        "differential grading holds or frees, never mixes"
                    );
                }
            }
        }
        held
    }

    #[test]
    fn differential_grading_holds_a_cell_for_the_first_one_minus_s_of_the_steps() {
        let fractions = [0.0, 0.25, 0.5, 0.75, 1.0];
        let held = held_steps(&fractions, Grading::Differential { start: 0 }, 8, 0);
        // After step i, i + 1 of the 8 steps are done; a cell at s is held while that share is
        // at most 1 − s: s = 0 always (to the clean input after the last step), s = 1 never.
        assert_eq!(held[0], (0..8).collect::<Vec<_>>());
        assert_eq!(held[1], (0..6).collect::<Vec<_>>(), "6/8 ≤ 0.75");
        assert_eq!(held[2], (0..4).collect::<Vec<_>>(), "4/8 ≤ 0.5");
        assert_eq!(held[3], (0..2).collect::<Vec<_>>(), "2/8 ≤ 0.25");
        assert!(held[4].is_empty());
    }

    #[test]
    fn a_run_that_starts_late_grades_its_own_steps() {
        // Strength 0.5 of 8 steps: the run is steps 4..8, and s = 0.5 is held for half of it.
        let held = held_steps(&[0.5], Grading::Differential { start: 4 }, 8, 4);
        assert_eq!(held[0], [4, 5]);
    }

    #[test]
    fn a_hard_mask_is_blended_the_same_either_way() {
        let fractions = [0.0, 1.0, 0.0, 1.0];
        assert_eq!(
            held_steps(&fractions, Grading::Coverage, 6, 0),
            held_steps(&fractions, Grading::Differential { start: 0 }, 6, 0)
        );
    }
}
