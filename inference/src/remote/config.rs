//! `remote.json`: the file that makes a folder with a tokenizer and a scheduler a remote model.
//!
//! ```json
//! {
//!   "format": "pentimento-remote",
//!   "version": 1,
//!   "model": "sd15",
//!   "servers": ["http://gpu1.studio:8001", "https://gpu2.studio:8001"],
//!   "token_file": "token.txt",
//!   "ca_certificate": "studio-ca.pem",
//!   "timeout_seconds": 120,
//!   "local_copy": "/models/sd15",
//!   "components": { "unet": { "sha256": "…", "bytes": 3438167534, "inputs": […], "outputs": […] }, … },
//!   "unet_downsamplings": 3
//! }
//! ```
//!
//! The component entries are what `pentimento serve-repo` read from the ONNX files it put in
//! the repository: their signatures (checked against what each server declares) and their
//! hashes (recorded with every generation, as for a local model).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::Component;
use crate::model::capabilities::{Capabilities, Family, Inpainting, Precision};
use crate::model::signature::{ComponentSignature, Dimension, ElementType, TensorSpec};
use crate::remote::RemoteError;

/// The file name of the remote description in a client folder.
pub const REMOTE_FILE: &str = "remote.json";

/// The `format` value.
pub const FORMAT: &str = "pentimento-remote";

/// The default time one call may take before the next server is tried.
pub const DEFAULT_TIMEOUT_SECONDS: f64 = 120.0;

/// A declared tensor: name, Open Inference Protocol datatype, shape with `-1` for a dynamic
/// dimension.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorDescription {
    /// The tensor's name.
    pub name: String,
    /// `FP32`, `FP16`, `INT32`, `INT64`, …
    pub datatype: String,
    /// The shape; `-1` where any size is accepted.
    pub shape: Vec<i64>,
}

/// One component in `remote.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentDescription {
    /// The sha256 of its `model.onnx`.
    pub sha256: String,
    /// Bytes of its files (graph and external weights).
    pub bytes: u64,
    /// The graph's inputs.
    pub inputs: Vec<TensorDescription>,
    /// The graph's outputs.
    pub outputs: Vec<TensorDescription>,
}

/// `remote.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemoteConfig {
    /// Always `pentimento-remote`.
    pub format: String,
    /// Always 1.
    pub version: u32,
    /// The model's name on the servers: components are served as `NAME-unet` and so on.
    pub model: String,
    /// gRPC endpoints: `http://host:port`, or `https://host:port` for TLS.
    pub servers: Vec<String>,
    /// A bearer token sent with every call, when the studio asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// A file holding the token (relative to the folder), instead of `token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// A PEM certificate of the studio's own certificate authority (relative to the folder);
    /// the system's roots are trusted too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate: Option<PathBuf>,
    /// How long one call may take before the next server is tried.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: f64,
    /// A copy of the same model on this computer, to continue on when no server is left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_copy: Option<PathBuf>,
    /// What the served components declare, by folder name (`text_encoder`, `unet`, …).
    pub components: BTreeMap<String, ComponentDescription>,
    /// How many times the UNet halves the latents (width and height must be multiples of
    /// 8 · 2^this).
    pub unet_downsamplings: u32,
    /// The UNet's input channels (4, or 9 for an inpainting UNet).
    pub unet_in_channels: u64,
}

fn default_timeout() -> f64 {
    DEFAULT_TIMEOUT_SECONDS
}

