//! File dialogs behind a seam: the app asks a [`FileDialogs`] for a file or folder. The window
//! uses the system's dialogs (`rfd`) where the desktop can show them and Pentimento's own
//! (the in-app file browser) where it cannot — on Linux the system dialog needs an
//! xdg-desktop-portal with a file chooser, or zenity, and plain X11 window managers and minimal
//! distributions often have neither. Both are looked for before the first dialog, and a system
//! dialog that comes back empty faster than a person could have dismissed it counts as one that
//! could not be shown. Tests script the answers.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Which dialog, and so its title, filters and whether it opens, saves or picks a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DialogKind {
    /// A model folder.
    ModelFolder,
    /// An ONNX Runtime library file.
    RuntimeLibrary,
    /// A project or image to open.
    OpenFile,
    /// An image to add as a layer.
    OpenImage,
    /// Where to save a project.
    SaveProject,
    /// Where to export a PNG.
    ExportPng,
    /// Where to export a JPEG.
    ExportJpeg,
    /// Where to export a WebP.
    ExportWebp,
    /// A LoRA file.
    LoraFile,
    /// The folder that holds the artist's LoRAs.
    LoraFolder,
    /// Where to write a certificate (PEM).
    ExportCertificate,
    /// A certificate chain to sign with (PEM).
    OpenCertificate,
    /// A private key (PEM).
    OpenKey,
}

/// A named set of file extensions (without the dot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileFilter {
    /// What the files are ("OpenRaster project").
    pub name: &'static str,
    /// Their extensions, lower case.
    pub extensions: &'static [&'static str],
}

impl FileFilter {
    /// Whether `path`'s extension is one of the filter's (in any letter case).
    pub fn matches(&self, path: &Path) -> bool {
        path.extension()
            .and_then(OsStr::to_str)
            .is_some_and(|extension| {
                self.extensions
                    .iter()
                    .any(|wanted| wanted.eq_ignore_ascii_case(extension))
            })
    }
}

const IMAGES: &[&str] = &["png", "jpg", "jpeg", "webp"];

