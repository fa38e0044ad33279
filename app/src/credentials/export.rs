//! A signed export: the flattened document as a PNG with its text chunks (the A1111
//! `parameters` chunk image browsers read, written before signing since a chunk added later
//! breaks the signature), or a JPEG or WebP with the same text in its EXIF UserComment (where
//! A1111 and the browsers that read it look), then its Content Credentials signed in, then
//! written atomically.

use std::path::Path;

use crate::document::compositor::{ProvenanceShares, unpremultiply};
use crate::document::layer::LayerContent;
use crate::document::{Document, GenerationRecord};

use super::manifest::{self, ExportChoices};
use super::{CredentialError, SigningIdentity};

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Encoding or writing the file.
    #[error("could not write {}: {reason}", path.display())]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// Signing.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
}

/// The sampler names A1111 writes for each scheduler.
fn a1111_sampler(scheduler: &str) -> &str {
    match scheduler {
        "euler" => "Euler",
        "euler-a" => "Euler a",
        "ddim" => "DDIM",
        "pndm" => "PLMS",
        "dpmpp-2m" => "DPM++ 2M",
        "dpmpp-2m-karras" => "DPM++ 2M Karras",
        "lcm" => "LCM",
        other => other,
    }
}

/// The A1111 `parameters` text of a generation (prompt, negative prompt, settings line).
pub fn a1111_parameters(record: &GenerationRecord, seed: Option<u32>) -> String {
    let model_hash = record
        .model_files
        .iter()
        .find(|(file, _)| file.starts_with("unet/"))
        .map(|(_, hash)| hash.chars().take(10).collect::<String>());
    let mut settings = vec![
        format!("Steps: {}", record.steps),
        format!("Sampler: {}", a1111_sampler(&record.scheduler)),
        format!("CFG scale: {}", record.guidance),
    ];
    if let Some(seed) = seed.or_else(|| record.seeds.first().copied()) {
        settings.push(format!("Seed: {seed}"));
    }
    settings.push(format!(
        "Size: {}x{}",
        record.generated_size.0, record.generated_size.1
    ));
    if let Some(hash) = model_hash {
        settings.push(format!("Model hash: {hash}"));
    }
    settings.push(format!("Model: {}", record.model));
    if let Some(strength) = record.strength {
        settings.push(format!("Denoising strength: {strength}"));
    }
    if !record.loras.is_empty() {
        let hashes: Vec<String> = record
            .loras
            .iter()
            .map(|lora| {
                format!(
                    "{}: {}",
                    lora.name,
                    &lora.sha256[..lora.sha256.len().min(12)]
                )
            })
            .collect();
        settings.push(format!("Lora hashes: \"{}\"", hashes.join(", ")));
    }
    let tags: String = record
        .loras
        .iter()
        .map(|lora| format!(" <lora:{}:{}>", lora.name, lora.strength))
        .collect();
    let mut text = format!("{}{tags}\n", record.prompt);
    if !record.negative_prompt.is_empty() {
        text.push_str(&format!("Negative prompt: {}\n", record.negative_prompt));
    }
    text.push_str(&settings.join(", "));
    text
}

/// The A1111 text an export carries: when a generation shows and its prompt may be shown.
fn a1111_text(
    document: &Document,
    shares: &ProvenanceShares,
    choices: &ExportChoices,
) -> Option<String> {
    if !choices.show_prompt || shares.generated + shares.generated_then_painted == 0 {
        return None;
    }
    let (record, seed) = shown_generation(document)?;
    Some(a1111_parameters(record, seed))
}

/// An EXIF block (big-endian TIFF) holding only `text` as its UserComment, in the UNICODE
/// encoding of the EXIF specification (an 8-byte `UNICODE\0` prefix, then UTF-16BE).
pub fn exif_user_comment(text: &str) -> Vec<u8> {
    const EXIF_IFD_POINTER: u16 = 0x8769;
    const USER_COMMENT: u16 = 0x9286;
    const LONG: u16 = 4;
    const UNDEFINED: u16 = 7;
    let mut comment = b"UNICODE\0".to_vec();
    comment.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    // Header (8), IFD0 with one entry (2 + 12 + 4) at 8, the EXIF IFD with one entry at 26,
    // the comment after it at 44.
    let mut exif = b"MM\0\x2a".to_vec();
    exif.extend(8_u32.to_be_bytes());
    let entry = |exif: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32| {
        exif.extend(tag.to_be_bytes());
        exif.extend(kind.to_be_bytes());
        exif.extend(count.to_be_bytes());
        exif.extend(value.to_be_bytes());
    };
    exif.extend(1_u16.to_be_bytes());
    entry(&mut exif, EXIF_IFD_POINTER, LONG, 1, 26);
    exif.extend(0_u32.to_be_bytes());
    exif.extend(1_u16.to_be_bytes());
    entry(&mut exif, USER_COMMENT, UNDEFINED, comment.len() as u32, 44);
    exif.extend(0_u32.to_be_bytes());
    exif.extend(comment);
    exif
}

/// Encodes `pixels` with `encoder`, the A1111 `text` (when any) in its EXIF UserComment.
fn encode_with_exif(
    mut encoder: impl image::ImageEncoder,
    text: Option<String>,
    pixels: &[u8],
    (width, height): (u32, u32),
    color: image::ExtendedColorType,
) -> Result<(), String> {
    if let Some(text) = text {
        encoder
            .set_exif_metadata(exif_user_comment(&text))
            .map_err(|err| err.to_string())?;
    }
    encoder
        .write_image(pixels, width, height, color)
        .map_err(|err| err.to_string())
}

