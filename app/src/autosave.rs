//! Never lose work: the open document is saved in the background every so often while it has
//! unsaved changes (and right after a generation is accepted) into the data folder. A clean exit
//! removes the autosave; if one is found at start, Pentimento did not close cleanly and offers to
//! recover it. Declining keeps the file aside instead of deleting it.
//!
//! Every running window has its own slot, a folder in the autosave folder holding its autosave
//! and a lock file that it keeps locked while it runs. Two windows open at once therefore never
//! overwrite or remove each other's autosave, and a window starting beside a running one does
//! not offer to recover the running one's work: only slots whose lock is free (their window
//! ended without cleaning up) are offered.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::document::Document;
use crate::io::ora;

const AUTOSAVE: &str = "autosave.ora";
const SESSION: &str = "session.json";
const LOCK: &str = "lock";
const SLOT_PREFIX: &str = "session-";

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

impl Recovery {
    /// The slot folder holding it.
    fn slot(&self) -> Option<&Path> {
        self.path.parent()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Session {
    original: Option<PathBuf>,
    pid: u32,
}

/// A slot and the lock that says its window is running.
struct Slot {
    dir: PathBuf,
    /// Held (locked) for as long as the slot is ours; `None` when locking is not possible here.
    lock: Option<File>,
}

impl Slot {
    /// A new slot for this window, locked.
    fn create(root: &Path) -> Self {
        let stamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos());
        let dir = root.join(format!("{SLOT_PREFIX}{}-{stamp}", std::process::id()));
        let lock = std::fs::create_dir_all(&dir)
            .ok()
            .and_then(|()| lock_slot(&dir));
        Self { dir, lock }
    }

    /// Takes over a slot whose window is gone; `None` if another window holds it.
    fn adopt(dir: &Path) -> Option<Self> {
        let lock = lock_slot(dir)?;
        Some(Self {
            dir: dir.to_path_buf(),
            lock: Some(lock),
        })
    }

    /// Gives the slot up: its folder goes unless it still holds an autosave (then the next
    /// start offers it).
    fn release(self) {
        // Unlocked first: Windows does not delete a file that is still open.
        drop(self.lock);
        if !self.dir.join(AUTOSAVE).exists() {
            let _ = std::fs::remove_file(self.dir.join(SESSION));
            let _ = std::fs::remove_file(self.dir.join(LOCK));
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

/// Opens and locks a slot's lock file; `None` if it cannot be opened or is locked already.
fn lock_slot(dir: &Path) -> Option<File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK))
        .ok()?;
    file.try_lock().ok()?;
    Some(file)
}

/// Whether a window is running with this slot (its lock is held).
fn slot_is_live(dir: &Path) -> bool {
    match std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK))
    {
        // The probe's own lock goes when `file` is dropped here.
        Ok(file) => file.try_lock().is_err(),
        // A slot we cannot even open is left alone rather than offered or removed.
        Err(_) => true,
    }
}

/// The autosaver of one window.
pub struct Autosave {
    root: PathBuf,
    slot: Option<Slot>,
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
            .field("dir", &self.dir())
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl Drop for Autosave {
    fn drop(&mut self) {
        self.wait();
        if let Some(slot) = self.slot.take() {
            slot.release();
        }
    }
}

impl Autosave {
    /// An autosaver writing into its own slot in `root` every `interval` while there are
    /// unsaved changes.
    pub fn new(root: PathBuf, interval: Duration) -> Self {
        let slot = Slot::create(&root);
        Self {
            root,
            slot: Some(slot),
            interval,
            last_attempt: Instant::now(),
            saved_revision: None,
            writer: None,
            error: None,
        }
    }

    fn dir(&self) -> PathBuf {
        match &self.slot {
            Some(slot) => slot.dir.clone(),
            None => self.root.clone(),
        }
    }

    /// Changes how often it saves.
    pub fn set_interval(&mut self, interval: Duration) {
        self.interval = interval;
    }

    /// The autosave file.
    pub fn file(&self) -> PathBuf {
        self.dir().join(AUTOSAVE)
    }

