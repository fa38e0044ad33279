//! The generation log: every generation made in a document, accepted or not, with what is
//! needed to reproduce it and to prove where its pixels came from.

use crate::document::tiles::PixelRect;

/// One generation.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GenerationRecord {
    /// Position in the log (1-based), set when logged.
    pub id: u64,
    /// When it ran (RFC 3339, UTC).
    pub time: String,
    /// The model folder's name.
    pub model: String,
    /// sha256 of each model file (`component/file` → hex).
    pub model_files: Vec<(String, String)>,
    /// The prompt.
    pub prompt: String,
    /// The negative prompt.
    pub negative_prompt: String,
    /// Seeds of the variations.
    pub seeds: Vec<u32>,
    /// Scheduler (command-line name).
    pub scheduler: String,
    /// Steps.
    pub steps: usize,
    /// Guidance scale.
    pub guidance: f32,
    /// Strength (img2img and inpainting).
    pub strength: Option<f64>,
    /// `text-to-image`, `image-to-image` or `inpaint`.
    pub mode: String,
    /// The document region it covered.
    pub region: PixelRect,
    /// The size the model generated at.
    pub generated_size: (u32, u32),
    /// The execution provider that ran it.
    pub execution_provider: String,
    /// Pentimento's version.
    pub app_version: String,
    /// How it ended: `finished`, `cancelled`, `failed: …`.
    pub outcome: String,
    /// Which variations were accepted as layers (indices into `seeds`).
    pub accepted: Vec<usize>,
}