impl RemoteConfig {
    /// Reads `remote.json` from a client folder.
    pub fn read(folder: &Path) -> Result<Self, RemoteError> {
        let path = folder.join(REMOTE_FILE);
        let error = |reason: String| RemoteError::Config {
            reason,
            path: path.display().to_string(),
        };
        let text = std::fs::read_to_string(&path).map_err(|err| error(err.to_string()))?;
        let config: Self =
            serde_json::from_str(&text).map_err(|err| error(format!("it is not valid ({err})")))?;
        if config.format != FORMAT {
            return Err(error(format!(
                "its format is `{}`, expected `{FORMAT}`",
                config.format
            )));
        }
        if config.version != 1 {
            return Err(error(format!(
                "it is version {}, this Pentimento reads version 1",
                config.version
            )));
        }
        if config.servers.is_empty() {
            return Err(error("it names no servers".to_owned()));
        }
        if config.model.trim().is_empty() {
            return Err(error("it names no model".to_owned()));
        }
        if !(config.timeout_seconds.is_finite() && config.timeout_seconds > 0.0) {
            return Err(error(
                "timeout_seconds must be a positive number".to_owned(),
            ));
        }
        for required in [
            Component::TextEncoder,
            Component::Unet,
            Component::VaeDecoder,
        ] {
            if !config.components.contains_key(required.folder_name()) {
                return Err(error(format!("it describes no {}", required.folder_name())));
            }
        }
        Ok(config)
    }

    /// Writes it into a folder.
    pub fn write(&self, folder: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(folder.join(REMOTE_FILE), text + "\n")
    }

    /// What the remote model can do, from the signatures and sizes its `remote.json` recorded
    /// of the served ONNX files (no server is asked) and its scheduler configuration.
    pub fn capabilities(&self, root: &Path) -> Capabilities {
        let unet = self.components.get("unet");
        let input = |name: &str| {
            unet.and_then(|unet| unet.inputs.iter().find(|tensor| tensor.name == name))
        };
        let width = input("encoder_hidden_states")
            .and_then(|tensor| tensor.shape.get(2).copied())
            .filter(|&width| width > 0)
            .or_else(|| {
                let text = self.components.get("text_encoder")?;
                let output = text
                    .outputs
                    .iter()
                    .find(|tensor| tensor.name == "last_hidden_state")?;
                output.shape.get(2).copied().filter(|&width| width > 0)
            });
        let family = match width {
            Some(768) => Family::StableDiffusion1,
            Some(1024) => Family::StableDiffusion2,
            other => Family::Other(other),
        };
        let scheduler = root.join("scheduler").join("scheduler_config.json");
        let v_prediction = crate::scheduler::SchedulerConfig::from_file(&scheduler)
            .ok()
            .and_then(|scheduler| scheduler.prediction_type)
            .is_some_and(|prediction| prediction == "v_prediction");
        let image_to_image = self.components.contains_key("vae_encoder");
        let inpainting = match (image_to_image, self.unet_in_channels) {
            (false, _) => Inpainting::Unavailable,
            (true, 9) => Inpainting::InpaintingUnet,
            (true, _) => Inpainting::LatentBlend,
        };
        let precision = match input("sample").map(|tensor| tensor.datatype.as_str()) {
            Some("FP32") => Precision::Fp32,
            Some("FP16") => Precision::Fp16,
            _ => Precision::Unknown,
        };
        Capabilities {
            family,
            v_prediction,
            image_to_image,
            inpainting,
            precision,
            size_bytes: self.components.values().map(|c| c.bytes).sum(),
        }
    }

    /// The name a component is served under: `NAME-unet`.
    pub fn served_name(&self, component: Component) -> String {
        served_name(&self.model, component)
    }

    /// The token to send, from `token` or `token_file`.
    pub fn bearer_token(&self, folder: &Path) -> Result<Option<String>, RemoteError> {
        if let Some(token) = &self.token {
            return Ok(Some(token.trim().to_owned()));
        }
        let Some(file) = &self.token_file else {
            return Ok(None);
        };
        let path = folder.join(file);
        std::fs::read_to_string(&path)
            .map(|text| Some(text.trim().to_owned()))
            .map_err(|err| RemoteError::Config {
                reason: format!("its token_file cannot be read ({err})"),
                path: path.display().to_string(),
            })
    }

    /// The time one call may take.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_seconds)
    }

    /// The recorded signature of a component, when the folder serves it.
    pub fn signature(&self, component: Component) -> Option<ComponentSignature> {
        let description = self.components.get(component.folder_name())?;
        let convert = |tensors: &[TensorDescription]| {
            tensors
                .iter()
                .map(|tensor| TensorSpec {
                    name: tensor.name.clone(),
                    element: element_of(&tensor.datatype),
                    shape: tensor
                        .shape
                        .iter()
                        .map(|&d| match u64::try_from(d) {
                            Ok(size) => Dimension::Fixed(size),
                            Err(_) => Dimension::Dynamic(String::new()),
                        })
                        .collect(),
                })
                .collect()
        };
        Some(ComponentSignature {
            component,
            inputs: convert(&description.inputs),
            outputs: convert(&description.outputs),
        })
    }
}

