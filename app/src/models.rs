//! The model manager's data: the models the artist has added (kept in the settings), what each
//! can do, and downloads from the Hugging Face Hub running on their own thread. The window
//! (`app/panels.rs`) and `pentimento models …` both use this.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};

use pentimento_inference::hub::{self, DownloadOutcome, DownloadProgress, HubOptions, HubSource};
use pentimento_inference::{CancelToken, Capabilities, ModelFolder};

use crate::settings::{ModelEntry, Settings};

/// What a model can do, or why it cannot be used (a sentence).
pub fn inspect(path: &Path) -> Result<Capabilities, String> {
    if path
        .join(pentimento_inference::remote::REMOTE_FILE)
        .is_file()
    {
        let config = pentimento_inference::remote::RemoteConfig::read(path)
            .map_err(|err| crate::messages::sentence(&err.to_string()))?;
        return Ok(config.capabilities(path));
    }
    let folder =
        ModelFolder::open(path).map_err(|err| crate::messages::sentence(&err.to_string()))?;
    Capabilities::inspect(&folder).map_err(|err| crate::messages::sentence(&err.to_string()))
}

/// One line for the model manager: what the model can do, and for a remote model where it is
/// served.
pub fn summary(path: &Path) -> Result<String, String> {
    let capabilities = inspect(path)?;
    match pentimento_inference::remote::RemoteConfig::read(path) {
        Ok(config)
            if path
                .join(pentimento_inference::remote::REMOTE_FILE)
                .is_file() =>
        {
            let servers = config.servers.len();
            Ok(format!(
                "{} · served as {} by {servers} server{}",
                capabilities.summary(),
                config.model,
                if servers == 1 { "" } else { "s" }
            ))
        }
        _ => Ok(capabilities.summary()),
    }
}

/// Adds a model folder after checking it; returns what it can do. Adding one already in the
/// list changes nothing. The first model added becomes the default.
pub fn add(
    settings: &mut Settings,
    path: &Path,
    source: Option<String>,
) -> Result<Capabilities, String> {
    let capabilities = inspect(path)?;
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if !settings.models.iter().any(|entry| entry.path == path) {
        settings.models.push(ModelEntry {
            path: path.clone(),
            source,
        });
    }
    if settings.model_folder.is_none() {
        settings.model_folder = Some(path);
    }
    Ok(capabilities)
}

/// The entry a command-line argument names: a path in the list, or a name as the list shows it
/// (`owner/name@revision` for a download, where `owner/name` alone also does).
pub fn find<'a>(settings: &'a Settings, name_or_path: &str) -> Option<&'a ModelEntry> {
    let as_path =
        std::fs::canonicalize(name_or_path).unwrap_or_else(|_| PathBuf::from(name_or_path));
    let mut entries = settings.models.iter();
    entries
        .clone()
        .find(|entry| entry.path == as_path)
        .or_else(|| {
            entries.find(|entry| {
                entry.name() == name_or_path
                    || ModelEntry::display_name(&entry.path) == name_or_path
            })
        })
}

/// Removes a model from the list (its files stay on disk). Returns whether it was there.
pub fn remove(settings: &mut Settings, path: &Path) -> bool {
    let before = settings.models.len();
    settings.models.retain(|entry| entry.path != path);
    if settings.model_folder.as_deref() == Some(path) {
        settings.model_folder = None;
    }
    settings.models.len() != before
}

/// Makes a model in the list the default (the one loaded when a generation first needs it).
pub fn set_default(settings: &mut Settings, path: &Path) -> bool {
    if settings.models.iter().any(|entry| entry.path == path) {
        settings.model_folder = Some(path.to_path_buf());
        true
    } else {
        false
    }
}

/// A source written as `repo`, `repo@revision`, with an optional `/subfolder` after the revision
/// (`onnx-community/stable-diffusion-v1-5-ONNX@main`).
pub fn source_label(source: &HubSource) -> String {
    let mut label = format!("{}@{}", source.repo, source.revision);
    if let Some(subfolder) = &source.subfolder {
        label.push('/');
        label.push_str(subfolder);
    }
    label
}

/// What a download thread reports.
#[derive(Debug)]
pub enum DownloadEvent {
    /// Bytes arrived.
    Progress(DownloadProgress),
    /// It ended: the model folder, or `None` when cancelled.
    Finished(Option<PathBuf>),
    /// It failed; the sentence says why and what to do.
    Failed(String),
}

/// A download running on its own thread.
#[derive(derive_more::Debug)]
pub struct Download {
    /// What is downloaded.
    pub source: HubSource,
    /// Stops it (the partial files stay and the next download resumes them).
    pub cancel: CancelToken,
    /// The latest progress.
    pub progress: Option<DownloadProgress>,
    #[debug(skip)]
    events: Receiver<DownloadEvent>,
}

impl Download {
    /// Starts downloading `source`; `wake` is called after every event.
    pub fn start(
        source: HubSource,
        options: HubOptions,
        wake: impl Fn() + Send + 'static,
    ) -> std::io::Result<Self> {
        let (sender, events) = mpsc::channel();
        let cancel = CancelToken::new();
        let thread_cancel = cancel.clone();
        let thread_source = source.clone();
        std::thread::Builder::new()
            .name("model-download".to_owned())
            .spawn(move || {
                let progress_sender = sender.clone();
                let mut report = |progress: &DownloadProgress| {
                    let _ = progress_sender.send(DownloadEvent::Progress(progress.clone()));
                    wake();
                };
                let event = match hub::download_model(
                    &thread_source,
                    &options,
                    &mut report,
                    &thread_cancel,
                ) {
                    Ok(DownloadOutcome::Finished(path)) => DownloadEvent::Finished(Some(path)),
                    Ok(DownloadOutcome::Cancelled) => DownloadEvent::Finished(None),
                    Err(err) => DownloadEvent::Failed(crate::messages::sentence(&err.to_string())),
                };
                let _ = sender.send(event);
                wake();
            })?;
        Ok(Self {
            source,
            cancel,
            progress: None,
            events,
        })
    }

    /// The end of the download once it has ended; progress is kept in `progress`.
    pub fn poll(&mut self) -> Option<DownloadEvent> {
        while let Ok(event) = self.events.try_recv() {
            match event {
                DownloadEvent::Progress(progress) => self.progress = Some(progress),
                end => return Some(end),
            }
        }
        None
    }
}

/// "12.3 MB of 2.1 GB · 8.5 MB/s · 4 min left".
pub fn describe_progress(progress: &DownloadProgress) -> String {
    use pentimento_inference::model::capabilities::human_size;
    let mut text = format!(
        "{} of {}",
        human_size(progress.bytes_done),
        human_size(progress.bytes_total)
    );
    if progress.bytes_per_second > 0.0 {
        text.push_str(&format!(
            " · {}/s",
            human_size(progress.bytes_per_second as u64)
        ));
    }
    if let Some(remaining) = progress.remaining {
        let seconds = remaining.as_secs();
        text.push_str(&if seconds >= 90 {
            format!(" · {} min left", seconds.div_ceil(60))
        } else {
            format!(" · {seconds} s left")
        });
    }
    text
}
