//! Shared helpers for Pentimento's end-to-end tests: where the workspace and the fixtures are.

pub mod corpus;

use std::path::PathBuf;

/// The workspace root (the folder with the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives one level below the workspace root")
        .to_path_buf()
}

/// `tests/fixtures/`.
pub fn fixtures_dir() -> PathBuf {
    workspace_root().join("tests").join("fixtures")
}

/// A tiny model pipeline under `tests/fixtures/models/`.
pub fn fixture_model(name: &str) -> PathBuf {
    fixtures_dir().join("models").join(name)
}

/// `shaders/`.
pub fn shaders_dir() -> PathBuf {
    workspace_root().join("shaders")
}

/// A private home for one app under test: its own settings and autosave folders, scripted file
/// dialogs and optimized-graph cache, so tests never read or write the user's files.
pub struct Sandbox {
    /// The temporary folder (removed on drop).
    pub dir: tempfile::TempDir,
    /// The file dialogs' answers.
    pub dialogs: std::sync::Arc<pentimento::dialogs::ScriptedDialogs>,
}

impl Sandbox {
    /// A fresh sandbox.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temporary folder"),
            dialogs: std::sync::Arc::default(),
        }
    }

    /// Its settings and data folders.
    pub fn folders(&self) -> pentimento::settings::Folders {
        pentimento::settings::Folders {
            config: self.dir.path().join("config"),
            data: self.dir.path().join("data"),
        }
    }

    /// App options living in the sandbox, without ONNX Runtime (set `runtime` to generate).
    pub fn options(&self) -> pentimento::AppOptions {
        pentimento::AppOptions {
            runtime: None,
            folders: Some(self.folders()),
            dialogs: Some(self.dialogs.clone()),
            optimized_cache: Some(self.dir.path().join("optimized")),
            ..pentimento::AppOptions::default()
        }
    }

    /// A path inside the sandbox.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}
