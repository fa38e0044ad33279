//! Reading a LoRA file: the safetensors container, which of the published key layouts it uses,
//! its low-rank pairs, and the metadata its trainer wrote.
//!
//! Layouts read (each names a layer and gives a `down` `[rank, in, …]` and `up` `[out, rank, …]`
//! pair):
//! - kohya-ss / A1111: `lora_unet_<module>` and `lora_te_<module>` with `.lora_down.weight`,
//!   `.lora_up.weight` and `.alpha`, the module written with `_` for `.`, in diffusers' layout
//!   (`down_blocks_0_…`) or the original LDM one (`input_blocks_1_1_…`); LoCon's convolutions
//!   (1×1 and 3×3) are pairs of the same kind;
//! - PEFT, as diffusers saves it: `unet.<module>.lora_A.weight` / `.lora_B.weight` and
//!   `text_encoder.…`, the alphas in the `lora_adapter_metadata` header entry when present;
//! - diffusers before PEFT: `<module>.lora.down.weight` / `.lora.up.weight`, and the attention
//!   processors' `….processor.to_q_lora.down.weight`.
//!
//! A pickle (`.ckpt`, `.pt`, `.bin`) is never opened: only safetensors, which holds data and no
//! code. Types LyCORIS adds on top (LoHa, LoKr, DoRA, Tucker-decomposed LoCon, OFT) are refused
//! with a sentence that names them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};

use super::LoraError;

/// The component a LoRA pair belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LoraComponent {
    /// The denoising UNet.
    Unet,
    /// The CLIP text encoder.
    TextEncoder,
}

impl LoraComponent {
    /// Its folder name in a model.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unet => "unet",
            Self::TextEncoder => "text_encoder",
        }
    }
}

/// Which published key layout a file uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoraFormat {
    /// kohya-ss / A1111 keys, module names in diffusers' layout.
    Kohya,
    /// kohya-ss keys with the original LDM module names (`input_blocks_…`).
    KohyaLdm,
    /// PEFT's `lora_A` / `lora_B`, as diffusers saves them.
    Peft,
    /// diffusers' keys from before PEFT (`lora.down` / `lora.up`, attention processors).
    DiffusersLegacy,
}

impl LoraFormat {
    /// A short description for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Kohya => "kohya-ss",
            Self::KohyaLdm => "kohya-ss, LDM module names",
            Self::Peft => "diffusers / PEFT",
            Self::DiffusersLegacy => "diffusers (attention processors)",
        }
    }
}

/// How a pair names its layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModuleName {
    /// A kohya stem: the module path with `_` for `.` (diffusers' or LDM's layout).
    Stem(String),
    /// A dotted module path in diffusers' layout.
    Path(String),
}

/// One low-rank pair: `ΔW = up · down`, scaled.
#[derive(Clone, Debug)]
pub struct LoraPair {
    /// The component it changes.
    pub component: LoraComponent,
    /// The key prefix it was stored under (for messages).
    pub key: String,
    /// The layer it names.
    pub module: ModuleName,
    /// `down`, `[rank, in, kh, kw]` or `[rank, in]`, as float32.
    pub down: Vec<f32>,
    /// `down`'s shape.
    pub down_shape: Vec<usize>,
    /// `up`, `[out, rank, 1, 1]` or `[out, rank]`, as float32.
    pub up: Vec<f32>,
    /// `up`'s shape.
    pub up_shape: Vec<usize>,
    /// The `alpha` stored with the pair, when there is one.
    pub alpha: Option<f32>,
}

impl LoraPair {
    /// The rank: `down`'s first dimension.
    pub fn rank(&self) -> usize {
        self.down_shape.first().copied().unwrap_or(0)
    }

    /// Output features: `up`'s first dimension.
    pub fn out_features(&self) -> usize {
        self.up_shape.first().copied().unwrap_or(0)
    }

    /// Input features times kernel size: everything of `down` after the rank.
    pub fn in_elements(&self) -> usize {
        self.down_shape.iter().skip(1).product()
    }
}

