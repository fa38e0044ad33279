//! Plain image buffers exchanged with the pipelines, and their conversions to and from tensors.
//! (The app and the command line read and write files; this crate sees only pixels.)

/// An 8-bit RGB image, rows top to bottom.
#[derive(Clone, PartialEq, Eq, derive_more::Debug)]
#[debug("RgbImage({width}×{height})")]
pub struct RgbImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width × height × 3` bytes.
    pub pixels: Vec<u8>,
}

/// An 8-bit single-channel image (a mask: white = regenerate).
#[derive(Clone, PartialEq, Eq, derive_more::Debug)]
#[debug("GrayImage({width}×{height})")]
pub struct GrayImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width × height` bytes.
    pub pixels: Vec<u8>,
}

impl RgbImage {
    /// An image from its pixels; `None` when the buffer does not match the size.
    pub fn new(width: u32, height: u32, pixels: Vec<u8>) -> Option<Self> {
        (pixels.len() == width as usize * height as usize * 3).then_some(Self {
            width,
            height,
            pixels,
        })
    }

    /// NCHW float tensor in [-1, 1] as diffusers' img2img preprocesses: `2·(x/255) − 1`.
    pub fn to_tensor_img2img(&self) -> Vec<f32> {
        self.planar(|value| 2.0 * (f32::from(value) / 255.0) - 1.0)
    }

    /// NCHW float tensor in [-1, 1] as diffusers' inpainting preprocesses: `x/127.5 − 1`.
    pub fn to_tensor_inpaint(&self) -> Vec<f32> {
        self.planar(|value| f32::from(value) / 127.5 - 1.0)
    }

    fn planar(&self, convert: impl Fn(u8) -> f32) -> Vec<f32> {
        let plane = self.width as usize * self.height as usize;
        let mut out = vec![0.0; plane * 3];
        for (index, pixel) in self.pixels.chunks_exact(3).enumerate() {
            for channel in 0..3 {
                out[channel * plane + index] = convert(pixel[channel]);
            }
        }
        out
    }

    /// The image the VAE decoder's NCHW output in [-1, 1] describes, converted as diffusers does:
    /// `clip(x/2 + 0.5, 0, 1)`, then `round(x·255)`.
    pub fn from_decoder_output(tensor: &[f32], width: u32, height: u32) -> Self {
        let plane = width as usize * height as usize;
        let mut pixels = vec![0_u8; plane * 3];
        for index in 0..plane {
            for channel in 0..3 {
                let value = (tensor[channel * plane + index] / 2.0 + 0.5).clamp(0.0, 1.0);
                pixels[index * 3 + channel] = (value * 255.0).round_ties_even() as u8;
            }
        }
        Self {
            width,
            height,
            pixels,
        }
    }
}

impl GrayImage {
    /// A mask from its pixels; `None` when the buffer does not match the size.
    pub fn new(width: u32, height: u32, pixels: Vec<u8>) -> Option<Self> {
        (pixels.len() == width as usize * height as usize).then_some(Self {
            width,
            height,
            pixels,
        })
    }

    /// Nearest-neighbour resize the way Pillow does it (sample at pixel centres).
    pub fn resize_nearest(&self, width: u32, height: u32) -> Self {
        let mut pixels = Vec::with_capacity(width as usize * height as usize);
        let scale_x = f64::from(self.width) / f64::from(width);
        let scale_y = f64::from(self.height) / f64::from(height);
        for y in 0..height {
            let source_y = (((f64::from(y) + 0.5) * scale_y) as u32).min(self.height - 1);
            for x in 0..width {
                let source_x = (((f64::from(x) + 0.5) * scale_x) as u32).min(self.width - 1);
                pixels.push(self.pixels[(source_y * self.width + source_x) as usize]);
            }
        }
        Self {
            width,
            height,
            pixels,
        }
    }

    /// The fraction of each `factor × factor` block that is masked (box average, 0..1).
    pub fn coverage(&self, factor: u32) -> Vec<f32> {
        let (width, height) = (self.width / factor, self.height / factor);
        let mut out = Vec::with_capacity(width as usize * height as usize);
        let area = (factor * factor) as f32 * 255.0;
        for y in 0..height {
            for x in 0..width {
                let mut sum = 0_u32;
                for dy in 0..factor {
                    let row = ((y * factor + dy) * self.width + x * factor) as usize;
                    sum += self.pixels[row..row + factor as usize]
                        .iter()
                        .map(|&v| u32::from(v))
                        .sum::<u32>();
                }
                out.push(sum as f32 / area);
            }
        }
        out
    }
}

/// An RGB preview of latents without the VAE: a fixed linear map from the four SD latent
/// channels to RGB (a least-squares fit to decoded images), at latent resolution.
pub fn latent_preview(latents: &[f32], width: usize, height: usize) -> RgbImage {
    // Rows: latent channels; columns: R, G, B.
    const FACTORS: [[f32; 3]; 4] = [
        [0.3512, 0.2297, 0.3227],
        [0.3250, 0.4974, 0.2350],
        [-0.2829, 0.1762, 0.2721],
        [-0.2120, -0.2616, -0.7177],
    ];
    let plane = width * height;
    let mut pixels = vec![0_u8; plane * 3];
    for index in 0..plane {
        for (channel, pixel) in pixels[index * 3..index * 3 + 3].iter_mut().enumerate() {
            let value: f32 = (0..4)
                .map(|latent| latents[latent * plane + index] * FACTORS[latent][channel])
                .sum();
            *pixel = (((value + 1.0) / 2.0).clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    }
    RgbImage {
        width: width as u32,
        height: height as u32,
        pixels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_resize_samples_pixel_centres() {
        // 4×1 → 2×1 picks source columns 1 and 3 (centres 1.0 and 3.0).
        let mask = GrayImage::new(4, 1, vec![0, 10, 20, 30]).expect("size");
        assert_eq!(mask.resize_nearest(2, 1).pixels, [10, 30]);
    }

    #[test]
    fn coverage_averages_blocks() {
        let mask = GrayImage::new(2, 2, vec![255, 0, 255, 0]).expect("size");
        assert_eq!(mask.coverage(2), [0.5]);
    }

    #[test]
    fn decoder_output_rounds_like_diffusers() {
        let image = RgbImage::from_decoder_output(&[-1.0, 0.0, 1.0], 1, 1);
        assert_eq!(image.pixels, [0, 128, 255]);
    }
}
