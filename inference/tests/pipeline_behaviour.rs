//! How the pipelines behave for a caller: seeds and variations, determinism, cancellation
//! within a step and inside a running ONNX Runtime call, latent-blend inpainting keeping the
//! unmasked area, the step counts of img2img and PNDM, and clear errors for bad requests — all on
//! the real ONNX Runtime and the tiny fixture models.

mod common;

use std::ops::ControlFlow;
use std::time::Duration;

use common::error_model::step_bounds;
use common::{finished, fixtures, generated, load_npy, max_difference, runtime};

use pentimento_inference::image::{GrayImage, RgbImage};
use pentimento_inference::npy;
use pentimento_inference::pipeline::Img2ImgSchedule;
use pentimento_inference::{
    CancelToken, GenerationRequest, InferenceError, LoadOptions, Mode, Outcome, ProviderChoice,
    SchedulerKind, StableDiffusion,
};

fn load(name: &str) -> StableDiffusion {
    load_on(name, ProviderChoice::default()).unwrap_or_else(|err| panic!("{err}"))
}

/// Loads a fixture model on one thread with the given provider.
fn load_on(name: &str, provider: ProviderChoice) -> Result<StableDiffusion, InferenceError> {
    StableDiffusion::load(
        runtime(),
        &fixtures().join("models").join(name),
        LoadOptions {
            provider,
            intra_threads: Some(1),
            ..LoadOptions::default()
        },
    )
}

fn request(scheduler: SchedulerKind, steps: usize) -> GenerationRequest {
    GenerationRequest {
        prompt: "a red apple on a wooden table".to_owned(),
        width: 64,
        height: 64,
        steps,
        scheduler,
        seed: 42,
        ..GenerationRequest::text_to_image("")
    }
}

fn keep_going() -> impl FnMut(&pentimento_inference::Progress<'_>) -> ControlFlow<()> {
    |_| ControlFlow::Continue(())
}

fn test_image() -> RgbImage {
    let image = image::open(fixtures().join("goldens/inputs/init_image.png"))
        .expect("png")
        .to_rgb8();
    RgbImage::new(image.width(), image.height(), image.into_raw()).expect("size")
}

#[test]
fn seed_gives_diffusers_noise_and_variations_count_up() {
    let mut model = load("tiny-sd");
    let mut request = request(SchedulerKind::Ddim, 5);
    request.count = 3;
    let variations = generated(&mut model, &request);
    assert_eq!(
        variations.iter().map(|v| v.seed).collect::<Vec<_>>(),
        [42, 43, 44]
    );
    // Seed 42 draws the same initial noise as diffusers, so the first variation is the golden
    // (within what kernels on another computer change, common/error_model.rs).
    let golden_dir = fixtures().join("goldens/txt2img-ddim");
    let golden = load_npy(&golden_dir.join("final_latents.npy"));
    let bound = *step_bounds(
        &load_npy(&golden_dir.join("start_latents.npy")),
        &load_npy(&golden_dir.join("latents.npy")),
        7.5,
    )
    .last()
    .expect("steps");
    let difference = max_difference(&variations[0].latents, &golden);
    assert!(
        difference <= bound,
        "seed 42 differs from diffusers by {difference} (bound {bound})"
    );
    assert_ne!(variations[0].latents, variations[1].latents);
    assert_ne!(variations[1].image, variations[2].image);
    assert_eq!(variations[2].image.width, 64);
}

#[test]
fn same_inputs_give_bit_identical_outputs() {
    let mut model = load("tiny-sd");
    for scheduler in [
        SchedulerKind::EulerAncestral,
        SchedulerKind::DpmPlusPlus2MKarras,
    ] {
        let request = request(scheduler, 4);
        let first = generated(&mut model, &request);
        let second = generated(&mut model, &request);
        assert_eq!(first, second, "{scheduler}");
    }
}

#[test]
fn supplied_initial_noise_replaces_the_seeded_one() {
    let mut model = load("tiny-sd");
    let noise: Vec<f32> = npy::read_f32(&fixtures().join("goldens/txt2img-ddim/noise.npy"))
        .expect("noise")
        .iter()
        .copied()
        .collect();
    let mut supplied = request(SchedulerKind::Ddim, 5);
    supplied.seed = 7;
    supplied.initial_noise = Some(noise);
    let from_noise = generated(&mut model, &supplied);
    let from_seed = finished(
        model
            .generate(
                &request(SchedulerKind::Ddim, 5),
                &mut keep_going(),
                &CancelToken::new(),
            )
            .expect("generates"),
    );
    assert_eq!(from_noise[0].latents, from_seed[0].latents);

    supplied.initial_noise = Some(vec![0.0; 10]);
    let err = model
        .generate(&supplied, &mut keep_going(), &CancelToken::new())
        .expect_err("wrong shape");
    assert!(matches!(err, InferenceError::NoiseShape { .. }), "{err}");
}