/// Who made a LoRA and for what, as its file says: what the generation log and exported
/// provenance credit.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoraCredits {
    /// Its title, when the file has one.
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

/// What the trainer wrote into the file's header.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoraMetadata {
    /// Every entry as written (`ss_*` from kohya-ss, `modelspec.*`, …).
    pub entries: BTreeMap<String, String>,
}

impl LoraMetadata {
    /// Reads only the header of a `.safetensors` file (its metadata, not the weights): cheap
    /// enough for listing a folder of LoRAs.
    pub fn read_header(path: &Path) -> Result<Self, LoraError> {
        use std::io::Read as _;
        let unreadable = |reason: String| LoraError::Unreadable {
            path: path.to_path_buf(),
            reason,
        };
        let mut file = std::fs::File::open(path).map_err(|err| unreadable(err.to_string()))?;
        let mut size = [0_u8; 8];
        file.read_exact(&mut size)
            .map_err(|_| unreadable("not a safetensors file (too short)".to_owned()))?;
        let size = u64::from_le_bytes(size);
        if size > 100_000_000 {
            return Err(unreadable(format!(
                "not a safetensors file (it announces a {size}-byte header)"
            )));
        }
        let mut header = vec![0_u8; size as usize];
        file.read_exact(&mut header)
            .map_err(|_| unreadable("not a safetensors file (its header is cut off)".to_owned()))?;
        let json: serde_json::Value = serde_json::from_slice(&header)
            .map_err(|err| unreadable(format!("not a safetensors file ({err})")))?;
        let entries = json
            .get("__metadata__")
            .and_then(serde_json::Value::as_object)
            .map(|map| {
                map.iter()
                    .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self { entries })
    }

    /// Lines for people: title, author, license, base model, trigger words and training
    /// settings, those the file has.
    pub fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (label, value) in [
            ("Title", self.title()),
            ("Author", self.author()),
            ("License", self.license()),
            ("Made for", self.base_model()),
            ("Description", self.description()),
        ] {
            if let Some(value) = value {
                lines.push(format!("{label}: {value}"));
            }
        }
        let triggers = self.trigger_words();
        if !triggers.is_empty() {
            lines.push(format!("Trigger words: {}", triggers.join(", ")));
        }
        let training: Vec<String> = self
            .training()
            .into_iter()
            .map(|(label, value)| format!("{label} {value}"))
            .collect();
        if !training.is_empty() {
            lines.push(format!("Training: {}", training.join(" · ")));
        }
        lines
    }

    fn get(&self, keys: &[&str]) -> Option<&str> {
        keys.iter()
            .filter_map(|key| self.entries.get(*key))
            .map(|value| value.trim())
            .find(|value| !value.is_empty() && *value != "None")
    }

    /// Its title, author, license and base model, those the file has.
    pub fn credits(&self) -> LoraCredits {
        let owned = |value: Option<&str>| value.map(str::to_owned);
        LoraCredits {
            title: owned(self.title()),
            author: owned(self.author()),
            license: owned(self.license()),
            base_model: owned(self.base_model()),
        }
    }

    /// The title (`modelspec.title`, kohya's `ss_output_name`).
    pub fn title(&self) -> Option<&str> {
        self.get(&["modelspec.title", "ss_output_name"])
    }

    /// Who made it (`modelspec.author`).
    pub fn author(&self) -> Option<&str> {
        self.get(&["modelspec.author"])
    }

    /// Its license (`modelspec.license`).
    pub fn license(&self) -> Option<&str> {
        self.get(&["modelspec.license"])
    }

    /// A description (`modelspec.description`).
    pub fn description(&self) -> Option<&str> {
        self.get(&["modelspec.description"])
    }

    /// What base model it was made for, as the file says it (`modelspec.architecture`,
    /// `ss_base_model_version`, `ss_sd_model_name`).
    pub fn base_model(&self) -> Option<&str> {
        self.get(&[
            "modelspec.architecture",
            "ss_base_model_version",
            "ss_sd_model_name",
        ])
    }

