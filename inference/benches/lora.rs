//! Applying a LoRA to a loaded model: the time from choosing it to ready (reading the file,
//! merging it, and re-creating the sessions it changes), a change of strength, taking it off
//! again, and the extra peak memory against the size of the merged tensors.
//!
//! ```text
//! cargo bench -p pentimento-inference --bench lora -- --model /work/sd15-random --rank 32
//! ```
//!
//! The LoRA is written by the bench itself: kohya-ss keys, float16, rank `--rank`, on every
//! attention projection (`to_q`, `to_k`, `to_v`, `to_out.0`) and feed-forward layer
//! (`ff.net.0.proj`, `ff.net.2`) of the UNet and every attention and MLP layer of the text
//! encoder, as LoRAs trained with kohya-ss's defaults are (about 40 MB at rank 32 for SD 1.5).
//! Targets: ready within 3 s, extra peak memory at most 1.2 × the merged tensors.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pentimento_inference::lora::LoraRequest;
use pentimento_inference::lora::onnx::ModelWeights;
use pentimento_inference::{
    CancelToken, Component, GenerationRequest, LoadOptions, LocateOptions, OnnxRuntime,
    SchedulerKind, StableDiffusion,
};

/// The layers a kohya-ss LoRA trains by default.
const UNET_LAYERS: [&str; 6] = [
    "to_q",
    "to_k",
    "to_v",
    "to_out.0",
    "ff.net.0.proj",
    "ff.net.2",
];
const TEXT_LAYERS: [&str; 6] = ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"];