/// The name a component is served under: `NAME-unet`.
pub fn served_name(model: &str, component: Component) -> String {
    format!("{model}-{}", component.folder_name())
}

/// The protocol's datatype name of an element type.
pub fn datatype_of(element: &ElementType) -> String {
    match element {
        ElementType::Float32 => "FP32".to_owned(),
        ElementType::Float16 => "FP16".to_owned(),
        ElementType::Int32 => "INT32".to_owned(),
        ElementType::Int64 => "INT64".to_owned(),
        ElementType::Other(name) => name.to_uppercase(),
    }
}

/// The element type of a protocol datatype name.
pub fn element_of(datatype: &str) -> ElementType {
    match datatype {
        "FP32" => ElementType::Float32,
        "FP16" => ElementType::Float16,
        "INT32" => ElementType::Int32,
        "INT64" => ElementType::Int64,
        other => ElementType::Other(other.to_lowercase()),
    }
}

/// A tensor spec as `remote.json` records it.
pub fn describe(spec: &TensorSpec) -> TensorDescription {
    TensorDescription {
        name: spec.name.clone(),
        datatype: datatype_of(&spec.element),
        shape: spec
            .shape
            .iter()
            .map(|dim| match dim {
                Dimension::Fixed(size) => *size as i64,
                Dimension::Dynamic(_) => -1,
            })
            .collect(),
    }
}

/// Whether a server's declared tensor can take (or give) what the graph declares: the same
/// name and datatype, and the same shape where both are fixed, allowing the server a leading
/// batch axis and trailing axes of 1 (Triton's batching and reshape).
pub fn check_tensor(ours: &TensorDescription, theirs: &TensorDescription) -> Result<(), String> {
    if ours.datatype != theirs.datatype {
        return Err(format!(
            "`{}` is {} there, {} here",
            ours.name, theirs.datatype, ours.datatype
        ));
    }
    let mut shape = theirs.shape.as_slice();
    while shape.len() > ours.shape.len() && shape.last() == Some(&1) {
        shape = &shape[..shape.len() - 1];
    }
    let fits = shape.len() == ours.shape.len()
        && shape
            .iter()
            .zip(&ours.shape)
            .all(|(&a, &b)| a == -1 || b == -1 || a == b);
    if fits {
        Ok(())
    } else {
        Err(format!(
            "`{}` has shape {:?} there, {:?} here",
            ours.name, theirs.shape, ours.shape
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(name: &str, datatype: &str, shape: &[i64]) -> TensorDescription {
        TensorDescription {
            name: name.to_owned(),
            datatype: datatype.to_owned(),
            shape: shape.to_vec(),
        }
    }

    #[test]
    fn a_server_tensor_fits_when_names_types_and_fixed_sizes_agree() {
        let ours = tensor("sample", "FP32", &[-1, 4, -1, -1]);
        assert!(check_tensor(&ours, &tensor("sample", "FP32", &[-1, 4, -1, -1])).is_ok());
        assert!(check_tensor(&ours, &tensor("sample", "FP32", &[-1, -1, -1, -1])).is_ok());
        let error = check_tensor(&ours, &tensor("sample", "FP16", &[-1, 4, -1, -1]));
        assert_eq!(
            error.expect_err("FP16 is not FP32"),
            "`sample` is FP16 there, FP32 here"
        );
        assert!(check_tensor(&ours, &tensor("sample", "FP32", &[-1, 9, -1, -1])).is_err());
        assert!(check_tensor(&ours, &tensor("sample", "FP32", &[-1, 4, -1])).is_err());
        // Triton's `[batch]` input reshaped from `[batch, 1]`.
        let timestep = tensor("timestep", "FP32", &[-1]);
        assert!(check_tensor(&timestep, &tensor("timestep", "FP32", &[-1, 1])).is_ok());
    }
}
