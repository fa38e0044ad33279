//! The attention rewrite per component: time, peak memory and the largest output difference of
//! each rewritten UNet and VAE against its exported graph, on the same inputs.
//!
//! ```text
//! cargo bench -p pentimento-inference --bench fused_attention -- \
//!     --model /work/sd15-random --size 512 --threads 2 --runs 3
//! ```
//!
//! Each (component, graph) pair runs in a process of its own, so that its peak resident memory
//! (VmHWM) is its own: the UNet at batch 2 (guidance), the VAE decoder at batch 1, the VAE
//! encoder at batch 1. Reported per pair: session creation, the first run, the fastest of the
//! later runs, and peak memory; then the fused graph's ratio to the exported one and the largest
//! absolute difference of their outputs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[path = "common/diffusers.rs"]
mod diffusers;
#[path = "../tests/common/measure.rs"]
mod measure;

use measure::{peak_rss, values};
use ort::session::Session;
use ort::value::Tensor;
use pentimento_inference::pipeline::fused_attention::fuse_attention;
use pentimento_inference::{LocateOptions, OnnxRuntime};

struct Options {
    model: PathBuf,
    size: usize,
    threads: usize,
    runs: usize,
    components: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        model: PathBuf::from("tests/fixtures/models/tiny-sd"),
        size: 512,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        runs: 3,
        components: vec![
            "unet".to_owned(),
            "vae_decoder".to_owned(),
            "vae_encoder".to_owned(),
        ],
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--model" => options.model = PathBuf::from(value()?),
            "--size" => options.size = value()?.parse().map_err(|e| format!("--size: {e}"))?,
            "--threads" => {
                options.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?;
            }
            "--runs" => options.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--component" => options.components = vec![value()?],
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    options.model = diffusers::given_folder(options.model);
    if options.runs < 2 || !options.size.is_multiple_of(8) {
        return Err("--runs must be at least 2 and --size a multiple of 8".to_owned());
    }
    Ok(options)
}

/// The inputs of a component at `size`² pixels, from the model's own declared shapes.
fn inputs(session: &Session, component: &str, size: usize) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let latent = size / 8;
    let mut inputs = Vec::new();
    for (index, input) in session.inputs().iter().enumerate() {
        let name = input.name().to_owned();
        let declared = input
            .dtype()
            .tensor_shape()
            .map(|shape| shape.len())
            .unwrap_or(0);
        let shape: Vec<usize> = match (component, name.as_str()) {
            ("unet", "sample") => {
                let channels = input
                    .dtype()
                    .tensor_shape()
                    .and_then(|shape| shape.get(1).copied())
                    .filter(|&channels| channels > 0)
                    .map_or(4, |channels| channels as usize);
                vec![2, channels, latent, latent]
            }
            ("unet", "timestep") if declared == 0 => vec![],
            ("unet", "timestep") => vec![2],
            ("unet", _) => {
                let width = input
                    .dtype()
                    .tensor_shape()
                    .and_then(|shape| shape.get(2).copied())
                    .map_or(768, |width| width as usize);
                vec![2, 77, width]
            }
            ("vae_decoder", _) => vec![1, 4, latent, latent],
            _ => vec![1, 3, size, size],
        };
        let count = shape.iter().product();
        let data = if name == "timestep" {
            vec![901.0; count]
        } else {
            values(count, index as u64 + 1)
        };
        inputs.push((name, shape, data));
    }
    inputs
}

