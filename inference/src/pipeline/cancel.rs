//! Cancelling a generation from another thread: the token the worker holds and every component
//! run checks, which also terminates an ONNX Runtime call in progress.

use std::sync::{Arc, Mutex};

use ort::session::RunOptions;

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

    pub(super) fn set_running(&self, options: Option<Arc<RunOptions>>) {
        *self
            .inner
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = options;
    }
}
