//! Pentimento's pipeline against diffusers' ONNX pipeline on the same ONNX files, with the same
//! ONNX Runtime version and thread count, side by side in one run.
//!
//! ```text
//! cargo bench -p pentimento-inference --bench versus_diffusers -- \
//!     --model tests/fixtures/models/tiny-sd --size 256 --steps 20 --scheduler ddim --runs 5
//! ```
//!
//! The reference side is `bench/diffusers_reference.py`, run with the Python named by
//! `PENTIMENTO_BENCH_PYTHON` (default `bench/.venv/bin/python`; see bench/README.md). Without it
//! only Pentimento's figures are printed. Reported: model load, first run, steady state (runs 3
//! and later: ONNX Runtime's first two runs grow arenas and plan memory), time inside ONNX
//! Runtime sessions, time outside them, peak resident memory, and the ratios.
//!
//! Pentimento keeps ONNX Runtime's optimized graphs in a cache (`--cache DIR`, default in the
//! temporary folder; `--no-cache` to measure without; `--cold` empties it first). A load that
//! finds no entry writes none; the entries are written in the background after the first run
//! (what the app does), concurrently with the second run, and the bench reports how long that
//! took and what the second run cost meanwhile. `--cache-during-load` writes them during the load
//! instead (the former behaviour), `--exported-attention` runs the exported attention operators
//! instead of the fused MultiHeadAttention, so each technique's own gain can be measured.
//! `--cfg-cutoff F` skips the unconditional half of classifier-free guidance in the last
//! `1 − F` of the steps (not exact; the output difference is printed).

use std::path::PathBuf;
use std::time::{Duration, Instant};

#[path = "common/diffusers.rs"]
mod diffusers;
#[path = "../tests/common/measure.rs"]
mod measure;

use diffusers::{
    Reference, Run, absolute, header, memory_row, number, or_exit, read_args, row, run_times,
    seconds, timed_generation, unless_skipped,
};
use measure::peak_rss;
use pentimento_inference::pipeline::{AttentionGraph, CacheWrite};
use pentimento_inference::{CancelToken, GenerationRequest, LoadOptions, Outcome};

struct Options {
    run: Run,
    size: u32,
    cache: Option<PathBuf>,
    cold: bool,
    cache_write: CacheWrite,
    attention: AttentionGraph,
    cfg_cutoff: Option<f32>,
}