impl DialogKind {
    /// A stable name for settings.
    pub fn key(self) -> &'static str {
        match self {
            Self::ModelFolder => "model-folder",
            Self::RuntimeLibrary => "runtime-library",
            Self::OpenFile => "open-file",
            Self::OpenImage => "open-image",
            Self::SaveProject => "save-project",
            // One folder memory for every export format.
            Self::ExportPng | Self::ExportJpeg | Self::ExportWebp => "export-png",
            Self::LoraFile => "lora-file",
            Self::LoraFolder => "lora-folder",
            Self::ExportCertificate => "export-certificate",
            Self::OpenCertificate => "open-certificate",
            Self::OpenKey => "open-key",
        }
    }

    /// The dialog's title.
    pub fn title(self) -> &'static str {
        match self {
            Self::ModelFolder => "Choose a Stable Diffusion ONNX model folder",
            Self::RuntimeLibrary => "Choose an ONNX Runtime library",
            Self::OpenFile => "Open a project or image",
            Self::OpenImage => "Add an image as a layer",
            Self::SaveProject => "Save project",
            Self::ExportPng => "Export PNG",
            Self::ExportJpeg => "Export JPEG",
            Self::ExportWebp => "Export WebP",
            Self::LoraFile => "Choose a LoRA (.safetensors)",
            Self::LoraFolder => "Choose the folder that holds your LoRAs",
            Self::ExportCertificate => "Export the local root certificate",
            Self::OpenCertificate => "Choose your certificate chain (PEM, your certificate first)",
            Self::OpenKey => "Choose the private key of that certificate (PKCS#8 PEM)",
        }
    }

    /// The filters offered, the first chosen at the start (none for folders).
    pub fn filters(self) -> &'static [FileFilter] {
        match self {
            Self::ModelFolder | Self::LoraFolder => &[],
            Self::LoraFile => &[FileFilter {
                name: "LoRA (safetensors)",
                extensions: &["safetensors"],
            }],
            Self::ExportCertificate | Self::OpenCertificate => &[FileFilter {
                name: "Certificate (PEM)",
                extensions: &["pem", "crt"],
            }],
            Self::OpenKey => &[FileFilter {
                name: "Private key (PEM)",
                extensions: &["pem", "key"],
            }],
            Self::RuntimeLibrary => &[FileFilter {
                name: "ONNX Runtime library",
                extensions: &["so", "dll", "dylib"],
            }],
            Self::OpenFile => &[
                FileFilter {
                    name: "Projects and images",
                    extensions: &["ora", "png", "jpg", "jpeg", "webp"],
                },
                FileFilter {
                    name: "OpenRaster project",
                    extensions: &["ora"],
                },
                FileFilter {
                    name: "Images",
                    extensions: IMAGES,
                },
            ],
            Self::OpenImage => &[FileFilter {
                name: "Images",
                extensions: IMAGES,
            }],
            Self::SaveProject => &[FileFilter {
                name: "OpenRaster project",
                extensions: &["ora"],
            }],
            Self::ExportPng => &[FileFilter {
                name: "PNG image",
                extensions: &["png"],
            }],
            Self::ExportJpeg => &[FileFilter {
                name: "JPEG image",
                extensions: &["jpg", "jpeg"],
            }],
            Self::ExportWebp => &[FileFilter {
                name: "WebP image",
                extensions: &["webp"],
            }],
        }
    }

    /// Whether it chooses a folder rather than a file.
    pub fn picks_folder(self) -> bool {
        matches!(self, Self::ModelFolder | Self::LoraFolder)
    }

    /// The extension a saved file gets, for dialogs that save.
    pub fn saved_extension(self) -> Option<&'static str> {
        match self {
            Self::SaveProject => Some("ora"),
            Self::ExportPng => Some("png"),
            Self::ExportJpeg => Some("jpg"),
            Self::ExportWebp => Some("webp"),
            Self::ExportCertificate => Some("pem"),
            _ => None,
        }
    }
}

/// One question for a file dialog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRequest {
    /// Which dialog.
    pub kind: DialogKind,
    /// The file name offered when saving.
    pub suggested_name: Option<String>,
    /// The folder to start in (`None`: the dialog's own choice).
    pub folder: Option<PathBuf>,
}

impl FileRequest {
    /// A request for `kind` with nothing suggested.
    pub fn new(kind: DialogKind) -> Self {
        Self {
            kind,
            suggested_name: None,
            folder: None,
        }
    }
}

/// What a file dialog answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialogAnswer {
    /// A file or folder was chosen.
    Chosen(PathBuf),
    /// The person closed the dialog without choosing.
    Cancelled,
    /// No dialog could be shown (the app then shows its own).
    Unavailable,
}

/// The file dialogs the app asks.
pub trait FileDialogs: Send + Sync {
    /// Shows the dialog for `request` and waits for the answer.
    fn ask(&self, request: &FileRequest) -> DialogAnswer;
}

/// Adds the kind's extension to a chosen save path (as the filters promise).
pub fn with_saved_extension(kind: DialogKind, path: PathBuf) -> PathBuf {
    match kind.saved_extension() {
        Some(extension) => path.with_extension(extension),
        None => path,
    }
}

/// The system's dialogs (`rfd`), where the desktop can show them.
#[derive(Debug, Default)]
pub struct NativeDialogs {
    /// Set once a system dialog came back at once with nothing: it could not be shown.
    failed: std::sync::atomic::AtomicBool,
}

/// A system dialog that returns no file faster than this was never shown: no person can see a
/// dialog and dismiss it that quickly, while one that cannot be shown (a portal without a
/// working file chooser, a missing libdbus) returns within milliseconds.
const FASTER_THAN_A_PERSON: std::time::Duration = std::time::Duration::from_millis(100);

