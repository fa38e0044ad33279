//! Reading and writing image files: input images and masks in, PNGs with their generation
//! parameters out. Writes are atomic — a temporary file beside the target, flushed, then renamed
//! over it — so an interrupted write never leaves half a file under the final name.

pub mod ora;

use std::path::{Path, PathBuf};

use pentimento_inference::image::{GrayImage, RgbImage};

/// Largest width or height Pentimento opens (larger files are refused before decoding).
pub const MAX_IMAGE_SIDE: u32 = 16_384;

/// Why an image file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageFileError {
    /// The file could not be opened.
    #[error("could not open the image ({source}): {}", path.display())]
    Open {
        /// The operating system's error.
        source: std::io::Error,
        /// The file.
        path: PathBuf,
    },
    /// The file is not a readable image.
    #[error(
        "this file is not a readable PNG, JPEG or WebP image ({reason}); it may be damaged: {}",
        path.display()
    )]
    Decode {
        /// The decoder's explanation.
        reason: String,
        /// The file.
        path: PathBuf,
    },
    /// The image is too large.
    #[error(
        "this image is {width}×{height} pixels; Pentimento opens images up to \
         {MAX_IMAGE_SIDE}×{MAX_IMAGE_SIDE}: {}",
        path.display()
    )]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The file.
        path: PathBuf,
    },
    /// The file could not be written.
    #[error("could not write the image ({reason}); check the folder exists and is writable: {}", path.display())]
    Write {
        /// What went wrong.
        reason: String,
        /// The file.
        path: PathBuf,
    },
}

fn decode(path: &Path) -> Result<image::DynamicImage, ImageFileError> {
    let decode_error = |reason: String| ImageFileError::Decode {
        reason,
        path: path.to_path_buf(),
    };
    // Twice: reading the dimensions (the header only) uses the reader up.
    let open = || {
        image::ImageReader::open(path)
            .map_err(|source| ImageFileError::Open {
                source,
                path: path.to_path_buf(),
            })?
            .with_guessed_format()
            .map_err(|err| decode_error(err.to_string()))
    };
    let (width, height) = open()?
        .into_dimensions()
        .map_err(|err| decode_error(err.to_string()))?;
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(ImageFileError::TooLarge {
            width,
            height,
            path: path.to_path_buf(),
        });
    }
    let mut reader = open()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(2 << 30);
    reader.limits(limits);
    reader.decode().map_err(|err| decode_error(err.to_string()))
}

/// Reads an image file as 8-bit RGB (transparency is composited over white).
pub fn read_rgb(path: &Path) -> Result<RgbImage, ImageFileError> {
    let image = decode(path)?;
    let rgba = image.to_rgba8();
    let (width, height) = rgba.dimensions();
    let mut pixels = Vec::with_capacity(width as usize * height as usize * 3);
    for pixel in rgba.pixels() {
        let [r, g, b, a] = pixel.0;
        let alpha = u32::from(a);
        for channel in [r, g, b] {
            let over_white = (u32::from(channel) * alpha + 255 * (255 - alpha) + 127) / 255;
            pixels.push(over_white as u8);
        }
    }
    Ok(RgbImage {
        width,
        height,
        pixels,
    })
}

/// Reads an image file as straight RGBA8 (for importing as a layer).
pub fn read_rgba(path: &Path) -> Result<(u32, u32, Vec<u8>), ImageFileError> {
    let image = decode(path)?.to_rgba8();
    let (width, height) = image.dimensions();
    Ok((width, height, image.into_raw()))
}

/// Opens a project (`.ora`) or an image (as a document with one layer named after the file).
/// The error is a sentence for the artist.
pub fn open_document(path: &Path) -> Result<crate::document::Document, String> {
    let is_project = path
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("ora"));
    if is_project {
        return ora::open(path).map_err(|err| crate::messages::sentence(&err.to_string()));
    }
    let (width, height, rgba) =
        read_rgba(path).map_err(|err| crate::messages::sentence(&err.to_string()))?;
    let mut document = crate::document::Document::from_parts(
        width,
        height,
        Vec::new(),
        crate::document::tiles::MaskTiles::new(width, height),
        Vec::new(),
    )
    .map_err(|err| crate::messages::sentence(&err.to_string()))?;
    let name = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "Image".to_owned());
    document.import_layer(&name, width, height, &rgba, 0, 0);
    document.mark_saved();
    Ok(document)
}

/// Reads a mask file as 8-bit grey (white = regenerate, black = keep).
pub fn read_mask(path: &Path) -> Result<GrayImage, ImageFileError> {
    let image = decode(path)?;
    let gray = image.to_luma8();
    let (width, height) = gray.dimensions();
    Ok(GrayImage {
        width,
        height,
        pixels: gray.into_raw(),
    })
}

/// Writes an RGB PNG with `text` chunks (generation parameters), atomically.
pub fn write_png(
    path: &Path,
    image: &RgbImage,
    text: &[(&str, String)],
) -> Result<(), ImageFileError> {
    write_png_with(
        path,
        image.width,
        image.height,
        png::ColorType::Rgb,
        &image.pixels,
        text,
    )
}

/// Writes a straight-alpha RGBA PNG with `text` chunks, atomically.
pub fn write_rgba_png(
    path: &Path,
    width: u32,
    height: u32,
    rgba: &[u8],
    text: &[(&str, String)],
) -> Result<(), ImageFileError> {
    write_png_with(path, width, height, png::ColorType::Rgba, rgba, text)
}

fn write_png_with(
    path: &Path,
    width: u32,
    height: u32,
    color: png::ColorType,
    pixels: &[u8],
    text: &[(&str, String)],
) -> Result<(), ImageFileError> {
    let write_error = |reason: String| ImageFileError::Write {
        reason,
        path: path.to_path_buf(),
    };
    pentimento_inference::atomic_file::write_with(path, |file| {
        let mut encoder = png::Encoder::new(file, width, height);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        for (key, value) in text {
            encoder.add_itxt_chunk((*key).to_owned(), value.clone())?;
        }
        let mut writer = encoder.write_header()?;
        writer.write_image_data(pixels)?;
        writer.finish()?;
        Ok(())
    })
    .map_err(|err| write_error(err.to_string()))
}

pub use pentimento_inference::atomic_file::{partial_path, write as write_atomically};
