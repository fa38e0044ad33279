//! Writing a Triton model repository for a model folder, and the client folder artists add in
//! the model manager (`pentimento serve-repo MODEL_DIR REPO_DIR`).
//!
//! Each component becomes one model on the `onnxruntime_onnx` platform, `NAME-text_encoder`,
//! `NAME-unet`, `NAME-vae_encoder` and `NAME-vae_decoder`, with its ONNX file (and external
//! weights) as version 1, its inputs and outputs declared as the graph declares them, GPU
//! instances, and on the UNet a dynamic batcher that joins the calls of artists who generate at
//! the same time. A graph whose every input and output has a dynamic first axis is declared
//! batched (Triton then counts that axis itself); a `[batch]` input (the timestep) is declared
//! `[1]` and reshaped to `[]`, as Triton asks.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::model::signature::{ComponentSignature, Dimension, TensorSpec};
use crate::model::{Component, ComponentFiles, ModelFolder};
use crate::remote::config::{self, ComponentDescription, RemoteConfig};

/// How the repository is written.
#[derive(Clone, Debug)]
pub struct RepositoryOptions {
    /// The model name on the servers (components are `NAME-unet` and so on).
    pub name: String,
    /// Instances of each model per GPU (`KIND_GPU`); `None` for CPU instances.
    pub gpu_instances: Option<u32>,
    /// The largest batch a batched model takes (one guided step is a batch of 2).
    pub max_batch_size: u32,
    /// How long the UNet's batcher waits for more calls to join a batch.
    pub max_queue_delay_microseconds: u64,
    /// The servers written into the client folder's `remote.json`.
    pub servers: Vec<String>,
}

impl RepositoryOptions {
    /// GPU instances, batches up to 8 (four guided calls), 2 ms of queueing.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            gpu_instances: Some(1),
            max_batch_size: 8,
            max_queue_delay_microseconds: 2_000,
            servers: vec!["http://localhost:8001".to_owned()],
        }
    }
}

/// What [`write`] wrote.
#[derive(Clone, Debug)]
pub struct WrittenRepository {
    /// The model names in the repository.
    pub models: Vec<String>,
    /// The client folder.
    pub client: PathBuf,
    /// Its `remote.json`.
    pub config: RemoteConfig,
}

/// Why a repository could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// The name cannot be a Triton model name.
    #[error("`{0}` cannot name a model on the server; use letters, digits, `-`, `_` and `.` only")]
    Name(String),
    /// Reading the model or writing a file failed.
    #[error("{what}: {reason}; {}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The system's explanation.
        reason: String,
        /// The file or folder.
        path: PathBuf,
    },
}

fn io<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> RepositoryError + 'a {
    move |err| RepositoryError::Io {
        what,
        reason: err.to_string(),
        path: path.to_path_buf(),
    }
}

/// Writes the repository for `folder` into `repository` (one sub-folder per component; others
/// already there are left alone) and the client folder into `client`. `signatures` are the
/// components' signatures as ONNX Runtime reads them, with the UNet's input channels and
/// downsamplings.
pub fn write(
    folder: &ModelFolder,
    signatures: &[ComponentSignature],
    unet_in_channels: u64,
    unet_downsamplings: u32,
    repository: &Path,
    client: &Path,
    options: &RepositoryOptions,
) -> Result<WrittenRepository, RepositoryError> {
    let name_ok = !options.name.is_empty()
        && options
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !options.name.starts_with('.');
    if !name_ok {
        return Err(RepositoryError::Name(options.name.clone()));
    }
    std::fs::create_dir_all(repository)
        .map_err(io("the repository folder cannot be made", repository))?;
    let mut models = Vec::new();
    let mut components = std::collections::BTreeMap::new();
    for signature in signatures {
        let Some(files) = folder.component(signature.component) else {
            continue;
        };
        let model = config::served_name(&options.name, signature.component);
        let model_dir = repository.join(&model);
        let version_dir = model_dir.join("1");
        std::fs::create_dir_all(&version_dir)
            .map_err(io("a model folder cannot be made", &version_dir))?;
        place(&files.model, &version_dir.join("model.onnx"))?;
        if let Some(data) = &files.external_data {
            let name = data.file_name().map_or_else(
                || std::ffi::OsString::from("model.onnx_data"),
                ToOwned::to_owned,
            );
            place(data, &version_dir.join(name))?;
        }
        let text = model_config(&model, signature, options);
        let config_path = model_dir.join("config.pbtxt");
        std::fs::write(&config_path, text).map_err(io(
            "the model configuration cannot be written",
            &config_path,
        ))?;
        components.insert(
            signature.component.folder_name().to_owned(),
            describe_component(files, signature)?,
        );
        models.push(model);
    }
    write_client(folder, client)?;
    let config = RemoteConfig {
        format: config::FORMAT.to_owned(),
        version: 1,
        model: options.name.clone(),
        servers: options.servers.clone(),
        token: None,
        token_file: None,
        ca_certificate: None,
        timeout_seconds: config::DEFAULT_TIMEOUT_SECONDS,
        local_copy: std::path::absolute(&folder.root).ok(),
        components,
        unet_downsamplings,
        unet_in_channels,
    };
    config
        .write(client)
        .map_err(io("remote.json cannot be written", client))?;
    Ok(WrittenRepository {
        models,
        client: client.to_path_buf(),
        config,
    })
}

