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
    /// The LoRAs it ran with.
    #[serde(default)]
    pub loras: Vec<LoraRecord>,
}

/// A LoRA a generation ran with: enough to name it, prove which file it was, and credit it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoraRecord {
    /// The file name without extension.
    pub name: String,
    /// sha256 of the file.
    pub sha256: String,
    /// The strength it was applied with.
    pub strength: f32,
    /// Its metadata title, when the file has one.
    #[serde(default)]
    pub title: Option<String>,
    /// Its author, when the file names one.
    #[serde(default)]
    pub author: Option<String>,
    /// Its license, when the file names one.
    #[serde(default)]
    pub license: Option<String>,
    /// The base model it says it was made for.
    #[serde(default)]
    pub base_model: Option<String>,
}

impl LoraRecord {
    /// The record of a LoRA as the worker applied it.
    pub fn of(applied: &pentimento_inference::lora::AppliedLora) -> Self {
        Self {
            name: applied.name.clone(),
            sha256: applied.sha256.clone(),
            strength: applied.strength,
            title: applied.title.clone(),
            author: applied.author.clone(),
            license: applied.license.clone(),
            base_model: applied.base_model.clone(),
        }
    }

    /// One line for people: name, strength, and title/author/license where known.
    pub fn describe(&self) -> String {
        let mut about: Vec<String> = Vec::new();
        if let Some(title) = &self.title
            && title != &self.name
        {
            about.push(format!("\"{title}\""));
        }
        if let Some(author) = &self.author {
            about.push(format!("by {author}"));
        }
        if let Some(license) = &self.license {
            about.push(format!("license {license}"));
        }
        let about = if about.is_empty() {
            String::new()
        } else {
            format!(" ({})", about.join(", "))
        };
        format!("{} at {}{about}", self.name, self.strength)
    }
}
