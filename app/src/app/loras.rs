//! The LoRAs the artist can choose from: the files in the LoRA folder (and any chosen
//! elsewhere), each with the metadata its header holds, read when the prompt panel asks; and the
//! LoRAs a generation asks for, from the list and from `<lora:name:0.8>` in the prompt.

use std::path::{Path, PathBuf};

use pentimento_inference::lora::LoraMetadata;
use pentimento_inference::lora::LoraRequest;
use pentimento_inference::lora::prompt::{find_in_folder, is_lora_file, take_lora_tags};

use super::PentimentoApp;
use crate::settings::ChosenLora;

/// One LoRA file the app knows of.
#[derive(Clone, Debug)]
pub struct LibraryEntry {
    /// The file.
    pub path: PathBuf,
    /// Its name (file name without extension).
    pub name: String,
    /// Its header metadata, or why it could not be read.
    pub about: Result<LoraMetadata, String>,
}

/// The LoRA folder's files and the chosen ones, with their metadata.
#[derive(Clone, Debug, Default)]
pub struct LoraLibrary {
    /// The folder listed.
    pub folder: PathBuf,
    /// Its LoRA files (below it too), by name, then the chosen files outside it.
    pub entries: Vec<LibraryEntry>,
    /// Whether the folder has been read.
    pub scanned: bool,
}

impl LoraLibrary {
    /// Lists `folder` (and the folders below it) and reads each file's header; `chosen` files
    /// outside it are read too.
    pub fn scan(folder: &Path, chosen: &[ChosenLora]) -> Self {
        let mut paths = Vec::new();
        let mut pending = vec![folder.to_path_buf()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    if pending.len() < 256 {
                        pending.push(path);
                    }
                } else if is_lora_file(&path) {
                    paths.push(path);
                }
            }
        }
        paths.sort_by_key(|path| name_of(path).to_lowercase());
        for lora in chosen {
            if !paths.contains(&lora.path) {
                paths.push(lora.path.clone());
            }
        }
        let entries = paths
            .into_iter()
            .map(|path| LibraryEntry {
                name: name_of(&path),
                about: LoraMetadata::read_header(&path).map_err(|err| err.to_string()),
                path,
            })
            .collect();
        Self {
            folder: folder.to_path_buf(),
            entries,
            scanned: true,
        }
    }

    /// The entry for a file.
    pub fn entry(&self, path: &Path) -> Option<&LibraryEntry> {
        self.entries.iter().find(|entry| entry.path == path)
    }
}

fn name_of(path: &Path) -> String {
    path.file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The prompt to generate with (without its `<lora:…>` tags) and the LoRAs asked for: the
/// enabled ones of the list, then the tags (found among the list's files, then in the folder).
pub fn requested(
    prompt: &str,
    chosen: &[ChosenLora],
    folder: &Path,
) -> Result<(String, Vec<LoraRequest>), String> {
    let (prompt, tags) = take_lora_tags(prompt)?;
    let mut loras: Vec<LoraRequest> = chosen
        .iter()
        .filter(|lora| lora.enabled)
        .map(|lora| LoraRequest {
            path: lora.path.clone(),
            strength: lora.strength,
        })
        .collect();
    for tag in tags {
        let listed = chosen
            .iter()
            .find(|lora| lora.name().eq_ignore_ascii_case(&tag.name))
            .map(|lora| lora.path.clone());
        let Some(path) = listed.or_else(|| find_in_folder(folder, &tag.name)) else {
            return Err(format!(
                "The prompt asks for <lora:{}>, but there is no {}.safetensors in the LoRA folder \
                 ({}); put the file there, or add it with Add LoRA.",
                tag.name,
                tag.name,
                folder.display()
            ));
        };
        loras.push(LoraRequest {
            path,
            strength: tag.strength,
        });
    }
    Ok((prompt, loras))
}

impl PentimentoApp {
    /// Reads the LoRA folder again.
    pub(super) fn refresh_loras(&mut self) {
        let folder = self.settings.lora_dir(&self.folders);
        self.loras = LoraLibrary::scan(&folder, &self.settings.generation.loras);
    }

    /// Adds a LoRA file to the prompt panel's list (at strength 1), once.
    pub(super) fn add_lora(&mut self, path: PathBuf) {
        let list = &mut self.settings.generation.loras;
        if !list.iter().any(|lora| lora.path == path) {
            list.push(ChosenLora {
                path,
                strength: 1.0,
                enabled: true,
            });
        }
        self.save_settings();
        self.refresh_loras();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_found_in_the_list_first_then_in_the_folder() {
        let folder = tempfile::tempdir().expect("folder");
        std::fs::create_dir_all(folder.path().join("styles")).expect("folder");
        let in_folder = folder.path().join("styles/grain.safetensors");
        std::fs::write(&in_folder, b"x").expect("file");
        let listed = ChosenLora {
            path: PathBuf::from("/elsewhere/Ink.safetensors"),
            strength: 0.7,
            enabled: true,
        };
        let off = ChosenLora {
            path: PathBuf::from("/elsewhere/off.safetensors"),
            strength: 1.0,
            enabled: false,
        };
        let (prompt, loras) = requested(
            "a harbour <lora:ink:0.4>, <lora:grain>",
            &[listed.clone(), off],
            folder.path(),
        )
        .expect("found");
        assert_eq!(prompt, "a harbour");
        let found: Vec<(PathBuf, f32)> = loras
            .into_iter()
            .map(|lora| (lora.path, lora.strength))
            .collect();
        assert_eq!(
            found,
            [
                (listed.path.clone(), 0.7),
                (listed.path, 0.4),
                (in_folder, 1.0)
            ]
        );
        let missing = requested("<lora:nowhere>", &[], folder.path()).expect_err("missing");
        assert!(missing.contains("no nowhere.safetensors"), "{missing}");
    }
}