/// A hard link when the repository is on the same disk (a 3.4 GB UNet is not copied), else a
/// copy.
fn place(source: &Path, target: &Path) -> Result<(), RepositoryError> {
    if target.exists() {
        std::fs::remove_file(target).map_err(io("an old file cannot be replaced", target))?;
    }
    if std::fs::hard_link(source, target).is_ok() {
        return Ok(());
    }
    std::fs::copy(source, target)
        .map(|_| ())
        .map_err(io("a model file cannot be copied", target))
}

fn describe_component(
    files: &ComponentFiles,
    signature: &ComponentSignature,
) -> Result<ComponentDescription, RepositoryError> {
    let sha256 = crate::sha256::of_file(&files.model)
        .map_err(io("a model file cannot be read", &files.model))?;
    Ok(ComponentDescription {
        sha256,
        bytes: files.size_bytes,
        inputs: signature.inputs.iter().map(config::describe).collect(),
        outputs: signature.outputs.iter().map(config::describe).collect(),
    })
}

/// The client folder: what the pipeline reads on the artist's computer (tokenizer, scheduler,
/// the configurations) and no weights.
fn write_client(folder: &ModelFolder, client: &Path) -> Result<(), RepositoryError> {
    std::fs::create_dir_all(client).map_err(io("the client folder cannot be made", client))?;
    let root = &folder.root;
    let index = root.join("model_index.json");
    if index.is_file() {
        let target = client.join("model_index.json");
        std::fs::copy(&index, &target).map_err(io("a file cannot be copied", &target))?;
    }
    for dir in ["tokenizer", "scheduler"] {
        copy_dir(&root.join(dir), &client.join(dir))?;
    }
    for component in Component::ALL {
        let source = root.join(component.folder_name()).join("config.json");
        if source.is_file() {
            let dir = client.join(component.folder_name());
            std::fs::create_dir_all(&dir).map_err(io("a folder cannot be made", &dir))?;
            let target = dir.join("config.json");
            std::fs::copy(&source, &target).map_err(io("a file cannot be copied", &target))?;
        }
    }
    Ok(())
}

fn copy_dir(source: &Path, target: &Path) -> Result<(), RepositoryError> {
    if !source.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(target).map_err(io("a folder cannot be made", target))?;
    for entry in std::fs::read_dir(source).map_err(io("a folder cannot be read", source))? {
        let entry = entry.map_err(io("a folder cannot be read", source))?;
        let path = entry.path();
        let destination = target.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &destination)?;
        } else {
            std::fs::copy(&path, &destination)
                .map_err(io("a file cannot be copied", &destination))?;
        }
    }
    Ok(())
}

/// Whether Triton can batch the model: every input and output has a dynamic first axis.
pub fn is_batchable(signature: &ComponentSignature) -> bool {
    signature
        .inputs
        .iter()
        .chain(&signature.outputs)
        .all(|spec| matches!(spec.shape.first(), Some(Dimension::Dynamic(_))))
}