    /// The family the file says it was made for, when it says.
    pub fn family(&self) -> Option<BaseFamily> {
        let architecture = self.get(&["modelspec.architecture"]).unwrap_or_default();
        let version = self.get(&["ss_base_model_version"]).unwrap_or_default();
        let text = format!("{architecture} {version}").to_ascii_lowercase();
        if text.contains("xl") {
            Some(BaseFamily::Sdxl)
        } else if text.contains("v2") || text.contains("sd_2") || text.contains("-v2-") {
            Some(BaseFamily::Sd2)
        } else if text.contains("v1") || text.contains("sd_1") {
            Some(BaseFamily::Sd1)
        } else if text.contains("flux") || text.contains("sd3") || text.contains("stable-cascade") {
            Some(BaseFamily::Other)
        } else if self.get(&["ss_v2"]) == Some("True") {
            Some(BaseFamily::Sd2)
        } else {
            None
        }
    }

    /// Trigger words: the tags kohya-ss counted in the training captions (`ss_tag_frequency`),
    /// most frequent first, or `modelspec.trigger_phrase`.
    pub fn trigger_words(&self) -> Vec<String> {
        if let Some(phrase) = self.get(&["modelspec.trigger_phrase"]) {
            return phrase
                .split(',')
                .map(str::trim)
                .filter(|word| !word.is_empty())
                .map(str::to_owned)
                .collect();
        }
        let Some(frequency) = self
            .get(&["ss_tag_frequency"])
            .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        else {
            return Vec::new();
        };
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for folder in frequency
            .as_object()
            .into_iter()
            .flat_map(|map| map.values())
        {
            for (tag, count) in folder.as_object().into_iter().flatten() {
                *counts.entry(tag.trim().to_owned()).or_default() += count.as_u64().unwrap_or(0);
            }
        }
        let mut tags: Vec<(String, u64)> =
            counts.into_iter().filter(|(t, _)| !t.is_empty()).collect();
        tags.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        tags.into_iter().map(|(tag, _)| tag).take(12).collect()
    }

    /// Training settings kohya-ss records, in a fixed order, for the ones present.
    pub fn training(&self) -> Vec<(&'static str, String)> {
        [
            ("network", "ss_network_module"),
            ("network dim", "ss_network_dim"),
            ("network alpha", "ss_network_alpha"),
            ("base checkpoint", "ss_sd_model_name"),
            ("resolution", "ss_resolution"),
            ("images", "ss_num_train_images"),
            ("epochs", "ss_num_epochs"),
            ("steps", "ss_max_train_steps"),
            ("learning rate", "ss_learning_rate"),
            ("trained", "ss_training_started_at"),
        ]
        .into_iter()
        .filter_map(|(label, key)| Some((label, self.get(&[key])?.to_owned())))
        .collect()
    }
}

/// A base model family, as LoRA metadata names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseFamily {
    /// Stable Diffusion 1.x.
    Sd1,
    /// Stable Diffusion 2.x.
    Sd2,
    /// SDXL.
    Sdxl,
    /// Something else (Flux, SD3, …).
    Other,
}

impl BaseFamily {
    /// Its usual name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sd1 => "Stable Diffusion 1.x",
            Self::Sd2 => "Stable Diffusion 2.x",
            Self::Sdxl => "SDXL",
            Self::Other => "another kind of model (not Stable Diffusion 1.x or 2.x)",
        }
    }
}

/// A LoRA file, read and checked for its layout.
#[derive(Clone, Debug)]
pub struct LoraFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// sha256 of the file, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Its key layout.
    pub format: LoraFormat,
    /// Its header metadata.
    pub metadata: LoraMetadata,
    /// Its pairs.
    pub pairs: Vec<LoraPair>,
    /// PEFT configuration per component from `lora_adapter_metadata` (alphas, rsLoRA).
    pub(crate) peft_config: BTreeMap<LoraComponent, PeftConfig>,
}

/// The parts of a PEFT `LoraConfig` that decide the scale.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PeftConfig {
    pub lora_alpha: Option<f32>,
    pub alpha_pattern: Vec<(String, f32)>,
    pub use_rslora: bool,
}

