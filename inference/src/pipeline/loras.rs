//! The LoRAs a model runs with: reading the files, merging them into the text encoder's and the
//! UNet's weights, and re-creating only the sessions whose LoRAs or strengths changed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ort::value::Tensor;

use super::{
    LoadedComponent, OptimizedCache, StableDiffusion, create_session, required, session_builder,
};
use crate::error::{InferenceError, ModelError};
use crate::lora::MergedValues;
use crate::lora::merge::{self, MergedTensor};
use crate::lora::onnx::ModelWeights;
use crate::lora::{
    AppliedLora, ComponentMatch, LoraChoice, LoraComponent, LoraError, LoraFile, LoraRequest,
};
use crate::model::Component;
use crate::model::signature::ComponentSignature;

/// The name under which merged weights are handed to ONNX Runtime as an in-memory file, for
/// models whose weights are stored inline.
const MERGED_FILE: &str = "pentimento-lora-merged.bin";

/// What a component's session was built with: `(sha256, strength bits)` per LoRA, in order.
type SessionKey = Vec<(String, u32)>;

/// The LoRA state of a loaded model.
#[derive(Debug, Default)]
pub(crate) struct LoraState {
    /// Files read so far, by path, with the size and modification time they were read at.
    files: HashMap<PathBuf, (u64, Option<SystemTime>, Arc<LoraFile>)>,
    /// What the text encoder's and the UNet's sessions were built with, and how each LoRA matched.
    sessions: HashMap<LoraComponent, (SessionKey, Vec<ComponentMatch>)>,
    /// The LoRAs of the last [`StableDiffusion::use_loras`].
    applied: Vec<AppliedLora>,
    /// Sessions re-created by the last call.
    last_rebuild: Vec<Rebuild>,
    /// The text encoder's and the UNet's layers and initializers, read once (without the
    /// file's bytes).
    outlines: HashMap<LoraComponent, ModelWeights>,
}

/// One session re-created for a change of LoRAs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rebuild {
    /// Which component.
    pub component: Component,
    /// How it was made.
    pub how: RebuildKind,
    /// Reading the weights, merging, and ONNX Runtime's session creation.
    pub time: Duration,
}

/// How a session was made for a LoRA set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RebuildKind {
    /// The base model's session, through the optimized-graph cache as at load.
    Base,
    /// The cached optimized graph with the merged weights in place of the cached ones.
    CachedGraph,
    /// The model file optimized again with the merged weights (external data).
    Optimized,
    /// An in-memory copy of the model with the merged weights, optimized again.
    InMemory,
}