/// The topmost visible generative layer's generation and the seed it shows.
fn shown_generation(document: &Document) -> Option<(&GenerationRecord, Option<u32>)> {
    document.layers().iter().rev().find_map(|layer| {
        let LayerContent::Generative(generative) = &layer.content else {
            return None;
        };
        if !layer.properties.visible {
            return None;
        }
        let record = document.generation_record(generative.generation)?;
        Some((record, record.seeds.get(generative.selected).copied()))
    })
}

/// The kinds of file an export can be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// PNG, with transparency and the text chunks.
    Png,
    /// JPEG at a quality of 1–100, over white (JPEG has no transparency).
    Jpeg {
        /// 1–100.
        quality: u8,
    },
    /// Lossless WebP, with transparency.
    Webp,
}

impl ExportFormat {
    /// The format for a file name's extension (`jpeg_quality` for JPEG), if it is one.
    pub fn for_path(path: &Path, jpeg_quality: u8) -> Option<Self> {
        let extension = path.extension()?.to_string_lossy().to_ascii_lowercase();
        match extension.as_str() {
            "png" => Some(Self::Png),
            "jpg" | "jpeg" => Some(Self::Jpeg {
                quality: jpeg_quality.clamp(1, 100),
            }),
            "webp" => Some(Self::Webp),
            _ => None,
        }
    }

    /// Its MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg { .. } => "image/jpeg",
            Self::Webp => "image/webp",
        }
    }
}

/// What an export wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Exported {
    /// What share of the picture is painted and generated.
    pub shares: ProvenanceShares,
    /// How the generated layers' regions were traced and how close they are.
    pub regions: Vec<super::RegionReport>,
}

/// Writes the flattened document to `path` as a PNG with its provenance text chunks and, with
/// an identity, signed Content Credentials. Returns the provenance shares.
pub fn export_png(
    document: &Document,
    path: &Path,
    identity: Option<&SigningIdentity>,
    choices: &ExportChoices,
) -> Result<ProvenanceShares, ExportError> {
    export(document, path, ExportFormat::Png, identity, choices).map(|done| done.shares)
}

/// Writes the flattened document to `path` in `format` and, with an identity, signs Content
/// Credentials into it. PNGs also carry the provenance summary, the generation log and the
/// A1111 `parameters` text.
pub fn export(
    document: &Document,
    path: &Path,
    format: ExportFormat,
    identity: Option<&SigningIdentity>,
    choices: &ExportChoices,
) -> Result<Exported, ExportError> {
    let write_error = |reason: String| ExportError::Write {
        path: path.to_path_buf(),
        reason,
    };
    let bounds = document.bounds();
    let (composite, provenance) = document.composite(&bounds);
    let straight = unpremultiply(&composite);
    let shares = ProvenanceShares::count(&provenance);
    let text = || a1111_text(document, &shares, choices);
    let encoded = match format {
        ExportFormat::Png => {
            encode_png(document, &straight, &shares, choices).map_err(|err| err.to_string())
        }
        ExportFormat::Jpeg { quality } => {
            let rgb: Vec<u8> = straight
                .chunks_exact(4)
                .flat_map(|p| {
                    let alpha = u16::from(p[3]);
                    let over_white =
                        |c: u8| ((u16::from(c) * alpha + 255 * (255 - alpha) + 127) / 255) as u8;
                    [over_white(p[0]), over_white(p[1]), over_white(p[2])]
                })
                .collect();
            let mut bytes = Vec::new();
            encode_with_exif(
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality),
                text(),
                &rgb,
                bounds.size(),
                image::ExtendedColorType::Rgb8,
            )
            .map(|()| bytes)
        }
        ExportFormat::Webp => {
            let mut bytes = Vec::new();
            encode_with_exif(
                image::codecs::webp::WebPEncoder::new_lossless(&mut bytes),
                text(),
                &straight,
                bounds.size(),
                image::ExtendedColorType::Rgba8,
            )
            .map(|()| bytes)
        }
    }
    .map_err(write_error)?;
    let title = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let content = manifest::for_export(document, &provenance, &title, choices);
    let regions = content.regions.clone();
    let bytes = match identity {
        Some(identity) => super::sign(&encoded, format.mime(), &content, identity)?,
        None => encoded,
    };
    crate::io::write_atomically(path, &bytes).map_err(|err| write_error(err.to_string()))?;
    Ok(Exported { shares, regions })
}

/// The PNG of an export with its text chunks.
fn encode_png(
    document: &Document,
    straight: &[u8],
    shares: &ProvenanceShares,
    choices: &ExportChoices,
) -> Result<Vec<u8>, png::EncodingError> {
    let mut log = document.generation_log.clone();
    if !choices.show_prompt {
        for record in &mut log {
            record.prompt.clear();
            record.negative_prompt.clear();
        }
    }
    let mut text = vec![
        (
            "Software".to_owned(),
            format!("Pentimento {}", env!("CARGO_PKG_VERSION")),
        ),
        ("pentimento:provenance".to_owned(), shares.describe()),
        (
            "pentimento:generation-log".to_owned(),
            serde_json::to_string(&log).unwrap_or_default(),
        ),
        (
            "pentimento:layers".to_owned(),
            serde_json::to_string(&document.shown_variations()).unwrap_or_default(),
        ),
    ];
    if let Some(parameters) = a1111_text(document, shares, choices) {
        text.push(("parameters".to_owned(), parameters));
    }
    let bounds = document.bounds();
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, bounds.width(), bounds.height());
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    for (key, value) in &text {
        encoder.add_itxt_chunk(key.clone(), value.clone())?;
    }
    let mut writer = encoder.write_header()?;
    writer.write_image_data(straight)?;
    writer.finish()?;
    Ok(png)
}