impl LoraFile {
    /// The file name without its extension: the name the prompt syntax `<lora:name:0.8>` uses.
    pub fn name(&self) -> String {
        self.path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Reads and checks a LoRA file.
    pub fn open(path: &Path) -> Result<Self, LoraError> {
        let extension = path
            .extension()
            .map(|ext| ext.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if extension != "safetensors" {
            return Err(LoraError::NotSafetensors {
                path: path.to_path_buf(),
            });
        }
        let bytes = std::fs::read(path).map_err(|err| LoraError::Unreadable {
            path: path.to_path_buf(),
            reason: err.to_string(),
        })?;
        Self::from_bytes(path, &bytes)
    }

    /// Reads a LoRA file's contents; `path` names it in messages.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self, LoraError> {
        let unreadable = |reason: String| LoraError::Unreadable {
            path: path.to_path_buf(),
            reason,
        };
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|err| unreadable(format!("not a safetensors file ({err})")))?;
        let metadata = LoraMetadata {
            entries: header
                .metadata()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
        };
        let tensors = SafeTensors::deserialize(bytes)
            .map_err(|err| unreadable(format!("not a safetensors file ({err})")))?;
        let names: Vec<String> = {
            let mut names: Vec<String> = tensors.names().into_iter().map(str::to_owned).collect();
            names.sort();
            names
        };
        if let Some(kind) = unsupported_kind(&names) {
            return Err(LoraError::UnsupportedType {
                path: path.to_path_buf(),
                kind,
            });
        }
        let peft_config = peft_config(&metadata);
        let read = |name: &str| -> Result<(Vec<f32>, Vec<usize>), LoraError> {
            let view = tensors
                .tensor(name)
                .map_err(|err| unreadable(format!("{name}: {err}")))?;
            let values = to_f32(view.dtype(), view.data()).ok_or_else(|| {
                unreadable(format!(
                    "{name} is stored as {:?}; LoRA weights must be float32, float16 or bfloat16",
                    view.dtype()
                ))
            })?;
            Ok((values, view.shape().to_vec()))
        };

        let mut pairs = Vec::new();
        let mut formats = Vec::new();
        let mut used = std::collections::HashSet::new();
        for name in &names {
            let Some((key, down_suffix, up_suffix, format)) = split_down_key(name) else {
                continue;
            };
            let up_name = format!("{key}{up_suffix}");
            if !names.contains(&up_name) {
                return Err(unreadable(format!(
                    "{name} has no matching {up_suffix} (the file is incomplete)"
                )));
            }
            let Some((component, module)) = module_of(key, format) else {
                return Err(LoraError::Unrecognised {
                    path: path.to_path_buf(),
                    key: name.clone(),
                });
            };
            let alpha_name = alpha_key(key, down_suffix);
            let alpha = match &alpha_name {
                Some(alpha_name) if names.contains(alpha_name) => {
                    used.insert(alpha_name.clone());
                    let (values, _) = read(alpha_name)?;
                    values.first().copied()
                }
                _ => None,
            };
            let (down, down_shape) = read(name)?;
            let (up, up_shape) = read(&up_name)?;
            used.insert(name.clone());
            used.insert(up_name);
            if down_shape.len() < 2 || up_shape.len() < 2 || up_shape[1] != down_shape[0] {
                return Err(unreadable(format!(
                    "{key}: the pair's shapes {down_shape:?} and {up_shape:?} do not fit together"
                )));
            }
            if up_shape.iter().skip(2).any(|&size| size != 1) {
                return Err(LoraError::UnsupportedType {
                    path: path.to_path_buf(),
                    kind: "a LoCon whose up-projection is not 1×1".to_owned(),
                });
            }
            formats.push(format);
            pairs.push(LoraPair {
                component,
                key: key.to_owned(),
                module,
                down,
                down_shape,
                up,
                up_shape,
                alpha,
            });
        }
        if pairs.is_empty() {
            return Err(LoraError::NoPairs {
                path: path.to_path_buf(),
                example: names.first().cloned(),
            });
        }
        let leftover: Vec<&String> = names.iter().filter(|name| !used.contains(*name)).collect();
        if let Some(first) = leftover.first() {
            return Err(LoraError::Unrecognised {
                path: path.to_path_buf(),
                key: (*first).clone(),
            });
        }
        let format = if formats.contains(&LoraFormat::KohyaLdm) {
            LoraFormat::KohyaLdm
        } else {
            formats[0]
        };
        Ok(Self {
            path: path.to_path_buf(),
            sha256: crate::sha256::of_bytes(bytes),
            size: bytes.len() as u64,
            format,
            metadata,
            pairs,
            peft_config,
        })
    }

