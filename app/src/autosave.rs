//! Never lose work: the open document is saved in the background every so often while it has
//! unsaved changes (and right after a generation is accepted) into the data folder. A clean exit
//! removes the autosave; if one is found at start, Pentimento did not close cleanly and offers to
//! recover it. Declining keeps the file aside instead of deleting it.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::document::Document;
use crate::io::ora;

const AUTOSAVE: &str = "autosave.ora";
const SESSION: &str = "session.json";

/// An autosave found at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// The autosaved project.
    pub path: PathBuf,
    /// When it was written.
    pub saved_at: Option<SystemTime>,
    /// The file the document had been saved as, if any.
    pub original: Option<PathBuf>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Session {
    original: Option<PathBuf>,
    pid: u32,
}

/// The autosaver.
pub struct Autosave {
    dir: PathBuf,
    interval: Duration,
    last_attempt: Instant,
    saved_revision: Option<u64>,
    writer: Option<JoinHandle<Result<(), String>>>,
    /// The last error, as a sentence.
    pub error: Option<String>,
}

impl std::fmt::Debug for Autosave {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Autosave")
            .field("dir", &self.dir)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl Autosave {
    /// An autosaver writing into `dir` every `interval` while there are unsaved changes.
    pub fn new(dir: PathBuf, interval: Duration) -> Self {
        Self {
            dir,
            interval,
            last_attempt: Instant::now(),
            saved_revision: None,
            writer: None,
            error: None,
        }
    }

    /// Changes how often it saves.
    pub fn set_interval(&mut self, interval: Duration) {
        self.interval = interval;
    }

    /// The autosave file.
    pub fn file(&self) -> PathBuf {
        self.dir.join(AUTOSAVE)
    }

    /// An autosave left by a session that did not end cleanly.
    pub fn pending_recovery(dir: &Path) -> Option<Recovery> {
        let path = dir.join(AUTOSAVE);
        if !path.is_file() {
            return None;
        }
        let session: Option<Session> = std::fs::read_to_string(dir.join(SESSION))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok());
        Some(Recovery {
            saved_at: std::fs::metadata(&path)
                .and_then(|meta| meta.modified())
                .ok(),
            original: session.and_then(|session| session.original),
            path,
        })
    }

    /// Keeps a declined autosave aside (renamed with the time) rather than deleting work.
    pub fn set_aside(dir: &Path) -> Option<PathBuf> {
        let from = dir.join(AUTOSAVE);
        let stamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let to = dir.join(format!("declined-autosave-{stamp}.ora"));
        std::fs::rename(&from, &to).ok()?;
        let _ = std::fs::remove_file(dir.join(SESSION));
        Some(to)
    }

    /// Saves when due (or now with `force`) if the document changed since the last autosave.
    /// The write happens on a background thread from a snapshot of the document.
    pub fn tick(&mut self, document: &Document, original: Option<&Path>, force: bool) {
        if let Some(writer) = self.writer.take() {
            if writer.is_finished() {
                match writer.join() {
                    Ok(Ok(())) => self.error = None,
                    Ok(Err(message)) => self.error = Some(message),
                    Err(_) => {
                        self.error = Some(
                            "The autosave stopped unexpectedly; save your work with Ctrl+S."
                                .to_owned(),
                        );
                    }
                }
            } else {
                self.writer = Some(writer);
                return;
            }
        }
        let due = force || self.last_attempt.elapsed() >= self.interval;
        if !due
            || !document.has_unsaved_changes()
            || self.saved_revision == Some(document.revision())
        {
            return;
        }
        self.last_attempt = Instant::now();
        self.saved_revision = Some(document.revision());
        let snapshot = document.snapshot();
        let dir = self.dir.clone();
        let session = Session {
            original: original.map(Path::to_path_buf),
            pid: std::process::id(),
        };
        let spawned = std::thread::Builder::new()
            .name("autosave".to_owned())
            .spawn(move || {
                std::fs::create_dir_all(&dir).map_err(|err| {
                    format!(
                        "Could not autosave ({err}); save your work with Ctrl+S: {}",
                        dir.display()
                    )
                })?;
                ora::save(&snapshot, &dir.join(AUTOSAVE))
                    .map_err(|err| format!("Could not autosave: {err}"))?;
                let text = serde_json::to_string(&session).unwrap_or_default();
                let _ = crate::io::write_atomically(&dir.join(SESSION), text.as_bytes());
                Ok(())
            });
        match spawned {
            Ok(handle) => self.writer = Some(handle),
            Err(err) => self.error = Some(format!("Could not start the autosave ({err}).")),
        }
    }

    /// Waits for an autosave in progress.
    pub fn wait(&mut self) {
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }

    /// Removes the autosave (after a clean exit or an explicit save): the work is safe elsewhere.
    pub fn clear(&mut self) {
        self.wait();
        let _ = std::fs::remove_file(self.dir.join(AUTOSAVE));
        let _ = std::fs::remove_file(self.dir.join(SESSION));
        self.saved_revision = None;
    }
}
