//! Starting ONNX Runtime without freezing the window: a named thread locates, verifies (and if
//! needed downloads) the library and reports back; the UI polls once per frame.

use std::sync::Arc;
use std::sync::mpsc;

use pentimento_inference::onnx_runtime::{DownloadProgress, ONNX_RUNTIME_VERSION};
use pentimento_inference::{LocateOptions, OnnxRuntime, RuntimeError};

/// Where ONNX Runtime stands, as the status bar shows it.
#[derive(Debug)]
pub enum RuntimeStatus {
    /// Not started (tests that do not need it).
    NotStarted,
    /// The loader thread is working; a download of the library reports into the progress.
    Starting(
        mpsc::Receiver<Result<Arc<OnnxRuntime>, RuntimeError>>,
        Arc<DownloadProgress>,
    ),
    /// Ready for generation.
    Ready(Arc<OnnxRuntime>),
    /// Unavailable; the sentence says why and what to do.
    Unavailable(String),
}

impl RuntimeStatus {
    /// Starts loading on a background thread. `wake` is called when the result is ready (the app
    /// passes a closure that asks egui for a repaint).
    pub fn start(mut options: LocateOptions, wake: impl FnOnce() + Send + 'static) -> Self {
        let (sender, receiver) = mpsc::sync_channel(1);
        let progress = Arc::new(DownloadProgress::default());
        options.progress = Some(Arc::clone(&progress));
        let spawned = std::thread::Builder::new()
            .name("onnx-runtime-loader".to_owned())
            .spawn(move || {
                let result = OnnxRuntime::initialize(&options);
                let _ = sender.send(result);
                wake();
            });
        match spawned {
            Ok(_) => Self::Starting(receiver, progress),
            Err(err) => Self::Unavailable(format!(
                "Could not start the thread that loads ONNX Runtime ({err}); restart Pentimento."
            )),
        }
    }

    /// Takes the loader's result if it has arrived.
    pub fn poll(&mut self) {
        let Self::Starting(receiver, _) = self else {
            return;
        };
        match receiver.try_recv() {
            Ok(Ok(runtime)) => *self = Self::Ready(runtime),
            Ok(Err(err)) => *self = Self::Unavailable(crate::messages::sentence(&err.to_string())),
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
            Self::Starting(_, progress) => match (progress.received(), progress.total()) {
                (0, _) => "Loading ONNX Runtime…".to_owned(),
                (received, Some(total)) => format!(
                    "Downloading ONNX Runtime {ONNX_RUNTIME_VERSION}: {} of {}",
                    megabytes(received),
                    megabytes(total)
                ),
                (received, None) => format!(
                    "Downloading ONNX Runtime {ONNX_RUNTIME_VERSION}: {}",
                    megabytes(received)
                ),
            },
            Self::Ready(runtime) => format!(
                "ONNX Runtime {} ready ({})",
                runtime.version(),
                runtime.library().source
            ),
            Self::Unavailable(message) => message.clone(),
        }
    }
}

/// Bytes as "12.3 MB".
fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_bar_follows_a_download_of_the_library() {
        let (_sender, receiver) = mpsc::sync_channel(1);
        let progress = Arc::new(DownloadProgress::default());
        let status = RuntimeStatus::Starting(receiver, Arc::clone(&progress));
        assert_eq!(status.summary(), "Loading ONNX Runtime…");
        progress.start(Some(28_100_000));
        progress.add(12_345_678);
        assert_eq!(
            status.summary(),
            format!("Downloading ONNX Runtime {ONNX_RUNTIME_VERSION}: 12.3 MB of 28.1 MB")
        );
        progress.start(None);
        progress.add(2_000_000);
        assert_eq!(
            status.summary(),
            format!("Downloading ONNX Runtime {ONNX_RUNTIME_VERSION}: 2.0 MB")
        );
    }

    #[test]
    fn errors_read_as_sentences() {
        assert_eq!(
            crate::messages::sentence("could not load it: /a/b"),
            "Could not load it: /a/b"
        );
        assert_eq!(crate::messages::sentence(""), "");
    }
}