#[test]
fn stopping_from_the_progress_callback_keeps_only_whole_variations() {
    let mut model = load("tiny-sd");
    let mut request = request(SchedulerKind::Euler, 6);
    request.count = 3;
    let mut seen = Vec::new();
    let mut stop_in_second = |progress: &pentimento_inference::Progress<'_>| {
        seen.push((progress.variation, progress.step));
        assert_eq!(progress.preview.width, 8);
        if progress.variation == 1 && progress.step == 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let outcome = model
        .generate(&request, &mut stop_in_second, &CancelToken::new())
        .expect("runs");
    let Outcome::Cancelled { completed } = outcome else {
        panic!("expected a cancelled outcome");
    };
    assert_eq!(
        completed.len(),
        1,
        "the first variation finished, the second did not"
    );
    assert_eq!(completed[0].seed, 42);
    // The stop took effect within the step: nothing ran after step 2 of variation 1.
    assert_eq!(seen.last(), Some(&(1, 2)));
    assert_eq!(seen.len(), 6 + 2);
}

#[test]
fn cancel_token_stops_a_running_onnx_runtime_call() {
    let mut model = load("tiny-sd");
    // A large image keeps the VAE decoder busy long enough to be caught mid-run.
    let mut request = request(SchedulerKind::Ddim, 1);
    request.width = 1024;
    request.height = 1024;
    let cancel = CancelToken::new();
    let watcher = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while !cancel.is_running() {
                assert!(std::time::Instant::now() < deadline, "no run started");
                std::thread::yield_now();
            }
            cancel.cancel();
        })
    };
    let outcome = model
        .generate(&request, &mut keep_going(), &cancel)
        .expect("no error: cancellation is an outcome");
    watcher.join().expect("watcher");
    assert_eq!(
        outcome,
        Outcome::Cancelled {
            completed: Vec::new()
        }
    );
    // The model is still usable afterwards.
    let variations = finished(
        model
            .generate(
                &self::request(SchedulerKind::Ddim, 2),
                &mut keep_going(),
                &CancelToken::new(),
            )
            .expect("generates"),
    );
    assert_eq!(variations.len(), 1);
}

#[test]
fn latent_blend_inpainting_keeps_the_unmasked_area() {
    let mut model = load("tiny-sd");
    assert!(!model.conventions().is_inpainting_unet());
    let image = test_image();
    // Regenerate the right half.
    let mask_pixels: Vec<u8> = (0..64 * 64)
        .map(|index| if index % 64 >= 32 { 255 } else { 0 })
        .collect();
    let mask = GrayImage::new(64, 64, mask_pixels).expect("size");
    let mut request = request(SchedulerKind::DpmPlusPlus2M, 6);
    request.mode = Mode::Inpaint {
        image: image.clone(),
        mask,
        strength: 1.0,
    };
    let variations = generated(&mut model, &request);
    // The kept half equals the input's own latents exactly; the masked half was regenerated.
    let original = encoded_input(&mut model, &image);
    let latents = &variations[0].latents;
    for channel in 0..4 {
        for y in 0..8 {
            for x in 0..8 {
                let index = channel * 64 + y * 8 + x;
                if x < 4 {
                    assert_eq!(latents[index], original[index], "kept cell ({x}, {y})");
                } else {
                    assert_ne!(
                        latents[index], original[index],
                        "regenerated cell ({x}, {y})"
                    );
                }
            }
        }
    }
}

/// The input's scaled latents: inpainting with an all-black mask keeps everything, so its final
/// latents are the encoded input.
fn encoded_input(model: &mut StableDiffusion, image: &RgbImage) -> Vec<f32> {
    let mut keep_all = request(SchedulerKind::Ddim, 2);
    keep_all.mode = Mode::Inpaint {
        image: image.clone(),
        mask: GrayImage::new(64, 64, vec![0; 64 * 64]).expect("size"),
        strength: 1.0,
    };
    generated(model, &keep_all)[0].latents.clone()
}