impl StableDiffusion {
    /// Makes the model run with exactly these LoRAs (none: the base model). Files are read once
    /// and re-read when they change on disk; a component's session is re-created only when its
    /// LoRAs or their strengths changed. Returns what is applied, for the log.
    pub fn use_loras(
        &mut self,
        requests: &[LoraRequest],
    ) -> Result<Vec<AppliedLora>, InferenceError> {
        if self.remote.is_some() && !requests.is_empty() {
            return Err(InferenceError::Unsupported {
                task: "use LoRAs",
                reason: "it runs on inference servers, which serve the model as it was \
                         exported; generate without LoRAs, or use a local copy of the model"
                    .to_owned(),
            });
        }
        let mut choices = Vec::with_capacity(requests.len());
        for request in requests {
            if !request.strength.is_finite() {
                return Err(InferenceError::Parameter {
                    parameter: "a LoRA's strength",
                    value: request.strength.to_string(),
                    expected: format!("a number, for {}", request.path.display()),
                });
            }
            let lora = self.read_lora(&request.path)?;
            crate::lora::check_base(&lora, self.conventions.text_embedding_width)?;
            choices.push(LoraChoice {
                lora,
                strength: request.strength,
            });
        }
        self.loras.last_rebuild.clear();
        for component in [LoraComponent::TextEncoder, LoraComponent::Unet] {
            let affecting: Vec<LoraChoice> = choices
                .iter()
                .filter(|choice| choice.lora.components().contains(&component))
                .cloned()
                .collect();
            let key: SessionKey = affecting
                .iter()
                .map(|choice| (choice.lora.sha256.clone(), choice.strength.to_bits()))
                .collect();
            let current = self
                .loras
                .sessions
                .get(&component)
                .map(|(key, _)| key.clone())
                .unwrap_or_default();
            if current == key {
                continue;
            }
            let started = Instant::now();
            // The old session goes first: two UNets at once may not fit in memory.
            drop(self.slot(component).take());
            let made = self
                .outline(component)
                .and_then(|outline| self.lora_session(component, &affecting, &outline));
            let (session, matches, how) = match made {
                Ok(made) => made,
                Err(err) => {
                    // Back to the base model's session, so that the model keeps working.
                    self.loras.sessions.remove(&component);
                    if let Ok((base, _, _)) = self.base_session(component) {
                        *self.slot(component) = Some(base);
                    }
                    return Err(err);
                }
            };
            *self.slot(component) = Some(session);
            self.loras.sessions.insert(component, (key, matches));
            self.loras.last_rebuild.push(Rebuild {
                component: component_of(component),
                how,
                time: started.elapsed(),
            });
        }
        // Each LoRA's matches over both components.
        let mut applied = Vec::with_capacity(choices.len());
        for choice in &choices {
            let (mut merged, mut unmatched) = (0, Vec::new());
            for (key, matches) in self.loras.sessions.values() {
                let position = key.iter().position(|(sha, bits)| {
                    *sha == choice.lora.sha256 && *bits == choice.strength.to_bits()
                });
                if let Some(found) = position.and_then(|index| matches.get(index)) {
                    merged += found.matched;
                    unmatched.extend(found.unmatched.iter().cloned());
                }
            }
            if merged == 0 {
                return Err(LoraError::NothingMatched {
                    lora: choice.lora.name(),
                    count: choice.lora.pairs.len(),
                    example: choice.lora.pairs[0].key.clone(),
                    made_for: choice.lora.metadata.base_model().map(str::to_owned),
                }
                .into());
            }
            unmatched.sort();
            applied.push(AppliedLora::new(choice, merged, unmatched));
        }
        self.loras.applied.clone_from(&applied);
        Ok(applied)
    }

    /// The LoRAs the model runs with now.
    pub fn applied_loras(&self) -> &[AppliedLora] {
        &self.loras.applied
    }

    /// Sessions re-created by the last [`Self::use_loras`]: which, how, and how long each took.
    pub fn last_lora_rebuild(&self) -> &[Rebuild] {
        &self.loras.last_rebuild
    }

    fn slot(&mut self, component: LoraComponent) -> &mut Option<LoadedComponent> {
        match component {
            LoraComponent::TextEncoder => &mut self.text_encoder,
            LoraComponent::Unet => &mut self.unet,
        }
    }

    /// A LoRA file, read once per change on disk.
    fn read_lora(&mut self, path: &Path) -> Result<Arc<LoraFile>, InferenceError> {
        let stamp = std::fs::metadata(path).map(|meta| (meta.len(), meta.modified().ok()));
        if let (Ok((size, modified)), Some((seen_size, seen_modified, lora))) =
            (&stamp, self.loras.files.get(path))
            && size == seen_size
            && modified == seen_modified
        {
            return Ok(Arc::clone(lora));
        }
        let lora = Arc::new(LoraFile::open(path)?);
        if let Ok((size, modified)) = stamp {
            self.loras
                .files
                .insert(path.to_path_buf(), (size, modified, Arc::clone(&lora)));
        }
        Ok(lora)
    }

