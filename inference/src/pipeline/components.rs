//! Running the ONNX components: tensors in the dtype each graph declares (float32 or float16,
//! int32 or int64 ids, timestep as a vector or a scalar), cancellable runs, time accounting.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ort::session::{RunOptions, Session};
use ort::value::{DynValue, Tensor};

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

/// A loaded component: its session and declared signature.
pub struct LoadedComponent {
    /// The session.
    pub session: Session,
    /// What it declares.
    pub signature: ComponentSignature,
}

/// The outcome of one run: the named output as float32, or a cancellation.
pub enum RunResult {
    /// The output tensor's data and shape.
    Output(Vec<f32>, Vec<usize>),
    /// The run was terminated by the cancel token.
    Cancelled,
}

impl LoadedComponent {
    /// Runs the session with `inputs` and returns output `output` as float32. With
    /// `release_memory` the session's memory arena gives its free memory back afterwards (after
    /// the last UNet step, so the VAE decoder does not stack its peak on the UNet's).
    pub fn run(
        &mut self,
        inputs: Vec<(String, DynValue)>,
        output: &str,
        release_memory: bool,
        cancel: &CancelToken,
        times: &mut SessionTimes,
    ) -> Result<RunResult, InferenceError> {
        let component = self.signature.component;
        if cancel.is_cancelled() {
            return Ok(RunResult::Cancelled);
        }
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
        let result = self.session.run_with_options(inputs, &*options);
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
pub fn float_tensor(
    data: &[f32],
    shape: &[usize],
    element: &ElementType,
) -> Result<DynValue, InferenceError> {
    let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    let value = match element {
        ElementType::Float16 => Tensor::from_array((
            shape,
            data.iter()
                .map(|&value| half::f16::from_f32(value))
                .collect::<Vec<_>>(),
        ))
        .map(Tensor::into_dyn),
        _ => Tensor::from_array((shape, data.to_vec())).map(Tensor::into_dyn),
    };
    value.map_err(|err| InferenceError::Run {
        component: "input preparation",
        reason: err.to_string(),
    })
}

/// Token ids as int32 or int64, `[batch, length]`.
pub fn id_tensor(
    ids: &[i64],
    batch: usize,
    element: &ElementType,
) -> Result<DynValue, InferenceError> {
    let shape = vec![batch as i64, (ids.len() / batch) as i64];
    let value = match element {
        ElementType::Int32 => {
            Tensor::from_array((shape, ids.iter().map(|&id| id as i32).collect::<Vec<_>>()))
                .map(Tensor::into_dyn)
        }
        _ => Tensor::from_array((shape, ids.to_vec())).map(Tensor::into_dyn),
    };
    value.map_err(|err| InferenceError::Run {
        component: "text_encoder",
        reason: err.to_string(),
    })
}

/// The UNet's timestep input in the convention the graph declares. Integer conventions
/// truncate, as numpy's `astype(int64)` does.
pub fn timestep_tensor(
    timestep: f32,
    batch: usize,
    convention: TimestepInput,
) -> Result<DynValue, InferenceError> {
    let batch_shape = vec![batch as i64];
    let value = match convention {
        TimestepInput::Float32Batch => {
            Tensor::from_array((batch_shape, vec![timestep; batch])).map(Tensor::into_dyn)
        }
        TimestepInput::Float32Scalar => {
            Tensor::from_array(((), vec![timestep])).map(Tensor::into_dyn)
        }
        TimestepInput::Int64Batch => {
            Tensor::from_array((batch_shape, vec![timestep as i64; batch])).map(Tensor::into_dyn)
        }
        TimestepInput::Int64Scalar => {
            Tensor::from_array(((), vec![timestep as i64])).map(Tensor::into_dyn)
        }
        TimestepInput::Float16Batch => {
            Tensor::from_array((batch_shape, vec![half::f16::from_f32(timestep); batch]))
                .map(Tensor::into_dyn)
        }
        TimestepInput::Float16Scalar => {
            Tensor::from_array(((), vec![half::f16::from_f32(timestep)])).map(Tensor::into_dyn)
        }
    };
    value.map_err(|err| InferenceError::Run {
        component: "unet",
        reason: err.to_string(),
    })
}