#[test]
fn img2img_runs_the_strength_share_of_the_steps() {
    let mut model = load("tiny-sd");
    let mut request = request(SchedulerKind::Ddim, 10);
    request.mode = Mode::ImageToImage {
        image: test_image(),
        strength: 0.7,
    };
    let steps_run = |model: &mut StableDiffusion, request: &GenerationRequest| {
        let mut steps = 0;
        let mut count = |progress: &pentimento_inference::Progress<'_>| {
            steps = progress.steps;
            ControlFlow::Continue(())
        };
        model
            .generate(request, &mut count, &CancelToken::new())
            .expect("generates");
        steps
    };
    let steps = steps_run(&mut model, &request);
    assert_eq!(steps, 7, "int(10 × 0.7) = 7 steps, as Python computes it");

    request.img2img_schedule = Img2ImgSchedule::DiffusersOnnx;
    let steps = steps_run(&mut model, &request);
    assert_eq!(
        steps, 7,
        "diffusers' ONNX pipeline starts at 10 + 1 − 8 = 3: 7 steps"
    );
}

#[test]
fn pndm_with_four_steps_calls_the_unet_five_times() {
    let mut model = load("tiny-sd");
    let mut calls = 0;
    let mut count = |_: &pentimento_inference::Progress<'_>| {
        calls += 1;
        ControlFlow::Continue(())
    };
    model
        .generate(
            &request(SchedulerKind::Pndm, 4),
            &mut count,
            &CancelToken::new(),
        )
        .expect("generates");
    assert_eq!(calls, 5);
    let unet = model
        .session_times()
        .components
        .iter()
        .find(|(component, _, _)| *component == pentimento_inference::Component::Unet)
        .map(|(_, _, runs)| *runs);
    assert_eq!(unet, Some(5));
}

#[test]
fn bad_requests_are_explained() {
    let mut model = load("tiny-sd-inpaint");
    assert_eq!(model.size_multiple(), 16);
    let cases: Vec<(GenerationRequest, &str)> = vec![
        (
            GenerationRequest {
                width: 70,
                ..request(SchedulerKind::Ddim, 2)
            },
            "70×64 is not a size this model can generate: width and height must be multiples of 16 (for example 64×64)",
        ),
        (
            GenerationRequest {
                mode: Mode::Inpaint {
                    image: test_image(),
                    mask: GrayImage::new(32, 32, vec![255; 32 * 32]).expect("size"),
                    strength: 1.0,
                },
                ..request(SchedulerKind::Ddim, 2)
            },
            "the mask is 32×32 but the generation is 64×64; resize it to match",
        ),
        (
            GenerationRequest {
                mode: Mode::ImageToImage {
                    image: test_image(),
                    strength: 0.0,
                },
                ..request(SchedulerKind::Ddim, 2)
            },
            "strength is 0: use a value above 0 and at most 1",
        ),
        (
            GenerationRequest {
                count: 0,
                ..request(SchedulerKind::Ddim, 2)
            },
            "count is 0: use 1 to 64",
        ),
        (
            GenerationRequest {
                mode: Mode::ImageToImage {
                    image: test_image(),
                    strength: 0.05,
                },
                ..request(SchedulerKind::Ddim, 4)
            },
            "strength is 0.05: with 4 steps this leaves no step to run; raise the strength or the steps",
        ),
        (
            request(SchedulerKind::Lcm, 60),
            "LCM cannot run 60 steps: at most 50 (the model's original_inference_steps)",
        ),
    ];
    for (request, expected) in cases {
        let err = model
            .generate(&request, &mut keep_going(), &CancelToken::new())
            .expect_err(expected);
        assert_eq!(err.to_string(), expected);
    }
}

#[test]
fn an_unavailable_gpu_provider_is_reported_not_replaced() {
    let err = load_on("tiny-sd", ProviderChoice::Cuda)
        .expect_err("the bundled ONNX Runtime is the CPU build");
    let message = err.to_string();
    assert!(
        message.starts_with("the CUDA execution provider cannot be used ("),
        "{message}"
    );
    // Automatic falls back to the CPU and says why.
    let model = load("tiny-sd");
    let auto = load_on("tiny-sd", ProviderChoice::Auto).expect("loads");
    assert_eq!(auto.provider().active, ProviderChoice::Cpu);
    assert_eq!(model.provider().active, ProviderChoice::Cpu);
}

