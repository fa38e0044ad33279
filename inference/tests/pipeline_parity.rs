//! The whole pipeline against diffusers' ONNX pipelines, on the real ONNX Runtime and the tiny
//! fixture models, in both signature conventions: for every golden run, the text embeddings,
//! the latents after every step, the final latents and the decoded image must match what
//! diffusers produced from the same inputs.
//!
//! The bounds come from an error model of how ONNX Runtime's kernels differ between instruction
//! sets, `common/error_model.rs`, which says where each number comes from. The bound still
//! catches real mistakes by orders of magnitude: `.ci/parity-mutations` puts each of these into
//! the code and checks that this test fails: a timestep off by one (356× the bound at the
//! closest golden), a sigma read one training step off (25×), and the two halves of guidance
//! swapped (2900×); clipping at the wrong range is caught by scheduler_parity.

mod common;

use std::ops::ControlFlow;
use std::path::Path;

use common::error_model::{component_bound, largest_magnitude, step_bounds};
use common::{
    GoldenScheduler, Recorded, fixtures, golden_names, golden_scheduler, load_npy, max_difference,
    runtime, scheduler_of,
};

use pentimento_inference::image::{GrayImage, RgbImage};
use pentimento_inference::lora::LoraRequest;
use pentimento_inference::pipeline::{Img2ImgSchedule, StepView};
use pentimento_inference::{CancelToken, GenerationRequest, LoadOptions, Mode, StableDiffusion};

/// How far one value is from diffusers', against the bound the error model allows.
#[derive(Clone, Copy, Debug)]
struct Checked {
    difference: f32,
    bound: f32,
}

impl Checked {
    fn new(ours: &[f32], expected: &[f32], bound: f32) -> Self {
        Self {
            difference: max_difference(ours, expected),
            bound,
        }
    }

    fn holds(self) -> bool {
        self.difference <= self.bound
    }

    /// The share of the bound used.
    fn used(self) -> f32 {
        self.difference / self.bound
    }
}

fn rgb(path: &Path) -> RgbImage {
    let image = image::open(path).expect("png").to_rgb8();
    RgbImage::new(image.width(), image.height(), image.into_raw()).expect("size")
}

fn gray(path: &Path) -> GrayImage {
    let image = image::open(path).expect("png").to_luma8();
    GrayImage::new(image.width(), image.height(), image.into_raw()).expect("size")
}

struct Measured {
    embeddings: Checked,
    steps: Vec<Checked>,
    final_latents: Checked,
    image_bytes: u8,
}

impl Measured {
    fn holds(&self) -> bool {
        self.embeddings.holds()
            && self.steps.iter().all(|step| step.holds())
            && self.final_latents.holds()
            && self.image_bytes <= 1
    }

    fn describe(&self) -> String {
        let steps: Vec<String> = self
            .steps
            .iter()
            .map(|step| format!("{:.1e} ({:.0} %)", step.difference, 100.0 * step.used()))
            .collect();
        format!(
            "embeddings {:.1e} ({:.0} % of the bound), steps {}, final {:.1e} ({:.0} %), \
             image {}/255",
            self.embeddings.difference,
            100.0 * self.embeddings.used(),
            steps.join(", "),
            self.final_latents.difference,
            100.0 * self.final_latents.used(),
            self.image_bytes
        )
    }
}

