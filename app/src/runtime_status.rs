//! Starting ONNX Runtime without freezing the window: a named thread locates, verifies (and if
//! needed downloads) the library and reports back; the UI polls once per frame.

use std::sync::Arc;
use std::sync::mpsc;

use pentimento_inference::{LocateOptions, OnnxRuntime, RuntimeError};

/// Where ONNX Runtime stands, as the status bar shows it.
#[derive(Debug)]
pub enum RuntimeStatus {
    /// Not started (tests that do not need it).
    NotStarted,
    /// The loader thread is working.
    Starting(mpsc::Receiver<Result<Arc<OnnxRuntime>, RuntimeError>>),
    /// Ready for generation.
    Ready(Arc<OnnxRuntime>),
    /// Unavailable; the sentence says why and what to do.
    Unavailable(String),
}

impl RuntimeStatus {
    /// Starts loading on a background thread. `wake` is called when the result is ready (the app
    /// passes a closure that asks egui for a repaint).
    pub fn start(options: LocateOptions, wake: impl FnOnce() + Send + 'static) -> Self {
        let (sender, receiver) = mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("onnx-runtime-loader".to_owned())
            .spawn(move || {
                let result = OnnxRuntime::initialize(&options);
                let _ = sender.send(result);
                wake();
            });
        match spawned {
            Ok(_) => Self::Starting(receiver),
            Err(err) => Self::Unavailable(format!(
                "Could not start the thread that loads ONNX Runtime ({err}); restart Pentimento."
            )),
        }
    }

    /// Takes the loader's result if it has arrived.
    pub fn poll(&mut self) {
        let Self::Starting(receiver) = self else {
            return;
        };
        match receiver.try_recv() {
            Ok(Ok(runtime)) => *self = Self::Ready(runtime),
            Ok(Err(err)) => *self = Self::Unavailable(sentence(&err.to_string())),
            Err(mpsc::TryRecvError::Empty) => {}
            Err(mpsc::TryRecvError::Disconnected) => {
                *self = Self::Unavailable(
                    "The ONNX Runtime loader stopped unexpectedly; restart Pentimento.".to_owned(),
                );
            }
        }
    }

    /// Whether generation can run.
    pub fn is_ready(&self) -> bool {
        matches!(self, Self::Ready(_))
    }

    /// One line for the status bar.
    pub fn summary(&self) -> String {
        match self {
            Self::NotStarted => "ONNX Runtime not loaded".to_owned(),
            Self::Starting(_) => "Loading ONNX Runtime…".to_owned(),
            Self::Ready(runtime) => format!(
                "ONNX Runtime {} ready ({})",
                runtime.version(),
                runtime.library().source
            ),
            Self::Unavailable(message) => message.clone(),
        }
    }
}

/// Capitalises an error message so it reads as a sentence. No full stop is added: messages end
/// with a path, and a dot would read as part of it.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::sentence;

    #[test]
    fn errors_read_as_sentences() {
        assert_eq!(
            sentence("could not load it: /a/b"),
            "Could not load it: /a/b"
        );
        assert_eq!(sentence(""), "");
    }
}