#[test]
fn an_inpainting_model_also_paints_from_text_and_from_an_image() {
    // Its UNet needs a mask and a masked image in every mode; text to image and image to image
    // give it a mask over everything, exactly like an inpaint request with a white mask.
    let mut model = load("tiny-sd-inpaint");
    let white = GrayImage::new(64, 64, vec![255; 64 * 64]).expect("size");
    let grey = RgbImage::new(64, 64, vec![128; 64 * 64 * 3]).expect("size");
    let run = |model: &mut StableDiffusion, mode: Mode| {
        let request = GenerationRequest {
            mode,
            ..request(SchedulerKind::Euler, 3)
        };
        let outcome = model
            .generate(&request, &mut keep_going(), &CancelToken::new())
            .unwrap_or_else(|err| panic!("{err}"));
        finished(outcome).remove(0).image
    };
    let from_text = run(&mut model, Mode::TextToImage);
    let as_inpaint = run(
        &mut model,
        Mode::Inpaint {
            image: grey,
            mask: white.clone(),
            strength: 1.0,
        },
    );
    assert_eq!((from_text.width, from_text.height), (64, 64));
    assert!(
        from_text.pixels == as_inpaint.pixels,
        "text to image = inpaint everything"
    );

    let from_image = run(
        &mut model,
        Mode::ImageToImage {
            image: test_image(),
            strength: 0.6,
        },
    );
    let as_inpaint = run(
        &mut model,
        Mode::Inpaint {
            image: test_image(),
            mask: white,
            strength: 0.6,
        },
    );
    assert!(
        from_image.pixels == as_inpaint.pixels,
        "image to image = inpaint everything"
    );
    assert!(from_image.pixels != from_text.pixels, "the image is used");
}

#[test]
fn a_float16_model_paints_what_its_float32_original_paints() {
    // The same weights converted to float16 the way the ONNX Runtime team's exports are: every
    // input and output of every component is float16, including the UNet's timestep.
    let mut full = load("tiny-sd-inpaint");
    let mut half = load("tiny-sd-inpaint-fp16");
    assert_eq!(
        half.conventions().latent_element,
        pentimento_inference::model::ElementType::Float16
    );
    let mask = image::open(fixtures().join("goldens/inputs/mask.png"))
        .expect("png")
        .to_luma8();
    let mask = GrayImage::new(mask.width(), mask.height(), mask.into_raw()).expect("size");
    for mode in [
        Mode::TextToImage,
        Mode::Inpaint {
            image: test_image(),
            mask,
            strength: 1.0,
        },
    ] {
        let request = GenerationRequest {
            mode,
            negative_prompt: "blurry".to_owned(),
            ..request(SchedulerKind::DpmPlusPlus2M, 8)
        };
        let run = |model: &mut StableDiffusion| generated(model, &request).remove(0);
        let (a, b) = (run(&mut full), run(&mut half));
        // float16 keeps about three decimal digits; eight steps of guidance add up to a few
        // thousandths of the latents' range, far below what a wrong input would cause.
        let range = a.latents.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let latent_difference = a
            .latents
            .iter()
            .zip(&b.latents)
            .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(
            latent_difference <= 0.005 * range,
            "latents differ by {latent_difference} of {range}"
        );
        let pixel_difference = a
            .image
            .pixels
            .iter()
            .zip(&b.image.pixels)
            .map(|(x, y)| x.abs_diff(*y))
            .max()
            .expect("pixels");
        assert!(pixel_difference <= 3, "pixels differ by {pixel_difference}");
        assert!(
            b.latents.iter().all(|v| v.is_finite()),
            "no float16 overflow"
        );
    }
}

/// A mask whose level rises across the picture, one 8-pixel column of cells per level: 0, then
/// 1/7 … 1.
fn graded_mask() -> GrayImage {
    let pixels: Vec<u8> = (0..64 * 64)
        .map(|index| ((index % 64 / 8) * 255 / 7) as u8)
        .collect();
    GrayImage::new(64, 64, pixels).expect("size")
}

/// Mean absolute difference from `original` per column of latent cells.
fn column_distance(latents: &[f32], original: &[f32]) -> Vec<f32> {
    (0..8)
        .map(|x| {
            let mut sum = 0.0;
            for channel in 0..4 {
                for y in 0..8 {
                    let index = channel * 64 + y * 8 + x;
                    sum += (latents[index] - original[index]).abs();
                }
            }
            sum / 32.0
        })
        .collect()
}

