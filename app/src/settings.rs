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
    /// What to paint.
    pub prompt: String,
    /// What to avoid.
    pub negative_prompt: String,
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
    /// The LoRAs chosen in the prompt panel.
    pub loras: Vec<ChosenLora>,
    /// Fill the masked area with content-aware fill before inpainting (for strengths below 1).
    pub prefill: bool,
    /// Soft inpainting: the mask's grey levels are how strongly each area is regenerated.
    pub soft_inpainting: bool,
    /// Grade a hard mask's edge inwards over this many pixels for soft inpainting (0: as
    /// painted).
    pub graded_edge: f32,
    /// Skip the unconditional half of guidance in the last steps (faster, not exact).
    pub guidance_cutoff_on: bool,
    /// The share of the steps that still run guided when `guidance_cutoff_on`.
    pub guidance_cutoff: f32,
}

/// A LoRA in the prompt panel's list.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChosenLora {
    /// The `.safetensors` file.
    pub path: PathBuf,
    /// Its strength (1: as trained; negative subtracts it).
    pub strength: f32,
    /// Whether generations use it.
    pub enabled: bool,
}

impl ChosenLora {
    /// The strengths the slider offers.
    pub const RANGE: std::ops::RangeInclusive<f32> = -2.0..=2.0;

    /// The name `<lora:name>` uses: the file name without extension.
    pub fn name(&self) -> String {
        self.path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

impl Default for GenerationSettings {
    fn default() -> Self {
        Self {
            prompt: String::new(),
            negative_prompt: String::new(),
            mode: ModeChoice::Auto,
            steps: 25,
            guidance: 7.5,
            strength: 0.75,
            scheduler: SchedulerKind::DpmPlusPlus2MKarras,
            seed: 1,
            seed_locked: false,
            count: 4,
            provider: ProviderChoice::Auto,
            loras: Vec::new(),
            prefill: false,
            soft_inpainting: true,
            graded_edge: 0.0,
            guidance_cutoff_on: false,
            // diffusers' SDCFGCutoffCallback default.
            guidance_cutoff: 0.4,
        }
    }
}

/// A model in the list.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelEntry {
    /// The model folder.
    pub path: PathBuf,
    /// Where it came from, for downloads: `repo@revision[/subfolder]`.
    #[serde(default)]
    pub source: Option<String>,
}

impl ModelEntry {
    /// The name shown: the folder's name, or the repository for downloads.
    pub fn name(&self) -> String {
        if let Some(source) = &self.source {
            return source.clone();
        }
        Self::display_name(&self.path)
    }

    /// The name a model folder is shown by: `org/name[/subfolder]` for a folder in the Hugging
    /// Face cache (`models--org--name/snapshots/<commit>/…`), the folder's own name otherwise.
    pub fn display_name(path: &Path) -> String {
        let parts: Vec<String> = path
            .components()
            .map(|part| part.as_os_str().to_string_lossy().into_owned())
            .collect();
        if let Some(at) = parts.iter().rposition(|part| part == "snapshots")
            && at >= 1
            && at + 1 < parts.len()
            && let Some(repo) = parts[at - 1].strip_prefix("models--")
        {
            let mut name = repo.replacen("--", "/", 1);
            for subfolder in &parts[at + 2..] {
                name.push('/');
                name.push_str(subfolder);
            }
            return name;
        }
        path.file_name().map_or_else(
            || path.display().to_string(),
            |name| name.to_string_lossy().into_owned(),
        )
    }
}

/// Everything remembered between sessions.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The default model: loaded when a generation first needs it.
    pub model_folder: Option<PathBuf>,
    /// The models the artist has added (the model manager's list).
    pub models: Vec<ModelEntry>,
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
    /// Which file dialogs to use.
    pub file_dialogs: FileDialogChoice,
    /// Folders files were recently chosen in, newest first (the file dialog's places).
    pub recent_folders: Vec<PathBuf>,
    /// The folder each kind of file dialog last chose in, by the dialog's key (`open-file`, …).
    pub dialog_folders: std::collections::BTreeMap<String, PathBuf>,
    /// Where LoRA files are looked for (`None`: [`Folders::default_lora_dir`]).
    pub lora_folder: Option<PathBuf>,
    /// The name Content Credentials are signed with.
    pub artist_name: String,
    /// Whether exports' credentials may show the prompts.
    pub show_prompt: bool,
    /// What exports' credentials say about AI training and data mining.
    pub training: crate::credentials::TrainingUse,
    /// The export dialog's last format and JPEG quality.
    pub export: ExportSettings,
}