impl FileDialogs for NativeDialogs {
    fn ask(&self, request: &FileRequest) -> DialogAnswer {
        use std::sync::atomic::Ordering;
        if !system_dialogs_available() || self.failed.load(Ordering::Relaxed) {
            return DialogAnswer::Unavailable;
        }
        let asked = std::time::Instant::now();
        let kind = request.kind;
        let mut dialog = rfd::FileDialog::new().set_title(kind.title());
        for filter in kind.filters() {
            dialog = dialog.add_filter(filter.name, filter.extensions);
        }
        if let Some(folder) = &request.folder {
            dialog = dialog.set_directory(folder);
        }
        if let Some(name) = &request.suggested_name {
            dialog = dialog.set_file_name(name);
        }
        let chosen = if kind.picks_folder() {
            dialog.pick_folder()
        } else if kind.saved_extension().is_some() {
            dialog
                .save_file()
                .map(|path| with_saved_extension(kind, path))
        } else {
            dialog.pick_file()
        };
        match chosen {
            Some(path) => DialogAnswer::Chosen(path),
            None if asked.elapsed() < FASTER_THAN_A_PERSON => {
                self.failed.store(true, Ordering::Relaxed);
                DialogAnswer::Unavailable
            }
            None => DialogAnswer::Cancelled,
        }
    }
}

/// Pentimento's own dialogs only: every request is answered by the in-app browser (Settings →
/// File dialogs).
#[derive(Debug, Default)]
pub struct BuiltInDialogs;

impl FileDialogs for BuiltInDialogs {
    fn ask(&self, _request: &FileRequest) -> DialogAnswer {
        DialogAnswer::Unavailable
    }
}

/// Whether system dialogs can be shown, once known.
static SYSTEM_DIALOGS: OnceLock<bool> = OnceLock::new();

/// Finds out on a background thread whether system dialogs can be shown, so that the first
/// dialog does not wait for the session bus.
pub fn probe_system_dialogs_in_background() {
    let _ = std::thread::Builder::new()
        .name("file dialog probe".to_owned())
        .spawn(|| {
            system_dialogs_available();
        });
}

/// Whether system dialogs can be shown, if that is known yet (never waits).
pub fn system_dialogs_known() -> Option<bool> {
    SYSTEM_DIALOGS.get().copied()
}

/// Whether `rfd` can show a system dialog here. On Linux and the BSDs it asks the
/// xdg-desktop-portal's file chooser over the session bus and falls back to zenity; with
/// neither it returns no file at once, which reads the same as a cancelled dialog, so the app
/// asks beforehand. Windows and macOS always have their dialogs. Checked once per run.
pub fn system_dialogs_available() -> bool {
    *SYSTEM_DIALOGS.get_or_init(|| {
        // Windows and macOS always have their dialogs.
        if !cfg!(all(unix, not(target_os = "macos"))) {
            return true;
        }
        portal_file_chooser_available() || program_on_path("zenity", std::env::var_os("PATH"))
    })
}

/// Whether the session bus has an xdg-desktop-portal with a file chooser: asks for the
/// `org.freedesktop.portal.FileChooser` interface's version (which starts the portal if it is
/// installed but not yet running), giving up after a few seconds.
#[cfg(all(unix, not(target_os = "macos")))]
pub fn portal_file_chooser_available() -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none()
        && std::env::var_os("XDG_RUNTIME_DIR")
            .is_none_or(|dir| !Path::new(&dir).join("bus").exists())
    {
        return false;
    }
    let (sender, receiver) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("portal probe".to_owned())
        .spawn(move || {
            let answer = pollster::block_on(async {
                let connection = zbus::Connection::session().await.ok()?;
                let reply = connection
                    .call_method(
                        Some("org.freedesktop.portal.Desktop"),
                        "/org/freedesktop/portal/desktop",
                        Some("org.freedesktop.DBus.Properties"),
                        "Get",
                        &("org.freedesktop.portal.FileChooser", "version"),
                    )
                    .await
                    .ok()?;
                Some(
                    reply
                        .body()
                        .deserialize::<zbus::zvariant::OwnedValue>()
                        .is_ok(),
                )
            });
            let _ = sender.send(answer.unwrap_or(false));
        });
    spawned.is_ok()
        && receiver
            .recv_timeout(std::time::Duration::from_secs(5))
            .unwrap_or(false)
}

