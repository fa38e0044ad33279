//! Settings kept between sessions (JSON in the platform's config folder) and the folders
//! Pentimento writes to.

use std::path::{Path, PathBuf};

use pentimento_inference::{ProviderChoice, SchedulerKind};

use crate::region::ModeChoice;
use crate::tools::ToolSettings;

/// The prompt panel's generation settings.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct GenerationSettings {
    /// Auto, text to image, image to image, inpaint.
    pub mode: ModeChoice,
    /// Denoising steps.
    pub steps: usize,
    /// Guidance scale.
    pub guidance: f32,
    /// How much to change (image to image and inpainting).
    pub strength: f64,
    /// The scheduler.
    pub scheduler: SchedulerKind,
    /// The seed of the next generation.
    pub seed: u32,
    /// Keep the seed (else a new random one each time).
    pub seed_locked: bool,
    /// Variations per generation.
    pub count: usize,
    /// Execution provider.
    pub provider: ProviderChoice,
}

impl Default for GenerationSettings {
    fn default() -> Self {
        Self {
            mode: ModeChoice::Auto,
            steps: 25,
            guidance: 7.5,
            strength: 0.75,
            scheduler: SchedulerKind::DpmPlusPlus2MKarras,
            seed: 1,
            seed_locked: false,
            count: 4,
            provider: ProviderChoice::Auto,
        }
    }
}

/// Everything remembered between sessions.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The default model: loaded when a generation first needs it.
    pub model_folder: Option<PathBuf>,
    /// The models the artist has added (the model manager's list).
    pub models: Vec<crate::models::ModelEntry>,
    /// Recently opened or saved projects, newest first.
    pub recent_files: Vec<PathBuf>,
    /// Tools and brushes.
    pub tools: ToolSettings,
    /// The prompt panel.
    pub generation: GenerationSettings,
    /// Undo history budget in MiB.
    pub history_budget_mib: usize,
    /// Seconds between autosaves while there are unsaved changes.
    pub autosave_seconds: u64,
    /// An ONNX Runtime library to use instead of the downloaded copy (applies at start).
    pub onnx_runtime_library: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model_folder: None,
            models: Vec::new(),
            recent_files: Vec::new(),
            tools: ToolSettings::default(),
            generation: GenerationSettings::default(),
            history_budget_mib: 1024,
            autosave_seconds: 30,
            onnx_runtime_library: None,
        }
    }
}

impl Settings {
    /// Reads settings; missing or unreadable settings give the defaults (never an error: a
    /// damaged settings file must not keep the app from opening).
    pub fn load(path: &Path) -> Self {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// Writes settings atomically.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        crate::io::write_atomically(path, text.as_bytes())
    }

    /// Puts a file at the top of the recent list.
    pub fn remember_file(&mut self, path: &Path) {
        self.recent_files.retain(|existing| existing != path);
        self.recent_files.insert(0, path.to_path_buf());
        self.recent_files.truncate(10);
    }
}

/// Where Pentimento keeps its files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folders {
    /// Settings.
    pub config: PathBuf,
    /// Autosaves.
    pub data: PathBuf,
}

impl Folders {
    /// The platform's folders (`~/.config/pentimento`, `~/.local/share/pentimento` on Linux), or
    /// the temporary folder when there is no home.
    pub fn platform() -> Self {
        match directories::ProjectDirs::from("", "", "pentimento") {
            Some(dirs) => Self {
                config: dirs.config_dir().to_path_buf(),
                data: dirs.data_dir().to_path_buf(),
            },
            None => {
                let base = std::env::temp_dir().join("pentimento");
                Self {
                    config: base.join("config"),
                    data: base.join("data"),
                }
            }
        }
    }

    /// The settings file.
    pub fn settings_file(&self) -> PathBuf {
        self.config.join("settings.json")
    }

    /// The autosave folder.
    pub fn autosave_dir(&self) -> PathBuf {
        self.data.join("autosave")
    }
}
