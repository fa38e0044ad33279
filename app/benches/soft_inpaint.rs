//! Graded edges for the model: how far soft inpainting lets each part of a graded mask move
//! from the artist's picture, against plain inpainting, on both inpainting paths (the tiny
//! fixture models: the inpainting UNet, and the ordinary UNet by latent blending). A 128 × 128
//! picture is inpainted inside a disc whose edge is graded over 24 px (the prompt panel's
//! Graded edge). For each band of mask level, the mean |final latents − the picture's own
//! latents| (each path's row of figures also as a share of its core's):
//!
//! - plain inpainting moves the graded edge as far as the core on the inpainting UNet (it sees
//!   the mask binarised), and by coverage mixing on the ordinary one;
//! - soft inpainting holds each latent cell to the picture for the first `1 − s` of the steps,
//!   so the departure falls with the level, to exactly 0 where the mask is black.
//!
//! The tiny models have random weights (their UNet's predictions are not images, and their VAE
//! does not reproduce the picture), so decoded pixels would compare noise with noise; latents
//! are where the schedule's effect is measured. Seams in pixels need real weights. Run with
//! `cargo bench -p pentimento --bench soft_inpaint`.

use std::ops::ControlFlow;
use std::path::PathBuf;

use pentimento_inference::image::{GrayImage, RgbImage};
use pentimento_inference::{
    CancelToken, GenerationRequest, LoadOptions, LocateOptions, Mode, OnnxRuntime, Outcome,
    SchedulerKind, StableDiffusion,
};

const SIDE: u32 = 128;
const EDGE: f32 = 24.0;

/// Mask level bands: (low, high] of the level, 0..1.
const BANDS: [(f32, f32, &str); 5] = [
    (-1.0, 0.0, "outside (0)"),
    (0.0, 1.0 / 3.0, "edge (0, ⅓]"),
    (1.0 / 3.0, 2.0 / 3.0, "edge (⅓, ⅔]"),
    (2.0 / 3.0, 0.999, "edge (⅔, 1)"),
    (0.999, 1.0, "core (1)"),
];

fn main() {
    let runtime = OnnxRuntime::initialize(&LocateOptions::default()).expect("ONNX Runtime");
    let picture = picture();
    let mask = disc_mask();
    // The level of each latent cell (its 8 × 8 coverage), as the pipelines use it.
    let levels = mask.coverage(8);
    println!(
        "{SIDE} × {SIDE}, a disc of radius 44 px graded over {EDGE} px, 12 steps of DPM++ 2M, \
         seeds 1–4: mean |latents − picture's latents| by mask level"
    );
    print!("{:<36}", "path");
    for (_, _, name) in BANDS {
        print!(" {name:>13}");
    }
    println!();
    for name in ["tiny-sd-inpaint", "tiny-sd"] {
        let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/models")
            .join(name);
        let mut model = StableDiffusion::load(runtime.clone(), &folder, LoadOptions::default())
            .expect("the fixture model loads");
        let path = if model.conventions().is_inpainting_unet() {
            "inpainting UNet (9 channels)"
        } else {
            "latent blending (4 channels)"
        };
        // Soft inpainting with a black mask holds every cell: the picture's own latents.
        let black = GrayImage::new(SIDE, SIDE, vec![0; (SIDE * SIDE) as usize]).expect("size");
        let original = inpaint(&mut model, &picture, &black, true, 1);
        for soft in [false, true] {
            let mut sums = [0.0_f64; BANDS.len()];
            for seed in 1..=4 {
                let latents = inpaint(&mut model, &picture, &mask, soft, seed);
                let departure = by_band(&latents, &original, &levels);
                for (sum, value) in sums.iter_mut().zip(departure) {
                    *sum += value / 4.0;
                }
            }
            print!(
                "{:<36}",
                format!("{path}, soft {}", if soft { "on" } else { "off" })
            );
            for value in sums {
                print!(" {value:>13.3}");
            }
            println!();
            print!("{:<36}", "  as a share of the core");
            for value in sums {
                print!(" {:>12.1}%", value / sums[BANDS.len() - 1] * 100.0);
            }
            println!();
        }
    }
}

/// Mean |latents − original| over the cells of each band.
fn by_band(latents: &[f32], original: &[f32], levels: &[f32]) -> [f64; BANDS.len()] {
    let plane = levels.len();
    let mut sums = [0.0_f64; BANDS.len()];
    let mut counts = [0.0_f64; BANDS.len()];
    for (index, (&value, &input)) in latents.iter().zip(original).enumerate() {
        let level = levels[index % plane];
        if let Some(band) = BANDS
            .iter()
            .position(|&(low, high, _)| level > low && level <= high)
        {
            sums[band] += f64::from((value - input).abs());
            counts[band] += 1.0;
        }
    }
    let mut out = [0.0; BANDS.len()];
    for band in 0..BANDS.len() {
        out[band] = if counts[band] > 0.0 {
            sums[band] / counts[band]
        } else {
            f64::NAN
        };
    }
    out
}

/// Diagonal stripes with a gentle gradient: structure for a seam to break.
fn picture() -> RgbImage {
    let pixels = (0..SIDE * SIDE)
        .flat_map(|index| {
            let (x, y) = (index % SIDE, index / SIDE);
            let stripe = ((x + y) / 6) % 2 == 0;
            let shade = (x * 60 / SIDE) as u8;
            if stripe {
                [180 + shade / 2, 90 + shade, 60]
            } else {
                [60, 110 + shade, 170 - shade]
            }
        })
        .collect();
    RgbImage::new(SIDE, SIDE, pixels).expect("size")
}

/// A disc graded inwards over `EDGE` px, as the prompt panel's Graded edge makes it.
fn disc_mask() -> GrayImage {
    let hard: Vec<u8> = (0..SIDE * SIDE)
        .map(|index| {
            let (x, y) = ((index % SIDE) as f32 + 0.5, (index / SIDE) as f32 + 0.5);
            let d = ((x - 64.0).powi(2) + (y - 64.0).powi(2)).sqrt();
            if d <= 44.0 { 255 } else { 0 }
        })
        .collect();
    let graded = pentimento::region::graded(&hard, SIDE as usize, SIDE as usize, EDGE);
    GrayImage::new(SIDE, SIDE, graded).expect("size")
}

fn inpaint(
    model: &mut StableDiffusion,
    picture: &RgbImage,
    mask: &GrayImage,
    soft: bool,
    seed: u32,
) -> Vec<f32> {
    let request = GenerationRequest {
        prompt: "stripes".to_owned(),
        width: SIDE,
        height: SIDE,
        steps: 12,
        scheduler: SchedulerKind::DpmPlusPlus2M,
        seed,
        mode: Mode::Inpaint {
            image: picture.clone(),
            mask: mask.clone(),
            strength: 1.0,
        },
        soft_inpainting: soft,
        ..GenerationRequest::text_to_image("")
    };
    match model
        .generate(
            &request,
            &mut |_| ControlFlow::Continue(()),
            &CancelToken::new(),
        )
        .expect("generates")
    {
        Outcome::Finished(mut variations) => variations.remove(0).latents,
        Outcome::Cancelled { .. } => panic!("cancelled"),
    }
}
