//! The CPU reference compositor: layers bottom to top, W3C compositing with premultiplied
//! colour (normal, multiply, screen), layer opacity and visibility. The GPU compositor
//! (`shaders/composite.wgsl`) computes the same and is tested against this within 1/255; export,
//! `pentimento flatten` and region flattening for generation use this one.
//!
//! The same pass classifies where each pixel's visible colour came from (provenance).

use crate::document::layer::{BlendMode, Layer};
use crate::document::tiles::{PixelRect, TILE};

/// Where a pixel's visible colour came from.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[repr(u8)]
pub enum Provenance {
    /// Nothing visible.
    #[default]
    Empty = 0,
    /// Painted (or imported) by hand only.
    Hand = 1,
    /// Generated, with nothing painted over it.
    Generated = 2,
    /// Generated, then painted over by hand.
    GeneratedThenPainted = 3,
    /// Filled by content-aware fill (from the picture's own pixels, no model), nothing painted
    /// over it.
    Filled = 4,
    /// Filled, then painted over by hand.
    FilledThenPainted = 5,
}

impl Provenance {
    /// From its byte (unknown values read as empty).
    pub fn from_byte(value: u8) -> Self {
        match value {
            1 => Self::Hand,
            2 => Self::Generated,
            3 => Self::GeneratedThenPainted,
            4 => Self::Filled,
            5 => Self::FilledThenPainted,
            _ => Self::Empty,
        }
    }
}

/// Blends premultiplied `source` (already multiplied by layer opacity) over `backdrop`.
#[inline(always)]
fn blend(mode: BlendMode, source: [f32; 4], backdrop: [f32; 4]) -> [f32; 4] {
    let (sa, ba) = (source[3], backdrop[3]);
    let mut out = [0.0; 4];
    for c in 0..3 {
        let (cs, cb) = (source[c], backdrop[c]);
        out[c] = match mode {
            BlendMode::Normal => cs + cb * (1.0 - sa),
            BlendMode::Multiply => cs * cb + cs * (1.0 - ba) + cb * (1.0 - sa),
            BlendMode::Screen => cs + cb - cs * cb,
        };
    }
    out[3] = sa + ba * (1.0 - sa);
    out
}

/// Straight RGBA8 to premultiplied 0..1, times `opacity`.
#[inline(always)]
fn premultiply(pixel: [u8; 4], opacity: f32) -> [f32; 4] {
    let a = f32::from(pixel[3]) / 255.0 * opacity;
    [
        f32::from(pixel[0]) / 255.0 * a,
        f32::from(pixel[1]) / 255.0 * a,
        f32::from(pixel[2]) / 255.0 * a,
        a,
    ]
}

fn to_byte(value: f32) -> u8 {
    crate::document::brush::round_byte(value * 255.0)
}

/// The composite of a rectangle as premultiplied RGBA8 (`width × height × 4`), and the
/// provenance of each pixel. Bands of rows are composited in parallel.
pub fn composite(layers: &[Layer], rect: &PixelRect) -> (Vec<u8>, Vec<Provenance>) {
    use rayon::prelude::*;
    let (width, height) = (rect.width() as usize, rect.height() as usize);
    let mut out = vec![0_u8; width * height * 4];
    let mut provenance = vec![Provenance::Empty; width * height];
    if width == 0 || height == 0 {
        return (out, provenance);
    }
    // Bands end on tile rows so that each reads whole tile rows.
    let band_rows = (TILE as usize).min(height).max(1);
    let first_band = (TILE - rect.y0 % TILE) as usize;
    let mut bands: Vec<(usize, usize)> = Vec::new();
    let mut y = 0;
    while y < height {
        let rows = if y == 0 {
            first_band.min(height)
        } else {
            band_rows.min(height - y)
        };
        bands.push((y, rows));
        y += rows;
    }
    let mut out_parts = Vec::with_capacity(bands.len());
    let mut provenance_parts = Vec::with_capacity(bands.len());
    let (mut out_rest, mut provenance_rest) = (out.as_mut_slice(), provenance.as_mut_slice());
    for &(_, rows) in &bands {
        let (band, rest) = out_rest.split_at_mut(rows * width * 4);
        out_parts.push(band);
        out_rest = rest;
        let (band, rest) = provenance_rest.split_at_mut(rows * width);
        provenance_parts.push(band);
        provenance_rest = rest;
    }
    bands
        .par_iter()
        .zip(
            out_parts
                .into_par_iter()
                .zip(provenance_parts.into_par_iter()),
        )
        .for_each(|(&(y, rows), (out, provenance))| {
            let band = PixelRect::new(rect.x0, rect.y0 + y as u32, width as u32, rows as u32);
            composite_band(layers, &band, out, provenance);
        });
    (out, provenance)
}

