//! Generative layers: a generation's raw result over its region, shown through the mask it was
//! made with, shaped by live parameters (grow or shrink, feather). Changing a parameter
//! re-renders the layer from the kept raw result; nothing is generated again, and no other
//! layer is touched.

use std::sync::Arc;

use crate::document::tiles::{PixelRect, RgbaTiles};

/// The live parameters of a generative layer.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GenerativeParams {
    /// Grow (positive) or shrink (negative) the mask, in pixels.
    pub grow: i32,
    /// Soften the mask edge, in pixels (≈ 2 Gaussian sigmas).
    pub feather: f32,
}

impl Default for GenerativeParams {
    fn default() -> Self {
        Self {
            grow: 0,
            feather: 0.0,
        }
    }
}

/// A generation kept as a layer.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerativeLayer {
    /// Document size (the rendered result covers the whole document).
    document_size: (u32, u32),
    /// Where the generation sits in the document.
    pub region: PixelRect,
    /// Each accepted variation's raw RGB pixels at region size.
    pub variations: Vec<Arc<Vec<u8>>>,
    /// The variation shown.
    pub selected: usize,
    /// The mask the generation was made with, at region size (255 = regenerated).
    pub mask: Arc<Vec<u8>>,
    /// Grow and feather.
    pub params: GenerativeParams,
    /// The entry of the generation log this layer came from.
    pub generation: u64,
    rendered: RgbaTiles,
}

impl GenerativeLayer {
    /// A generative layer; renders it.
    pub fn new(
        document_size: (u32, u32),
        region: PixelRect,
        variations: Vec<Arc<Vec<u8>>>,
        mask: Arc<Vec<u8>>,
        params: GenerativeParams,
        generation: u64,
    ) -> Self {
        let mut layer = Self {
            document_size,
            region,
            variations,
            selected: 0,
            mask,
            params,
            generation,
            rendered: RgbaTiles::new(document_size.0, document_size.1),
        };
        layer.render();
        layer
    }

    /// The same layer with other parameters (re-rendered).
    pub fn with_params(&self, params: GenerativeParams) -> Self {
        let mut layer = self.clone();
        layer.params = params;
        layer.render();
        layer
    }

    /// The same layer showing another variation.
    pub fn with_selected(&self, selected: usize) -> Self {
        let mut layer = self.clone();
        layer.selected = selected.min(self.variations.len().saturating_sub(1));
        layer.render();
        layer
    }

    /// The pixels the compositor uses.
    pub fn rendered(&self) -> &RgbaTiles {
        &self.rendered
    }

    /// The alpha the mask gives each region pixel after grow and feather.
    pub fn effective_mask(&self) -> Vec<u8> {
        shape_mask(
            &self.mask,
            self.region.width() as usize,
            self.region.height() as usize,
            self.params,
        )
    }

    fn render(&mut self) {
        let (width, height) = (self.region.width() as usize, self.region.height() as usize);
        let alpha = self.effective_mask();
        let Some(raw) = self.variations.get(self.selected) else {
            return;
        };
        let mut rgba = vec![0_u8; width * height * 4];
        for index in 0..width * height {
            let a = alpha[index];
            if a > 0 {
                rgba[index * 4..index * 4 + 3].copy_from_slice(&raw[index * 3..index * 3 + 3]);
                rgba[index * 4 + 3] = a;
            }
        }
        let mut rendered = RgbaTiles::new(self.document_size.0, self.document_size.1);
        rendered.write_rect(&self.region, &rgba);
        self.rendered = rendered;
    }

    /// Bytes held (raw variations, mask and rendered tiles).
    pub fn memory_bytes(&self) -> usize {
        self.variations.iter().map(|raw| raw.len()).sum::<usize>()
            + self.mask.len()
            + self.rendered.memory_bytes()
    }
}

/// Applies grow/shrink and feather to a mask. With neither, the mask is returned as it is (soft
/// edges kept).
pub fn shape_mask(mask: &[u8], width: usize, height: usize, params: GenerativeParams) -> Vec<u8> {
    let mut shaped = if params.grow == 0 {
        mask.to_vec()
    } else {
        grow_mask(mask, width, height, params.grow)
    };
    if params.feather > 0.0 {
        shaped = feather(&shaped, width, height, params.feather);
    }
    shaped
}