/// Other platforms have no portal.
#[cfg(not(all(unix, not(target_os = "macos"))))]
pub fn portal_file_chooser_available() -> bool {
    false
}

/// Whether an executable called `name` is in one of the folders of a `PATH`-style list.
pub fn program_on_path(name: &str, path: Option<std::ffi::OsString>) -> bool {
    let Some(path) = path else {
        return false;
    };
    std::env::split_paths(&path).any(|folder| {
        let candidate = folder.join(name);
        std::fs::metadata(&candidate).is_ok_and(|metadata| {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                metadata.is_file() && metadata.permissions().mode() & 0o111 != 0
            }
            #[cfg(not(unix))]
            {
                metadata.is_file()
            }
        })
    })
}

/// Dialogs that answer from a script (tests): each call takes the next answer queued for its
/// kind; with none queued the dialog counts as cancelled.
#[derive(Debug, Default)]
pub struct ScriptedDialogs {
    answers: Mutex<Vec<(DialogKind, DialogAnswer)>>,
    /// The requests asked, in order.
    asked: Mutex<Vec<FileRequest>>,
}

impl ScriptedDialogs {
    /// Queues an answer: a path, or `None` for a cancelled dialog.
    pub fn answer(&self, kind: DialogKind, path: Option<PathBuf>) {
        self.queue(
            kind,
            path.map_or(DialogAnswer::Cancelled, DialogAnswer::Chosen),
        );
    }

    /// Queues an answer of any kind (e.g. [`DialogAnswer::Unavailable`]).
    pub fn queue(&self, kind: DialogKind, answer: DialogAnswer) {
        self.answers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((kind, answer));
    }

    /// Every request asked so far.
    pub fn asked(&self) -> Vec<FileRequest> {
        self.asked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl FileDialogs for ScriptedDialogs {
    fn ask(&self, request: &FileRequest) -> DialogAnswer {
        self.asked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(request.clone());
        let mut answers = self
            .answers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match answers.iter().position(|(kind, _)| *kind == request.kind) {
            Some(position) => answers.remove(position).1,
            None => DialogAnswer::Cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_is_found_only_where_it_is_executable() {
        let dir = tempfile::tempdir().expect("folder");
        let program = dir.path().join("zenity");
        std::fs::write(&program, "#!/bin/sh\n").expect("write");
        let list = std::env::join_paths([dir.path()]).expect("path list");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert!(
                !program_on_path("zenity", Some(list.clone())),
                "not executable"
            );
            std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
        assert!(program_on_path("zenity", Some(list.clone())));
        assert!(!program_on_path("kdialog", Some(list)));
        assert!(!program_on_path("zenity", None));
    }

    #[test]
    fn filters_match_extensions_in_any_case() {
        let projects = DialogKind::OpenFile.filters()[0];
        assert!(projects.matches(Path::new("/a/Sketch.ORA")));
        assert!(projects.matches(Path::new("photo.jpeg")));
        assert!(!projects.matches(Path::new("notes.txt")));
        assert!(!projects.matches(Path::new("ora")));
        assert_eq!(
            with_saved_extension(DialogKind::SaveProject, PathBuf::from("/a/sketch.png")),
            PathBuf::from("/a/sketch.ora")
        );
        assert_eq!(
            with_saved_extension(DialogKind::ModelFolder, PathBuf::from("/a/model.v1")),
            PathBuf::from("/a/model.v1")
        );
    }
}
