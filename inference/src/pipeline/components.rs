//! Running the ONNX components, here or on inference servers: cancellable runs and time
//! accounting.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ort::session::{RunOptions, Session};
use ort::value::DynValue;

use crate::error::InferenceError;
use crate::model::signature::ElementType;
use crate::model::{Component, ComponentSignature};
use crate::pipeline::cancel::CancelToken;
use crate::pipeline::remote_component::RemoteComponent;
use crate::pipeline::tensor::{InputTensor, RunResult};

/// Time spent inside ONNX Runtime, per component.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionTimes {
    /// Per component: total time and number of runs.
    pub components: Vec<(Component, Duration, usize)>,
}

impl SessionTimes {
    fn add(&mut self, component: Component, elapsed: Duration) {
        match self.components.iter_mut().find(|(c, _, _)| *c == component) {
            Some((_, total, count)) => {
                *total += elapsed;
                *count += 1;
            }
            None => self.components.push((component, elapsed, 1)),
        }
    }

    /// Total time inside ONNX Runtime.
    pub fn total(&self) -> Duration {
        self.components.iter().map(|(_, total, _)| *total).sum()
    }
}

/// A loaded component: where it runs and its declared signature. The pipelines drive every
/// component through [`LoadedComponent::run`], whether it is an ONNX Runtime session on this
/// computer or a model on a pool of inference servers, so there is one denoising loop.
pub struct LoadedComponent {
    backend: Backend,
    /// What it declares.
    pub signature: ComponentSignature,
}

enum Backend {
    Local(Session),
    Remote(RemoteComponent),
}

impl LoadedComponent {
    /// A component run by an ONNX Runtime session on this computer.
    pub fn local(session: Session, signature: ComponentSignature) -> Self {
        Self {
            backend: Backend::Local(session),
            signature,
        }
    }

    /// A component run on inference servers.
    pub fn remote(remote: RemoteComponent, signature: ComponentSignature) -> Self {
        Self {
            backend: Backend::Remote(remote),
            signature,
        }
    }

    /// The local session, when the component runs on this computer.
    pub fn session(&self) -> Option<&Session> {
        match &self.backend {
            Backend::Local(session) => Some(session),
            Backend::Remote(_) => None,
        }
    }

    /// Runs the component with `inputs` and returns output `output` as float32. With
    /// `release_memory` a local session's memory arena gives its free memory back afterwards
    /// (after the last UNet step, so the VAE decoder does not stack its peak on the UNet's).
    pub fn run(
        &mut self,
        inputs: Vec<(String, InputTensor)>,
        output: &str,
        release_memory: bool,
        cancel: &CancelToken,
        times: &mut SessionTimes,
    ) -> Result<RunResult, InferenceError> {
        let component = self.signature.component;
        if cancel.is_cancelled() {
            return Ok(RunResult::Cancelled);
        }
        let session = match &mut self.backend {
            Backend::Local(session) => session,
            Backend::Remote(remote) => {
                let started = Instant::now();
                let result = remote.run(inputs, output, cancel);
                times.add(component, started.elapsed());
                return result;
            }
        };
        let inputs = inputs
            .into_iter()
            .map(|(name, tensor)| Ok((name, tensor.into_ort()?)))
            .collect::<ort::Result<Vec<_>>>()
            .map_err(|err| run_error(component, &err))?;
        let mut options = RunOptions::new().map_err(|err| run_error(component, &err))?;
        if release_memory {
            options
                .set("memory.enable_memory_arena_shrinkage", "cpu:0")
                .map_err(|err| run_error(component, &err))?;
        }
        let options = Arc::new(options);
        cancel.set_running(Some(Arc::clone(&options)));
        // A cancel between the check above and registering the options must not be lost.
        if cancel.is_cancelled() {
            cancel.set_running(None);
            return Ok(RunResult::Cancelled);
        }
        let started = Instant::now();
        let result = session.run_with_options(inputs, &*options);
        times.add(component, started.elapsed());
        cancel.set_running(None);
        let outputs = match result {
            Ok(outputs) => outputs,
            Err(_) if cancel.is_cancelled() => return Ok(RunResult::Cancelled),
            Err(err) => return Err(run_error(component, &err)),
        };
        let Some(value) = outputs.get(output) else {
            return Err(InferenceError::Run {
                component: component.folder_name(),
                reason: format!("it returned no output called `{output}`"),
            });
        };
        let (shape, data) = extract_f32(value).map_err(|err| run_error(component, &err))?;
        Ok(RunResult::Output(data, shape))
    }

    /// `preferred` when the graph has an output of that name, else its first output.
    pub fn output_named(&self, preferred: &str) -> String {
        if self.signature.output(preferred).is_some() {
            return preferred.to_owned();
        }
        self.signature
            .outputs
            .first()
            .map(|spec| spec.name.clone())
            .unwrap_or_else(|| preferred.to_owned())
    }

    /// The element type the graph declares for input `name` (float32 when unknown).
    pub fn input_element(&self, name: &str) -> ElementType {
        self.signature
            .input(name)
            .map_or(ElementType::Float32, |spec| spec.element.clone())
    }
}

fn run_error(component: Component, err: &ort::Error) -> InferenceError {
    let reason = err.to_string();
    let lower = reason.to_lowercase();
    if lower.contains("failed to allocate")
        || lower.contains("out of memory")
        || lower.contains("bad_alloc")
        || lower.contains("outofmemory")
    {
        InferenceError::OutOfMemory {
            component: component.folder_name(),
            reason,
        }
    } else {
        InferenceError::Run {
            component: component.folder_name(),
            reason,
        }
    }
}

fn extract_f32(value: &DynValue) -> ort::Result<(Vec<usize>, Vec<f32>)> {
    if let Ok((shape, data)) = value.try_extract_tensor::<f32>() {
        return Ok((
            shape.iter().map(|&d| d.max(0) as usize).collect(),
            data.to_vec(),
        ));
    }
    let (shape, data) = value.try_extract_tensor::<half::f16>()?;
    Ok((
        shape.iter().map(|&d| d.max(0) as usize).collect(),
        data.iter().map(|value| value.to_f32()).collect(),
    ))
}
