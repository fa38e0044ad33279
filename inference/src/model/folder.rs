//! A Stable Diffusion model folder in the diffusers or optimum ONNX layout.

use std::path::{Path, PathBuf};

use crate::error::ModelError;
use crate::json_file::JsonFileError;
use crate::model::onnx_graph::GraphOutline;

/// Extensions of PyTorch pickle files (never opened).
const PICKLE_EXTENSIONS: [&str; 6] = ["ckpt", "pt", "pth", "bin", "pkl", "pickle"];

/// The ONNX components of a Stable Diffusion pipeline, each in its own sub-folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    /// CLIP text encoder: token ids → text embeddings.
    TextEncoder,
    /// The denoising UNet.
    Unet,
    /// VAE encoder: image → latents (img2img and inpainting).
    VaeEncoder,
    /// VAE decoder: latents → image.
    VaeDecoder,
}

impl Component {
    /// Every component, in pipeline order.
    pub const ALL: [Self; 4] = [
        Self::TextEncoder,
        Self::Unet,
        Self::VaeEncoder,
        Self::VaeDecoder,
    ];

    /// The sub-folder name in the diffusers layout.
    pub fn folder_name(self) -> &'static str {
        match self {
            Self::TextEncoder => "text_encoder",
            Self::Unet => "unet",
            Self::VaeEncoder => "vae_encoder",
            Self::VaeDecoder => "vae_decoder",
        }
    }

    /// Whether every generation needs it (the VAE encoder is only needed with an input image).
    pub fn is_required(self) -> bool {
        !matches!(self, Self::VaeEncoder)
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.folder_name())
    }
}

/// One component's files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComponentFiles {
    /// Which component.
    pub component: Component,
    /// The graph, `model.onnx`.
    pub model: PathBuf,
    /// Weights stored beside the graph (`model.onnx_data`), used by models over 2 GB.
    pub external_data: Option<PathBuf>,
    /// Bytes on disk, graph and external data together.
    pub size_bytes: u64,
}

/// A model folder as found on disk, before any ONNX Runtime session is created.
#[derive(Clone, Debug)]
pub struct ModelFolder {
    /// The folder.
    pub root: PathBuf,
    /// `model_index.json`, when present.
    pub model_index: Option<serde_json::Value>,
    /// The components that were found.
    pub components: Vec<ComponentFiles>,
    /// `scheduler/scheduler_config.json`, when present.
    pub scheduler_config: Option<PathBuf>,
    /// The tokenizer folder, when present.
    pub tokenizer: Option<PathBuf>,
}

impl ModelFolder {
    /// The tokenizer folder; a model cannot load without one.
    pub fn required_tokenizer(&self) -> Result<&Path, ModelError> {
        self.tokenizer
            .as_deref()
            .ok_or_else(|| ModelError::MissingComponent {
                component: "tokenizer",
                path: self.root.join("tokenizer"),
            })
    }

    /// Reads a model folder's layout. Fails with a message naming what is missing when the
    /// folder cannot be a Stable Diffusion ONNX model.
    ///
    /// Checkpoints in other formats are recognised by name and refused with what to do instead;
    /// pickle files are never opened.
    pub fn open(root: &Path) -> Result<Self, ModelError> {
        if root.is_file() {
            return Err(refuse_file(root));
        }
        if !root.exists() {
            return Err(ModelError::NoSuchFolder {
                path: root.to_path_buf(),
            });
        }
        if !root.is_dir() {
            return Err(ModelError::NotAFolder {
                path: root.to_path_buf(),
            });
        }
        let entries = list(root)?;
        if entries.is_empty() {
            return Err(ModelError::EmptyFolder {
                path: root.to_path_buf(),
            });
        }
        let has_onnx_unet = root.join("unet").join("model.onnx").is_file();
        if !has_onnx_unet {
            refuse_other_layouts(root, &entries)?;
        }
        let index_path = root.join("model_index.json");
        let model_index = read_json_if_present(&index_path)?;
        if let Some(index) = &model_index {
            let reason = match index {
                serde_json::Value::Object(map) => match map.get("_class_name") {
                    Some(serde_json::Value::String(_)) | None => None,
                    Some(_) => Some("its _class_name is not a name".to_owned()),
                },
                _ => Some("it is not a JSON object".to_owned()),
            };
            if let Some(reason) = reason {
                return Err(ModelError::InvalidModelIndex {
                    reason,
                    path: index_path,
                });
            }
        }
        let mut components = Vec::new();
        for component in Component::ALL {
            let dir = root.join(component.folder_name());
            let model = dir.join("model.onnx");
            if !model.is_file() {
                if component.is_required() {
                    return Err(ModelError::MissingComponent {
                        component: component.folder_name(),
                        path: model,
                    });
                }
                continue;
            }
            // Weights kept beside the graph (`model.onnx_data`, `weights.pb`, …): named by the
            // graph itself. A graph that cannot be outlined is left for ONNX Runtime to judge.
            let referenced: Vec<String> = GraphOutline::read(&model)
                .map(|outline| outline.external_data_files().map(str::to_owned).collect())
                .unwrap_or_default();
            let mut external_size = 0;
            for name in &referenced {
                let path = dir.join(name);
                if !path.is_file() {
                    return Err(ModelError::MissingExternalData {
                        component: component.folder_name(),
                        file: name.clone(),
                        path,
                    });
                }
                external_size += file_size(&path)?;
            }
            let external = dir.join("model.onnx_data");
            let external_data = external
                .is_file()
                .then_some(external)
                .or_else(|| referenced.first().map(|name| dir.join(name)));
            let size_bytes = file_size(&model)? + external_size;
            components.push(ComponentFiles {
                component,
                model,
                external_data,
                size_bytes,
            });
        }
        let scheduler_config = Some(root.join("scheduler").join("scheduler_config.json"))
            .filter(|path| path.is_file());
        let tokenizer = Some(root.join("tokenizer")).filter(|path| path.is_dir());
        Ok(Self {
            root: root.to_path_buf(),
            model_index,
            components,
            scheduler_config,
            tokenizer,
        })
    }

