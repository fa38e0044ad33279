//! What the side-by-side benches share (they include this file by path): running
//! `bench/diffusers_reference.py` in its own process, reading its figures, and printing a row of
//! both sides with their ratio.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// One run of `bench/diffusers_reference.py`: the settings both sides share, then the mode's own
/// arguments.
pub struct Reference<'a> {
    pub model: &'a Path,
    pub mode: &'a str,
    pub width: u32,
    pub height: u32,
    pub steps: usize,
    pub guidance: f32,
    pub scheduler: &'a str,
    pub seed: u32,
    pub runs: usize,
    pub threads: usize,
    /// Further `--name value` pairs (init image, mask, where to save the image).
    pub extra: Vec<(&'a str, String)>,
}

impl Reference<'_> {
    /// Runs the script with `$PENTIMENTO_BENCH_PYTHON` (or `bench/.venv/bin/python`) and returns
    /// the JSON it prints.
    pub fn run(&self) -> Result<serde_json::Value, String> {
        let root = workspace();
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
            .args(["--model", &absolute(self.model).to_string_lossy()])
            .args(["--mode", self.mode])
            .args(["--width", &self.width.to_string()])
            .args(["--height", &self.height.to_string()])
            .args(["--steps", &self.steps.to_string()])
            .args(["--guidance", &self.guidance.to_string()])
            .args(["--scheduler", self.scheduler])
            .args(["--seed", &self.seed.to_string()])
            .args(["--runs", &self.runs.to_string()])
            .args(["--threads", &self.threads.to_string()]);
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
