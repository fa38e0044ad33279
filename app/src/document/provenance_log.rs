//! The generation log: every generation made in a document, accepted or not, with what is
//! needed to reproduce it and to prove where its pixels came from.

use crate::document::tiles::PixelRect;
use pentimento_inference::lora::LoraCredits;

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
    /// Soft inpainting: the mask's grey levels were how strongly each area was regenerated,
    /// its edge first graded inwards over this many pixels (`None`: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_inpainting: Option<f32>,
    /// Guidance truncation: after this share of the steps only the prompt's half ran,
    /// unguided (not exact; `None`: every step guided).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance_cutoff: Option<f32>,
}

/// An image brought into the document (opened as it, or added as a layer): which file it was,
/// and its own Content Credentials when it carried them, so exports name it as an ingredient
/// and keep its history.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImportRecord {
    /// Position among the document's imports (1-based).
    pub id: u64,
    /// The layer it became.
    pub layer: u64,
    /// The file's name.
    pub title: String,
    /// Its MIME type.
    pub format: String,
    /// sha256 of the file as it was read.
    pub sha256: String,
    /// When it was brought in (RFC 3339, UTC).
    pub time: String,
    /// Whether the document was opened from it (else it was added as a layer).
    pub opened: bool,
    /// What its own Content Credentials said when it was read (`None`: it had none).
    #[serde(default)]
    pub credentials: Option<String>,
    /// How a C2PA reader validated those credentials then (its `validation_results`).
    #[serde(default)]
    pub validation_results: Option<serde_json::Value>,
    /// Its C2PA manifest store, as the file carried it (kept beside the project's data).
    #[serde(skip)]
    pub manifest_store: Option<std::sync::Arc<Vec<u8>>>,
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
    /// Its title, author, license and base model, where the file says (stored beside the
    /// fields above, as before they had a struct of their own).
    #[serde(flatten)]
    pub credits: LoraCredits,
}

impl LoraRecord {
    /// The record of a LoRA as the worker applied it.
    pub fn of(applied: &pentimento_inference::lora::AppliedLora) -> Self {
        Self {
            name: applied.name.clone(),
            sha256: applied.sha256.clone(),
            strength: applied.strength,
            credits: applied.credits.clone(),
        }
    }

    /// One line for people: name, strength, and title/author/license where known.
    pub fn describe(&self) -> String {
        let mut about: Vec<String> = Vec::new();
        if let Some(title) = &self.credits.title
            && title != &self.name
        {
            about.push(format!("\"{title}\""));
        }
        if let Some(author) = &self.credits.author {
            about.push(format!("by {author}"));
        }
        if let Some(license) = &self.credits.license {
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

/// The time now as RFC 3339 (UTC), as the log records it.
pub fn now_rfc3339() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    // Civil time from Unix seconds (UTC), without a date library.
    let days = seconds / 86_400;
    let (hour, minute, second) = ((seconds / 3600) % 24, (seconds / 60) % 60, seconds % 60);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}
