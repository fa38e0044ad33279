//! OpenRaster (`.ora`) projects: the layers as PNGs in the standard `stack.xml`, so Krita, GIMP
//! and MyPaint open the file, plus Pentimento's own data in `pentimento/` — generative layers'
//! raw results and parameters, the mask, the provenance map and the generation log.
//!
//! Reading is defensive: paths must stay inside the archive, every entry's decompressed size is
//! bounded, and images may not exceed the canvas.

use std::io::{Read as _, Seek, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::document::choice::{self, MAX_VARIATIONS};
use crate::document::compositor::{Provenance, unpremultiply};
use crate::document::generative::{GenerativeLayer, GenerativeParams};
use crate::document::layer::{BlendMode, Layer, LayerContent, LayerId, LayerProperties};
use crate::document::tiles::{MaskTiles, PixelRect, RgbaTiles};
use crate::document::{Document, GenerationRecord, ImportRecord, MAX_SIDE};

/// Bumped when `pentimento/document.json` changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;
/// Largest decompressed size of one archive entry.
const MAX_ENTRY_BYTES: u64 = 1 << 30;
/// Largest total decompressed size of a project.
const MAX_TOTAL_BYTES: u64 = 8 << 30;

/// Why a project could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OraError {
    /// The file could not be opened or written.
    #[error("could not {action} the project ({reason}): {}", path.display())]
    Io {
        /// "open" or "save".
        action: &'static str,
        /// The system's explanation.
        reason: String,
        /// The file.
        path: PathBuf,
    },
    /// The file is not a usable OpenRaster project.
    #[error("this is not a usable OpenRaster project ({reason}); nothing was changed: {}", path.display())]
    Invalid {
        /// What is wrong.
        reason: String,
        /// The file.
        path: PathBuf,
    },
}

/// Pentimento's data inside the project.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct DocumentData {
    format: u32,
    app_version: String,
    layers: Vec<LayerData>,
    mask: Option<String>,
    provenance: Option<String>,
    #[serde(default)]
    generation_log: Vec<GenerationRecord>,
    /// Images brought in; each one's own manifest store, when it had one, is in
    /// `pentimento/imports/<id>.c2pa`.
    #[serde(default)]
    imports: Vec<ImportRecord>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct LayerData {
    id: u64,
    /// The layer's PNG in `stack.xml` (ties this record to it).
    src: String,
    locked: bool,
    generative: Option<GenerativeData>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct GenerativeData {
    region: PixelRect,
    params: GenerativeParams,
    selected: usize,
    generation: u64,
    variations: Vec<String>,
    mask: String,
    /// The artist's pixels the generation was given (what colour match matches to).
    #[serde(default)]
    context: Option<String>,
    /// What made the pixels (a model, or content-aware fill).
    #[serde(default)]
    origin: crate::document::generative::Origin,
    /// Where the variation brush painted each variation: its weights (L8 at region size), by
    /// variation index; variations it never painted have none.
    #[serde(default)]
    choice: Vec<(usize, String)>,
}

// ---- Writing -----------------------------------------------------------------------------------

fn png_bytes(width: u32, height: u32, color: image::ExtendedColorType, data: &[u8]) -> Vec<u8> {
    use image::ImageEncoder as _;
    let mut out = Vec::new();
    let encoder = image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::Adaptive,
    );
    // Encoding into memory cannot fail for valid sizes.
    let _ = encoder.write_image(data, width, height, color);
    out
}

