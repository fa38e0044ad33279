//! Reading the small JSON files of model folders (`model_index.json`, tokenizer configs).

use std::path::Path;

/// Why a JSON file that is there could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JsonFileError {
    /// It could not be read.
    #[error("{0}")]
    Read(std::io::Error),
    /// It is not JSON.
    #[error("{0}")]
    Parse(serde_json::Error),
}

/// A JSON file that may be missing (`None` then).
pub(crate) fn read_if_present(path: &Path) -> Result<Option<serde_json::Value>, JsonFileError> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(JsonFileError::Read)?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(JsonFileError::Parse)
}
