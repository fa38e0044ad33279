//! Creating a component's ONNX Runtime session: Pentimento's options, the provider, the graph it
//! runs (attention fused on the CPU, see [`super::fused_attention`]) and the optimized-graph
//! cache ([`OptimizedCache`]).
//!
//! The cache is read when a model loads, but never written on the way to the first image:
//! saving an SD 1.5 UNet's optimized graph writes 3.4 GB and doubled the first load. A load that
//! finds no entry creates its sessions as ONNX Runtime does by default and records the entry as
//! [`CacheUse::Deferred`]; [`CacheWork`] writes it later, on a background thread at the lowest
//! priority, when the caller chooses (the app: after the first generation).

use std::path::Path;
use std::sync::Arc;

use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};

use super::cancel::CancelToken;
use super::components::LoadedComponent;
use super::fused_attention::fuse_attention;
use super::{LoadOptions, OptimizedCache};
use crate::error::{InferenceError, ModelError};
use crate::model::{Component, ComponentFiles, ComponentSignature};
use crate::onnx_runtime::OnnxRuntime;
use crate::pipeline::CacheUse;
use crate::providers::{self, ProviderChoice, ProviderReport};

/// Which attention graph CPU sessions run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AttentionGraph {
    /// The UNet's attention rewritten into ONNX Runtime's MultiHeadAttention where it matches
    /// exactly.
    #[default]
    Fused,
    /// The exported operators as they are.
    Exported,
}

impl AttentionGraph {
    pub(super) fn key(self) -> &'static str {
        match self {
            Self::Fused => "fused-unet-attention",
            Self::Exported => "exported-attention",
        }
    }
}

/// When a missing optimized-graph cache entry is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CacheWrite {
    /// Later, through [`CacheWork`]; the load itself writes nothing.
    #[default]
    Deferred,
    /// While the session is created (ONNX Runtime saves as it optimizes), delaying the load.
    DuringLoad,
}

const EXTERNAL_FOLDER: &str = "session.model_external_initializers_file_folder_path";

/// A session builder with Pentimento's options and the provider applied.
pub(super) fn session_builder(
    runtime: &OnnxRuntime,
    files: &ComponentFiles,
    options: &LoadOptions,
    choice: ProviderChoice,
) -> Result<(SessionBuilder, ProviderReport), InferenceError> {
    let session_error = |reason: String| session_error(files, reason);
    let mut builder =
        Session::builder(runtime.environment()).map_err(|err| session_error(err.to_string()))?;
    if let Some(threads) = options.intra_threads {
        builder = builder
            .with_intra_threads(threads)
            .map_err(|err| session_error(err.to_string()))?;
    }
    // Memory patterns make the first two runs slower and raise the peak by gigabytes at 512²
    // (measured on an SD 1.5 UNet); the plain arena is as fast from the third run on.
    builder = builder
        .with_memory_pattern(false)
        .map_err(|err| session_error(err.to_string()))?;
    let report = providers::apply(choice, &mut builder)
        .map_err(|(provider, reason)| InferenceError::Provider { provider, reason })?;
    Ok((builder, report))
}

fn session_error(files: &ComponentFiles, reason: String) -> InferenceError {
    ModelError::Session {
        component: files.component.folder_name(),
        reason,
        path: files.model.clone(),
    }
    .into()
}

/// The graph a session is created from.
struct Graph {
    /// The rewritten model; `None` for the file as it is.
    fused: Option<Vec<u8>>,
}

impl Graph {
    /// The graph for `files` on `provider`: fused attention for the UNet on the CPU, the file
    /// otherwise. The VAE's one attention is left as exported: on an SD 1.5-shaped VAE decoder
    /// at 512² (one head of 512 channels over 4,096 positions) the fused kernel gained nothing —
    /// 26.1, 26.9 and 21.2 s in three pipeline runs against 20.5 s exported, 21.5 against 21.2 s
    /// alone — for 7 % less memory in a component that never sets the peak
    /// (`cargo bench -p pentimento-inference --bench versus_diffusers`, with and without
    /// `--exported-attention`, and `--bench fused_attention`). [`super::fused_attention`]
    /// rewrites it correctly all the same (tests/fused_attention.rs).
    fn for_component(
        files: &ComponentFiles,
        options: &LoadOptions,
        provider: ProviderChoice,
    ) -> Self {
        Self {
            fused: fused_model(files, options, provider, None),
        }
    }