/// Serialises a document into OpenRaster bytes.
pub fn to_bytes(document: &Document) -> Vec<u8> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut cursor);
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        // PNGs are compressed already.
        let deflated = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let add = |zip: &mut zip::ZipWriter<&mut std::io::Cursor<Vec<u8>>>,
                   name: &str,
                   data: &[u8],
                   options: zip::write::SimpleFileOptions| {
            let _ = zip.start_file(name, options);
            let _ = zip.write_all(data);
        };
        add(&mut zip, "mimetype", b"image/openraster", stored);

        let mut stack = String::new();
        let mut layers_data = Vec::new();
        // stack.xml lists layers top first.
        for layer in document.layers().iter().rev() {
            let pixels = layer.pixels();
            let bounds = pixels.content_bounds(3);
            let (x, y, width, height, rgba) = if bounds.is_empty() {
                (0, 0, 1, 1, vec![0; 4])
            } else {
                (
                    bounds.x0,
                    bounds.y0,
                    bounds.width(),
                    bounds.height(),
                    pixels.read_rect(&bounds),
                )
            };
            let src = format!("data/layer{}.png", layer.id.0);
            add(
                &mut zip,
                &src,
                &png_bytes(width, height, image::ExtendedColorType::Rgba8, &rgba),
                stored,
            );
            let properties = &layer.properties;
            stack.push_str(&format!(
                "    <layer name=\"{}\" src=\"{src}\" x=\"{x}\" y=\"{y}\" opacity=\"{:.3}\" \
                 visibility=\"{}\" composite-op=\"{}\"/>\n",
                xml_escape(&properties.name),
                properties.opacity,
                if properties.visible {
                    "visible"
                } else {
                    "hidden"
                },
                properties.blend.openraster(),
            ));
            let generative = match &layer.content {
                LayerContent::Paint(_) => None,
                LayerContent::Generative(generative) => {
                    let region = generative.region;
                    // One PNG at region size per part, named after the layer; returns the name.
                    let mut add_part = |part: &str, color, data: &[u8]| {
                        let name = format!("pentimento/generative/layer{}-{part}.png", layer.id.0);
                        let png = png_bytes(region.width(), region.height(), color, data);
                        add(&mut zip, &name, &png, stored);
                        name
                    };
                    let variations = generative
                        .variations
                        .iter()
                        .enumerate()
                        .map(|(index, raw)| {
                            add_part(&index.to_string(), image::ExtendedColorType::Rgb8, raw)
                        })
                        .collect();
                    let mask = add_part("mask", image::ExtendedColorType::L8, &generative.mask);
                    let context = generative.context.as_ref().map(|context| {
                        add_part("context", image::ExtendedColorType::Rgb8, context)
                    });
                    let choice = generative.choice().map_or_else(Vec::new, |choice| {
                        (0..generative.variations.len().min(MAX_VARIATIONS))
                            .filter_map(|variation| {
                                let weights = choice::channel(choice, &region, variation)?;
                                let part = format!("choice{variation}");
                                Some((
                                    variation,
                                    add_part(&part, image::ExtendedColorType::L8, &weights),
                                ))
                            })
                            .collect()
                    });
                    Some(GenerativeData {
                        region,
                        params: generative.params,
                        selected: generative.selected,
                        generation: generative.generation,
                        variations,
                        mask,
                        context,
                        origin: generative.origin,
                        choice,
                    })
                }
            };
            layers_data.push(LayerData {
                id: layer.id.0,
                src,
                locked: properties.locked,
                generative,
            });
        }
        let stack_xml = format!(
            "<?xml version='1.0' encoding='UTF-8'?>\n<image version=\"0.0.5\" w=\"{}\" h=\"{}\">\n  <stack>\n{stack}  </stack>\n</image>\n",
            document.width(),
            document.height()
        );
        add(&mut zip, "stack.xml", stack_xml.as_bytes(), deflated);

        let bounds = document.bounds();
        let (composite, provenance) = document.composite(&bounds);
        let merged = unpremultiply(&composite);
        add(
            &mut zip,
            "mergedimage.png",
            &png_bytes(
                bounds.width(),
                bounds.height(),
                image::ExtendedColorType::Rgba8,
                &merged,
            ),
            stored,
        );
        if let Some(thumbnail) = image::RgbaImage::from_raw(bounds.width(), bounds.height(), merged)
        {
            let scale = 256.0 / bounds.width().max(bounds.height()) as f32;
            let (w, h) = if scale < 1.0 {
                (
                    ((bounds.width() as f32 * scale) as u32).max(1),
                    ((bounds.height() as f32 * scale) as u32).max(1),
                )
            } else {
                (bounds.width(), bounds.height())
            };
            let small = image::imageops::thumbnail(&thumbnail, w, h);
            add(
                &mut zip,
                "Thumbnails/thumbnail.png",
                &png_bytes(w, h, image::ExtendedColorType::Rgba8, small.as_raw()),
                stored,
            );
        }
        let mask = document.mask().read_rect(&bounds);
        add(
            &mut zip,
            "pentimento/mask.png",
            &png_bytes(
                bounds.width(),
                bounds.height(),
                image::ExtendedColorType::L8,
                &mask,
            ),
            stored,
        );
        let provenance: Vec<u8> = provenance.iter().map(|&p| p as u8).collect();
        add(
            &mut zip,
            "pentimento/provenance.png",
            &png_bytes(
                bounds.width(),
                bounds.height(),
                image::ExtendedColorType::L8,
                &provenance,
            ),
            stored,
        );
        let data = DocumentData {
            format: FORMAT_VERSION,
            app_version: env!("CARGO_PKG_VERSION").to_owned(),
            layers: layers_data,
            mask: Some("pentimento/mask.png".to_owned()),
            provenance: Some("pentimento/provenance.png".to_owned()),
            generation_log: document.generation_log.clone(),
            imports: document.imports.clone(),
        };
        for import in &document.imports {
            if let Some(store) = &import.manifest_store {
                add(&mut zip, &import_store_name(import.id), store, stored);
            }
        }
        let json = serde_json::to_vec_pretty(&data).unwrap_or_default();
        add(&mut zip, "pentimento/document.json", &json, deflated);
        let _ = zip.finish();
    }
    cursor.into_inner()
}

