//! Running the components on a pool of inference servers that speak the Open Inference Protocol
//! (KServe v2) over gRPC, such as NVIDIA Triton Inference Server.
//!
//! Only the network calls leave the computer: the text encoder, UNet and VAE calls. The
//! denoising loop, the schedulers and the random numbers stay in [`crate::pipeline`], so a remote
//! generation is the same computation as a local one and every seed reproduces. The server's
//! dynamic batcher joins the UNet calls of artists who generate at the same time.
//!
//! - [`config`]: `remote.json`, the file that turns a folder with a tokenizer and a scheduler
//!   into a remote model (which servers, which model name, token, certificate, signatures).
//! - [`pool`]: the servers, their health, the choice of a server per call and the failover.
//! - [`repository`]: writing a Triton model repository and its client folder for a model
//!   folder (`pentimento serve-repo`).

pub mod config;
pub mod pool;
pub mod repository;

/// The protocol's messages and client, generated at build time from
/// `inference/proto/open_inference.proto`.
#[allow(missing_docs, unused_qualifications, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("inference");
}

use std::sync::Arc;

pub use config::{REMOTE_FILE, RemoteConfig, TensorDescription};
pub use pool::{Pool, ServerState, ServerStatus};

use crate::error::InferenceError;
use crate::model::signature::ComponentSignature;
use crate::pipeline::CancelToken;
use crate::pipeline::components::{InputTensor, RunResult};

/// What went wrong talking to the servers. Every message is a sentence that says what to do.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum RemoteError {
    /// No server of the pool could run the call.
    #[error(
        "no inference server could run the {component}: {}; check that the servers are running \
         and reachable, or continue on this computer",
        tried.iter().map(|(url, reason)| format!("{url} {reason}")).collect::<Vec<_>>().join("; ")
    )]
    NoServerLeft {
        /// The component's folder name.
        component: &'static str,
        /// Each server and why it could not.
        tried: Vec<(String, String)>,
    },

    /// A server refused the bearer token.
    #[error(
        "{url} refused the access token ({reason}); ask the studio for a valid token and put it \
         in remote.json (\"token\" or \"token_file\")"
    )]
    TokenRefused {
        /// The server.
        url: String,
        /// What it said.
        reason: String,
    },

    /// The server does not serve the model under the expected name.
    #[error(
        "{url} does not have the model {model} loaded ({reason}); load it there (pentimento \
         serve-repo writes the repository) or remove the server from remote.json"
    )]
    ModelNotLoaded {
        /// The server.
        url: String,
        /// The model name on the server.
        model: String,
        /// What it said.
        reason: String,
    },

    /// The model on the server is not the model the client folder was written for.
    #[error(
        "the model {model} on {url} does not match this client folder: {reason}; write the \
         repository and the client folder again from the same model folder (pentimento \
         serve-repo)"
    )]
    SignatureMismatch {
        /// The server.
        url: String,
        /// The model name on the server.
        model: String,
        /// What differs.
        reason: String,
    },

    /// The server rejected the request itself (retrying elsewhere would not help).
    #[error("{url} rejected the {component} call: {reason}")]
    Rejected {
        /// The server.
        url: String,
        /// The component's folder name.
        component: &'static str,
        /// What it said.
        reason: String,
    },

    /// `remote.json` is missing something or cannot be read.
    #[error("the remote model's remote.json cannot be used: {reason}; {path}")]
    Config {
        /// What is wrong.
        reason: String,
        /// The file.
        path: String,
    },
}

/// One component served remotely: the model name on the servers and the pool that runs it.
pub struct RemoteComponent {
    pool: Arc<Pool>,
    model: String,
    signature: ComponentSignature,
    /// The servers' declared input shapes, when they differ from the graph's (a batched
    /// `[batch]` timestep is `[batch, 1]` on Triton, reshaped by the server).
    server_shapes: Vec<(String, Vec<i64>)>,
}

impl RemoteComponent {
    /// A component served under `model` by `pool`, with the ONNX graph's signature and the
    /// servers' input shapes as their metadata declares them.
    pub fn new(
        pool: Arc<Pool>,
        model: String,
        signature: ComponentSignature,
        server_shapes: Vec<(String, Vec<i64>)>,
    ) -> Self {
        Self {
            pool,
            model,
            signature,
            server_shapes,
        }
    }

