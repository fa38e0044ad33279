//! The whole pipeline against diffusers' ONNX pipelines, on the real ONNX Runtime and the tiny
//! fixture models, in both signature conventions: for every golden run, the text embeddings,
//! the latents after every step, the final latents and the decoded image must match what
//! diffusers produced from the same inputs.

mod common;

use std::ops::ControlFlow;
use std::path::Path;

use common::{Recorded, fixtures, golden_names, load_npy, max_difference, runtime, scheduler_of};

use pentimento_inference::image::{GrayImage, RgbImage};
use pentimento_inference::pipeline::{Img2ImgSchedule, StepView};
use pentimento_inference::scheduler::SchedulerConfig;
use pentimento_inference::{CancelToken, GenerationRequest, LoadOptions, Mode, StableDiffusion};

/// Latents, against the goldens made from the same ONNX files: 1e-4 absolute.
const LATENT_TOLERANCE: f32 = 1e-4;
/// The optimum export is a different graph of the same weights (opset 18, other operator
/// fusions), so its UNet rounds differently by itself; there the bound is also allowed to scale
/// with the latents' magnitude (which reaches 75 with the fixtures' random weights): 4e-6 of it,
/// about 32 float32 ulps.
const OPTIMUM_RELATIVE_TOLERANCE: f32 = 4e-6;

fn tolerance(optimum: bool, expected: &[f32]) -> f32 {
    if optimum {
        let scale = expected.iter().fold(0.0_f32, |acc, v| acc.max(v.abs()));
        LATENT_TOLERANCE.max(OPTIMUM_RELATIVE_TOLERANCE * scale)
    } else {
        LATENT_TOLERANCE
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
    worst_step: f32,
    final_latents: f32,
    image_float: f32,
    image_bytes: u8,
}

fn run_golden(name: &str, optimum: bool, models: &mut Models) -> Result<Measured, String> {
    let dir = fixtures().join("goldens").join(name);
    let params: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("params.json")).expect("params"))
            .expect("json");
    let mut folder = params["model_folder"].as_str().expect("folder").to_owned();
    if optimum {
        folder.push_str("-optimum");
    }
    let model = models.get(&folder);
    model.set_scheduler_config(
        SchedulerConfig::from_json(&params["scheduler_config"].to_string())
            .map_err(|err| err.to_string())?,
    );

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
        img2img_schedule: Img2ImgSchedule::DiffusersOnnx,
    };
    model.validate(&request).map_err(|err| err.to_string())?;

    let cancel = CancelToken::new();
    let embeddings = model
        .encode_prompts(&request, &cancel)
        .map_err(|err| err.to_string())?
        .expect("not cancelled");
    let golden_embeddings =
        load_npy(&fixtures().join(params["prompt_embeds_file"].as_str().expect("embeddings")));
    let embedding_difference = max_difference(&embeddings.data, &golden_embeddings);
    if embedding_difference > 1e-5 {
        return Err(format!("text embeddings differ by {embedding_difference}"));
    }

    let noise = load_npy(&dir.join("noise.npy"));
    let mut recorded = Recorded::from_golden(&dir);
    let golden_latents = load_npy(&dir.join("latents.npy"));
    let size: usize = request.latent_shape().iter().product();
    let mut worst_step = 0.0_f32;
    let mut step_failure = None;
    let mut observe = |view: &StepView<'_>| {
        let index = view.step - 1;
        let expected = &golden_latents[index * size..(index + 1) * size];
        let difference = max_difference(view.latents, expected);
        worst_step = worst_step.max(difference);
        if difference > tolerance(optimum, expected) && step_failure.is_none() {
            step_failure = Some(format!("step {index} latents differ by {difference}"));
        }
        ControlFlow::Continue(())
    };
    let variation = model
        .generate_one(
            &request,
            &embeddings,
            request.seed,
            Some(&noise),
            &mut recorded,
            &mut observe,
            &cancel,
        )
        .map_err(|err| err.to_string())?
        .expect("not cancelled");
    if let Some(failure) = step_failure {
        return Err(failure);
    }
    if !recorded.exhausted() {
        return Err(format!(
            "drew {} of diffusers' {} in-step noise values",
            recorded.position,
            recorded.values.len()
        ));
    }
    let golden_final = load_npy(&dir.join("final_latents.npy"));
    let final_latents = max_difference(&variation.latents, &golden_final);
    if final_latents > tolerance(optimum, &golden_final) {
        return Err(format!("final latents differ by {final_latents}"));
    }
    let golden_image = load_npy(&dir.join("image.npy"));
    let ours: Vec<f32> = variation
        .image
        .pixels
        .iter()
        .map(|&value| f32::from(value) / 255.0)
        .collect();
    let image_float = max_difference(&ours, &golden_image);
    let golden_png = rgb(&dir.join("image.png"));
    let image_bytes = variation
        .image
        .pixels
        .iter()
        .zip(&golden_png.pixels)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap_or(0);
    if image_bytes > 1 {
        return Err(format!("image differs by {image_bytes}/255"));
    }
    Ok(Measured {
        worst_step,
        final_latents,
        image_float,
        image_bytes,
    })
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

fn check_convention(optimum: bool) {
    let mut models = Models { loaded: Vec::new() };
    let mut failures = Vec::new();
    for name in golden_names() {
        match run_golden(&name, optimum, &mut models) {
            Ok(m) => println!(
                "{name}: steps ≤ {:.1e}, final ≤ {:.1e}, image ≤ {:.1e} ({} /255)",
                m.worst_step, m.final_latents, m.image_float, m.image_bytes
            ),
            Err(err) => failures.push(format!("{name}: {err}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn diffusers_convention_matches_every_golden() {
    check_convention(false);
}

#[test]
fn optimum_convention_matches_every_golden() {
    check_convention(true);
}
