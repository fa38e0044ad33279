//! Region-only inpainting against diffusers inpainting the whole canvas, on the same ONNX files,
//! the same ONNX Runtime and the same thread count, in one run.
//!
//! ```text
//! PENTIMENTO_BENCH_PYTHON=bench/.venv/bin/python cargo bench -p pentimento \
//!     --bench region_versus_diffusers -- --model DIR --canvas 1024 --mask 256 --steps 4
//! ```
//!
//! A `--canvas` × `--canvas` picture with a `--mask` × `--mask` square masked at its centre. Ours
//! is the app's own plan (`region::plan`): the mask's bounding box plus its context margin,
//! generated at the model's native resolution, the result pasted back into that region only.
//! diffusers' `OnnxStableDiffusionInpaintPipeline` (`bench/diffusers_reference.py --mode
//! inpaint`) regenerates the whole canvas at its size, as its users call it on a picture. That
//! is work the app does not do, not the same computation done faster: the pixels outside the
//! region are the artist's own on our side and regenerated (then discarded by whoever pastes
//! back) on theirs. The model must be an inpainting one (9-channel UNet), e.g. from
//! `bench/make_sd15_random.py --inpainting`. Reported: the generated sizes, session load, first
//! run, the mean of the later runs, peak resident memory of each process, and the ratios.

use std::time::Duration;

#[path = "../../inference/benches/common/diffusers.rs"]
mod diffusers;
#[path = "../../inference/tests/common/measure.rs"]
mod measure;

use diffusers::{
    Reference, Run, header, memory_row, number, or_exit, read_args, row, run_times, seconds,
    timed_generation, unless_skipped,
};
use measure::peak_rss;
use pentimento::document::Document;
use pentimento::region::{self, ModeChoice, ModelShape};
use pentimento_inference::{GenerationRequest, LoadOptions, Outcome};

struct Options {
    run: Run,
    canvas: u32,
    mask: u32,
}

