//! File dialogs behind a seam: the app asks a `FileDialogs`; the window uses native dialogs
//! (`rfd`), tests script the answers.

use std::path::PathBuf;
use std::sync::Mutex;

/// The file dialogs the app needs.
pub trait FileDialogs: Send + Sync {
    /// A model folder.
    fn pick_model_folder(&self) -> Option<PathBuf>;
    /// An ONNX Runtime library file.
    fn pick_runtime_library(&self) -> Option<PathBuf>;
    /// A project or image to open.
    fn open_file(&self) -> Option<PathBuf>;
    /// An image to add as a layer.
    fn open_image(&self) -> Option<PathBuf>;
    /// Where to save a project.
    fn save_project(&self, suggested_name: &str) -> Option<PathBuf>;
    /// Where to export a PNG.
    fn export_png(&self, suggested_name: &str) -> Option<PathBuf>;
}

/// Native dialogs.
#[derive(Debug, Default)]
pub struct NativeDialogs;

impl FileDialogs for NativeDialogs {
    fn pick_model_folder(&self) -> Option<PathBuf> {
        rfd::FileDialog::new()
            .set_title("Choose a Stable Diffusion ONNX model folder")
            .pick_folder()
    }

    fn pick_runtime_library(&self) -> Option<PathBuf> {
        rfd::FileDialog::new()
            .set_title("Choose an ONNX Runtime library")
            .add_filter("ONNX Runtime library", &["so", "dll", "dylib"])
            .pick_file()
    }

    fn open_file(&self) -> Option<PathBuf> {
        rfd::FileDialog::new()
            .set_title("Open")
            .add_filter(
                "Projects and images",
                &["ora", "png", "jpg", "jpeg", "webp"],
            )
            .add_filter("OpenRaster project", &["ora"])
            .pick_file()
    }

    fn open_image(&self) -> Option<PathBuf> {
        rfd::FileDialog::new()
            .set_title("Add an image as a layer")
            .add_filter("Images", &["png", "jpg", "jpeg", "webp"])
            .pick_file()
    }

    fn save_project(&self, suggested_name: &str) -> Option<PathBuf> {
        rfd::FileDialog::new()
            .set_title("Save project")
            .set_file_name(suggested_name)
            .add_filter("OpenRaster project", &["ora"])
            .save_file()
            .map(|path| path.with_extension("ora"))
    }

    fn export_png(&self, suggested_name: &str) -> Option<PathBuf> {
        rfd::FileDialog::new()
            .set_title("Export PNG")
            .set_file_name(suggested_name)
            .add_filter("PNG image", &["png"])
            .save_file()
            .map(|path| path.with_extension("png"))
    }
}

/// Dialogs that answer from a script (tests): each call takes the next answer for its kind.
#[derive(Debug, Default)]
pub struct ScriptedDialogs {
    answers: Mutex<Vec<(DialogKind, Option<PathBuf>)>>,
}

/// Which dialog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogKind {
    /// `pick_model_folder`.
    ModelFolder,
    /// `pick_runtime_library`.
    RuntimeLibrary,
    /// `open_file`.
    OpenFile,
    /// `open_image`.
    OpenImage,
    /// `save_project`.
    SaveProject,
    /// `export_png`.
    ExportPng,
}

impl ScriptedDialogs {
    /// Queues an answer.
    pub fn answer(&self, kind: DialogKind, path: Option<PathBuf>) {
        self.answers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((kind, path));
    }

    fn take(&self, kind: DialogKind) -> Option<PathBuf> {
        let mut answers = self
            .answers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let position = answers.iter().position(|(k, _)| *k == kind)?;
        answers.remove(position).1
    }
}

impl FileDialogs for ScriptedDialogs {
    fn pick_model_folder(&self) -> Option<PathBuf> {
        self.take(DialogKind::ModelFolder)
    }

    fn pick_runtime_library(&self) -> Option<PathBuf> {
        self.take(DialogKind::RuntimeLibrary)
    }

    fn open_file(&self) -> Option<PathBuf> {
        self.take(DialogKind::OpenFile)
    }

    fn open_image(&self) -> Option<PathBuf> {
        self.take(DialogKind::OpenImage)
    }

    fn save_project(&self, _suggested_name: &str) -> Option<PathBuf> {
        self.take(DialogKind::SaveProject)
    }

    fn export_png(&self, _suggested_name: &str) -> Option<PathBuf> {
        self.take(DialogKind::ExportPng)
    }
}