/// Provenance flags per pixel while compositing.
const GENERATED: u8 = 1;
const PAINTED: u8 = 2;
const PAINTED_OVER: u8 = 4;
const FILLED: u8 = 8;

fn composite_band(
    layers: &[Layer],
    rect: &PixelRect,
    out: &mut [u8],
    provenance: &mut [Provenance],
) {
    let width = rect.width() as usize;
    let count = width * rect.height() as usize;
    let mut accumulator = vec![[0.0_f32; 4]; count];
    let mut flags = vec![0_u8; count];
    for layer in layers.iter().filter(|layer| layer.properties.visible) {
        let opacity = layer.properties.opacity.clamp(0.0, 1.0);
        if opacity <= 0.0 {
            continue;
        }
        let mode = layer.properties.blend;
        let pixels = layer.pixels();
        // What a generative layer adds: a model's result, or a fill's.
        let made = match layer.generative_origin() {
            Some(crate::document::generative::Origin::Model) => GENERATED,
            Some(crate::document::generative::Origin::Fill) => FILLED,
            None => 0,
        };
        for (tile, part) in pixels.stored_parts(rect) {
            for y in part.y0..part.y1 {
                let source_row = ((y % TILE) * TILE) as usize;
                let target_row = (y - rect.y0) as usize * width;
                for x in part.x0..part.x1 {
                    let offset = (source_row + (x % TILE) as usize) * 4;
                    let pixel = [
                        tile[offset],
                        tile[offset + 1],
                        tile[offset + 2],
                        tile[offset + 3],
                    ];
                    if pixel[3] == 0 {
                        continue;
                    }
                    let target = target_row + (x - rect.x0) as usize;
                    let source = premultiply(pixel, opacity);
                    accumulator[target] = if mode == BlendMode::Normal && source[3] >= 1.0 {
                        // An opaque normal pixel hides everything below it.
                        source
                    } else {
                        blend(mode, source, accumulator[target])
                    };
                    let flag = &mut flags[target];
                    *flag = if made != 0 {
                        (*flag | made) & !PAINTED_OVER
                    } else if *flag & (GENERATED | FILLED) != 0 {
                        *flag | PAINTED | PAINTED_OVER
                    } else {
                        *flag | PAINTED
                    };
                }
            }
        }
    }
    for (index, value) in accumulator.iter().enumerate() {
        let pixel = &mut out[index * 4..index * 4 + 4];
        for c in 0..4 {
            pixel[c] = to_byte(value[c]);
        }
        let flag = flags[index];
        provenance[index] = if pixel[3] == 0 {
            Provenance::Empty
        } else if flag & GENERATED != 0 {
            // A model's pixels anywhere below make the pixel generated, whatever else is there.
            if flag & PAINTED_OVER != 0 {
                Provenance::GeneratedThenPainted
            } else {
                Provenance::Generated
            }
        } else if flag & FILLED != 0 {
            if flag & PAINTED_OVER != 0 {
                Provenance::FilledThenPainted
            } else {
                Provenance::Filled
            }
        } else if flag & PAINTED != 0 {
            Provenance::Hand
        } else {
            Provenance::Empty
        };
    }
}

/// Premultiplied RGBA8 to straight RGBA8 (for PNG).
pub fn unpremultiply(premultiplied: &[u8]) -> Vec<u8> {
    let mut out = premultiplied.to_vec();
    for pixel in out.chunks_exact_mut(4) {
        let a = pixel[3];
        if a == 0 {
            pixel.copy_from_slice(&[0, 0, 0, 0]);
        } else if a < 255 {
            for channel in &mut pixel[..3] {
                *channel =
                    ((u32::from(*channel) * 255 + u32::from(a) / 2) / u32::from(a)).min(255) as u8;
            }
        }
    }
    out
}

/// Premultiplied RGBA8 over an opaque colour, as RGB8 (what a model sees of the canvas).
pub fn over_color(premultiplied: &[u8], background: [u8; 3]) -> Vec<u8> {
    let mut out = Vec::with_capacity(premultiplied.len() / 4 * 3);
    for pixel in premultiplied.chunks_exact(4) {
        let inverse = 255 - u32::from(pixel[3]);
        for c in 0..3 {
            let value = u32::from(pixel[c]) + (u32::from(background[c]) * inverse + 127) / 255;
            out.push(value.min(255) as u8);
        }
    }
    out
}