    fn commit(&self, builder: SessionBuilder, files: &ComponentFiles) -> Result<Session, String> {
        match &self.fused {
            None => {
                let mut builder = builder;
                builder
                    .commit_from_file(&files.model)
                    .map_err(|err| err.to_string())
            }
            Some(bytes) => {
                // Weights in files beside model.onnx are found from its folder.
                let folder = files
                    .model
                    .parent()
                    .map(|dir| dir.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let mut builder = builder
                    .with_config_entry(EXTERNAL_FOLDER, folder)
                    .map_err(|err| err.to_string())?;
                builder
                    .commit_from_memory(bytes)
                    .map_err(|err| err.to_string())
            }
        }
    }
}

/// `model` (the file's own bytes when `None`) with its attention fused, when these options fuse
/// this component on this provider and something matched; `None` otherwise. Unreadable or
/// unusual files are left to ONNX Runtime, which says what is wrong.
pub(super) fn fused_model(
    files: &ComponentFiles,
    options: &LoadOptions,
    provider: ProviderChoice,
    model: Option<&[u8]>,
) -> Option<Vec<u8>> {
    if options.attention != AttentionGraph::Fused
        || provider != ProviderChoice::Cpu
        || files.component != Component::Unet
    {
        return None;
    }
    match model {
        Some(bytes) => fuse_attention(bytes).ok()?.model,
        None => {
            fuse_attention(&std::fs::read(&files.model).ok()?)
                .ok()?
                .model
        }
    }
}

/// Commits `graph`; when a rewritten graph fails to become a session (an operator this ONNX
/// Runtime build lacks), the file as exported instead.
fn commit_with_fallback(
    runtime: &OnnxRuntime,
    files: &ComponentFiles,
    options: &LoadOptions,
    provider: ProviderChoice,
    builder: SessionBuilder,
    graph: &Graph,
) -> Result<Session, InferenceError> {
    match graph.commit(builder, files) {
        Ok(session) => Ok(session),
        Err(_) if graph.fused.is_some() => {
            let builder = session_builder(runtime, files, options, provider)?.0;
            Graph { fused: None }
                .commit(builder, files)
                .map_err(|reason| session_error(files, reason))
        }
        Err(reason) => Err(session_error(files, reason)),
    }
}

/// The cache entry of `files` for these options, when the options use a cache on the CPU.
fn cache_entry(
    runtime: &OnnxRuntime,
    files: &ComponentFiles,
    options: &LoadOptions,
    provider: ProviderChoice,
) -> Result<std::path::PathBuf, CacheUse> {
    let Some(root) = &options.optimized_cache else {
        return Err(CacheUse::Unused("no cache folder".to_owned()));
    };
    if provider != ProviderChoice::Cpu {
        return Err(CacheUse::Unused(format!("{provider} optimizes on its own")));
    }
    OptimizedCache::new(root.clone())
        .entry(files, runtime.version(), options.attention.key())
        .ok_or_else(|| CacheUse::Unused("the model files could not be read".to_owned()))
}

/// Creates a session with the requested provider (or the one `decided` earlier), through the
/// optimized-graph cache when one is configured and the session runs on the CPU.
pub(super) fn create_session(
    runtime: &OnnxRuntime,
    files: &ComponentFiles,
    options: &LoadOptions,
    decided: Option<&ProviderReport>,
) -> Result<(LoadedComponent, ProviderReport, CacheUse), InferenceError> {
    let choice = decided.map_or(options.provider, |report| report.active);
    let (mut builder, mut report) = session_builder(runtime, files, options, choice)?;
    if let Some(decided) = decided {
        report = decided.clone();
    }
    let (session, cache_use) = match cache_entry(runtime, files, options, report.active) {
        Err(unused) => {
            let graph = Graph::for_component(files, options, report.active);
            let session =
                commit_with_fallback(runtime, files, options, report.active, builder, &graph)?;
            (session, unused)
        }
        Ok(entry) => {
            let mut hit = None;
            if let Some(cached) = OptimizedCache::lookup(&entry) {
                let loaded = builder
                    .with_optimization_level(GraphOptimizationLevel::Disable)
                    .map_err(|err| err.to_string())
                    .and_then(|mut builder| {
                        builder
                            .commit_from_file(&cached)
                            .map_err(|err| err.to_string())
                    });
                match loaded {
                    Ok(session) => hit = Some(session),
                    Err(_) => {
                        // A stale or damaged entry: drop it and optimize again.
                        let _ = std::fs::remove_dir_all(&entry);
                    }
                }
                builder = session_builder(runtime, files, options, report.active)?.0;
            }
            match hit {
                Some(session) => (session, CacheUse::Hit),
                None => {
                    let graph = Graph::for_component(files, options, report.active);
                    match options.cache_write {
                        CacheWrite::DuringLoad => store_optimized(
                            runtime, files, options, &report, builder, &entry, &graph,
                        )?,
                        CacheWrite::Deferred => {
                            let session = commit_with_fallback(
                                runtime,
                                files,
                                options,
                                report.active,
                                builder,
                                &graph,
                            )?;
                            (session, CacheUse::Deferred)
                        }
                    }
                }
            }
        }
    };
    let signature = ComponentSignature::of_session(files.component, &session)?;
    Ok((
        LoadedComponent::local(session, signature),
        report,
        cache_use,
    ))
}

/// Creates the session while ONNX Runtime saves its optimized graph into the cache. Saving is a
/// convenience: when it fails the session is created without it.
fn store_optimized(
    runtime: &OnnxRuntime,
    files: &ComponentFiles,
    options: &LoadOptions,
    report: &ProviderReport,
    builder: SessionBuilder,
    entry: &Path,
    graph: &Graph,
) -> Result<(Session, CacheUse), InferenceError> {
    let saving = OptimizedCache::staging(entry)
        .map_err(|err| err.to_string())
        .and_then(|path| {
            let mut builder = builder
                .with_optimized_model_path(&path)
                .map_err(|err| err.to_string())?;
            for (key, value) in OptimizedCache::save_config() {
                builder = builder
                    .with_config_entry(key, value)
                    .map_err(|err| err.to_string())?;
            }
            graph.commit(builder, files)
        });
    match saving {
        Ok(session) => {
            let cache_use = match OptimizedCache::commit(entry) {
                Ok(()) => CacheUse::Stored,
                Err(err) => {
                    OptimizedCache::abandon(entry);
                    CacheUse::Unused(format!("could not save the optimized graph ({err})"))
                }
            };
            Ok((session, cache_use))
        }
        Err(reason) => {
            OptimizedCache::abandon(entry);
            let builder = session_builder(runtime, files, options, report.active)?.0;
            let session =
                commit_with_fallback(runtime, files, options, report.active, builder, graph)?;
            Ok((
                session,
                CacheUse::Unused(format!("could not save the optimized graph ({reason})")),
            ))
        }
    }
}

/// Optimized-graph cache entries a load left to be written later.
///
/// [`CacheWork::run`] creates each component's session once more, with one thread, while ONNX
/// Runtime saves the optimized graph, then drops it. While it runs, the process holds a second
/// copy of that component's weights (3.4 GB for an SD 1.5 UNet).
#[derive(Debug)]
pub struct CacheWork {
    runtime: Arc<OnnxRuntime>,
    options: LoadOptions,
    jobs: Vec<ComponentFiles>,
}

impl CacheWork {
    pub(super) fn new(
        runtime: Arc<OnnxRuntime>,
        options: LoadOptions,
        jobs: Vec<ComponentFiles>,
    ) -> Self {
        Self {
            runtime,
            options,
            jobs,
        }
    }