#[test]
fn soft_inpainting_regenerates_each_area_as_strongly_as_its_mask_level() {
    for name in ["tiny-sd", "tiny-sd-inpaint"] {
        let mut model = load(name);
        let image = test_image();
        // With soft inpainting an all-black mask holds everything to the input on both paths:
        // the result is the input's own latents (as plain latent blending gives them).
        let mut keep_all = request(SchedulerKind::Ddim, 2);
        keep_all.mode = Mode::Inpaint {
            image: image.clone(),
            mask: GrayImage::new(64, 64, vec![0; 64 * 64]).expect("size"),
            strength: 1.0,
        };
        keep_all.soft_inpainting = true;
        let original = generated(&mut model, &keep_all)[0].latents.clone();
        if name == "tiny-sd" {
            assert_eq!(original, encoded_input(&mut model, &image));
        }
        let mut request = request(SchedulerKind::DpmPlusPlus2M, 14);
        request.mode = Mode::Inpaint {
            image: image.clone(),
            mask: graded_mask(),
            strength: 1.0,
        };
        request.soft_inpainting = true;
        let soft = generated(&mut model, &request)[0].latents.clone();
        let distance = column_distance(&soft, &original);
        // Level 0 is held to the input throughout: its latents are the input's, exactly.
        assert_eq!(distance[0], 0.0, "{name}: {distance:?}");
        // Every other level is regenerated, for the last `s` of the steps (14 steps: level k/7
        // is free for the last 2k of them), so it differs.
        assert!(
            distance[1..].iter().all(|&d| d > 0.0),
            "{name}: {distance:?}"
        );
        // The run is reproducible.
        assert_eq!(generated(&mut model, &request)[0].latents, soft, "{name}");
        // Without it, the same graded mask is used otherwise: binarised at half for the
        // inpainting UNet (nothing is held), as coverage blending for the ordinary one.
        request.soft_inpainting = false;
        let plain = generated(&mut model, &request)[0].latents.clone();
        assert_ne!(plain, soft, "{name}: soft inpainting changes the run");
    }
}

#[test]
fn soft_inpainting_with_a_hard_mask_on_an_ordinary_unet_is_latent_blending() {
    let mut model = load("tiny-sd");
    let mask_pixels: Vec<u8> = (0..64 * 64)
        .map(|index| if index % 64 >= 24 { 255 } else { 0 })
        .collect();
    let mut request = request(SchedulerKind::EulerAncestral, 5);
    request.mode = Mode::Inpaint {
        image: test_image(),
        mask: GrayImage::new(64, 64, mask_pixels).expect("size"),
        strength: 0.8,
    };
    let plain = generated(&mut model, &request)[0].latents.clone();
    request.soft_inpainting = true;
    // A cell is either held or free at every step either way: the same arithmetic.
    assert_eq!(generated(&mut model, &request)[0].latents, plain);
}

/// The latents after every step of a run.
fn step_latents(model: &mut StableDiffusion, request: &GenerationRequest) -> Vec<Vec<f32>> {
    let mut steps = Vec::new();
    let outcome = model
        .generate(
            request,
            &mut |progress| {
                steps.push(progress.latents.to_vec());
                ControlFlow::Continue(())
            },
            &CancelToken::new(),
        )
        .expect("generates");
    finished(outcome);
    steps
}

#[test]
fn guidance_cutoff_runs_the_first_steps_guided_and_the_rest_on_the_prompt_alone() {
    let mut model = load("tiny-sd");
    let exact = request(SchedulerKind::Ddim, 6);
    let guided = step_latents(&mut model, &exact);
    // As diffusers' SDCFGCutoffCallback: guidance stops after step ⌊6 × 0.5⌋ = 3 (0-based).
    let cut = GenerationRequest {
        guidance_cutoff: Some(0.5),
        ..exact.clone()
    };
    let truncated = step_latents(&mut model, &cut);
    assert_eq!(guided.len(), 6);
    assert_eq!(truncated.len(), 6);
    for step in 0..4 {
        assert_eq!(
            truncated[step], guided[step],
            "step {step} still runs guided"
        );
    }
    assert!(max_difference(&truncated[4], &guided[4]) > 0.0);
    // A cutoff of 1 truncates nothing.
    let none = GenerationRequest {
        guidance_cutoff: Some(1.0),
        ..exact.clone()
    };
    assert_eq!(step_latents(&mut model, &none), guided);

    let bad = GenerationRequest {
        guidance_cutoff: Some(1.5),
        ..exact
    };
    let err = model.validate(&bad).expect_err("out of range");
    assert!(err.to_string().contains("guidance cutoff"), "{err}");
}