/// Grows (radius > 0) or shrinks (radius < 0) the mask by a Euclidean radius, using an exact
/// distance transform (Felzenszwalb & Huttenlocher), so the cost does not depend on the radius.
pub fn grow_mask(mask: &[u8], width: usize, height: usize, radius: i32) -> Vec<u8> {
    let inside = |value: u8| value >= 128;
    // Distance from every pixel to the nearest pixel of the set we measure from.
    let growing = radius > 0;
    let seeds: Vec<bool> = mask
        .iter()
        .map(|&value| {
            if growing {
                inside(value)
            } else {
                !inside(value)
            }
        })
        .collect();
    let distances = squared_distance_transform(&seeds, width, height);
    let limit = (radius.unsigned_abs() as f32).powi(2);
    mask.iter()
        .zip(&distances)
        .map(|(&value, &distance)| {
            if growing {
                if distance <= limit { 255 } else { 0 }
            } else if inside(value) && distance > limit {
                255
            } else {
                0
            }
        })
        .collect()
}

/// Squared Euclidean distance from each pixel to the nearest seed (infinite when none).
fn squared_distance_transform(seeds: &[bool], width: usize, height: usize) -> Vec<f32> {
    const FAR: f32 = 1e20;
    let mut grid: Vec<f32> = seeds
        .iter()
        .map(|&seed| if seed { 0.0 } else { FAR })
        .collect();
    let mut column = vec![0.0; height];
    let mut out = vec![0.0; width.max(height)];
    let mut v = vec![0_usize; width.max(height)];
    let mut z = vec![0.0_f32; width.max(height) + 1];
    for x in 0..width {
        for y in 0..height {
            column[y] = grid[y * width + x];
        }
        transform_1d(&column, &mut out[..height], &mut v, &mut z);
        for y in 0..height {
            grid[y * width + x] = out[y];
        }
    }
    let mut row = vec![0.0; width];
    for y in 0..height {
        row.copy_from_slice(&grid[y * width..(y + 1) * width]);
        transform_1d(&row, &mut out[..width], &mut v, &mut z);
        grid[y * width..(y + 1) * width].copy_from_slice(&out[..width]);
    }
    grid
}

/// One dimension of the squared distance transform (lower envelope of parabolas).
fn transform_1d(f: &[f32], out: &mut [f32], v: &mut [usize], z: &mut [f32]) {
    let n = f.len();
    if n == 0 {
        return;
    }
    let mut k = 0;
    v[0] = 0;
    z[0] = f32::NEG_INFINITY;
    z[1] = f32::INFINITY;
    for q in 1..n {
        let intersection =
            |p: usize| ((f[q] + (q * q) as f32) - (f[p] + (p * p) as f32)) / (2.0 * (q - p) as f32);
        let mut s = intersection(v[k]);
        // z[0] is −∞, so k never goes below zero.
        while s <= z[k] {
            k -= 1;
            s = intersection(v[k]);
        }
        k += 1;
        v[k] = q;
        z[k] = s;
        z[k + 1] = f32::INFINITY;
    }
    k = 0;
    for (q, value) in out.iter_mut().enumerate() {
        while z[k + 1] < q as f32 {
            k += 1;
        }
        let d = q as f32 - v[k] as f32;
        *value = d * d + f[v[k]];
    }
}

/// Gaussian-like blur with `radius` ≈ 2σ, as three box blurs per axis (cost independent of the
/// radius).
pub fn feather(mask: &[u8], width: usize, height: usize, radius: f32) -> Vec<u8> {
    let sigma = (radius / 2.0).max(0.0);
    if sigma < 0.25 {
        return mask.to_vec();
    }
    let boxes = box_sizes(sigma, 3);
    let mut values: Vec<f32> = mask.iter().map(|&v| f32::from(v)).collect();
    let mut scratch = vec![0.0_f32; values.len()];
    for &size in &boxes {
        let half = (size - 1) / 2;
        box_blur_rows(&values, &mut scratch, width, height, half);
        box_blur_columns(&scratch, &mut values, width, height, half);
    }
    values
        .iter()
        .map(|&v| v.round().clamp(0.0, 255.0) as u8)
        .collect()
}

