//! What the side-by-side benches share (they include this file by path): running
//! `bench/diffusers_reference.py` in its own process, reading its figures, and printing a row of
//! both sides with their ratio.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use pentimento_inference::{
    CancelToken, GenerationRequest, LoadOptions, LocateOptions, OnnxRuntime, Outcome,
    ProviderChoice, SchedulerKind, StableDiffusion,
};

/// The settings both sides of a side-by-side bench run with, from the command line.
pub struct Run {
    pub model: PathBuf,
    pub steps: usize,
    pub guidance: f32,
    pub scheduler: SchedulerKind,
    pub runs: usize,
    pub threads: usize,
    pub seed: u32,
    pub skip_reference: bool,
}

impl Run {
    /// The defaults: DDIM at guidance 7.5, seed 42, a thread per core, the reference run too.
    pub fn new(model: &str, steps: usize, runs: usize) -> Self {
        Self {
            model: given_folder(PathBuf::from(model)),
            steps,
            guidance: 7.5,
            scheduler: SchedulerKind::Ddim,
            runs,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            seed: 42,
            skip_reference: false,
        }
    }

    /// The run's first line: the model, what `size` says of the pixels, and the settings.
    pub fn describe(&self, size: &str) {
        println!(
            "model {} · {size} · {} steps · {} · guidance {} · {} threads · {} runs",
            self.model.display(),
            self.steps,
            self.scheduler.cli_name(),
            self.guidance,
            self.threads,
            self.runs
        );
    }

    /// Loads our side of the model on the CPU with the run's threads; how long that took.
    pub fn timed_load(&self, options: LoadOptions) -> Result<(StableDiffusion, Duration), String> {
        let runtime =
            OnnxRuntime::initialize(&LocateOptions::default()).map_err(|e| e.to_string())?;
        let started = std::time::Instant::now();
        let model = StableDiffusion::load(
            runtime,
            &self.model,
            LoadOptions {
                provider: ProviderChoice::Cpu,
                intra_threads: Some(self.threads),
                ..options
            },
        )
        .map_err(|e| e.to_string())?;
        Ok((model, started.elapsed()))
    }

    /// Takes `arg` when it is one of these settings (`value` gives its value); `Ok(false)` when
    /// it is not.
    pub fn take(
        &mut self,
        arg: &str,
        value: &mut dyn FnMut() -> Result<String, String>,
    ) -> Result<bool, String> {
        match arg {
            "--model" => self.model = given_folder(PathBuf::from(value()?)),
            "--steps" => self.steps = number(arg, &value()?)?,
            "--guidance" => self.guidance = number(arg, &value()?)?,
            "--scheduler" => self.scheduler = value()?.parse()?,
            "--runs" => self.runs = number(arg, &value()?)?,
            "--threads" => self.threads = number(arg, &value()?)?,
            "--seed" => self.seed = number(arg, &value()?)?,
            "--skip-reference" => self.skip_reference = true,
            // cargo bench passes --bench to every bench binary.
            "--bench" => {}
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// Reads the command line: the shared settings into `run`, the bench's own through `own`
/// (`Ok(false)` for an argument it does not know either).
pub fn read_args(
    run: &mut Run,
    mut own: impl FnMut(&str, &mut dyn FnMut() -> Result<String, String>) -> Result<bool, String>,
) -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        if !run.take(&arg, &mut value)? && !own(&arg, &mut value)? {
            return Err(format!("unknown argument {arg}"));
        }
    }
    Ok(())
}

/// One whole generation of ours, uncancelled, and how long it took.
pub fn timed_generation(
    model: &mut StableDiffusion,
    request: &GenerationRequest,
) -> Result<(Outcome, Duration), String> {
    let started = std::time::Instant::now();
    let outcome = model
        .generate(
            request,
            &mut |_| std::ops::ControlFlow::Continue(()),
            &CancelToken::new(),
        )
        .map_err(|e| e.to_string())?;
    Ok((outcome, started.elapsed()))
}

/// A command-line number, or what is wrong with it.
pub fn number<T: std::str::FromStr>(name: &str, text: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| format!("{name}: {e}"))
}

/// One run of `bench/diffusers_reference.py`: the settings both sides share, then the mode's own
/// arguments.
pub struct Reference<'a> {
    pub run: &'a Run,
    pub mode: &'a str,
    pub width: u32,
    pub height: u32,
    /// Further `--name value` pairs (init image, mask, where to save the image).
    pub extra: Vec<(&'a str, String)>,
}

