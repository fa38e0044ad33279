//! Every scheduler, step by step, against diffusers: for each golden run, each step is fed the
//! latents and the guided noise prediction diffusers had at that step (and the noise it drew),
//! and must produce diffusers' next latents within 1e-4. Timesteps, sigmas and the initial noise
//! scale must match too, and img2img's starting latents come from `add_noise`.

use std::path::{Path, PathBuf};

use pentimento_inference::npy;
use pentimento_inference::rng::NoiseSource;
use pentimento_inference::scheduler::{self, SchedulerConfig, SchedulerKind};

const TOLERANCE: f32 = 1e-4;

fn goldens() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/goldens")
}

/// Noise replayed from diffusers' recording, in order.
struct Recorded {
    values: Vec<f32>,
    position: usize,
}

impl NoiseSource for Recorded {
    fn fill_standard_normal(&mut self, out: &mut [f32]) {
        let end = self.position + out.len();
        assert!(
            end <= self.values.len(),
            "the scheduler drew more noise than diffusers"
        );
        out.copy_from_slice(&self.values[self.position..end]);
        self.position = end;
    }
}

fn load(dir: &Path, name: &str) -> Vec<f32> {
    npy::read_f32(&dir.join(name))
        .unwrap_or_else(|err| panic!("{err}"))
        .iter()
        .copied()
        .collect()
}

fn kind_of(params: &serde_json::Value) -> SchedulerKind {
    let config = &params["scheduler_config"];
    match params["scheduler_class"].as_str().expect("class") {
        "DDIMScheduler" => SchedulerKind::Ddim,
        "PNDMScheduler" => SchedulerKind::Pndm,
        "EulerDiscreteScheduler" => SchedulerKind::Euler,
        "EulerAncestralDiscreteScheduler" => SchedulerKind::EulerAncestral,
        "DPMSolverMultistepScheduler" if config["use_karras_sigmas"] == true => {
            SchedulerKind::DpmPlusPlus2MKarras
        }
        "DPMSolverMultistepScheduler" => SchedulerKind::DpmPlusPlus2M,
        "LCMScheduler" => SchedulerKind::Lcm,
        other => panic!("no scheduler for {other}"),
    }
}

fn max_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn golden_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(goldens())
        .expect("goldens")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("params.json").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn check_golden(name: &str) -> Result<f32, String> {
    let dir = goldens().join(name);
    let params: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("params.json")).expect("params"))
            .expect("json");
    let config = SchedulerConfig::from_json(&params["scheduler_config"].to_string())
        .map_err(|err| err.to_string())?;
    let steps = params["num_inference_steps"].as_u64().expect("steps") as usize;
    let eta = params["eta"].as_f64().unwrap_or(0.0) as f32;
    let kind = kind_of(&params);
    let mut scheduler =
        scheduler::create(kind, &config, steps, eta).map_err(|err| err.to_string())?;

    let expected_timesteps: Vec<f32> = params["scheduler_timesteps"]
        .as_array()
        .expect("timesteps")
        .iter()
        .map(|t| t.as_f64().expect("number") as f32)
        .collect();
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
    let run: Vec<f32> = params["timesteps_run"]
        .as_array()
        .expect("run")
        .iter()
        .map(|t| t.as_f64().expect("number") as f32)
        .collect();
    let start = expected_timesteps.len() - run.len();

    let latents = load(&dir, "latents.npy");
    let noise_pred = load(&dir, "noise_pred.npy");
    let start_latents = load(&dir, "start_latents.npy");
    let size = start_latents.len();
    let mut recorded = Recorded {
        values: if dir.join("step_noise.npy").is_file() {
            load(&dir, "step_noise.npy")
        } else {
            Vec::new()
        },
        position: 0,
    };

    let mut worst = 0.0_f32;
    if params["mode"] == "img2img" {
        let init = load(&dir, "init_latents.npy");
        let noise = load(&dir, "noise.npy");
        let noise_timestep = params["img2img_noise_timestep"].as_f64().expect("t") as f32;
        let noise_index = expected_timesteps
            .iter()
            .position(|&t| t == noise_timestep)
            .expect("noise timestep in the schedule");
        let noised = scheduler.add_noise(&init, &noise, noise_index);
        let difference = max_difference(&noised, &start_latents);
        if difference > TOLERANCE {
            return Err(format!("add_noise differs by {difference}"));
        }
        worst = worst.max(difference);
    }
    for step in 0..run.len() {
        let input = if step == 0 {
            &start_latents[..]
        } else {
            &latents[(step - 1) * size..step * size]
        };
        let output = scheduler.step(
            &noise_pred[step * size..(step + 1) * size],
            start + step,
            input,
            &mut recorded,
        );
        let difference = max_difference(&output, &latents[step * size..(step + 1) * size]);
        if difference > TOLERANCE {
            return Err(format!("step {step} differs by {difference}"));
        }
        worst = worst.max(difference);
    }
    if recorded.position != recorded.values.len() {
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
            Ok(worst) => println!("{name}: max abs difference {worst:.2e}"),
            Err(err) => failures.push(format!("{name}: {err}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