fn parse() -> Result<Options, String> {
    let mut options = Options {
        run: Run::new("tests/fixtures/models/tiny-sd-inpaint", 4, 2),
        canvas: 1024,
        mask: 256,
    };
    read_args(&mut options.run, |arg, value| {
        match arg {
            "--canvas" => options.canvas = number(arg, &value()?)?,
            "--mask" => options.mask = number(arg, &value()?)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if options.mask == 0 || options.mask > options.canvas {
        return Err("--mask must be between 1 and --canvas".to_owned());
    }
    if !options.canvas.is_multiple_of(64) {
        // diffusers' ONNX inpainting pipeline needs multiples of 8 and resizes its inputs;
        // multiples of 64 keep both sides at exactly the canvas.
        return Err("--canvas must be a multiple of 64".to_owned());
    }
    if options.run.runs == 0 {
        return Err("--runs must be at least 1".to_owned());
    }
    Ok(options)
}

/// One side's figures.
#[derive(Debug, Default)]
struct Figures {
    generated: (u32, u32),
    load: Duration,
    runs: Vec<Duration>,
    peak_rss: u64,
}

impl Figures {
    /// The mean of the runs after the first (the first when there is only one).
    fn later(&self) -> Duration {
        let later = if self.runs.len() > 1 {
            &self.runs[1..]
        } else {
            &self.runs[..]
        };
        later.iter().sum::<Duration>() / later.len().max(1) as u32
    }
}

/// The picture: smooth colour gradients with a few hard shapes, so that the context the model
/// sees is not flat.
fn picture(side: u32) -> Vec<u8> {
    let mut rgba = Vec::with_capacity((side * side * 4) as usize);
    for y in 0..side {
        for x in 0..side {
            let (u, v) = (x as f32 / side as f32, y as f32 / side as f32);
            let stripe = ((x / 48 + y / 80) % 2) as f32 * 40.0;
            rgba.extend_from_slice(&[
                (u * 200.0 + stripe) as u8,
                (v * 180.0 + 30.0) as u8,
                ((1.0 - u) * 150.0 + stripe) as u8,
                255,
            ]);
        }
    }
    rgba
}

/// The mask: a centred square of `mask` pixels (255 = regenerate).
fn mask(side: u32, mask: u32) -> Vec<u8> {
    let start = (side - mask) / 2;
    let inside = start..start + mask;
    (0..side * side)
        .map(|index| {
            if inside.contains(&(index % side)) && inside.contains(&(index / side)) {
                255
            } else {
                0
            }
        })
        .collect()
}

fn document(options: &Options) -> Result<Document, String> {
    let side = options.canvas;
    let mut document = Document::new(side, side).map_err(|e| e.to_string())?;
    document.import_layer("Picture", side, side, &picture(side), 0, 0);
    document
        .replace_mask((side, side), &mask(side, options.mask))
        .map_err(|e| e.to_string())?;
    Ok(document)
}

fn ours(options: &Options, document: &Document) -> Result<Figures, String> {
    let (mut model, load) = options.run.timed_load(LoadOptions {
        optimized_cache: Some(std::env::temp_dir().join("pentimento-bench-optimized")),
        ..LoadOptions::default()
    })?;
    if !model.conventions().is_inpainting_unet() {
        return Err(format!(
            "{} is not an inpainting model (its UNet takes 4 channels, diffusers' inpainting \
             pipeline needs 9): make one with bench/make_sd15_random.py --inpainting",
            options.run.model.display()
        ));
    }
    let plan = region::plan(
        document,
        ModeChoice::Inpaint,
        ModelShape {
            native_resolution: model.native_resolution(),
            size_multiple: model.size_multiple(),
            has_vae_encoder: model
                .folder()
                .component(pentimento_inference::Component::VaeEncoder)
                .is_some(),
        },
        1.0,
    )?;
    let region = plan.region;
    println!(
        "ours: region {}×{} at ({}, {}) of the {}² canvas ({:.1} % of it), generated at {}×{}",
        region.width(),
        region.height(),
        region.x0,
        region.y0,
        options.canvas,
        100.0 * f64::from(region.width() * region.height())
            / f64::from(options.canvas * options.canvas),
        plan.generated.0,
        plan.generated.1
    );
    let request = region::request_for(
        &plan,
        &GenerationRequest {
            prompt: "a red apple on a wooden table, oil painting".to_owned(),
            steps: options.run.steps,
            guidance: options.run.guidance,
            scheduler: options.run.scheduler,
            seed: options.run.seed,
            ..GenerationRequest::text_to_image("")
        },
    );
    let mut figures = Figures {
        generated: plan.generated,
        load,
        ..Figures::default()
    };
    for _ in 0..options.run.runs {
        let (outcome, took) = timed_generation(&mut model, &request)?;
        // Back to document pixels, as the app shows the result.
        if let Outcome::Finished(variations) = outcome {
            for variation in variations {
                std::hint::black_box(region::to_region(&variation.image, region));
            }
        }
        figures.runs.push(took);
    }
    figures.peak_rss = peak_rss();
    Ok(figures)
}

fn reference(options: &Options, document: &Document) -> Result<Figures, String> {
    let folder = tempfile::tempdir().map_err(|e| e.to_string())?;
    let side = options.canvas;
    let image_path = folder.path().join("picture.png");
    let mask_path = folder.path().join("mask.png");
    image::RgbImage::from_raw(
        side,
        side,
        region::region_pixels(document, document.bounds()),
    )
    .ok_or("picture size")?
    .save(&image_path)
    .map_err(|e| e.to_string())?;
    image::GrayImage::from_raw(side, side, mask(side, options.mask))
        .ok_or("mask size")?
        .save(&mask_path)
        .map_err(|e| e.to_string())?;
    let json = Reference {
        run: &options.run,
        mode: "inpaint",
        width: side,
        height: side,
        extra: vec![
            ("init-image", image_path.to_string_lossy().into_owned()),
            ("mask", mask_path.to_string_lossy().into_owned()),
        ],
    }
    .run()?;
    Ok(Figures {
        generated: (side, side),
        load: seconds(&json["load_s"]),
        runs: run_times(&json)?,
        peak_rss: json["peak_rss_bytes"].as_u64().unwrap_or(0),
    })
}

fn main() {
    let options = or_exit(parse(), 2);
    options.run.describe(&format!(
        "canvas {}² · mask {}²",
        options.canvas, options.mask
    ));
    let result = document(&options).and_then(|document| {
        let ours = ours(&options, &document)?;
        let theirs = unless_skipped(options.run.skip_reference, || {
            reference(&options, &document)
        });
        Ok((ours, theirs))
    });
    let (ours, theirs) = or_exit(result, 1);
    let t = theirs.as_ref();
    header();
    let pixels = |f: &Figures| f64::from(f.generated.0 * f.generated.1) / 1e6;
    row("pixels generated", pixels(&ours), t.map(pixels), "MP");
    row(
        "session load",
        ours.load.as_secs_f64(),
        t.map(|f| f.load.as_secs_f64()),
        "s",
    );
    row(
        "first run",
        ours.runs[0].as_secs_f64(),
        t.map(|f| f.runs[0].as_secs_f64()),
        "s",
    );
    if options.run.runs > 1 {
        row(
            "later runs (mean)",
            ours.later().as_secs_f64(),
            t.map(|f| f.later().as_secs_f64()),
            "s",
        );
    }
    memory_row("peak resident memory", ours.peak_rss, t.map(|f| f.peak_rss));
}