/// The shares of hand-made and generated pixels among the visible ones.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProvenanceShares {
    /// Visible pixels.
    pub visible: u64,
    /// Painted by hand only.
    pub hand: u64,
    /// Generated, untouched.
    pub generated: u64,
    /// Generated, then painted over.
    pub generated_then_painted: u64,
    /// Filled by content-aware fill (no model), untouched.
    pub filled: u64,
    /// Filled, then painted over.
    pub filled_then_painted: u64,
}

impl ProvenanceShares {
    /// Counts a provenance map.
    pub fn count(map: &[Provenance]) -> Self {
        let mut shares = Self::default();
        for &value in map {
            match value {
                Provenance::Empty => continue,
                Provenance::Hand => shares.hand += 1,
                Provenance::Generated => shares.generated += 1,
                Provenance::GeneratedThenPainted => shares.generated_then_painted += 1,
                Provenance::Filled => shares.filled += 1,
                Provenance::FilledThenPainted => shares.filled_then_painted += 1,
            }
            shares.visible += 1;
        }
        shares
    }

    /// The shares in words: "62.0% painted by hand, 38.0% generated, …" (filled ones only when
    /// there are any).
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{:.1}% painted by hand, {:.1}% generated, {:.1}% generated then painted over",
            self.percent(self.hand),
            self.percent(self.generated),
            self.percent(self.generated_then_painted)
        );
        if self.filled + self.filled_then_painted > 0 {
            text.push_str(&format!(
                ", {:.1}% filled from the picture (no model), {:.1}% filled then painted over",
                self.percent(self.filled),
                self.percent(self.filled_then_painted)
            ));
        }
        text
    }

    /// Percent of visible pixels in a count.
    pub fn percent(&self, count: u64) -> f64 {
        if self.visible == 0 {
            0.0
        } else {
            count as f64 * 100.0 / self.visible as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::layer::{LayerContent, LayerId, LayerProperties};
    use crate::document::tiles::RgbaTiles;

    fn layer(id: u64, pixel: [u8; 4], blend: BlendMode, opacity: f32) -> Layer {
        let mut tiles = RgbaTiles::new(4, 4);
        for y in 0..4 {
            for x in 0..4 {
                tiles.set_pixel(x, y, pixel);
            }
        }
        Layer {
            id: LayerId(id),
            properties: LayerProperties {
                blend,
                opacity,
                ..LayerProperties::named("test")
            },
            content: LayerContent::Paint(tiles),
        }
    }

    #[test]
    fn blend_modes_follow_the_w3c_formulas() {
        let rect = PixelRect::new(0, 0, 1, 1);
        let base = layer(1, [200, 100, 50, 255], BlendMode::Normal, 1.0);
        let over = |pixel, mode, opacity| {
            composite(&[base.clone(), layer(2, pixel, mode, opacity)], &rect).0
        };
        // Multiply with white keeps the base; screen with black keeps the base.
        for (pixel, mode, opacity, expected) in [
            (
                [0, 0, 255, 255],
                BlendMode::Normal,
                0.4,
                [120, 60, 132, 255],
            ),
            (
                [255, 255, 255, 255],
                BlendMode::Multiply,
                1.0,
                [200, 100, 50, 255],
            ),
            ([0, 0, 0, 255], BlendMode::Screen, 1.0, [200, 100, 50, 255]),
            (
                [128, 128, 128, 255],
                BlendMode::Multiply,
                1.0,
                [100, 50, 25, 255],
            ),
        ] {
            assert_eq!(
                over(pixel, mode, opacity),
                expected,
                "{mode:?} at {opacity}"
            );
        }
    }

    #[test]
    fn transparent_pixels_change_nothing() {
        let rect = PixelRect::new(0, 0, 4, 4);
        let base = layer(1, [37, 201, 90, 133], BlendMode::Normal, 1.0);
        let alone = composite(std::slice::from_ref(&base), &rect).0;
        let with_clear = composite(
            &[base, layer(2, [9, 9, 9, 0], BlendMode::Normal, 1.0)],
            &rect,
        )
        .0;
        assert_eq!(alone, with_clear);
    }
}