    /// The layers and initializers of a component's graph, read on first use.
    fn outline(&mut self, component: LoraComponent) -> Result<ModelWeights, InferenceError> {
        if let Some(outline) = self.loras.outlines.get(&component) {
            return Ok(outline.outline());
        }
        let files = required(&self.folder, component_of(component))?;
        let mut weights = ModelWeights::read(&files.model).map_err(|reason| LoraError::Model {
            reason: format!("{}: {reason}", files.model.display()),
        })?;
        weights.forget_bytes();
        let outline = weights.outline();
        self.loras.outlines.insert(component, weights);
        Ok(outline)
    }

    /// The base model's session of a component, through the optimized-graph cache as at load.
    fn base_session(
        &self,
        component: LoraComponent,
    ) -> Result<(LoadedComponent, Vec<ComponentMatch>, RebuildKind), InferenceError> {
        let files = required(&self.folder, component_of(component))?;
        let (session, _, _) =
            create_session(&self.runtime, &files, &self.options, Some(&self.provider))?;
        Ok((session, Vec::new(), RebuildKind::Base))
    }

    /// A session for `component` with `choices` merged into it (none: the base model's).
    ///
    /// With LoRAs, when the cache holds this component's optimized graph and every merged
    /// weight is still there under its own name and shape (ONNX Runtime leaves the MatMul
    /// weights of attention and feed-forward layers as they are, but reorders convolution
    /// weights for its blocked layout), that graph is loaded with the merged weights in place of
    /// the cached ones and without optimizing again: about as fast as a cached load. The base
    /// weights are then read from the cache's file too. Otherwise the original graph is
    /// optimized with the merged weights. Either way nothing is written to the cache.
    fn lora_session(
        &self,
        component: LoraComponent,
        choices: &[LoraChoice],
        outline: &ModelWeights,
    ) -> Result<(LoadedComponent, Vec<ComponentMatch>, RebuildKind), InferenceError> {
        if choices.is_empty() {
            return self.base_session(component);
        }
        let which = component_of(component);
        let files = required(&self.folder, which)?;
        let cached = self.cached_graph(&files);
        let mut source = outline.outline();
        let from_cache = cached
            .as_ref()
            .map(|(_, graph)| source.take_weights_from(graph))
            .unwrap_or_default();
        let merged = merge::merge(&source, component, choices)?;
        drop(source);
        let session_error = |reason: String| ModelError::Session {
            component: which.folder_name(),
            reason,
            path: files.model.clone(),
        };
        let (mut builder, _) =
            session_builder(&self.runtime, &files, &self.options, self.provider.active)?;
        let matches = merged.matches;
        let tensors = merged.tensors;
        let names: Vec<String> = tensors.iter().map(|t| t.name.clone()).collect();
        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let cache_fits = names.iter().all(|name| {
            from_cache.contains(name) && outline.consumers.get(name).copied() == Some(1)
        });
        let (session, how) = match cached {
            Some((path, _)) if cache_fits => {
                builder = builder
                    .with_optimization_level(ort::session::builder::GraphOptimizationLevel::Disable)
                    .map_err(|err| session_error(err.to_string()))?;
                builder = with_merged(builder, tensors).map_err(session_error)?;
                let session = builder
                    .commit_from_file(&path)
                    .map_err(|err| session_error(err.to_string()))?;
                (session, RebuildKind::CachedGraph)
            }
            _ if outline.all_external(&name_refs) => {
                builder = with_merged(builder, tensors).map_err(session_error)?;
                let fused =
                    super::sessions::fused_model(&files, &self.options, self.provider.active, None);
                let session = match fused {
                    Some(model) => {
                        let mut builder = builder
                            .with_config_entry(
                                "session.model_external_initializers_file_folder_path",
                                model_folder(&files.model),
                            )
                            .map_err(|err| session_error(err.to_string()))?;
                        builder.commit_from_memory(&model)
                    }
                    None => builder.commit_from_file(&files.model),
                }
                .map_err(|err| session_error(err.to_string()))?;
                (session, RebuildKind::Optimized)
            }
            _ => {
                // Inline weights: an in-memory copy of the model in which the merged ones are
                // external data, held in one in-memory file.
                let mut blob = Vec::new();
                let mut moved = HashMap::new();
                for tensor in &tensors {
                    blob.resize(blob.len().next_multiple_of(64), 0);
                    let start = blob.len() as u64;
                    blob.extend_from_slice(&tensor.to_le_bytes());
                    moved.insert(tensor.name.clone(), start..blob.len() as u64);
                }
                drop(tensors);
                let whole =
                    ModelWeights::read(&files.model).map_err(|reason| LoraError::Model {
                        reason: format!("{}: {reason}", files.model.display()),
                    })?;
                let mut model = whole.with_external(&moved, MERGED_FILE);
                drop(whole);
                if let Some(fused) = super::sessions::fused_model(
                    &files,
                    &self.options,
                    self.provider.active,
                    Some(&model),
                ) {
                    model = fused;
                }
                let folder = model_folder(&files.model);
                builder = builder
                    .with_config_entry(
                        "session.model_external_initializers_file_folder_path",
                        folder,
                    )
                    .map_err(|err| session_error(err.to_string()))?
                    .with_external_initializer_file_in_memory(MERGED_FILE, Arc::from(blob))
                    .map_err(|err| session_error(err.to_string()))?;
                let session = builder
                    .commit_from_memory(&model)
                    .map_err(|err| session_error(err.to_string()))?;
                (session, RebuildKind::InMemory)
            }
        };
        let signature = ComponentSignature::of_session(which, &session)?;
        Ok((LoadedComponent::local(session, signature), matches, how))
    }