    /// The components whose entries are written.
    pub fn components(&self) -> Vec<Component> {
        self.jobs.iter().map(|files| files.component).collect()
    }

    /// Writes the entries on the calling thread, after lowering its priority to the lowest the
    /// system has (Linux: nice 19 for this thread and the threads ONNX Runtime starts from it).
    /// A cancelled token stops before the next component.
    pub fn run(self, cancel: &CancelToken) -> Vec<(Component, CacheUse)> {
        lower_this_thread_priority();
        let options = LoadOptions {
            intra_threads: Some(1),
            cache_write: CacheWrite::DuringLoad,
            ..self.options.clone()
        };
        let mut results = Vec::new();
        for files in &self.jobs {
            if cancel.is_cancelled() {
                break;
            }
            let result = match cache_entry(&self.runtime, files, &options, ProviderChoice::Cpu) {
                Err(unused) => unused,
                Ok(entry) if OptimizedCache::lookup(&entry).is_some() => CacheUse::Hit,
                Ok(entry) => session_builder(&self.runtime, files, &options, ProviderChoice::Cpu)
                    .and_then(|(builder, report)| {
                        let graph = Graph::for_component(files, &options, ProviderChoice::Cpu);
                        store_optimized(
                            &self.runtime,
                            files,
                            &options,
                            &report,
                            builder,
                            &entry,
                            &graph,
                        )
                    })
                    .map_or_else(
                        |err| CacheUse::Unused(err.to_string()),
                        |(session, cache_use)| {
                            drop(session);
                            cache_use
                        },
                    ),
            };
            results.push((files.component, result));
        }
        results
    }
}

/// Lowers the scheduling priority of the calling thread to the lowest: on Linux the idle policy
/// (it runs only when no other thread wants the core), elsewhere the lowest priority. Threads
/// started from it inherit it. Failing to lower it only makes the work compete more.
fn lower_this_thread_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id,
        };
        let _ = set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        );
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min);
    }
}