/// The kind of image an export writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportKind {
    /// PNG: lossless, transparency, text chunks.
    #[default]
    Png,
    /// JPEG at a quality (no transparency: over white).
    Jpeg,
    /// Lossless WebP with transparency.
    Webp,
}

impl ExportKind {
    /// Every kind, in the dialog's order.
    pub const ALL: [Self; 3] = [Self::Png, Self::Jpeg, Self::Webp];

    /// The name shown.
    pub fn label(self) -> &'static str {
        match self {
            Self::Png => "PNG",
            Self::Jpeg => "JPEG",
            Self::Webp => "WebP (lossless)",
        }
    }

    /// The file extension it is written with.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Webp => "webp",
        }
    }
}

/// The export dialog's remembered choices (the credentials' choices are Settings' own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ExportSettings {
    /// The format.
    pub kind: ExportKind,
    /// JPEG quality, 1–100.
    pub jpeg_quality: u8,
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self {
            kind: ExportKind::Png,
            jpeg_quality: 92,
        }
    }
}

/// Which file dialogs the app shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileDialogChoice {
    /// The system's, where the desktop can show them; Pentimento's own elsewhere.
    #[default]
    System,
    /// Always Pentimento's own.
    Pentimento,
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
            file_dialogs: FileDialogChoice::System,
            recent_folders: Vec::new(),
            dialog_folders: std::collections::BTreeMap::new(),
            lora_folder: None,
            artist_name: String::new(),
            show_prompt: true,
            training: crate::credentials::TrainingUse::NotAllowed,
            export: ExportSettings::default(),
        }
    }
}

impl Settings {
    /// Reads settings. A missing file gives the defaults. A file that cannot be read whole never
    /// keeps the app from opening and is never lost: every part that still reads is kept, the
    /// file itself is set aside next to the new one, and the sentence returned says what was
    /// left out and where the old file is.
    pub fn load(path: &Path) -> (Self, Option<String>) {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return (Self::default(), None);
            }
            Err(err) => {
                return (
                    Self::default(),
                    Some(format!(
                        "Could not read the settings in {} ({err}); Pentimento starts with the defaults. {}",
                        path.display(),
                        set_aside(path)
                    )),
                );
            }
        };
        match Self::read_text(&bytes) {
            (settings, None) => (settings, None),
            (settings, Some(Unread::NotJson(reason))) => (
                settings,
                Some(format!(
                    "The settings in {} are not valid JSON ({reason}); Pentimento starts with the defaults. {}",
                    path.display(),
                    set_aside(path)
                )),
            ),
            (settings, Some(Unread::LeftOut(names))) => (
                settings,
                Some(format!(
                    "Some settings in {} could not be read and were reset: {}. {}",
                    path.display(),
                    names.join(", "),
                    set_aside(path)
                )),
            ),
        }
    }

    /// Reads settings from the text of a settings file, keeping every part that reads
    /// (objects key by key, lists item by item) and saying what could not be kept.
    /// Numbers are brought into the ranges the settings' controls offer (a number too large for
    /// its type, read as infinity, takes its default).
    pub fn read_text(bytes: &[u8]) -> (Self, Option<Unread>) {
        let found: serde_json::Value = match serde_json::from_slice(bytes) {
            Ok(value) => value,
            Err(err) => return (Self::default(), Some(Unread::NotJson(err.to_string()))),
        };
        if let Ok(settings) = serde_json::from_value::<Self>(found.clone()) {
            return (settings.within_ranges(), None);
        }
        let mut kept = serde_json::to_value(Self::default()).unwrap_or_default();
        let mut left_out = Vec::new();
        keep_what_reads(&mut kept, "", found, &mut left_out);
        let settings = serde_json::from_value::<Self>(kept)
            .unwrap_or_default()
            .within_ranges();
        // In name order, whatever order the file had them in.
        let mut names: Vec<String> = left_out
            .iter()
            .map(|pointer| match pointer.trim_start_matches('/') {
                "" => "all of them".to_owned(),
                name => name.replace('/', "."),
            })
            .collect();
        names.sort();
        (settings, Some(Unread::LeftOut(names)))
    }

    /// The settings with every number inside the range its control offers.
    fn within_ranges(mut self) -> Self {
        let defaults = Self::default();
        let brushes = [
            (&mut self.tools.brush, defaults.tools.brush),
            (&mut self.tools.eraser, defaults.tools.eraser),
            (&mut self.tools.mask, defaults.tools.mask),
        ];
        for (brush, default) in brushes {
            brush.size = in_range(brush.size, 1.0, 1000.0, default.size);
            brush.hardness = in_range(brush.hardness, 0.0, 1.0, default.hardness);
            brush.opacity = in_range(brush.opacity, 0.01, 1.0, default.opacity);
            brush.flow = in_range(brush.flow, 0.01, 1.0, default.flow);
        }
        let generation = &mut self.generation;
        generation.steps = generation.steps.clamp(1, 150);
        generation.guidance =
            in_range(generation.guidance, 1.0, 20.0, defaults.generation.guidance);
        generation.strength = if generation.strength.is_finite() {
            generation.strength.clamp(0.05, 1.0)
        } else {
            defaults.generation.strength
        };
        generation.count = generation.count.clamp(1, 8);
        self.export.jpeg_quality = self.export.jpeg_quality.clamp(1, 100);
        for lora in &mut generation.loras {
            lora.strength = in_range(
                lora.strength,
                *ChosenLora::RANGE.start(),
                *ChosenLora::RANGE.end(),
                1.0,
            );
        }
        self.history_budget_mib = self.history_budget_mib.clamp(64, 16_384);
        self.autosave_seconds = self.autosave_seconds.clamp(5, 600);
        self
    }

    /// Writes settings atomically.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        crate::io::write_atomically(path, text.as_bytes())
    }

    /// Remembers the folder a dialog (`dialog`, its key) chose a file in: the dialog starts
    /// there next time, and it goes to the top of the recent folders.
    pub fn remember_folder(&mut self, dialog: &str, folder: &Path) {
        self.recent_folders.retain(|existing| existing != folder);
        self.recent_folders.insert(0, folder.to_path_buf());
        self.recent_folders.truncate(8);
        self.dialog_folders
            .insert(dialog.to_owned(), folder.to_path_buf());
    }

    /// Puts a file at the top of the recent list.
    pub fn remember_file(&mut self, path: &Path) {
        self.recent_files.retain(|existing| existing != path);
        self.recent_files.insert(0, path.to_path_buf());
        self.recent_files.truncate(10);
    }
}

