//! `scheduler_config.json` from a downloaded model: parsed, then every scheduler is built from
//! it and run for a few steps on small latents. Errors are fine; panics, hangs and unbounded
//! allocations are not.
#![no_main]

use pentimento_inference::SchedulerKind;
use pentimento_inference::rng::NumpyRandom;
use pentimento_inference::scheduler::{self, SchedulerConfig};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&steps, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(config) = SchedulerConfig::from_json(text) else {
        return;
    };
    let steps = usize::from(steps % 60) + 1;
    for kind in SchedulerKind::ALL {
        let Ok(mut scheduler) = scheduler::create(kind, &config, steps, 0.5) else {
            continue;
        };
        let mut noise = NumpyRandom::new(1);
        let mut sample = vec![0.5_f32; 16];
        let prediction = vec![0.1_f32; 16];
        for index in 0..scheduler.timesteps().len().min(3) {
            scheduler.scale_model_input(&mut sample, index);
            let step = scheduler::Step {
                index,
                sample: &sample,
                model_output: &prediction,
            };
            sample = scheduler.step(step, &mut noise);
        }
        let _ = scheduler.add_noise(&sample, &prediction, 0);
    }
});