    /// The components it changes.
    pub fn components(&self) -> Vec<LoraComponent> {
        let mut components: Vec<LoraComponent> =
            self.pairs.iter().map(|pair| pair.component).collect();
        components.sort();
        components.dedup();
        components
    }

    /// The ranks it uses, smallest first.
    pub fn ranks(&self) -> Vec<usize> {
        let mut ranks: Vec<usize> = self.pairs.iter().map(LoraPair::rank).collect();
        ranks.sort_unstable();
        ranks.dedup();
        ranks
    }

    /// Whether any pair changes a convolution with a kernel larger than 1×1 (LoCon).
    pub fn has_convolutions(&self) -> bool {
        self.pairs
            .iter()
            .any(|pair| pair.down_shape.iter().skip(2).any(|&size| size > 1))
    }
}

/// Names a LyCORIS type that is not a plain LoRA, from its keys.
fn unsupported_kind(names: &[String]) -> Option<String> {
    let has = |part: &str| names.iter().any(|name| name.contains(part));
    let kind = if has(".hada_w1_a") || has(".hada_w1_b") {
        "LoHa (LyCORIS Hadamard-product adapter)"
    } else if has(".lokr_w1") || has(".lokr_w2") {
        "LoKr (LyCORIS Kronecker-product adapter)"
    } else if has(".dora_scale") || has("lora_magnitude_vector") {
        "DoRA (weight-decomposed LoRA)"
    } else if has(".lora_mid.") {
        "LoCon with a Tucker-decomposed middle (lora_mid)"
    } else if has(".oft_blocks") || has(".oft_diag") {
        "OFT (orthogonal fine-tuning)"
    } else if has(".ia3_")
        || names
            .iter()
            .any(|name| name.ends_with(".weight") && name.contains(".on_input"))
    {
        "(IA)³"
    } else if names
        .iter()
        .any(|name| name.ends_with(".diff") || name.ends_with(".diff_b"))
    {
        "a full weight difference (LyCORIS \"full\")"
    } else if has("lora_te2_") || has("lora_te1_") || has("text_encoder_2.") {
        "an SDXL LoRA (it has two text encoders)"
    } else {
        return None;
    };
    Some(format!("a {kind} file"))
}

/// For the `down` key of a pair: its key prefix, the suffixes of its down and up tensors, and
/// the layout this spelling belongs to.
fn split_down_key(name: &str) -> Option<(&str, &'static str, &'static str, LoraFormat)> {
    const SPELLINGS: [(&str, &str, LoraFormat); 5] = [
        (".lora_down.weight", ".lora_up.weight", LoraFormat::Kohya),
        (".lora_A.weight", ".lora_B.weight", LoraFormat::Peft),
        (
            ".lora.down.weight",
            ".lora.up.weight",
            LoraFormat::DiffusersLegacy,
        ),
        (
            ".lora_linear_layer.down.weight",
            ".lora_linear_layer.up.weight",
            LoraFormat::DiffusersLegacy,
        ),
        (
            "_lora.down.weight",
            "_lora.up.weight",
            LoraFormat::DiffusersLegacy,
        ),
    ];
    SPELLINGS.into_iter().find_map(|(down, up, format)| {
        let key = name.strip_suffix(down)?;
        let format = if format == LoraFormat::Kohya
            && ["input_blocks", "middle_block", "output_blocks"]
                .iter()
                .any(|part| key.contains(part))
        {
            LoraFormat::KohyaLdm
        } else {
            format
        };
        Some((key, down, up, format))
    })
}