/// `value` clamped to `low..=high`, or `default` when it is not a finite number.
fn in_range(value: f32, low: f32, high: f32, default: f32) -> f32 {
    if value.is_finite() {
        value.clamp(low, high)
    } else {
        default
    }
}

/// What could not be kept of a settings file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unread {
    /// The file is not JSON; why.
    NotJson(String),
    /// These values (dotted paths, `all of them` for the whole file) were reset.
    LeftOut(Vec<String>),
}

/// Lists and objects with more entries than this that do not read whole are reset whole rather
/// than entry by entry, which costs a trial read per entry.
const MAX_SALVAGED_ITEMS: usize = 256;

/// Copies a settings file that could not be read next to itself, so that saving the new
/// settings does not destroy it; says where it went.
fn set_aside(path: &Path) -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let aside = path.with_file_name(format!("settings-unreadable-{seconds}.json"));
    match std::fs::copy(path, &aside) {
        Ok(_) => format!("The old file is kept as {}.", aside.display()),
        Err(err) => format!(
            "It could not be copied aside ({err}); copy it yourself before changing a setting."
        ),
    }
}

/// Puts `found` at `pointer` in `kept` if the settings still read with it; otherwise goes into
/// objects key by key and into lists item by item, so that one bad value costs only itself.
/// The JSON pointers of the values it could not keep go to `left_out`.
fn keep_what_reads(
    kept: &mut serde_json::Value,
    pointer: &str,
    found: serde_json::Value,
    left_out: &mut Vec<String>,
) {
    use serde_json::Value;

    let reads = |value: &Value| serde_json::from_value::<Settings>(value.clone()).is_ok();
    let previous = kept.pointer(pointer).cloned();
    put(kept, pointer, found.clone());
    if reads(kept) {
        return;
    }
    match (found, previous) {
        (Value::Object(map), Some(previous @ Value::Object(_)))
            if map.len() <= MAX_SALVAGED_ITEMS =>
        {
            put(kept, pointer, previous);
            for (key, value) in map {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                keep_what_reads(kept, &format!("{pointer}/{escaped}"), value, left_out);
            }
        }
        (Value::Array(items), Some(Value::Array(_))) if items.len() <= MAX_SALVAGED_ITEMS => {
            put(kept, pointer, Value::Array(Vec::new()));
            for (index, item) in items.into_iter().enumerate() {
                if let Some(Value::Array(list)) = kept.pointer_mut(pointer) {
                    list.push(item);
                }
                if !reads(kept) {
                    if let Some(Value::Array(list)) = kept.pointer_mut(pointer) {
                        list.pop();
                    }
                    left_out.push(format!("{pointer}/{index}"));
                }
            }
        }
        (_, previous) => {
            put_back(kept, pointer, previous);
            left_out.push(pointer.to_owned());
        }
    }
}