fn main() {
    if let Err(message) = run() {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

struct Options {
    model: PathBuf,
    rank: usize,
    threads: usize,
}

fn parse() -> Result<Options, String> {
    let mut options = Options {
        model: PathBuf::from("/work/sd15-random"),
        rank: 32,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--model" => options.model = PathBuf::from(value()?),
            "--rank" => options.rank = value()?.parse().map_err(|_| "--rank: a number")?,
            "--threads" => options.threads = value()?.parse().map_err(|_| "--threads: a number")?,
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

/// Resident memory now and its peak since the last reset (Linux), in bytes.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Starts a new peak-memory measurement (Linux: writing 5 to clear_refs resets VmHWM).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// A seeded rank-`rank` kohya LoRA for every default layer of the model, in float16.
fn write_lora(model: &std::path::Path, rank: usize, path: &std::path::Path) -> Result<u64, String> {
    let mut tensors: Vec<(String, Vec<u8>, Vec<usize>)> = Vec::new();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut random = move || {
        // xorshift64*: uniform in [-1, 1)
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let bits = state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40;
        bits as f32 / (1u64 << 23) as f32 - 1.0
    };
    let mut merged_bytes = 0_u64;
    for (component, prefix, layers) in [
        ("unet", "lora_unet_", UNET_LAYERS),
        ("text_encoder", "lora_te_", TEXT_LAYERS),
    ] {
        let weights = ModelWeights::read(&model.join(component).join("model.onnx"))?;
        for (module, layer) in &weights.layers {
            if !layers
                .iter()
                .any(|name| module.ends_with(&format!(".{name}")))
            {
                continue;
            }
            let initializer = &weights.initializers[&layer.initializer];
            let (out, inner) = if layer.op.transposed() {
                (initializer.dims[1] as usize, initializer.dims[0] as usize)
            } else {
                (initializer.dims[0] as usize, initializer.dims[1] as usize)
            };
            merged_bytes += (initializer.elements() * 4) as u64;
            let stem = format!("{prefix}{}", module.replace('.', "_"));
            let half = |values: Vec<f32>| -> Vec<u8> {
                values
                    .into_iter()
                    .flat_map(|v| half::f16::from_f32(v).to_le_bytes())
                    .collect()
            };
            let down = half(
                (0..rank * inner)
                    .map(|_| random() / (inner as f32).sqrt())
                    .collect(),
            );
            let up = half((0..out * rank).map(|_| random() * 0.01).collect());
            tensors.push((format!("{stem}.lora_down.weight"), down, vec![rank, inner]));
            tensors.push((format!("{stem}.lora_up.weight"), up, vec![out, rank]));
            tensors.push((
                format!("{stem}.alpha"),
                half(vec![rank as f32 / 2.0]),
                vec![],
            ));
        }
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(name, bytes, shape)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F16, shape.clone(), bytes)
                .map(|view| (name.clone(), view))
                .map_err(|err| err.to_string())
        })
        .collect::<Result<_, _>>()?;
    let metadata = HashMap::from([
        ("ss_network_dim".to_owned(), rank.to_string()),
        ("ss_base_model_version".to_owned(), "sd_v1".to_owned()),
    ]);
    let bytes = safetensors::serialize(views, Some(metadata)).map_err(|err| err.to_string())?;
    std::fs::write(path, bytes).map_err(|err| err.to_string())?;
    Ok(merged_bytes)
}

fn run() -> Result<(), String> {
    let options = parse()?;
    let runtime =
        OnnxRuntime::initialize(&LocateOptions::default()).map_err(|err| err.to_string())?;
    let cache = std::env::temp_dir().join("pentimento-bench-optimized");
    let started = Instant::now();
    let mut model = StableDiffusion::load(
        runtime,
        &options.model,
        LoadOptions {
            intra_threads: Some(options.threads),
            optimized_cache: Some(cache),
            ..LoadOptions::default()
        },
    )
    .map_err(|err| err.to_string())?;
    println!(
        "model {} loaded in {:.1} s ({} threads)",
        options.model.display(),
        started.elapsed().as_secs_f64(),
        options.threads
    );
    let dir = tempfile_dir()?;
    let lora = dir.join("bench-lora.safetensors");
    let merged_f32 = write_lora(&options.model, options.rank, &lora)?;
    let file_size = std::fs::metadata(&lora)
        .map_err(|err| err.to_string())?
        .len();
    println!(
        "LoRA: rank {}, {:.1} MB on disk; the layers it changes hold {:.0} MiB of float32 weights",
        options.rank,
        file_size as f64 / 1e6,
        mib(merged_f32)
    );
    // One small generation first, so that the sessions' arenas exist as they would in the app.
    let request = |loras: Vec<LoraRequest>| GenerationRequest {
        prompt: "a lighthouse".to_owned(),
        width: 64,
        height: 64,
        steps: 1,
        scheduler: SchedulerKind::Euler,
        count: 1,
        loras,
        ..GenerationRequest::text_to_image("")
    };
    let generate = |model: &mut StableDiffusion, loras: Vec<LoraRequest>| {
        model
            .generate(
                &request(loras),
                &mut |_| ControlFlow::Continue(()),
                &CancelToken::new(),
            )
            .map_err(|err| err.to_string())
    };
    generate(&mut model, Vec::new())?;

    let with = |strength: f32| {
        vec![LoraRequest {
            path: lora.clone(),
            strength,
        }]
    };
    println!();
    println!(
        "{:<34}{:>10}{:>16}{:>14}",
        "", "time", "extra peak", "vs merged"
    );
    let mut measure = |label: &str, loras: Vec<LoraRequest>| -> Result<(Duration, u64), String> {
        let (before, _) = memory();
        reset_peak();
        let started = Instant::now();
        model.use_loras(&loras).map_err(|err| err.to_string())?;
        let elapsed = started.elapsed();
        let (_, peak) = memory();
        let extra = peak.saturating_sub(before);
        let per: Vec<String> = model
            .last_lora_rebuild()
            .iter()
            .map(|rebuild| {
                let name = match rebuild.component {
                    Component::Unet => "UNet",
                    Component::TextEncoder => "text encoder",
                    _ => "other",
                };
                format!(
                    "{name} {:.2} s {:?}",
                    rebuild.time.as_secs_f64(),
                    rebuild.how
                )
            })
            .collect();
        println!(
            "{label:<34}{:>8.2} s{:>12.0} MiB{:>13.2}×   ({})",
            elapsed.as_secs_f64(),
            mib(extra),
            extra as f64 / merged_f32 as f64,
            per.join(", ")
        );
        Ok((elapsed, extra))
    };
    let (ready, extra) = measure("choose it (strength 1)", with(1.0))?;
    measure("change its strength to 0.6", with(0.6))?;
    measure("take it off", Vec::new())?;
    let (again, _) = measure("choose it again (file read before)", with(0.8))?;
    // A generation with it runs.
    generate(&mut model, with(0.8))?;
    println!();
    println!(
        "ready after choosing: {:.2} s (target 3 s, ratio {:.2}); again: {:.2} s",
        ready.as_secs_f64(),
        ready.as_secs_f64() / 3.0,
        again.as_secs_f64()
    );
    println!(
        "extra peak memory: {:.0} MiB = {:.2} × the merged float32 tensors (target 1.2 ×)",
        mib(extra),
        extra as f64 / merged_f32 as f64
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("pentimento-lora-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|err| err.to_string())?;
    Ok(dir)
}