    /// The cached optimized graph of a component (CPU only, as the cache is), read.
    fn cached_graph(
        &self,
        files: &crate::model::ComponentFiles,
    ) -> Option<(PathBuf, ModelWeights)> {
        if self.provider.active != crate::providers::ProviderChoice::Cpu {
            return None;
        }
        let root = self.options.optimized_cache.clone()?;
        let entry = OptimizedCache::new(root).entry(
            files,
            self.runtime.version(),
            self.options.attention.key(),
        )?;
        let path = OptimizedCache::lookup(&entry)?;
        let graph = ModelWeights::read(&path).ok()?;
        Some((path, graph))
    }
}

/// The folder of `model.onnx`, where its external weights are found.
fn model_folder(model: &Path) -> String {
    model
        .parent()
        .map(|dir| dir.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The builder with each merged weight given as an external initializer (applied before the
/// graph is optimized).
fn with_merged(
    mut builder: ort::session::builder::SessionBuilder,
    tensors: Vec<MergedTensor>,
) -> Result<ort::session::builder::SessionBuilder, String> {
    for tensor in tensors {
        let name = tensor.name.clone();
        let value = ort_value(tensor).map_err(|err| err.to_string())?;
        builder = builder
            .with_external_initializer(&name, value)
            .map_err(|err| err.to_string())?;
    }
    Ok(builder)
}

fn component_of(component: LoraComponent) -> Component {
    match component {
        LoraComponent::TextEncoder => Component::TextEncoder,
        LoraComponent::Unet => Component::Unet,
    }
}

/// A merged weight as an ONNX Runtime value of its own type (the values are moved, not copied).
fn ort_value(tensor: MergedTensor) -> Result<ort::value::DynValue, InferenceError> {
    let name = tensor.name;
    let value = match tensor.values {
        MergedValues::Float16(values) => {
            Tensor::from_array((tensor.dims, values)).map(Tensor::into_dyn)
        }
        MergedValues::Float(values) => {
            Tensor::from_array((tensor.dims, values)).map(Tensor::into_dyn)
        }
    };
    value.map_err(|err| {
        LoraError::Model {
            reason: format!("{name}: {err}"),
        }
        .into()
    })
}
