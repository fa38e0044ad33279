//! Inpainting: regenerate where the mask is white, keep the rest.
//!
//! - With an inpainting UNet (9 input channels) the UNet sees the latents, the mask at latent
//!   resolution and the latents of the image with the masked area blanked, as diffusers'
//!   inpainting pipelines prepare them.
//! - With an ordinary UNet (4 channels) the area outside the mask is held to the input by latent
//!   blending: after every step it is replaced by the input's latents noised to the level the
//!   latents now have (the clean input after the last step). The mask is used soft (its coverage
//!   of each 8×8 cell), so edges blend.

use crate::error::InferenceError;
use crate::image::{GrayImage, RgbImage};
use crate::pipeline::{
    CancelToken, DenoisePlan, GenerationRequest, StableDiffusion, VAE_FACTOR, img2img, txt2img,
};
use crate::scheduler::Scheduler;

/// Latent blending for inpainting with an ordinary UNet.
#[derive(Clone, Debug)]
pub struct LatentBlend {
    /// The input's scaled latents.
    original: Vec<f32>,
    /// The noise the background is re-noised with (fixed for the run).
    noise: Vec<f32>,
    /// Per latent cell: 1 = regenerate, 0 = keep (fractions at soft edges).
    mask: Vec<f32>,
}

impl LatentBlend {
    /// Replaces the kept area of `latents` (just produced by step `index`) with the original
    /// at the noise level of the next step, or the clean original after the last step.
    pub fn apply(&self, scheduler: &dyn Scheduler, latents: &mut [f32], index: usize) {
        let next = index + 1;
        let background = if next < scheduler.timesteps().len() {
            scheduler.add_noise(&self.original, &self.noise, next)
        } else {
            self.original.clone()
        };
        let plane = self.mask.len();
        for (position, value) in latents.iter_mut().enumerate() {
            let keep = 1.0 - self.mask[position % plane];
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
        let (latents, start) = if strength >= 1.0 {
            (txt2img::scale_noise(scheduler, noise), 0)
        } else {
            let Some(original) = model.encode_image(image, cancel)? else {
                return Ok(None);
            };
            noised_start(scheduler, request, strength, &original, &noise)?
        };
        return Ok(Some(DenoisePlan {
            latents,
            start,
            unet_extra: Some(extra),
            blend: None,
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
