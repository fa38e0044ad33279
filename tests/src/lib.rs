//! Shared helpers for Pentimento's end-to-end tests: where the workspace and the fixtures are.

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