/// Sets the value at a JSON pointer whose parent exists.
fn put(root: &mut serde_json::Value, pointer: &str, value: serde_json::Value) {
    if pointer.is_empty() {
        *root = value;
        return;
    }
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    if let Some(serde_json::Value::Object(map)) = root.pointer_mut(parent) {
        map.insert(key.replace("~1", "/").replace("~0", "~"), value);
    }
}

/// Restores what was at a JSON pointer before a trial: the old value, or nothing.
fn put_back(root: &mut serde_json::Value, pointer: &str, previous: Option<serde_json::Value>) {
    match previous {
        Some(value) => put(root, pointer, value),
        None => {
            let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
            if let Some(serde_json::Value::Object(map)) = root.pointer_mut(parent) {
                map.remove(&key.replace("~1", "/").replace("~0", "~"));
            }
        }
    }
}

/// Where ONNX Runtime's optimized graphs are kept: beside the ONNX Runtime library in the user
/// cache folder.
pub fn optimized_cache_folder() -> Option<PathBuf> {
    pentimento_inference::onnx_runtime::wheel::default_cache_root()
        .ok()
        .map(|root| root.join("optimized-models"))
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

    /// Where the signing identity is kept.
    pub fn identity_dir(&self) -> PathBuf {
        self.config.join("identity")
    }

    /// The LoRA folder when Settings names none.
    pub fn default_lora_dir(&self) -> PathBuf {
        self.data.join("loras")
    }
}

impl Settings {
    /// The LoRA folder in use: the one chosen in Settings, else the default one.
    pub fn lora_dir(&self, folders: &Folders) -> PathBuf {
        self.lora_folder
            .clone()
            .unwrap_or_else(|| folders.default_lora_dir())
    }
}