/// Where a pair's `alpha` is stored, for the spellings that have one.
fn alpha_key(key: &str, down_suffix: &str) -> Option<String> {
    match down_suffix {
        ".lora_down.weight" | ".lora_A.weight" => Some(format!("{key}.alpha")),
        _ => None,
    }
}

/// The component and layer a key prefix names.
fn module_of(key: &str, format: LoraFormat) -> Option<(LoraComponent, ModuleName)> {
    if matches!(format, LoraFormat::Kohya | LoraFormat::KohyaLdm) {
        if let Some(stem) = key.strip_prefix("lora_unet_") {
            return Some((LoraComponent::Unet, ModuleName::Stem(stem.to_owned())));
        }
        if let Some(stem) = key.strip_prefix("lora_te_") {
            return Some((
                LoraComponent::TextEncoder,
                ModuleName::Stem(stem.to_owned()),
            ));
        }
        // LyCORIS also writes PEFT-style dotted names with kohya suffixes.
    }
    let key = key.strip_prefix("base_model.model.").unwrap_or(key);
    let (component, path) = if let Some(path) = key.strip_prefix("unet.") {
        (LoraComponent::Unet, path)
    } else if let Some(path) = key.strip_prefix("text_encoder.") {
        (LoraComponent::TextEncoder, path)
    } else if key.starts_with("text_model.") {
        (LoraComponent::TextEncoder, key)
    } else if [
        "down_blocks.",
        "mid_block.",
        "up_blocks.",
        "conv_in",
        "conv_out",
        "time_embedding.",
    ]
    .iter()
    .any(|start| key.starts_with(start))
    {
        (LoraComponent::Unet, key)
    } else {
        return None;
    };
    Some((component, ModuleName::Path(legacy_to_module(path))))
}

/// diffusers' older names for attention layers, as the layers are called in the model:
/// `attn1.processor.to_q` → `attn1.to_q`, `to_out` → `to_out.0`; in the text encoder
/// `self_attn.to_q` → `self_attn.q_proj`, `to_out` → `out_proj`.
fn legacy_to_module(path: &str) -> String {
    let path = path.replace(".processor.", ".");
    let Some((start, last)) = path.rsplit_once('.') else {
        return path;
    };
    if start.ends_with("self_attn") {
        let renamed = match last {
            "to_q" => "q_proj",
            "to_k" => "k_proj",
            "to_v" => "v_proj",
            "to_out" => "out_proj",
            other => other,
        };
        return format!("{start}.{renamed}");
    }
    if last == "to_out" {
        return format!("{path}.0");
    }
    path
}

/// PEFT's alpha settings per component from diffusers' `lora_adapter_metadata` header entry.
fn peft_config(metadata: &LoraMetadata) -> BTreeMap<LoraComponent, PeftConfig> {
    let Some(json) = metadata
        .entries
        .get("lora_adapter_metadata")
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
    else {
        return BTreeMap::new();
    };
    let mut configs = BTreeMap::new();
    for component in [LoraComponent::Unet, LoraComponent::TextEncoder] {
        let field = |name: &str| json.get(format!("{}.{name}", component.name()));
        let lora_alpha = field("lora_alpha").and_then(serde_json::Value::as_f64);
        if lora_alpha.is_none() && field("r").is_none() {
            continue;
        }
        let alpha_pattern = field("alpha_pattern")
            .and_then(serde_json::Value::as_object)
            .map(|map| {
                map.iter()
                    .filter_map(|(key, value)| Some((key.clone(), value.as_f64()? as f32)))
                    .collect()
            })
            .unwrap_or_default();
        configs.insert(
            component,
            PeftConfig {
                lora_alpha: lora_alpha.map(|alpha| alpha as f32),
                alpha_pattern,
                use_rslora: field("use_rslora")
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false),
            },
        );
    }
    configs
}

fn to_f32(dtype: Dtype, data: &[u8]) -> Option<Vec<f32>> {
    Some(match dtype {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        _ => return None,
    })
}