/// Box widths whose repeated application approximates a Gaussian of `sigma`.
fn box_sizes(sigma: f32, count: usize) -> Vec<usize> {
    let ideal = (12.0 * sigma * sigma / count as f32 + 1.0).sqrt();
    let mut lower = ideal.floor() as usize;
    if lower.is_multiple_of(2) {
        lower = lower.saturating_sub(1);
    }
    let lower = lower.max(1);
    let upper = lower + 2;
    let m = ((12.0 * sigma * sigma
        - (count * lower * lower) as f32
        - (4 * count * lower) as f32
        - (3 * count) as f32)
        / (-4.0 * lower as f32 - 4.0))
        .round()
        .clamp(0.0, count as f32) as usize;
    (0..count)
        .map(|i| if i < m { lower } else { upper })
        .collect()
}

fn box_blur_rows(source: &[f32], target: &mut [f32], width: usize, height: usize, half: usize) {
    let scale = 1.0 / (2 * half + 1) as f32;
    for y in 0..height {
        let row = &source[y * width..(y + 1) * width];
        let out = &mut target[y * width..(y + 1) * width];
        // Edges extend the border value.
        let at = |i: isize| row[i.clamp(0, width as isize - 1) as usize];
        let mut sum: f32 = (-(half as isize)..=half as isize).map(at).sum();
        for (x, value) in out.iter_mut().enumerate() {
            *value = sum * scale;
            sum += at(x as isize + half as isize + 1) - at(x as isize - half as isize);
        }
    }
}

fn box_blur_columns(source: &[f32], target: &mut [f32], width: usize, height: usize, half: usize) {
    let scale = 1.0 / (2 * half + 1) as f32;
    let mut sums = vec![0.0_f32; width];
    let at = |x: usize, y: isize| source[y.clamp(0, height as isize - 1) as usize * width + x];
    for (x, sum) in sums.iter_mut().enumerate() {
        *sum = (-(half as isize)..=half as isize).map(|y| at(x, y)).sum();
    }
    for y in 0..height {
        for x in 0..width {
            target[y * width + x] = sums[x] * scale;
            sums[x] += at(x, y as isize + half as isize + 1) - at(x, y as isize - half as isize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square_mask(size: usize, inner: std::ops::Range<usize>) -> Vec<u8> {
        let mut mask = vec![0; size * size];
        for y in inner.clone() {
            for x in inner.clone() {
                mask[y * size + x] = 255;
            }
        }
        mask
    }

    #[test]
    fn grow_and_shrink_move_the_edge_by_the_radius() {
        let mask = square_mask(40, 10..30);
        let grown = grow_mask(&mask, 40, 40, 3);
        assert_eq!(grown[20 * 40 + 7], 255, "3 px outside the edge is inside");
        assert_eq!(grown[20 * 40 + 6], 0, "4 px outside is not");
        let shrunk = grow_mask(&mask, 40, 40, -3);
        assert_eq!(shrunk[20 * 40 + 13], 255);
        assert_eq!(shrunk[20 * 40 + 12], 0);
    }

    #[test]
    fn feather_softens_only_near_the_edge() {
        let mask = square_mask(64, 16..48);
        let soft = feather(&mask, 64, 64, 6.0);
        assert_eq!(soft[32 * 64 + 32], 255, "centre stays full");
        assert_eq!(soft[2 * 64 + 2], 0, "far outside stays empty");
        let edge = soft[32 * 64 + 16];
        assert!(edge > 60 && edge < 200, "edge is soft: {edge}");
        // Symmetric around the edge.
        let inside = i32::from(soft[32 * 64 + 18]);
        let outside = i32::from(soft[32 * 64 + 13]);
        assert!((inside - (255 - outside)).abs() < 30, "{inside} {outside}");
    }

    #[test]
    fn no_parameters_keep_the_mask_as_it_is() {
        let mask: Vec<u8> = (0..=255).collect();
        assert_eq!(shape_mask(&mask, 16, 16, GenerativeParams::default()), mask);
    }
}
