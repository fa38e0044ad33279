//! Running the ONNX components: tensors in the dtype each graph declares (float32 or float16,
//! int32 or int64 ids, timestep as a vector or a scalar), cancellable runs, time accounting.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ort::session::{RunOptions, Session};
use ort::value::{DynValue, Tensor};

use crate::pipeline::remote_component::RemoteComponent;

use crate::error::InferenceError;
use crate::model::signature::{ElementType, TimestepInput};
use crate::model::{Component, ComponentSignature};

/// Stops a running generation from another thread: between steps, and inside a long ONNX
/// Runtime call through `RunOptions::terminate`.
#[derive(Clone, Default)]
pub struct CancelToken {
    inner: Arc<CancelInner>,
}

#[derive(Default)]
struct CancelInner {
    cancelled: std::sync::atomic::AtomicBool,
    running: Mutex<Option<Arc<RunOptions>>>,
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the generation to stop as soon as possible.
    pub fn cancel(&self) {
        self.inner
            .cancelled
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let running = self
            .inner
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(options) = running.as_ref() {
            let _ = options.terminate();
        }
    }

    /// Whether `cancel` was called.
    pub fn is_cancelled(&self) -> bool {
        self.inner
            .cancelled
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether an ONNX Runtime call is running under this token right now.
    pub fn is_running(&self) -> bool {
        self.inner
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_some()
    }

    fn set_running(&self, options: Option<Arc<RunOptions>>) {
        *self
            .inner
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = options;
    }
}

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

/// The data of an input tensor, in the element type the graph wants.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 16-bit floats.
    F16(Vec<half::f16>),
    /// 32-bit integers.
    I32(Vec<i32>),
    /// 64-bit integers.
    I64(Vec<i64>),
}

/// An input tensor: data and shape (empty for a scalar).
#[derive(Clone, Debug, PartialEq)]
pub struct InputTensor {
    /// The elements, row-major.
    pub data: TensorData,
    /// The shape.
    pub shape: Vec<i64>,
}

impl InputTensor {
    fn new(data: TensorData, shape: Vec<i64>) -> Self {
        Self { data, shape }
    }

    /// The Open Inference Protocol's name of the element type (`FP32`, `FP16`, `INT32`,
    /// `INT64`).
    pub fn datatype(&self) -> &'static str {
        match self.data {
            TensorData::F32(_) => "FP32",
            TensorData::F16(_) => "FP16",
            TensorData::I32(_) => "INT32",
            TensorData::I64(_) => "INT64",
        }
    }

    /// The elements as little-endian bytes, row-major, without padding (the protocol's raw
    /// tensor contents).
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match &self.data {
            TensorData::F32(values) => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            TensorData::F16(values) => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            TensorData::I32(values) => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            TensorData::I64(values) => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    fn into_ort(self) -> ort::Result<DynValue> {
        let shape = self.shape;
        match self.data {
            TensorData::F32(values) => Tensor::from_array((shape, values)).map(Tensor::into_dyn),
            TensorData::F16(values) => Tensor::from_array((shape, values)).map(Tensor::into_dyn),
            TensorData::I32(values) => Tensor::from_array((shape, values)).map(Tensor::into_dyn),
            TensorData::I64(values) => Tensor::from_array((shape, values)).map(Tensor::into_dyn),
        }
    }
}

/// The outcome of one run: the named output as float32, or a cancellation.
pub enum RunResult {
    /// The output tensor's data and shape.
    Output(Vec<f32>, Vec<usize>),
    /// The run was terminated by the cancel token.
    Cancelled,
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

/// A float tensor in the element type the graph wants.
pub fn float_tensor(data: &[f32], shape: &[usize], element: &ElementType) -> InputTensor {
    let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    let data = match element {
        ElementType::Float16 => TensorData::F16(
            data.iter()
                .map(|&value| half::f16::from_f32(value))
                .collect(),
        ),
        _ => TensorData::F32(data.to_vec()),
    };
    InputTensor::new(data, shape)
}

/// Token ids as int32 or int64, `[batch, length]`.
pub fn id_tensor(ids: &[i64], batch: usize, element: &ElementType) -> InputTensor {
    let shape = vec![batch as i64, (ids.len() / batch) as i64];
    let data = match element {
        ElementType::Int32 => TensorData::I32(ids.iter().map(|&id| id as i32).collect()),
        _ => TensorData::I64(ids.to_vec()),
    };
    InputTensor::new(data, shape)
}

/// The UNet's timestep input in the convention the graph declares. Integer conventions
/// truncate, as numpy's `astype(int64)` does.
pub fn timestep_tensor(timestep: f32, batch: usize, convention: TimestepInput) -> InputTensor {
    let batch_shape = vec![batch as i64];
    match convention {
        TimestepInput::Float32Batch => {
            InputTensor::new(TensorData::F32(vec![timestep; batch]), batch_shape)
        }
        TimestepInput::Float32Scalar => InputTensor::new(TensorData::F32(vec![timestep]), vec![]),
        TimestepInput::Int64Batch => {
            InputTensor::new(TensorData::I64(vec![timestep as i64; batch]), batch_shape)
        }
        TimestepInput::Int64Scalar => {
            InputTensor::new(TensorData::I64(vec![timestep as i64]), vec![])
        }
        TimestepInput::Float16Batch => InputTensor::new(
            TensorData::F16(vec![half::f16::from_f32(timestep); batch]),
            batch_shape,
        ),
        TimestepInput::Float16Scalar => {
            InputTensor::new(TensorData::F16(vec![half::f16::from_f32(timestep)]), vec![])
        }
    }
}