/// Saves a document atomically (temporary file, flush, rename).
pub fn save(document: &Document, path: &Path) -> Result<(), OraError> {
    let bytes = to_bytes(document);
    super::write_atomically(path, &bytes).map_err(|err| OraError::Io {
        action: "save",
        reason: err.to_string(),
        path: path.to_path_buf(),
    })
}

/// Where an import's own manifest store is kept in the archive.
fn import_store_name(id: u64) -> String {
    format!("pentimento/imports/{id}.c2pa")
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

// ---- Reading -----------------------------------------------------------------------------------

struct Archive<R: std::io::Read + Seek> {
    zip: zip::ZipArchive<R>,
    total: u64,
}

impl<R: std::io::Read + Seek> Archive<R> {
    /// An entry's bytes; the name must be a relative path inside the archive and the
    /// decompressed size bounded.
    fn read(&mut self, name: &str) -> Result<Vec<u8>, String> {
        if name.starts_with('/')
            || name.starts_with('\\')
            || name.contains(':')
            || name.split(['/', '\\']).any(|part| part == "..")
        {
            return Err(format!(
                "it refers to a file outside the project (\"{name}\")"
            ));
        }
        let entry = self
            .zip
            .by_name(name)
            .map_err(|_| format!("\"{name}\" is missing"))?;
        // The size the archive declares is checked first (a bomb is refused without inflating
        // it); the bytes actually read are bounded as well, for archives that lie.
        if entry.size() > MAX_ENTRY_BYTES {
            return Err(format!("\"{name}\" is larger than a project file may be"));
        }
        let mut data = Vec::new();
        let read = entry
            .take(MAX_ENTRY_BYTES + 1)
            .read_to_end(&mut data)
            .map_err(|err| format!("\"{name}\" is damaged ({err})"))?;
        if read as u64 > MAX_ENTRY_BYTES {
            return Err(format!("\"{name}\" is larger than a project file may be"));
        }
        self.total += read as u64;
        if self.total > MAX_TOTAL_BYTES {
            return Err("it unpacks to more data than a project may hold".to_owned());
        }
        Ok(data)
    }

    fn image(&mut self, name: &str, max: (u32, u32)) -> Result<image::DynamicImage, String> {
        let data = self.read(name)?;
        let mut reader = image::ImageReader::new(std::io::Cursor::new(&data))
            .with_guessed_format()
            .map_err(|err| format!("\"{name}\" is not an image ({err})"))?;
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(max.0);
        limits.max_image_height = Some(max.1);
        limits.max_alloc = Some(2 << 30);
        reader.limits(limits);
        reader
            .decode()
            .map_err(|err| format!("\"{name}\" is not a readable image ({err})"))
    }
}

/// Reads a project.
pub fn open(path: &Path) -> Result<Document, OraError> {
    let file = std::fs::File::open(path).map_err(|err| OraError::Io {
        action: "open",
        reason: err.to_string(),
        path: path.to_path_buf(),
    })?;
    read(std::io::BufReader::new(file)).map_err(|reason| OraError::Invalid {
        reason,
        path: path.to_path_buf(),
    })
}

/// Reads a project from any seekable reader.
pub fn read<R: std::io::Read + Seek>(reader: R) -> Result<Document, String> {
    let zip =
        zip::ZipArchive::new(reader).map_err(|err| format!("it is not a zip archive ({err})"))?;
    let mut archive = Archive { zip, total: 0 };
    let stack = String::from_utf8(archive.read("stack.xml")?)
        .map_err(|_| "its stack.xml is not text".to_owned())?;
    let xml = roxmltree::Document::parse(&stack)
        .map_err(|err| format!("its stack.xml is not valid XML ({err})"))?;
    let root = xml.root_element();
    let number = |node: roxmltree::Node<'_, '_>, key: &str, default: u32| -> Result<u32, String> {
        match node.attribute(key) {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|value| value.is_finite() && *value >= 0.0 && *value <= f64::from(u32::MAX))
                .map(|value| value as u32)
                .ok_or_else(|| format!("stack.xml has {key}=\"{text}\", not a size")),
        }
    };
    let width = number(root, "w", 0)?;
    let height = number(root, "h", 0)?;
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!(
            "the canvas is {width}×{height}; Pentimento opens canvases up to {MAX_SIDE}×{MAX_SIDE}"
        ));
    }

    let data: Option<DocumentData> = match archive.read("pentimento/document.json") {
        Ok(bytes) => Some(
            serde_json::from_slice(&bytes)
                .map_err(|err| format!("pentimento/document.json is damaged ({err})"))?,
        ),
        Err(_) => None,
    };
    if let Some(data) = &data
        && data.format > FORMAT_VERSION
    {
        return Err(format!(
            "it was saved by a newer Pentimento (format {}); update Pentimento to open it",
            data.format
        ));
    }

    // Layers, top first in the file; nested stacks (groups) are flattened into the list.
    let mut layers = Vec::new();
    let mut next_id = 1_u64;
    for node in root.descendants().filter(|node| node.has_tag_name("layer")) {
        let src = node
            .attribute("src")
            .ok_or_else(|| "a layer in stack.xml has no src".to_owned())?;
        let x = number(node, "x", 0)?;
        let y = number(node, "y", 0)?;
        let image = archive.image(src, (width, height))?.to_rgba8();
        let mut tiles = RgbaTiles::new(width, height);
        tiles.write_rect(
            &PixelRect::new(x, y, image.width(), image.height()),
            image.as_raw(),
        );
        let opacity = node
            .attribute("opacity")
            .and_then(|text| text.trim().parse::<f32>().ok())
            .filter(|value| value.is_finite())
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        let ours = data
            .as_ref()
            .and_then(|data| data.layers.iter().find(|layer| layer.src == src));
        let id = ours.map_or(next_id, |layer| layer.id);
        next_id = next_id.max(id) + 1;
        let properties = LayerProperties {
            name: node.attribute("name").unwrap_or("Layer").to_owned(),
            visible: node.attribute("visibility") != Some("hidden"),
            opacity,
            blend: BlendMode::from_openraster(node.attribute("composite-op").unwrap_or("")),
            locked: ours.is_some_and(|layer| layer.locked),
        };
        let content = match ours.and_then(|layer| layer.generative.as_ref()) {
            Some(generative) => {
                let region = generative.region;
                if region.is_empty() || region.x1 > width || region.y1 > height {
                    return Err(format!(
                        "a generative layer's region {region:?} is outside the canvas"
                    ));
                }
                let size = (region.width(), region.height());
                let mut variations = Vec::new();
                for name in &generative.variations {
                    let raw = archive.image(name, size)?.to_rgb8();
                    if raw.dimensions() != size {
                        return Err(format!("\"{name}\" does not match its region"));
                    }
                    variations.push(Arc::new(raw.into_raw()));
                }
                let mask = archive.image(&generative.mask, size)?.to_luma8();
                if mask.dimensions() != size || variations.is_empty() {
                    return Err(format!(
                        "the generative layer \"{}\" is incomplete",
                        properties.name
                    ));
                }
                let context = match &generative.context {
                    Some(name) => {
                        let context = archive.image(name, size)?.to_rgb8();
                        if context.dimensions() != size {
                            return Err(format!("\"{name}\" does not match its region"));
                        }
                        Some(Arc::new(context.into_raw()))
                    }
                    None => None,
                };
                let variations_count = variations.len();
                let mut layer = GenerativeLayer::new(
                    (width, height),
                    region,
                    variations,
                    Arc::new(mask.into_raw()),
                    generative.params,
                    generative.generation,
                )
                .with_selected(generative.selected)
                .with_origin(generative.origin);
                if let Some(context) = context {
                    layer = layer.with_context(context);
                }
                let mut channels = Vec::new();
                for (variation, name) in &generative.choice {
                    if *variation >= variations_count.min(MAX_VARIATIONS) {
                        return Err(format!(
                            "\"{name}\" chooses variation {} of a layer with {variations_count}",
                            variation + 1
                        ));
                    }
                    let weights = archive.image(name, size)?.to_luma8();
                    if weights.dimensions() != size {
                        return Err(format!("\"{name}\" does not match its region"));
                    }
                    channels.push((*variation, weights.into_raw()));
                }
                if !channels.is_empty() {
                    layer = layer.with_choice(choice::from_channels(
                        (width, height),
                        &region,
                        &channels,
                    ));
                }
                LayerContent::Generative(Arc::new(layer))
            }
            None => LayerContent::Paint(tiles),
        };
        layers.push(Layer {
            id: LayerId(id),
            properties,
            content,
        });
    }
    layers.reverse();
    if layers.is_empty() {
        layers.push(Layer {
            id: LayerId(next_id),
            properties: LayerProperties::named("Layer 1"),
            content: LayerContent::Paint(RgbaTiles::new(width, height)),
        });
    }

    let mut mask = MaskTiles::new(width, height);
    if let Some(name) = data.as_ref().and_then(|data| data.mask.clone()) {
        let image = archive.image(&name, (width, height))?.to_luma8();
        mask.write_rect(
            &PixelRect::new(0, 0, image.width(), image.height()),
            image.as_raw(),
        );
    }
    let (log, mut imports) = data
        .map(|data| (data.generation_log, data.imports))
        .unwrap_or_default();
    for import in &mut imports {
        // A missing store only loses what the image's own credentials said, not the record.
        import.manifest_store = archive
            .read(&import_store_name(import.id))
            .ok()
            .map(Arc::new);
    }
    let mut document =
        Document::from_parts(width, height, layers, mask, log).map_err(|err| err.to_string())?;
    document.imports = imports;
    Ok(document)
}

/// The provenance map saved in a project (for verifying what it claims).
pub fn saved_provenance(path: &Path) -> Result<Vec<Provenance>, OraError> {
    let invalid = |reason: String| OraError::Invalid {
        reason,
        path: path.to_path_buf(),
    };
    let file = std::fs::File::open(path).map_err(|err| OraError::Io {
        action: "open",
        reason: err.to_string(),
        path: path.to_path_buf(),
    })?;
    let zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|err| invalid(err.to_string()))?;
    let mut archive = Archive { zip, total: 0 };
    let image = archive
        .image("pentimento/provenance.png", (MAX_SIDE, MAX_SIDE))
        .map_err(invalid)?
        .to_luma8();
    Ok(image
        .as_raw()
        .iter()
        .map(|&value| Provenance::from_byte(value))
        .collect())
}