fn parse() -> Result<Options, String> {
    let mut options = Options {
        run: Run::new("tests/fixtures/models/tiny-sd", 20, 5),
        size: 256,
        cache: Some(std::env::temp_dir().join("pentimento-bench-optimized")),
        cold: false,
        cache_write: CacheWrite::Deferred,
        attention: AttentionGraph::Fused,
        cfg_cutoff: None,
    };
    read_args(&mut options.run, |arg, value| {
        match arg {
            "--size" => options.size = number(arg, &value()?)?,
            "--cache" => options.cache = Some(PathBuf::from(value()?)),
            "--no-cache" => options.cache = None,
            "--cold" => options.cold = true,
            "--cache-during-load" => options.cache_write = CacheWrite::DuringLoad,
            "--exported-attention" => options.attention = AttentionGraph::Exported,
            "--cfg-cutoff" => options.cfg_cutoff = Some(number(arg, &value()?)?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if options.run.runs < 3 {
        return Err("--runs must be at least 3 (steady state is run 3 and later)".to_owned());
    }
    Ok(options)
}

/// Figures of one side.
#[derive(Debug, Default)]
struct Figures {
    load: Duration,
    runs: Vec<Duration>,
    inside: Vec<Duration>,
    peak_rss: u64,
    /// Steady-state time per component (last run): name, seconds, calls.
    components: Vec<(String, f64, u64)>,
    /// Peak resident memory before the background cache write started.
    peak_rss_before_cache_write: Option<u64>,
    /// How long the background cache write took.
    cache_write: Option<Duration>,
    /// The first run's image.
    image: Option<(u32, u32, Vec<u8>)>,
}

impl Figures {
    fn first(&self) -> Duration {
        self.runs[0]
    }

    fn steady(&self) -> Duration {
        mean(&self.runs[2..])
    }

    fn steady_inside(&self) -> Duration {
        mean(&self.inside[2..])
    }

    fn outside_share(&self) -> f64 {
        let steady = self.steady().as_secs_f64();
        if steady == 0.0 {
            return 0.0;
        }
        (steady - self.steady_inside().as_secs_f64()).max(0.0) / steady
    }
}

fn mean(durations: &[Duration]) -> Duration {
    durations.iter().sum::<Duration>() / durations.len().max(1) as u32
}

fn ours(options: &Options) -> Result<Figures, String> {
    if options.cold
        && let Some(cache) = &options.cache
    {
        let _ = std::fs::remove_dir_all(cache);
    }
    let (mut model, load) = options.run.timed_load(LoadOptions {
        optimized_cache: options.cache.clone(),
        cache_write: options.cache_write,
        attention: options.attention,
        ..LoadOptions::default()
    })?;
    for (component, cache_use) in model.cache_uses() {
        println!("optimized-graph cache, {component}: {cache_use:?}");
    }
    let request = GenerationRequest {
        prompt: "a red apple on a wooden table, oil painting".to_owned(),
        width: options.size,
        height: options.size,
        steps: options.run.steps,
        guidance: options.run.guidance,
        scheduler: options.run.scheduler,
        seed: options.run.seed,
        guidance_cutoff: options.cfg_cutoff,
        ..GenerationRequest::text_to_image("")
    };
    let mut figures = Figures {
        load,
        ..Figures::default()
    };
    let mut cache_work = None;
    for run in 0..options.run.runs {
        if run == 1
            && let Some(work) = model.take_cache_work()
        {
            // What the app does after the first result: write the cache in the background
            // while the artist goes on (here: while the second run goes on).
            figures.peak_rss_before_cache_write = Some(peak_rss());
            println!(
                "writing the optimized-graph cache of {:?} in the background",
                work.components()
            );
            cache_work = Some(std::thread::spawn(move || {
                let started = Instant::now();
                let results = work.run(&CancelToken::new());
                (started.elapsed(), results)
            }));
        }
        if run == 2
            && let Some(work) = cache_work.take()
        {
            // The steady state (runs 3 on) is measured without it.
            let (took, results) = work.join().map_err(|_| "the cache write panicked")?;
            println!(
                "optimized-graph cache written in {:.1} s: {results:?}",
                took.as_secs_f64()
            );
            figures.cache_write = Some(took);
        }
        model.reset_session_times();
        let (outcome, took) = timed_generation(&mut model, &request)?;
        figures.runs.push(took);
        figures.inside.push(model.session_times().total());
        if run == 0
            && let Outcome::Finished(variations) = outcome
            && let Some(variation) = variations.into_iter().next()
        {
            let image = variation.image;
            figures.image = Some((image.width, image.height, image.pixels));
        }
    }
    figures.components = model
        .session_times()
        .components
        .iter()
        .map(|(component, total, calls)| {
            (component.to_string(), total.as_secs_f64(), *calls as u64)
        })
        .collect();
    figures.peak_rss = peak_rss();
    Ok(figures)
}

fn reference(options: &Options) -> Result<Figures, String> {
    let json = Reference {
        run: &options.run,
        mode: "txt2img",
        width: options.size,
        height: options.size,
        extra: vec![(
            "save-image",
            reference_image(options).to_string_lossy().into_owned(),
        )],
    }
    .run()?;
    let runs = json["runs"]
        .as_array()
        .ok_or("no runs in reference output")?;
    let image = saved_reference_image(options);
    Ok(Figures {
        image,
        load: seconds(&json["load_s"]),
        runs: run_times(&json)?,
        inside: runs.iter().map(|run| seconds(&run["ort_s"])).collect(),
        peak_rss: json["peak_rss_bytes"].as_u64().unwrap_or(0),
        components: runs
            .last()
            .and_then(|run| run["components"].as_object())
            .map(|components| {
                components
                    .iter()
                    .map(|(name, value)| {
                        (
                            name.clone(),
                            value["total_s"]
                                .as_f64()
                                .or_else(|| value["s"].as_f64())
                                .unwrap_or(0.0),
                            value["calls"].as_u64().unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        ..Figures::default()
    })
}

/// Where the reference run leaves its first image; kept, so that a later run with
/// `--skip-reference` and the same settings compares against it.
fn reference_image(options: &Options) -> PathBuf {
    let model = absolute(&options.run.model);
    let name = model
        .file_name()
        .map_or_else(|| "model".into(), |name| name.to_string_lossy());
    std::env::temp_dir().join(format!(
        "pentimento-bench-reference-{name}-{}-{}-{}-{}-{}.png",
        options.size,
        options.run.steps,
        options.run.scheduler.cli_name(),
        options.run.guidance,
        options.run.seed
    ))
}

fn saved_reference_image(options: &Options) -> Option<(u32, u32, Vec<u8>)> {
    let image = image::open(reference_image(options)).ok()?.to_rgb8();
    Some((image.width(), image.height(), image.into_raw()))
}

/// One figure read from a run's measurements.
type Figure = fn(&Figures) -> f64;

fn main() {
    let options = or_exit(parse(), 2);
    options.run.describe(&format!("{}²", options.size));
    let ours = or_exit(ours(&options), 1);
    let theirs = unless_skipped(options.run.skip_reference, || reference(&options));
    header();
    let t = theirs.as_ref();
    let overall: [(&str, Figure, &str); 6] = [
        ("session load", |f| f.load.as_secs_f64(), "s"),
        ("first run", |f| f.first().as_secs_f64(), "s"),
        (
            "load + first run",
            |f| (f.load + f.first()).as_secs_f64(),
            "s",
        ),
        ("steady run (3rd on)", |f| f.steady().as_secs_f64(), "s"),
        (
            "  inside ONNX Runtime",
            |f| f.steady_inside().as_secs_f64(),
            "s",
        ),
        ("  outside sessions", |f| f.outside_share() * 100.0, "%"),
    ];
    for (name, figure, unit) in overall {
        row(name, figure(&ours), t.map(figure), unit);
    }
    for (name, seconds, calls) in &ours.components {
        let theirs = t.and_then(|f| {
            f.components
                .iter()
                .find(|(other, _, _)| other == name)
                .map(|(_, seconds, calls)| (*seconds, *calls))
        });
        row(
            &format!("  {name} ({calls} calls)"),
            *seconds,
            theirs.map(|(seconds, _)| seconds),
            "s",
        );
    }
    memory_row("peak resident memory", ours.peak_rss, t.map(|f| f.peak_rss));
    if let Some(before) = ours.peak_rss_before_cache_write {
        memory_row("  before the cache write", before, t.map(|f| f.peak_rss));
    }
    if let Some(took) = ours.cache_write {
        let second = ours.runs[1].as_secs_f64();
        let steady = ours.steady().as_secs_f64();
        println!(
            "background cache write       {:>10.3} s   (run 2 meanwhile {second:.3} s, {:+.0} % on the steady run)",
            took.as_secs_f64(),
            (second / steady - 1.0) * 100.0
        );
    }
    let saved = if t.is_none() {
        saved_reference_image(&options)
    } else {
        None
    };
    if saved.is_some() {
        println!("(diffusers' image from an earlier run with the same settings)");
    }
    if let (Some((w, h, ours_pixels)), Some((tw, th, theirs_pixels))) = (
        &ours.image,
        t.and_then(|f| f.image.as_ref()).or(saved.as_ref()),
    ) {
        if (w, h) == (tw, th) {
            let differences: Vec<u8> = ours_pixels
                .iter()
                .zip(theirs_pixels)
                .map(|(a, b)| a.abs_diff(*b))
                .collect();
            let max = differences.iter().copied().max().unwrap_or(0);
            let mean = differences.iter().map(|&d| f64::from(d)).sum::<f64>()
                / differences.len().max(1) as f64;
            println!(
                "image against diffusers       max {max} / 255, mean {mean:.4} / 255 per channel"
            );
        } else {
            println!("image against diffusers       sizes differ: {w}×{h} and {tw}×{th}");
        }
    }
}