    /// Autosaves left by windows that did not end cleanly, newest first. Slots of running
    /// windows are not offered; empty slots of ended windows are tidied away. An autosave left
    /// at the top of the folder by a version without slots is moved into a slot of its own.
    pub fn pending_recoveries(root: &Path) -> Vec<Recovery> {
        adopt_unslotted_autosave(root);
        let Ok(entries) = std::fs::read_dir(root) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let dir = entry.path();
            let is_slot =
                dir.is_dir() && entry.file_name().to_string_lossy().starts_with(SLOT_PREFIX);
            if !is_slot || slot_is_live(&dir) {
                continue;
            }
            let path = dir.join(AUTOSAVE);
            if !path.is_file() {
                // A window that ended before its first autosave.
                let _ = std::fs::remove_file(dir.join(SESSION));
                let _ = std::fs::remove_file(dir.join(LOCK));
                let _ = std::fs::remove_dir(&dir);
                continue;
            }
            let session: Option<Session> = std::fs::read_to_string(dir.join(SESSION))
                .ok()
                .and_then(|text| serde_json::from_str(&text).ok());
            found.push(Recovery {
                saved_at: std::fs::metadata(&path)
                    .and_then(|meta| meta.modified())
                    .ok(),
                original: session.and_then(|session| session.original),
                path,
            });
        }
        found.sort_by(|a, b| b.saved_at.cmp(&a.saved_at).then(a.path.cmp(&b.path)));
        found
    }

    /// Makes a recovered autosave this window's own: its slot becomes ours (the file stays
    /// where it is until the work is saved or the window closes cleanly) and our empty slot
    /// goes. Fails if another window has taken it meanwhile.
    pub fn adopt(&mut self, recovery: &Recovery) -> Result<(), String> {
        let slot = recovery
            .slot()
            .and_then(Slot::adopt)
            .ok_or_else(|| "Another Pentimento window has taken this autosave.".to_owned())?;
        self.wait();
        if let Some(previous) = self.slot.replace(slot) {
            // Anything our own slot held belongs to the document being replaced.
            let _ = std::fs::remove_file(previous.dir.join(AUTOSAVE));
            previous.release();
        }
        self.saved_revision = None;
        Ok(())
    }

    /// Keeps a declined autosave aside in the autosave folder (renamed with the time) rather
    /// than deleting work; its slot goes.
    pub fn set_aside(root: &Path, recovery: &Recovery) -> Option<PathBuf> {
        let slot = recovery.slot()?;
        // Only a slot no window holds may be changed.
        let lock = lock_slot(slot)?;
        let stamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos());
        let to = root.join(format!("declined-autosave-{stamp}.ora"));
        std::fs::rename(&recovery.path, &to).ok()?;
        Slot {
            dir: slot.to_path_buf(),
            lock: Some(lock),
        }
        .release();
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
        let dir = self.dir();
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

    /// Removes this window's autosave (after a clean exit or an explicit save): the work is
    /// safe elsewhere. Other windows' autosaves are never touched.
    pub fn clear(&mut self) {
        self.wait();
        let dir = self.dir();
        let _ = std::fs::remove_file(dir.join(AUTOSAVE));
        let _ = std::fs::remove_file(dir.join(SESSION));
        self.saved_revision = None;
    }
}