/// Runs one golden; `None` when the pipeline cannot run its configuration.
fn run_golden(name: &str, optimum: bool, models: &mut Models) -> Result<Option<Measured>, String> {
    let dir = fixtures().join("goldens").join(name);
    let params: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("params.json")).expect("params"))
            .expect("json");
    let mut folder = params["model_folder"].as_str().expect("folder").to_owned();
    if optimum {
        folder.push_str("-optimum");
    }
    let model = models.get(&folder);
    // The pipeline rewrites a folder's file as diffusers' pipelines do. A scheduler swapped into
    // diffusers' pipeline after it was built can hold what no pipeline's own loading allows
    // (clip_sample on); scheduler_parity checks those.
    let config = match golden_scheduler(&params) {
        GoldenScheduler::File(file) => file,
        GoldenScheduler::Held(held) => {
            if !held.clone().as_pipelines_use_it().1.is_empty() {
                return Ok(None);
            }
            held
        }
    };
    model.set_scheduler_config(config);

    let mode = match params["mode"].as_str().expect("mode") {
        "txt2img" => Mode::TextToImage,
        "img2img" => Mode::ImageToImage {
            image: rgb(&fixtures().join(params["init_image"].as_str().expect("image"))),
            strength: params["strength"].as_f64().expect("strength"),
        },
        "inpaint" => Mode::Inpaint {
            image: rgb(&fixtures().join(params["init_image"].as_str().expect("image"))),
            mask: gray(&fixtures().join(params["mask_image"].as_str().expect("mask"))),
            strength: 1.0,
        },
        other => panic!("mode {other}"),
    };
    let request = GenerationRequest {
        prompt: params["prompt"].as_str().expect("prompt").to_owned(),
        negative_prompt: params["negative_prompt"].as_str().unwrap_or("").to_owned(),
        width: params["width"].as_u64().expect("width") as u32,
        height: params["height"].as_u64().expect("height") as u32,
        steps: params["num_inference_steps"].as_u64().expect("steps") as usize,
        guidance: params["guidance_scale"].as_f64().expect("guidance") as f32,
        scheduler: scheduler_of(&params),
        eta: params["eta"].as_f64().unwrap_or(0.0) as f32,
        seed: params["seed"].as_u64().expect("seed") as u32,
        count: 1,
        mode,
        initial_noise: None,
        soft_inpainting: false,
        guidance_cutoff: None,
        img2img_schedule: Img2ImgSchedule::DiffusersOnnx,
        // LoRA goldens: diffusers fused these into the PyTorch model before exporting it; here
        // they are merged into the unfused export.
        loras: params["loras"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|lora| LoraRequest {
                path: fixtures().join(lora["file"].as_str().expect("LoRA file")),
                strength: lora["strength"].as_f64().expect("LoRA strength") as f32,
            })
            .collect(),
    };
    model.validate(&request).map_err(|err| err.to_string())?;
    model
        .use_loras(&request.loras)
        .map_err(|err| err.to_string())?;

    let cancel = CancelToken::new();
    let ours = model
        .encode_prompts(&request, &cancel)
        .map_err(|err| err.to_string())?
        .expect("not cancelled");
    let golden_embeddings =
        load_npy(&fixtures().join(params["prompt_embeds_file"].as_str().expect("embeddings")));
    let embeddings = Checked::new(
        &ours.data,
        &golden_embeddings,
        component_bound(largest_magnitude(&golden_embeddings)),
    );

    let noise = load_npy(&dir.join("noise.npy"));
    let mut recorded = Recorded::from_golden(&dir);
    let golden_latents = load_npy(&dir.join("latents.npy"));
    let size: usize = request.latent_shape().iter().product();
    let bounds = step_bounds(
        &load_npy(&dir.join("start_latents.npy")),
        &golden_latents,
        request.guidance,
    );
    let mut steps = Vec::new();
    let mut observe = |view: &StepView<'_>| {
        let index = view.step - 1;
        let expected = &golden_latents[index * size..(index + 1) * size];
        steps.push(Checked::new(view.latents, expected, bounds[index]));
        ControlFlow::Continue(())
    };
    let variation = model
        .generate_one(
            &request,
            &ours,
            request.seed,
            Some(&noise),
            &mut recorded,
            &mut observe,
            &cancel,
        )
        .map_err(|err| err.to_string())?
        .expect("not cancelled");
    if !recorded.exhausted() {
        return Err(format!(
            "drew {} of diffusers' {} in-step noise values",
            recorded.position,
            recorded.values.len()
        ));
    }
    let golden_final = load_npy(&dir.join("final_latents.npy"));
    let final_latents = Checked::new(
        &variation.latents,
        &golden_final,
        bounds.last().copied().unwrap_or(0.0),
    );
    let golden_png = rgb(&dir.join("image.png"));
    let image_bytes = variation
        .image
        .pixels
        .iter()
        .zip(&golden_png.pixels)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap_or(0);
    // A decoded value within the latents' small difference of a rounding boundary may round to
    // the next level, never further: the difference is far below one level (1/255).
    Ok(Some(Measured {
        embeddings,
        steps,
        final_latents,
        image_bytes,
    }))
}

struct Models {
    loaded: Vec<(String, StableDiffusion)>,
}

impl Models {
    fn get(&mut self, folder: &str) -> &mut StableDiffusion {
        if !self.loaded.iter().any(|(name, _)| name == folder) {
            let model = StableDiffusion::load(
                runtime(),
                &fixtures().join(folder),
                LoadOptions {
                    intra_threads: Some(1),
                    ..LoadOptions::default()
                },
            )
            .unwrap_or_else(|err| panic!("{folder}: {err}"));
            self.loaded.push((folder.to_owned(), model));
        }
        let index = self
            .loaded
            .iter()
            .position(|(name, _)| name == folder)
            .expect("loaded");
        &mut self.loaded[index].1
    }
}

/// `PENTIMENTO_GOLDENS` (comma-separated golden names) runs only those: CI runs a few under an
/// emulated second instruction set, where every golden would take too long.
const ONLY: &str = "PENTIMENTO_GOLDENS";

fn check_convention(optimum: bool) {
    let mut models = Models { loaded: Vec::new() };
    let mut failures = Vec::new();
    let mut checked = 0;
    let only: Option<Vec<String>> = std::env::var(ONLY).ok().map(|names| {
        names
            .split(',')
            .map(|name| name.trim().to_owned())
            .collect()
    });
    let names: Vec<String> = match &only {
        Some(only) => {
            for name in only {
                assert!(
                    fixtures().join("goldens").join(name).is_dir(),
                    "{ONLY} names {name}, which is not a golden"
                );
            }
            only.clone()
        }
        None => golden_names(),
    };
    for name in names {
        match run_golden(&name, optimum, &mut models) {
            Ok(Some(measured)) => {
                checked += 1;
                println!("{name}: {}", measured.describe());
                if !measured.holds() {
                    failures.push(format!("{name}: {}", measured.describe()));
                }
            }
            Ok(None) => println!("{name}: a configuration no pipeline runs (see scheduler_parity)"),
            Err(err) => failures.push(format!("{name}: {err}")),
        }
    }
    if only.is_none() {
        assert!(checked >= 40, "only {checked} goldens ran");
    }
    assert!(
        failures.is_empty(),
        "beyond the bound of the error model:\n{}",
        failures.join("\n")
    );
}

#[test]
fn diffusers_convention_matches_every_golden() {
    check_convention(false);
}

#[test]
fn optimum_convention_matches_every_golden() {
    check_convention(true);
}
