//! What a folder holds, for tests that check what was written there and what was not.

use std::path::{Path, PathBuf};

/// The entries directly in a folder, sorted (none when it cannot be read).
pub fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The names of the entries directly in a folder, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    entries(dir).iter().map(|path| name_of(path)).collect()
}

/// The entries directly in a folder whose names start with `prefix`, sorted.
pub fn starting_with(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    entries(dir)
        .into_iter()
        .filter(|path| name_of(path).starts_with(prefix))
        .collect()
}

/// Every file below a folder, at any depth, sorted (none when it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for path in entries(dir) {
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}