/// Moves `autosave.ora` (and its `session.json`) from the top of the autosave folder, where a
/// version without slots left it, into an unlocked slot so that it is offered like any other.
fn adopt_unslotted_autosave(root: &Path) {
    let path = root.join(AUTOSAVE);
    if !path.is_file() {
        return;
    }
    let stamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    let slot = root.join(format!("{SLOT_PREFIX}earlier-{stamp}"));
    if std::fs::create_dir_all(&slot).is_err() {
        return;
    }
    let _ = std::fs::rename(root.join(SESSION), slot.join(SESSION));
    let _ = std::fs::rename(&path, slot.join(AUTOSAVE));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::brush::{BrushSettings, StrokeMode, StrokePoint};

    fn painted(width: u32) -> Document {
        let mut document = Document::new(width, 64).expect("document");
        let layer = document.layers().last().expect("a layer").id;
        let dab = [StrokePoint::new(10.0, 10.0)];
        document
            .paint_stroke(
                Some(layer),
                StrokeMode::Paint,
                BrushSettings::default(),
                dab,
            )
            .expect("paint");
        document
    }

    fn autosaved(autosave: &mut Autosave, document: &Document) {
        autosave.tick(document, None, true);
        autosave.wait();
        assert!(autosave.file().is_file(), "{:?}", autosave.error);
    }

    /// The autosave a window leaves when it ends without cleaning up, as offered afterwards.
    fn left_by_a_crash(root: &Path) -> Vec<Recovery> {
        let mut crashed = Autosave::new(root.to_path_buf(), Duration::from_secs(30));
        autosaved(&mut crashed, &painted(100));
        drop(crashed);
        Autosave::pending_recoveries(root)
    }

    #[test]
    fn two_windows_keep_their_own_autosaves() {
        let root = tempfile::tempdir().expect("folder");
        let mut first = Autosave::new(root.path().to_path_buf(), Duration::from_secs(30));
        let mut second = Autosave::new(root.path().to_path_buf(), Duration::from_secs(30));
        assert_ne!(first.file(), second.file());
        autosaved(&mut first, &painted(100));
        autosaved(&mut second, &painted(200));
        assert_eq!(ora::open(&first.file()).expect("opens").width(), 100);
        assert_eq!(ora::open(&second.file()).expect("opens").width(), 200);

        // Neither is offered while both run.
        assert!(Autosave::pending_recoveries(root.path()).is_empty());

        // A clean exit of one leaves the other's work alone.
        first.clear();
        drop(first);
        assert!(second.file().is_file());
        assert!(Autosave::pending_recoveries(root.path()).is_empty());

        // The other one ends without cleaning up (as a crash would leave it): it is offered.
        let kept = second.file();
        drop(second);
        let pending = Autosave::pending_recoveries(root.path());
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].path, kept);
    }

    #[test]
    fn an_adopted_autosave_is_no_longer_offered_and_goes_on_a_clean_exit() {
        let root = tempfile::tempdir().expect("folder");
        let pending = left_by_a_crash(root.path());
        assert_eq!(pending.len(), 1);

        let mut window = Autosave::new(root.path().to_path_buf(), Duration::from_secs(30));
        let mut beside = Autosave::new(root.path().to_path_buf(), Duration::from_secs(30));
        window.adopt(&pending[0]).expect("adopts");
        assert_eq!(window.file(), pending[0].path);
        assert!(
            beside.adopt(&pending[0]).is_err(),
            "a second window cannot take the same autosave"
        );
        assert!(Autosave::pending_recoveries(root.path()).is_empty());

        window.clear();
        drop(window);
        drop(beside);
        assert!(Autosave::pending_recoveries(root.path()).is_empty());
        let left: Vec<_> = std::fs::read_dir(root.path())
            .expect("folder")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .collect();
        assert!(left.is_empty(), "no slot is left behind: {left:?}");
    }

    #[test]
    fn declining_keeps_the_file_aside_and_frees_the_slot() {
        let root = tempfile::tempdir().expect("folder");
        let pending = left_by_a_crash(root.path());
        let aside = Autosave::set_aside(root.path(), &pending[0]).expect("kept aside");
        assert_eq!(aside.parent(), Some(root.path()));
        assert_eq!(ora::open(&aside).expect("opens").width(), 100);
        assert!(Autosave::pending_recoveries(root.path()).is_empty());
        assert!(!pending[0].path.exists());
    }

    #[test]
    fn an_autosave_from_before_slots_is_still_offered() {
        let root = tempfile::tempdir().expect("folder");
        ora::save(&painted(100), &root.path().join(AUTOSAVE)).expect("save");
        std::fs::write(
            root.path().join(SESSION),
            r#"{"original": "/art/harbour.ora", "pid": 1}"#,
        )
        .expect("session");
        let pending = Autosave::pending_recoveries(root.path());
        assert_eq!(pending.len(), 1);
        assert_eq!(
            pending[0].original.as_deref(),
            Some(Path::new("/art/harbour.ora"))
        );
        assert_eq!(ora::open(&pending[0].path).expect("opens").width(), 100);
        assert!(!root.path().join(AUTOSAVE).exists());
    }
}