impl Reference<'_> {
    /// Runs the script with `$PENTIMENTO_BENCH_PYTHON` (or `bench/.venv/bin/python`) and returns
    /// the JSON it prints.
    pub fn run(&self) -> Result<serde_json::Value, String> {
        let root = workspace();
        let run = self.run;
        let python = std::env::var_os("PENTIMENTO_BENCH_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("bench/.venv/bin/python"));
        if !python.exists() {
            return Err(format!(
                "no Python with diffusers at {} (see bench/README.md, or set \
                 PENTIMENTO_BENCH_PYTHON)",
                python.display()
            ));
        }
        let mut command = Command::new(&python);
        command
            .arg(root.join("bench/diffusers_reference.py"))
            .args(["--model", &absolute(&run.model).to_string_lossy()])
            .args(["--mode", self.mode])
            .args(["--width", &self.width.to_string()])
            .args(["--height", &self.height.to_string()])
            .args(["--steps", &run.steps.to_string()])
            .args(["--guidance", &run.guidance.to_string()])
            .args(["--scheduler", run.scheduler.cli_name()])
            .args(["--seed", &run.seed.to_string()])
            .args(["--runs", &run.runs.to_string()])
            .args(["--threads", &run.threads.to_string()]);
        for (name, value) in &self.extra {
            command.arg(format!("--{name}")).arg(value);
        }
        let output = command
            .output()
            .map_err(|e| format!("could not run {}: {e}", python.display()))?;
        if !output.status.success() {
            use std::os::unix::process::ExitStatusExt as _;
            if output.status.signal() == Some(9) {
                return Err(format!(
                    "diffusers was killed by the system at {}×{} (out of memory: this machine \
                     has {:.1} GiB)",
                    self.width,
                    self.height,
                    total_memory_gib()
                ));
            }
            return Err(format!(
                "diffusers_reference.py failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        serde_json::from_slice(&output.stdout)
            .map_err(|e| format!("unreadable reference output ({e})"))
    }
}

/// The value, or the error printed and the process ended with `code`.
pub fn or_exit<T>(result: Result<T, String>, code: i32) -> T {
    result.unwrap_or_else(|err| {
        eprintln!("error: {err}");
        std::process::exit(code)
    })
}

/// The repository's root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A figure in seconds from the reference's JSON (0 where it is missing).
pub fn seconds(value: &serde_json::Value) -> Duration {
    Duration::from_secs_f64(value.as_f64().unwrap_or(0.0))
}

/// The reference's runs, each run's `run_s`.
pub fn run_times(json: &serde_json::Value) -> Result<Vec<Duration>, String> {
    let runs = json["runs"]
        .as_array()
        .ok_or("no runs in reference output")?;
    Ok(runs.iter().map(|run| seconds(&run["run_s"])).collect())
}

pub fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A model folder as given on the command line: `cargo bench` runs in the crate's folder, so a
/// relative path that is not found there is taken from the workspace's.
pub fn given_folder(path: PathBuf) -> PathBuf {
    if path.is_relative() && !path.exists() {
        workspace().join(path)
    } else {
        path
    }
}

/// This machine's memory (Linux `MemTotal`), in GiB.
pub fn total_memory_gib() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|line| line.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib / (1024.0 * 1024.0))
}

/// The header over [`row`]s.
pub fn header() {
    println!(
        "{:<28} {:>16} {:>16} {:>9}",
        "", "Pentimento", "diffusers", "ratio"
    );
}

/// The reference's figures, run after ours (in its own process, so that neither side's memory
/// counts against the other); `None` when skipped, or when it failed, which is reported.
pub fn unless_skipped<T>(skip: bool, reference: impl FnOnce() -> Result<T, String>) -> Option<T> {
    if skip {
        return None;
    }
    reference()
        .map_err(|err| eprintln!("reference skipped: {err}"))
        .ok()
}

/// A row of bytes, shown in GiB.
pub fn memory_row(name: &str, ours: u64, theirs: Option<u64>) {
    let gib = |bytes: u64| bytes as f64 / (1u64 << 30) as f64;
    row(name, gib(ours), theirs.map(gib), "GiB");
}

/// One figure of both sides and ours / theirs; a dash where the reference has none.
pub fn row(name: &str, ours: f64, theirs: Option<f64>, unit: &str) {
    match theirs {
        Some(theirs) if theirs > 0.0 => println!(
            "{name:<28} {ours:>12.3} {unit:<3} {theirs:>12.3} {unit:<3} {:>8.2}×",
            ours / theirs
        ),
        _ => println!("{name:<28} {ours:>12.3} {unit:<3} {:>16}", "—"),
    }
}