/// The LoRA folder of the saved settings on this computer (for the command line).
pub fn lora_folder_from_saved_settings() -> PathBuf {
    let folders = Folders::platform();
    let (settings, _) = Settings::load(&folders.settings_file());
    settings.lora_dir(&folders)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("settings.json");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    fn set_aside_files(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("folder")
            .map(|entry| entry.expect("entry").path())
            .filter(|path| {
                path.file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| name.starts_with("settings-unreadable-"))
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn a_missing_file_gives_the_defaults_quietly() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let (settings, problem) = Settings::load(&dir.path().join("settings.json"));
        assert_eq!(settings, Settings::default());
        assert_eq!(problem, None);
    }

    #[test]
    fn saved_settings_read_back_whole() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("settings.json");
        let mut settings = Settings::default();
        settings.generation.prompt = "a lighthouse at dusk".to_owned();
        settings.generation.negative_prompt = "blurry".to_owned();
        settings.generation.steps = 12;
        settings.remember_file(Path::new("/art/harbour.ora"));
        settings.save(&path).expect("save");
        assert_eq!(Settings::load(&path), (settings, None));
        assert!(set_aside_files(dir.path()).is_empty());
    }

    #[test]
    fn one_bad_value_costs_only_itself_and_the_file_is_kept() {
        let text = r#"{
            "model_folder": "/models/sd15",
            "models": [
                {"path": "/models/sd15"},
                {"path": 42},
                {"path": "/models/inpaint", "source": "org/inpaint@main"}
            ],
            "generation": {"prompt": "a red fox", "steps": "many", "guidance": 5.0},
            "history_budget_mib": 256
        }"#;
        let (dir, path) = written(text);
        let (settings, problem) = Settings::load(&path);
        assert_eq!(settings.model_folder, Some(PathBuf::from("/models/sd15")));
        let paths: Vec<&Path> = settings
            .models
            .iter()
            .map(|entry| entry.path.as_path())
            .collect();
        assert_eq!(
            paths,
            [Path::new("/models/sd15"), Path::new("/models/inpaint")]
        );
        assert_eq!(
            settings.models[1].source.as_deref(),
            Some("org/inpaint@main")
        );
        assert_eq!(settings.generation.prompt, "a red fox");
        assert_eq!(settings.generation.guidance, 5.0);
        assert_eq!(
            settings.generation.steps,
            GenerationSettings::default().steps
        );
        assert_eq!(settings.history_budget_mib, 256);
        let problem = problem.expect("a sentence");
        assert!(
            problem.contains("reset: generation.steps, models.1."),
            "{problem}"
        );
        let aside = set_aside_files(dir.path());
        assert_eq!(aside.len(), 1, "{aside:?}");
        assert!(
            problem.contains(&aside[0].display().to_string()),
            "{problem}"
        );
        assert_eq!(std::fs::read_to_string(&aside[0]).expect("read"), text);
    }

    #[test]
    fn a_file_that_is_not_json_is_kept_and_explained() {
        let text = "{\"models\": [{\"path\": \"/models/sd15\"}";
        let (dir, path) = written(text);
        let (settings, problem) = Settings::load(&path);
        assert_eq!(settings, Settings::default());
        let problem = problem.expect("a sentence");
        assert!(problem.contains("not valid JSON"), "{problem}");
        let aside = set_aside_files(dir.path());
        assert_eq!(aside.len(), 1);
        assert_eq!(std::fs::read_to_string(&aside[0]).expect("read"), text);
        // Saving the fresh settings leaves the set-aside copy alone.
        settings.save(&path).expect("save");
        assert_eq!(std::fs::read_to_string(&aside[0]).expect("read"), text);
    }

    #[test]
    fn json_of_the_wrong_shape_resets_everything_and_says_so() {
        let (dir, path) = written("[1, 2, 3]");
        let (settings, problem) = Settings::load(&path);
        assert_eq!(settings, Settings::default());
        let problem = problem.expect("a sentence");
        assert!(problem.contains("reset: all of them."), "{problem}");
        assert_eq!(set_aside_files(dir.path()).len(), 1);
    }

    #[test]
    fn huge_damaged_lists_are_reset_whole_without_a_trial_per_item() {
        let mut paths: Vec<serde_json::Value> = (0..5000)
            .map(|index| serde_json::json!({"path": format!("/models/{index}")}))
            .collect();
        paths.push(serde_json::json!({"path": 1}));
        let text = serde_json::json!({"models": paths, "history_budget_mib": 99}).to_string();
        let (settings, unread) = Settings::read_text(text.as_bytes());
        assert!(settings.models.is_empty());
        assert_eq!(settings.history_budget_mib, 99);
        // Item by item it would have been "models.5000", after 5000 reads of the whole list.
        assert_eq!(unread, Some(Unread::LeftOut(vec!["models".to_owned()])));
    }

    #[test]
    fn numbers_come_back_inside_the_ranges_the_controls_offer() {
        // As a fuzzer found: a flow too large for a 32-bit float read as infinity, which saved
        // as `null` and was reported as unreadable at the next start.
        let text = r#"{
            "tools": {"eraser": {"size": 1e39, "hardness": 7, "opacity": -1, "flow": 1e300,
                                 "color": [1, 2, 3], "pressure_size": true, "pressure_opacity": false}},
            "generation": {"steps": 100000, "guidance": 0.0, "strength": 3.0, "count": 0},
            "history_budget_mib": 1, "autosave_seconds": 0
        }"#;
        let (settings, unread) = Settings::read_text(text.as_bytes());
        assert_eq!(unread, None);
        let eraser = settings.tools.eraser;
        let default = ToolSettings::default().eraser;
        assert_eq!(
            (eraser.size, eraser.hardness, eraser.opacity, eraser.flow),
            (default.size, 1.0, 0.01, default.flow)
        );
        assert_eq!(eraser.color, [1, 2, 3]);
        let generation = &settings.generation;
        assert_eq!(
            (
                generation.steps,
                generation.guidance,
                generation.strength,
                generation.count
            ),
            (150, 1.0, 1.0, 1)
        );
        assert_eq!(
            (settings.history_budget_mib, settings.autosave_seconds),
            (64, 5)
        );
        let saved = serde_json::to_vec(&settings).expect("json");
        assert_eq!(Settings::read_text(&saved), (settings, None));
    }

    #[test]
    fn hub_cache_folders_are_named_by_their_repository() {
        assert_eq!(
            ModelEntry::display_name(Path::new(
                "/home/a/.cache/huggingface/hub/models--onnx-community--sd-1-5/snapshots/4f1c2a9e"
            )),
            "onnx-community/sd-1-5"
        );
        assert_eq!(
            ModelEntry::display_name(Path::new(
                "/c/hub/models--org--name--x/snapshots/abc/onnx/fp16"
            )),
            "org/name--x/onnx/fp16"
        );
        assert_eq!(
            ModelEntry::display_name(Path::new("/models/tiny-sd")),
            "tiny-sd"
        );
        assert_eq!(ModelEntry::display_name(Path::new("/snapshots/abc")), "abc");
    }
}
