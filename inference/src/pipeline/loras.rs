//! The LoRAs a model runs with: reading the files, merging them into the text encoder's and the
//! UNet's weights, and re-creating only the sessions whose LoRAs or strengths changed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ort::value::Tensor;

use super::{LoadedComponent, StableDiffusion, create_session, required, session_builder};
use crate::error::{InferenceError, ModelError};
use crate::lora::merge::{self, MergedTensor};
use crate::lora::onnx::{FLOAT16, ModelWeights};
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
    /// Sessions re-created by the last call, and how long that took.
    last_rebuild: Vec<(Component, Duration)>,
}

impl StableDiffusion {
    /// Makes the model run with exactly these LoRAs (none: the base model). Files are read once
    /// and re-read when they change on disk; a component's session is re-created only when its
    /// LoRAs or their strengths changed. Returns what is applied, for the log.
    pub fn use_loras(
        &mut self,
        requests: &[LoraRequest],
    ) -> Result<Vec<AppliedLora>, InferenceError> {
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
            let (session, matches) = self.lora_session(component, &affecting)?;
            let which = match component {
                LoraComponent::TextEncoder => Component::TextEncoder,
                LoraComponent::Unet => Component::Unet,
            };
            match component {
                LoraComponent::TextEncoder => self.text_encoder = session,
                LoraComponent::Unet => self.unet = session,
            }
            self.loras.sessions.insert(component, (key, matches));
            self.loras.last_rebuild.push((which, started.elapsed()));
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

    /// Sessions re-created by the last [`Self::use_loras`], with how long each took (reading
    /// the weights, merging, and ONNX Runtime's session creation).
    pub fn last_lora_rebuild(&self) -> &[(Component, Duration)] {
        &self.loras.last_rebuild
    }

    /// A LoRA file, read once per change on disk.
    fn read_lora(&mut self, path: &std::path::Path) -> Result<Arc<LoraFile>, InferenceError> {
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

    /// A session for `component` with `choices` merged into it (none: the base model, through
    /// the optimized-graph cache as at load).
    fn lora_session(
        &self,
        component: LoraComponent,
        choices: &[LoraChoice],
    ) -> Result<(LoadedComponent, Vec<ComponentMatch>), InferenceError> {
        let which = match component {
            LoraComponent::TextEncoder => Component::TextEncoder,
            LoraComponent::Unet => Component::Unet,
        };
        let files = required(&self.folder, which)?;
        if choices.is_empty() {
            let (session, _, _) =
                create_session(&self.runtime, &files, &self.options, Some(&self.provider))?;
            return Ok((session, Vec::new()));
        }
        let weights = ModelWeights::read(&files.model).map_err(|reason| LoraError::Model {
            reason: format!("{}: {reason}", files.model.display()),
        })?;
        let merged = merge::merge(&weights, component, choices)?;
        let session_error = |reason: String| ModelError::Session {
            component: which.folder_name(),
            reason,
            path: files.model.clone(),
        };
        let (mut builder, _) =
            session_builder(&self.runtime, &files, &self.options, self.provider.active)?;
        let names: Vec<&str> = merged.tensors.iter().map(|t| t.name.as_str()).collect();
        let session = if weights.all_external(&names) {
            for tensor in &merged.tensors {
                builder = builder
                    .with_external_initializer(&tensor.name, ort_value(tensor)?)
                    .map_err(|err| session_error(err.to_string()))?;
            }
            builder
                .commit_from_file(&files.model)
                .map_err(|err| session_error(err.to_string()))?
        } else {
            // Inline weights: an in-memory copy of the model in which the merged ones are
            // external data, held in one in-memory file.
            let mut blob = Vec::new();
            let mut moved = HashMap::new();
            for tensor in &merged.tensors {
                blob.resize(blob.len().next_multiple_of(64), 0);
                let start = blob.len() as u64;
                blob.extend_from_slice(&tensor.bytes);
                moved.insert(tensor.name.clone(), start..blob.len() as u64);
            }
            let model = weights.with_external(&moved, MERGED_FILE);
            drop(weights);
            let folder = files
                .model
                .parent()
                .map(|dir| dir.to_string_lossy().into_owned())
                .unwrap_or_default();
            builder = builder
                .with_config_entry(
                    "session.model_external_initializers_file_folder_path",
                    folder,
                )
                .map_err(|err| session_error(err.to_string()))?
                .with_external_initializer_file_in_memory(MERGED_FILE, Arc::from(blob))
                .map_err(|err| session_error(err.to_string()))?;
            builder
                .commit_from_memory(&model)
                .map_err(|err| session_error(err.to_string()))?
        };
        let signature = ComponentSignature::of_session(which, &session)?;
        Ok((LoadedComponent { session, signature }, merged.matches))
    }
}

/// A merged weight as an ONNX Runtime value of its own type.
fn ort_value(tensor: &MergedTensor) -> Result<ort::value::DynValue, InferenceError> {
    let value = if tensor.data_type == FLOAT16 {
        let values: Vec<half::f16> = tensor
            .bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]))
            .collect();
        Tensor::from_array((tensor.dims.clone(), values)).map(Tensor::into_dyn)
    } else {
        let values: Vec<f32> = tensor
            .bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Tensor::from_array((tensor.dims.clone(), values)).map(Tensor::into_dyn)
    };
    value.map_err(|err| {
        LoraError::Model {
            reason: format!("{}: {err}", tensor.name),
        }
        .into()
    })
}