    /// The files of one component, if the folder has it.
    pub fn component(&self, component: Component) -> Option<&ComponentFiles> {
        self.components
            .iter()
            .find(|files| files.component == component)
    }

    /// The pipeline class `model_index.json` names, e.g. `OnnxStableDiffusionPipeline`.
    pub fn pipeline_class(&self) -> Option<&str> {
        self.model_index.as_ref()?.get("_class_name")?.as_str()
    }

    /// Bytes on disk of all components.
    pub fn size_bytes(&self) -> u64 {
        self.components.iter().map(|files| files.size_bytes).sum()
    }
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|extension| extension.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Why a file cannot be opened as a model.
fn refuse_file(path: &Path) -> ModelError {
    let extension = extension(path);
    if PICKLE_EXTENSIONS.contains(&extension.as_str()) {
        ModelError::PickleCheckpoint {
            file: file_name(path),
            path: path.to_path_buf(),
        }
    } else if extension == "safetensors" {
        ModelError::SingleFileCheckpoint {
            file: file_name(path),
            path: path.to_path_buf(),
        }
    } else if extension == "onnx" {
        ModelError::SingleOnnxFile {
            path: path.to_path_buf(),
        }
    } else {
        ModelError::NotAFolder {
            path: path.to_path_buf(),
        }
    }
}

/// A folder without an ONNX UNet: recognise PyTorch diffusers folders and loose checkpoints.
fn refuse_other_layouts(root: &Path, entries: &[PathBuf]) -> Result<(), ModelError> {
    let weights = |dir: &Path| -> Option<PathBuf> {
        list(dir).ok()?.into_iter().find(|path| {
            let extension = extension(path);
            path.is_file()
                && (extension == "safetensors" || PICKLE_EXTENSIONS.contains(&extension.as_str()))
        })
    };
    if let Some(found) = weights(&root.join("unet")) {
        return Err(ModelError::PyTorchLayout {
            file: format!("unet/{}", file_name(&found)),
            path: root.to_path_buf(),
        });
    }
    let checkpoints: Vec<&PathBuf> = entries
        .iter()
        .filter(|path| {
            let extension = extension(path);
            path.is_file()
                && (extension == "safetensors" || PICKLE_EXTENSIONS.contains(&extension.as_str()))
        })
        .collect();
    if let Some(found) = checkpoints.first() {
        return Err(refuse_file(found));
    }
    Ok(())
}

fn list(dir: &Path) -> Result<Vec<PathBuf>, ModelError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ModelError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    paths.sort();
    Ok(paths)
}

fn file_size(path: &Path) -> Result<u64, ModelError> {
    std::fs::metadata(path)
        .map(|meta| meta.len())
        .map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })
}

fn read_json_if_present(path: &Path) -> Result<Option<serde_json::Value>, ModelError> {
    crate::json_file::read_if_present(path).map_err(|err| match err {
        JsonFileError::Read(source) => ModelError::Io {
            path: path.to_path_buf(),
            source,
        },
        JsonFileError::Parse(err) => ModelError::InvalidJson {
            reason: err.to_string(),
            path: path.to_path_buf(),
        },
    })
}