/// One (component, graph) pair, in this process: prints one JSON line and writes the output.
fn measure(options: &Options, component: &str, fused: bool, output: &Path) -> Result<(), String> {
    let runtime = OnnxRuntime::initialize(&LocateOptions::default()).map_err(|e| e.to_string())?;
    let path = options.model.join(component).join("model.onnx");
    let started = Instant::now();
    let mut builder = Session::builder(runtime.environment())
        .map_err(|e| e.to_string())?
        .with_intra_threads(options.threads)
        .map_err(|e| e.to_string())?
        .with_memory_pattern(false)
        .map_err(|e| e.to_string())?;
    let mut fused_count = 0;
    let mut session = if fused {
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let fusion = fuse_attention(&bytes)?;
        fused_count = fusion.fused;
        let model = fusion.model.ok_or("nothing to fuse")?;
        let folder = path
            .parent()
            .map(|dir| dir.to_string_lossy().into_owned())
            .unwrap_or_default();
        builder = builder
            .with_config_entry(
                "session.model_external_initializers_file_folder_path",
                folder,
            )
            .map_err(|e| e.to_string())?;
        builder
            .commit_from_memory(&model)
            .map_err(|e| e.to_string())?
    } else {
        builder.commit_from_file(&path).map_err(|e| e.to_string())?
    };
    let load = started.elapsed().as_secs_f64();
    let inputs = inputs(&session, component, options.size);
    let mut times = Vec::new();
    let mut result = Vec::new();
    for _ in 0..options.runs {
        let values: Vec<(String, ort::value::DynValue)> = inputs
            .iter()
            .map(|(name, shape, data)| {
                Tensor::from_array((shape.clone(), data.clone()))
                    .map(|tensor| (name.clone(), tensor.into_dyn()))
            })
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        let outputs = session.run(values).map_err(|e| e.to_string())?;
        times.push(started.elapsed().as_secs_f64());
        let (_, data) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| e.to_string())?;
        result = data.to_vec();
    }
    let bytes: Vec<u8> = result
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect();
    std::fs::write(output, bytes).map_err(|e| e.to_string())?;
    let steady = times[1..].iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "{}",
        serde_json::json!({
            "load_s": load, "first_s": times[0], "steady_s": steady,
            "peak_rss": peak_rss(), "fused": fused_count,
        })
    );
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // A child: `--child COMPONENT fused|exported OUTPUT` before the options.
    if args.first().map(String::as_str) == Some("--child") {
        let result = parse(&args[4..]).and_then(|options| {
            measure(&options, &args[1], args[2] == "fused", Path::new(&args[3]))
        });
        if let Err(err) = result {
            eprintln!("error: {err}");
            std::process::exit(1);
        }
        return;
    }
    let options = match parse(&args) {
        Ok(options) => options,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::exit(2);
        }
    };
    println!(
        "model {} · {}² · {} threads · {} runs per graph",
        options.model.display(),
        options.size,
        options.threads,
        options.runs
    );
    println!(
        "{:<12} {:<9} {:>6} {:>9} {:>9} {:>9} {:>10}",
        "component", "graph", "fused", "load s", "first s", "steady s", "peak GiB"
    );
    let me = std::env::current_exe().expect("own path");
    for component in &options.components {
        let mut figures = Vec::new();
        for graph in ["exported", "fused"] {
            let output = std::env::temp_dir().join(format!(
                "pentimento-fused-attention-{}-{component}-{graph}.f32",
                std::process::id()
            ));
            let child = Command::new(&me)
                .arg("--child")
                .args([component.as_str(), graph, &output.to_string_lossy()])
                .args(&args)
                .output();
            let child = match child {
                Ok(child) if child.status.success() => child,
                Ok(child) => {
                    eprintln!(
                        "{component} {graph}: {}",
                        String::from_utf8_lossy(&child.stderr).trim()
                    );
                    break;
                }
                Err(err) => {
                    eprintln!("{component} {graph}: {err}");
                    break;
                }
            };
            let json: serde_json::Value =
                serde_json::from_slice(&child.stdout).unwrap_or_else(|_| serde_json::json!({}));
            let number = |key: &str| json[key].as_f64().unwrap_or(f64::NAN);
            println!(
                "{component:<12} {graph:<9} {:>6} {:>9.3} {:>9.3} {:>9.3} {:>10.2}",
                json["fused"].as_u64().unwrap_or(0),
                number("load_s"),
                number("first_s"),
                number("steady_s"),
                number("peak_rss") / f64::from(1u32 << 30)
            );
            let data: Vec<f32> = std::fs::read(&output)
                .unwrap_or_default()
                .chunks_exact(4)
                .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
                .collect();
            let _ = std::fs::remove_file(&output);
            figures.push((number("steady_s"), number("peak_rss"), data));
        }
        if let [
            (exported_s, exported_rss, expected),
            (fused_s, fused_rss, actual),
        ] = figures.as_slice()
        {
            let difference = expected
                .iter()
                .zip(actual)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0_f32, f32::max);
            let magnitude = expected.iter().map(|v| v.abs()).fold(0.0_f32, f32::max);
            println!(
                "{component:<12} fused/exported: time {:.2}×, peak memory {:.2}×, max |difference| {difference:.2e} (outputs up to {magnitude:.2})",
                fused_s / exported_s,
                fused_rss / exported_rss,
            );
        }
    }
}
