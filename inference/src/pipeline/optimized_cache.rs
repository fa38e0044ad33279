//! A per-machine cache of ONNX Runtime's optimized graphs.
//!
//! ONNX Runtime optimizes a graph every time a session is created; for the CPU it also rewrites
//! convolutions into a blocked memory layout and copies their weights, which for an SD 1.5 UNet
//! takes seconds and pages all 3.4 GB of weights in. The optimized graph can be saved and loaded
//! back with optimizations off: then the weights are memory-mapped from the cache and load time
//! drops several-fold. The blocked layout depends on the processor, so the cache key covers the
//! model files, the ONNX Runtime version and the processor's vector extensions.
//!
//! Every cache entry records the sizes of its files; an entry whose files do not match (an
//! interrupted write, a truncated disk) is discarded, never loaded.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::model::ComponentFiles;

/// Bumped when the layout of cache entries changes.
const FORMAT: &str = "2";
const MARKER: &str = "complete.json";
const GRAPH: &str = "model.onnx";
const WEIGHTS: &str = "model.onnx_data";

/// How a component's session was created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheUse {
    /// Loaded from a previously optimized graph.
    Hit,
    /// Optimized now and saved for next time.
    Stored,
    /// Optimized now; saving it for next time is left to [`super::CacheWork`].
    Deferred,
    /// Not cached, with the reason.
    Unused(String),
}

/// The cache folder.
#[derive(Clone, Debug)]
pub struct OptimizedCache {
    root: PathBuf,
}

impl OptimizedCache {
    /// A cache in `root` (created when first written).
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// The entry folder of a component for this runtime, processor and graph `variant` (how the
    /// graph was rewritten before ONNX Runtime optimized it).
    pub fn entry(
        &self,
        files: &ComponentFiles,
        runtime_version: &str,
        variant: &str,
    ) -> Option<PathBuf> {
        let mut hasher = Sha256::new();
        hasher.update(FORMAT);
        hasher.update(variant);
        hasher.update(runtime_version);
        hasher.update(processor_features());
        let canonical = fs::canonicalize(&files.model).ok()?;
        hasher.update(canonical.to_string_lossy().as_bytes());
        for path in std::iter::once(&files.model).chain(files.external_data.iter()) {
            let meta = fs::metadata(path).ok()?;
            hasher.update(meta.len().to_le_bytes());
            if let Ok(modified) = meta.modified()
                && let Ok(since) = modified.duration_since(std::time::UNIX_EPOCH)
            {
                hasher.update(since.as_nanos().to_le_bytes());
            }
        }
        let digest = hasher.finalize();
        let name = hex::encode(&digest[..16]);
        Some(
            self.root
                .join(format!("{}-{name}", files.component.folder_name())),
        )
    }

    /// The optimized graph of a complete, intact entry.
    pub fn lookup(entry: &Path) -> Option<PathBuf> {
        let marker: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(entry.join(MARKER)).ok()?).ok()?;
        for (file, key) in [(GRAPH, "graph_bytes"), (WEIGHTS, "weights_bytes")] {
            let expected = marker.get(key)?.as_u64()?;
            let actual = fs::metadata(entry.join(file)).map_or(u64::MAX, |meta| meta.len());
            if actual != expected {
                let _ = fs::remove_dir_all(entry);
                return None;
            }
        }
        Some(entry.join(GRAPH))
    }

    /// A fresh staging folder for writing `entry`; returns the graph path to save to.
    pub fn staging(entry: &Path) -> std::io::Result<PathBuf> {
        remove_abandoned_staging(entry);
        let staging = staging_path(entry);
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging)?;
        Ok(staging.join(GRAPH))
    }

    /// Session config entries that make ONNX Runtime save weights beside the graph.
    pub fn save_config() -> [(&'static str, &'static str); 2] {
        [
            (
                "session.optimized_model_external_initializers_file_name",
                WEIGHTS,
            ),
            (
                "session.optimized_model_external_initializers_min_size_in_bytes",
                "1024",
            ),
        ]
    }

    /// Marks a written staging folder complete and moves it into place.
    pub fn commit(entry: &Path) -> std::io::Result<()> {
        let staging = staging_path(entry);
        let graph_bytes = fs::metadata(staging.join(GRAPH))?.len();
        // Small graphs may have no weights file; an empty one keeps the check uniform.
        if !staging.join(WEIGHTS).exists() {
            fs::write(staging.join(WEIGHTS), [])?;
        }
        let weights_bytes = fs::metadata(staging.join(WEIGHTS))?.len();
        fs::File::open(staging.join(WEIGHTS))?.sync_all()?;
        fs::File::open(staging.join(GRAPH))?.sync_all()?;
        let marker = serde_json::json!({
            "graph_bytes": graph_bytes,
            "weights_bytes": weights_bytes,
        });
        fs::write(staging.join(MARKER), marker.to_string())?;
        let _ = fs::remove_dir_all(entry);
        fs::rename(&staging, entry)
    }

    /// Removes a staging folder after a failure.
    pub fn abandon(entry: &Path) {
        let _ = fs::remove_dir_all(staging_path(entry));
    }
}

fn staging_path(entry: &Path) -> PathBuf {
    let mut name = entry
        .file_name()
        .map(|name| name.to_os_string())
        .unwrap_or_default();
    name.push(format!(".staging-{}", std::process::id()));
    entry.with_file_name(name)
}

/// Removes staging folders of `entry` left by processes that ended while writing (a write in
/// the background stops when the app quits). Only where running processes can be listed.
fn remove_abandoned_staging(entry: &Path) {
    #[cfg(target_os = "linux")]
    {
        let (Some(parent), Some(name)) = (entry.parent(), entry.file_name()) else {
            return;
        };
        let prefix = format!("{}.staging-", name.to_string_lossy());
        let Ok(siblings) = fs::read_dir(parent) else {
            return;
        };
        for sibling in siblings.filter_map(Result::ok) {
            let file_name = sibling.file_name().to_string_lossy().into_owned();
            let Some(pid) = file_name.strip_prefix(&prefix) else {
                continue;
            };
            let alive = pid.parse::<u32>().is_ok_and(|pid| {
                pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists()
            });
            if !alive {
                let _ = fs::remove_dir_all(sibling.path());
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = entry;
}

/// The processor's vector extensions, which decide ONNX Runtime's blocked layouts.
fn processor_features() -> String {
    let mut features = vec![std::env::consts::ARCH.to_owned()];
    #[cfg(target_arch = "x86_64")]
    {
        for (name, present) in [
            ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
            ("avx2", std::arch::is_x86_feature_detected!("avx2")),
            ("fma", std::arch::is_x86_feature_detected!("fma")),
            ("avx", std::arch::is_x86_feature_detected!("avx")),
        ] {
            if present {
                features.push(name.to_owned());
            }
        }
    }
    features.join(",")
}