    /// The model name on the servers.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Sends one call to the pool and returns output `output` as float32.
    pub fn run(
        &mut self,
        inputs: Vec<(String, InputTensor)>,
        output: &str,
        cancel: &CancelToken,
    ) -> Result<RunResult, InferenceError> {
        let component = self.signature.component.folder_name();
        let request = self.request(inputs, output);
        let Some(response) = self.pool.infer(component, &request, cancel)? else {
            return Ok(RunResult::Cancelled);
        };
        let index = response
            .outputs
            .iter()
            .position(|tensor| tensor.name == output)
            .ok_or_else(|| InferenceError::Run {
                component,
                reason: format!("the server returned no output called `{output}`"),
            })?;
        let tensor = &response.outputs[index];
        let bytes = response
            .raw_output_contents
            .get(index)
            .ok_or_else(|| InferenceError::Run {
                component,
                reason: "the server returned the output without raw contents".to_owned(),
            })?;
        let shape: Vec<usize> = tensor.shape.iter().map(|&d| d.max(0) as usize).collect();
        let data = decode_floats(&tensor.datatype, bytes).ok_or_else(|| InferenceError::Run {
            component,
            reason: format!(
                "the server returned `{output}` as {} with {} bytes, expected FP32 or FP16",
                tensor.datatype,
                bytes.len()
            ),
        })?;
        let expected: usize = shape.iter().product();
        if data.len() != expected {
            return Err(InferenceError::Run {
                component,
                reason: format!(
                    "the server returned {} values for `{output}` of shape {shape:?}",
                    data.len()
                ),
            });
        }
        Ok(RunResult::Output(data, shape))
    }

    fn request(
        &self,
        inputs: Vec<(String, InputTensor)>,
        output: &str,
    ) -> proto::ModelInferRequest {
        let mut request = proto::ModelInferRequest {
            model_name: self.model.clone(),
            ..Default::default()
        };
        for (name, tensor) in inputs {
            let shape = self
                .server_shapes
                .iter()
                .find(|(input, _)| *input == name)
                .map_or_else(
                    || tensor.shape.clone(),
                    |(_, declared)| server_shape(declared, &tensor.shape),
                );
            request.raw_input_contents.push(tensor.to_le_bytes().into());
            request
                .inputs
                .push(proto::model_infer_request::InferInputTensor {
                    name,
                    datatype: tensor.datatype().to_owned(),
                    shape,
                    parameters: Default::default(),
                });
        }
        request
            .outputs
            .push(proto::model_infer_request::InferRequestedOutputTensor {
                name: output.to_owned(),
                parameters: Default::default(),
            });
        request
    }
}

/// The shape to send for a tensor of shape `ours` to an input the server declares as
/// `declared` (`-1` for any size): ours when the ranks agree, else ours with trailing 1s
/// appended when that is what the server declares (Triton's reshape of a `[batch]` input).
pub fn server_shape(declared: &[i64], ours: &[i64]) -> Vec<i64> {
    if declared.len() > ours.len() && declared[ours.len()..].iter().all(|&d| d == 1) {
        let mut shape = ours.to_vec();
        shape.resize(declared.len(), 1);
        shape
    } else {
        ours.to_vec()
    }
}

fn decode_floats(datatype: &str, bytes: &[u8]) -> Option<Vec<f32>> {
    match datatype {
        "FP32" if bytes.len().is_multiple_of(4) => Some(
            bytes
                .chunks_exact(4)
                .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
                .collect(),
        ),
        "FP16" if bytes.len().is_multiple_of(2) => Some(
            bytes
                .chunks_exact(2)
                .map(|chunk| half::f16::from_le_bytes([chunk[0], chunk[1]]).to_f32())
                .collect(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batched_timestep_is_sent_with_the_trailing_axis_the_server_declares() {
        assert_eq!(server_shape(&[-1, 1], &[2]), vec![2, 1]);
        assert_eq!(
            server_shape(&[-1, 4, -1, -1], &[2, 4, 8, 8]),
            vec![2, 4, 8, 8]
        );
        assert_eq!(server_shape(&[], &[]), Vec::<i64>::new());
        assert_eq!(server_shape(&[-1, 3], &[2]), vec![2]);
    }

    #[test]
    fn raw_outputs_decode_from_little_endian_fp32_and_fp16() {
        let values = [1.5f32, -2.25, 0.0];
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(decode_floats("FP32", &bytes), Some(values.to_vec()));
        let halves: Vec<u8> = values
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect();
        assert_eq!(decode_floats("FP16", &halves), Some(values.to_vec()));
        assert_eq!(decode_floats("FP32", &bytes[..5]), None);
        assert_eq!(decode_floats("INT64", &bytes), None);
    }
}
