//! A component run on a pool of inference servers: the same tensors a local session gets, sent
//! as one Open Inference Protocol call (raw little-endian contents), and its named output back.

use std::sync::Arc;

use crate::error::InferenceError;
use crate::model::signature::ComponentSignature;
use crate::pipeline::cancel::CancelToken;
use crate::pipeline::tensor::{InputTensor, RunResult};
use crate::remote::{self, Pool};

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
        let Some(response) = self
            .pool
            .infer(component, &request, &|| cancel.is_cancelled())?
        else {
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
        let data =
            remote::decode_floats(&tensor.datatype, bytes).ok_or_else(|| InferenceError::Run {
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
    ) -> remote::proto::ModelInferRequest {
        let mut request = remote::proto::ModelInferRequest {
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
                    |(_, declared)| remote::server_shape(declared, &tensor.shape),
                );
            request.raw_input_contents.push(tensor.to_le_bytes().into());
            request
                .inputs
                .push(remote::proto::model_infer_request::InferInputTensor {
                    name,
                    datatype: tensor.datatype().to_owned(),
                    shape,
                    parameters: Default::default(),
                });
        }
        request.outputs.push(
            remote::proto::model_infer_request::InferRequestedOutputTensor {
                name: output.to_owned(),
                parameters: Default::default(),
            },
        );
        request
    }
}
