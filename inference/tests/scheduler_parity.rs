//! Every scheduler, step by step, against diffusers: for each golden run, each step is fed the
//! latents and the guided noise prediction diffusers had at that step (and the noise it drew),
//! and must produce diffusers' next latents to within a few roundings (below). Timesteps, sigmas
//! and the initial noise scale must match too, and img2img's starting latents come from
//! `add_noise`.
//!
//! No ONNX Runtime runs here, so nothing depends on the computer's kernels: a step is a dozen
//! float32 operations, done by torch in one order and here in another, so the two results may
//! differ by about one rounding per operation at the scale of the values involved. The bound is
//! [`STEP_ROUNDINGS`] · u · the largest |value| going in or coming out; the largest difference
//! seen is 3.8 u at that scale (img2img-dpmpp-2m, whose multistep update combines two
//! predictions).

use pentimento_inference::scheduler;

mod common;

use common::error_model::{UNIT_ROUNDOFF, largest_magnitude};
use common::{
    GoldenScheduler, Recorded, fixtures, golden_names, golden_scheduler, load_npy, max_difference,
    scheduler_of,
};

/// Roundings two implementations of one scheduler step may differ by (a dozen operations, each
/// rounded once, in either implementation).
const STEP_ROUNDINGS: f32 = 16.0;

/// The bound for a step from `input` to `expected` (diffusers' output).
fn step_bound(input: &[f32], expected: &[f32]) -> f32 {
    STEP_ROUNDINGS * UNIT_ROUNDOFF * largest_magnitude(input).max(largest_magnitude(expected))
}

/// A JSON array of numbers as f32s.
fn numbers(value: &serde_json::Value) -> Vec<f32> {
    value
        .as_array()
        .expect("an array of numbers")
        .iter()
        .map(|t| t.as_f64().expect("number") as f32)
        .collect()
}

fn check_golden(name: &str) -> Result<f32, String> {
    let dir = fixtures().join("goldens").join(name);
    let params: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("params.json")).expect("params"))
            .expect("json");
    // As diffusers built it: a folder's file rewritten as its pipelines rewrite it
    // (`SchedulerConfig::as_pipelines_use_it`), a swapped-in scheduler's configuration as it was.
    let config = match golden_scheduler(&params) {
        GoldenScheduler::File(file) => file.as_pipelines_use_it().0,
        GoldenScheduler::Held(held) => held,
    };
    let steps = params["num_inference_steps"].as_u64().expect("steps") as usize;
    let eta = params["eta"].as_f64().unwrap_or(0.0) as f32;
    let kind = scheduler_of(&params);
    let mut scheduler =
        scheduler::create(kind, &config, steps, eta).map_err(|err| err.to_string())?;

    let expected_timesteps = numbers(&params["scheduler_timesteps"]);
    if scheduler.timesteps() != expected_timesteps.as_slice() {
        return Err(format!(
            "timesteps {:?}, diffusers {:?}",
            scheduler.timesteps(),
            expected_timesteps
        ));
    }
    let init_sigma = params["init_noise_sigma"].as_f64().expect("sigma") as f32;
    if (scheduler.init_noise_sigma() - init_sigma).abs() > 1e-6 * init_sigma.max(1.0) {
        return Err(format!(
            "init_noise_sigma {}, diffusers {init_sigma}",
            scheduler.init_noise_sigma()
        ));
    }

    // The loop may start part-way (img2img).
    let run = numbers(&params["timesteps_run"]);
    let start = expected_timesteps.len() - run.len();

    let latents = load_npy(&dir.join("latents.npy"));
    let noise_pred = load_npy(&dir.join("noise_pred.npy"));
    let start_latents = load_npy(&dir.join("start_latents.npy"));
    let size = start_latents.len();
    let mut recorded = Recorded::from_golden(&dir);

    let mut worst = 0.0_f32;
    if params["mode"] == "img2img" {
        let init = load_npy(&dir.join("init_latents.npy"));
        let noise = load_npy(&dir.join("noise.npy"));
        let noise_timestep = params["img2img_noise_timestep"].as_f64().expect("t") as f32;
        let noise_index = expected_timesteps
            .iter()
            .position(|&t| t == noise_timestep)
            .expect("noise timestep in the schedule");
        let noised = scheduler.add_noise(&init, &noise, noise_index);
        let difference = max_difference(&noised, &start_latents);
        let bound = step_bound(&init, &start_latents);
        if difference > bound {
            return Err(format!("add_noise differs by {difference} (bound {bound})"));
        }
        worst = worst.max(difference / bound);
    }
    for step in 0..run.len() {
        let input = if step == 0 {
            &start_latents[..]
        } else {
            &latents[(step - 1) * size..step * size]
        };
        let this_step = scheduler::Step {
            index: start + step,
            sample: input,
            model_output: &noise_pred[step * size..(step + 1) * size],
        };
        let output = scheduler.step(this_step, &mut recorded);
        let expected = &latents[step * size..(step + 1) * size];
        let difference = max_difference(&output, expected);
        let bound = step_bound(input, expected);
        if difference > bound {
            return Err(format!(
                "step {step} differs by {difference} (bound {bound})"
            ));
        }
        worst = worst.max(difference / bound);
    }
    if !recorded.exhausted() {
        return Err(format!(
            "used {} of diffusers' {} in-step noise values",
            recorded.position,
            recorded.values.len()
        ));
    }
    Ok(worst)
}

#[test]
fn every_golden_scheduler_run_matches_diffusers_step_by_step() {
    let names = golden_names();
    assert!(
        names.len() >= 36,
        "expected the full golden set, found {}",
        names.len()
    );
    let mut failures = Vec::new();
    for name in &names {
        match check_golden(name) {
            Ok(worst) => println!("{name}: at most {:.0} % of the bound", 100.0 * worst),
            Err(err) => failures.push(format!("{name}: {err}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
