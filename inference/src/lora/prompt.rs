//! A1111 / Forge prompt syntax for LoRAs: `<lora:name:0.8>` anywhere in a prompt applies
//! `name.safetensors` from the LoRA folder at strength 0.8 (`<lora:name>`: strength 1). The tags
//! are taken out of the prompt before it is tokenized, as those tools do. `<lyco:…>` is read the
//! same way. A tag with a third number (`<lora:name:0.8:0.5>`, separate text-encoder and UNet
//! strengths in Forge) uses the first.

use std::path::{Path, PathBuf};

/// A LoRA named in a prompt.
#[derive(Clone, Debug, PartialEq)]
pub struct PromptLora {
    /// The name inside the tag.
    pub name: String,
    /// Its strength.
    pub strength: f32,
}

/// Splits the LoRA tags off a prompt: the prompt without them (spaces around a removed tag
/// collapsed) and the LoRAs in the order they appear. A malformed tag is an error that quotes it.
pub fn take_lora_tags(prompt: &str) -> Result<(String, Vec<PromptLora>), String> {
    let mut rest = prompt;
    let mut text = String::with_capacity(prompt.len());
    let mut loras = Vec::new();
    while let Some(start) = find_tag(rest) {
        text.push_str(&rest[..start]);
        let tag_and_after = &rest[start..];
        let Some(end) = tag_and_after.find('>') else {
            return Err(format!(
                "the LoRA tag \"{}\" in the prompt has no closing '>'",
                tag_and_after.trim_end()
            ));
        };
        let tag = &tag_and_after[..=end];
        let inner = &tag[1..tag.len() - 1];
        let mut parts = inner
            .split_once(':')
            .map_or("", |(_, rest)| rest)
            .split(':');
        let name = parts.next().unwrap_or_default().trim();
        if name.is_empty() {
            return Err(format!(
                "the LoRA tag \"{tag}\" in the prompt names no file; write <lora:name:0.8>"
            ));
        }
        let strength = match parts.next().map(str::trim) {
            None | Some("") => 1.0,
            Some(number) => number
                .parse::<f32>()
                .ok()
                .filter(|s| s.is_finite())
                .ok_or_else(|| {
                    format!(
                        "the strength in the LoRA tag \"{tag}\" is not a number; write for \
                         example <lora:{name}:0.8>"
                    )
                })?,
        };
        loras.push(PromptLora {
            name: name.to_owned(),
            strength,
        });
        rest = &tag_and_after[end + 1..];
    }
    text.push_str(rest);
    let cleaned = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" ,", ",")
        .trim_matches(|c: char| c == ',' || c.is_whitespace())
        .to_owned();
    Ok((cleaned, loras))
}

fn find_tag(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    [lower.find("<lora:"), lower.find("<lyco:")]
        .into_iter()
        .flatten()
        .min()
}

/// Finds `name.safetensors` in `folder` or any folder below it (as A1111 does), the shallowest
/// first; names compare without regard to case.
pub fn find_in_folder(folder: &Path, name: &str) -> Option<PathBuf> {
    let wanted = name.to_lowercase();
    let mut pending = vec![folder.to_path_buf()];
    let mut depth = 0;
    while !pending.is_empty() && depth < 8 {
        let mut below = Vec::new();
        let mut found = Vec::new();
        for dir in pending {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    below.push(path);
                } else if is_lora_file(&path)
                    && path
                        .file_stem()
                        .is_some_and(|stem| stem.to_string_lossy().to_lowercase() == wanted)
                {
                    found.push(path);
                }
            }
        }
        found.sort();
        if let Some(first) = found.into_iter().next() {
            return Some(first);
        }
        pending = below;
        depth += 1;
    }
    None
}

/// Whether a path is a `.safetensors` file.
pub fn is_lora_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("safetensors"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_taken_out_of_the_prompt() {
        let (prompt, loras) = take_lora_tags(
            "a castle, <lora:inkStyle:0.8> at dusk <LORA:detail>, <lyco:grain:-0.5>",
        )
        .expect("reads");
        assert_eq!(prompt, "a castle, at dusk");
        assert_eq!(
            loras,
            [
                PromptLora {
                    name: "inkStyle".into(),
                    strength: 0.8
                },
                PromptLora {
                    name: "detail".into(),
                    strength: 1.0
                },
                PromptLora {
                    name: "grain".into(),
                    strength: -0.5
                },
            ]
        );
        let (prompt, loras) = take_lora_tags("no tags here").expect("reads");
        assert_eq!((prompt.as_str(), loras.len()), ("no tags here", 0));
        let (_, forge) = take_lora_tags("<lora:split:0.7:0.3> x").expect("reads");
        assert_eq!(forge[0].strength, 0.7);
    }

    #[test]
    fn malformed_tags_are_named() {
        let open = take_lora_tags("a <lora:ink:0.8 castle").expect_err("unclosed");
        assert!(open.contains("no closing '>'"), "{open}");
        let nan = take_lora_tags("<lora:ink:lots>").expect_err("not a number");
        assert!(
            nan.contains("<lora:ink:lots>") && nan.contains("not a number"),
            "{nan}"
        );
        let empty = take_lora_tags("<lora::1>").expect_err("no name");
        assert!(empty.contains("names no file"), "{empty}");
    }

    #[test]
    fn names_are_found_below_the_folder() {
        let dir = tempfile::tempdir().expect("folder");
        std::fs::create_dir_all(dir.path().join("styles/ink")).expect("folders");
        std::fs::write(dir.path().join("styles/ink/InkStyle.safetensors"), b"x").expect("file");
        std::fs::write(dir.path().join("inkstyle.ckpt"), b"x").expect("file");
        assert_eq!(
            find_in_folder(dir.path(), "inkstyle"),
            Some(dir.path().join("styles/ink/InkStyle.safetensors"))
        );
        assert_eq!(find_in_folder(dir.path(), "missing"), None);
    }
}