/// The `config.pbtxt` of one component.
pub fn model_config(
    model: &str,
    signature: &ComponentSignature,
    options: &RepositoryOptions,
) -> String {
    let batched = is_batchable(signature);
    let mut text = String::new();
    let _ = writeln!(text, "name: \"{model}\"");
    let _ = writeln!(text, "platform: \"onnxruntime_onnx\"");
    let _ = writeln!(
        text,
        "max_batch_size: {}",
        if batched { options.max_batch_size } else { 0 }
    );
    let tensors = |text: &mut String, key: &str, specs: &[TensorSpec]| {
        let _ = writeln!(text, "{key} [");
        for (index, spec) in specs.iter().enumerate() {
            let shape: Vec<i64> = spec
                .shape
                .iter()
                .skip(usize::from(batched))
                .map(|dim| match dim {
                    Dimension::Fixed(size) => *size as i64,
                    Dimension::Dynamic(_) => -1,
                })
                .collect();
            let (dims, reshape) = if shape.is_empty() {
                ("1".to_owned(), " reshape: { shape: [ ] }")
            } else {
                (
                    shape
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    "",
                )
            };
            let separator = if index + 1 < specs.len() { "," } else { "" };
            let _ = writeln!(
                text,
                "  {{ name: \"{}\" data_type: TYPE_{} dims: [ {dims} ]{reshape} }}{separator}",
                spec.name,
                config::datatype_of(&spec.element)
            );
        }
        let _ = writeln!(text, "]");
    };
    tensors(&mut text, "input", &signature.inputs);
    tensors(&mut text, "output", &signature.outputs);
    match options.gpu_instances {
        Some(count) => {
            let _ = writeln!(
                text,
                "instance_group [ {{ count: {count} kind: KIND_GPU }} ]"
            );
        }
        None => {
            let _ = writeln!(text, "instance_group [ {{ count: 1 kind: KIND_CPU }} ]");
        }
    }
    if batched && signature.component == Component::Unet {
        let _ = writeln!(
            text,
            "dynamic_batching {{ max_queue_delay_microseconds: {} }}",
            options.max_queue_delay_microseconds
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::signature::ElementType;

    fn spec(name: &str, element: ElementType, shape: &[i64]) -> TensorSpec {
        TensorSpec {
            name: name.to_owned(),
            element,
            shape: shape
                .iter()
                .map(|&d| match u64::try_from(d) {
                    Ok(size) => Dimension::Fixed(size),
                    Err(_) => Dimension::Dynamic("batch".to_owned()),
                })
                .collect(),
        }
    }

    #[test]
    fn a_batchable_unet_is_declared_without_its_batch_axis_and_gets_the_batcher() {
        let unet = ComponentSignature {
            component: Component::Unet,
            inputs: vec![
                spec("sample", ElementType::Float32, &[-1, 4, -1, -1]),
                spec("timestep", ElementType::Float32, &[-1]),
                spec(
                    "encoder_hidden_states",
                    ElementType::Float32,
                    &[-1, 77, 768],
                ),
            ],
            outputs: vec![spec("out_sample", ElementType::Float32, &[-1, 4, -1, -1])],
        };
        let text = model_config("sd-unet", &unet, &RepositoryOptions::new("sd"));
        assert_eq!(
            text,
            "name: \"sd-unet\"\n\
             platform: \"onnxruntime_onnx\"\n\
             max_batch_size: 8\n\
             input [\n  \
             { name: \"sample\" data_type: TYPE_FP32 dims: [ 4, -1, -1 ] },\n  \
             { name: \"timestep\" data_type: TYPE_FP32 dims: [ 1 ] reshape: { shape: [ ] } },\n  \
             { name: \"encoder_hidden_states\" data_type: TYPE_FP32 dims: [ 77, 768 ] }\n\
             ]\n\
             output [\n  \
             { name: \"out_sample\" data_type: TYPE_FP32 dims: [ 4, -1, -1 ] }\n\
             ]\n\
             instance_group [ { count: 1 kind: KIND_GPU } ]\n\
             dynamic_batching { max_queue_delay_microseconds: 2000 }\n"
        );
    }

    #[test]
    fn a_scalar_timestep_makes_the_unet_unbatched_with_full_shapes() {
        let unet = ComponentSignature {
            component: Component::Unet,
            inputs: vec![
                spec("sample", ElementType::Float16, &[-1, 4, -1, -1]),
                spec("timestep", ElementType::Int64, &[]),
            ],
            outputs: vec![spec("out_sample", ElementType::Float16, &[-1, 4, -1, -1])],
        };
        let mut options = RepositoryOptions::new("sd");
        options.gpu_instances = None;
        let text = model_config("sd-unet", &unet, &options);
        assert!(text.contains("max_batch_size: 0\n"), "{text}");
        assert!(
            text.contains("{ name: \"sample\" data_type: TYPE_FP16 dims: [ -1, 4, -1, -1 ] }"),
            "{text}"
        );
        assert!(
            text.contains(
                "{ name: \"timestep\" data_type: TYPE_INT64 dims: [ 1 ] reshape: { shape: [ ] } }"
            ),
            "{text}"
        );
        assert!(text.contains("kind: KIND_CPU"), "{text}");
        assert!(!text.contains("dynamic_batching"), "{text}");
    }
}
