//! Colour match of a generative layer: the model's result is corrected so that it meets the
//! artist's pixels at the mask's edge without a seam.
//!
//! A generation covers its whole region, including a ring just outside the mask that the layer
//! does not show. There the result should equal what the artist had (the context the model was
//! given); where it does not, the difference is the colour shift the model (and its VAE)
//! introduced, and the pixels just inside the edge carry the same shift. The correction is
//! measured in that ring, in Oklab (a perceptual colour space: equal steps look equally large):
//!
//! - **global**: the mean and standard deviation of each Oklab channel of the result in the ring
//!   are matched to the artist's (one affine map for the whole layer);
//! - **local**: the per-pixel difference in the ring is extended inwards as a membrane (the
//!   harmonic function that equals the ring's difference on the ring: the smoothest field that
//!   does so), so a shift that changes along the edge is corrected where it happens, and the
//!   interior takes the smooth blend of what surrounds it. The membrane is solved on a grid of
//!   at most [`FIELD_SIDE`] cells a side, coarse to fine (each level starts from the coarser
//!   solution, then relaxes), and sampled bilinearly: a colour shift is smooth, and a coarse
//!   field keeps the ring's texture from being copied in.
//!
//! `strength` blends between the result as generated (0) and fully matched (1), per channel in
//! sRGB, so dragging it costs one pass over bytes, not a colour-space round trip.

/// Width of the ring the difference is measured in, in pixels beyond the visible edge.
pub const RING: f32 = 6.0;
/// Largest side of the local correction's grid, in cells.
pub const FIELD_SIDE: usize = 128;

/// How a generative layer's colours are matched to the artist's pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorMatchMode {
    /// As generated.
    #[default]
    Off,
    /// Mean and spread matched over the whole layer.
    Global,
    /// Matched along the edge, blended smoothly inwards.
    Local,
}

impl ColorMatchMode {
    /// Every mode, in the panel's order.
    pub const ALL: [Self; 3] = [Self::Off, Self::Global, Self::Local];

    /// The name shown.
    pub fn label(self) -> &'static str {
        match self {
            Self::Off => "Off",
            Self::Global => "Global",
            Self::Local => "Local",
        }
    }
}

/// A generative layer's colour match: a mode and how much of the correction to apply.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ColorMatch {
    /// Which correction.
    pub mode: ColorMatchMode,
    /// 0 (none) to 1 (all of it).
    pub strength: f32,
}

impl Default for ColorMatch {
    fn default() -> Self {
        Self {
            mode: ColorMatchMode::Off,
            strength: 1.0,
        }
    }
}

impl ColorMatch {
    /// Whether it changes anything.
    pub fn is_active(&self) -> bool {
        self.mode != ColorMatchMode::Off && self.strength > 0.0
    }
}

// ---- Oklab ---------------------------------------------------------------------------------

/// sRGB byte → linear light.
fn linear_table() -> &'static [f32; 256] {
    static TABLE: std::sync::OnceLock<[f32; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|value| {
            let c = value as f32 / 255.0;
            if c <= 0.040_45 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        })
    })
}

/// Entries of the linear → sRGB byte table (linear light in steps of 1/(N−1)).
const ENCODE_STEPS: usize = 8192;

fn encode_table() -> &'static [u8] {
    static TABLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        (0..ENCODE_STEPS)
            .map(|step| {
                let l = step as f32 / (ENCODE_STEPS - 1) as f32;
                let c = if l <= 0.003_130_8 {
                    l * 12.92
                } else {
                    1.055 * l.powf(1.0 / 2.4) - 0.055
                };
                (c * 255.0).round().clamp(0.0, 255.0) as u8
            })
            .collect()
    })
}

/// An sRGB colour in Oklab (L 0..1).
pub fn to_oklab(rgb: [u8; 3]) -> [f32; 3] {
    let table = linear_table();
    let [r, g, b] = rgb.map(|c| table[usize::from(c)]);
    let l = 0.412_221_46 * r + 0.536_332_55 * g + 0.051_445_995 * b;
    let m = 0.211_903_5 * r + 0.680_699_5 * g + 0.107_396_96 * b;
    let s = 0.088_302_46 * r + 0.281_718_85 * g + 0.629_978_7 * b;
    let (l, m, s) = (cube_root(l), cube_root(m), cube_root(s));
    [
        0.210_454_26 * l + 0.793_617_8 * m - 0.004_072_047 * s,
        1.977_998_5 * l - 2.428_592_2 * m + 0.450_593_7 * s,
        0.025_904_037 * l + 0.782_771_77 * m - 0.808_675_77 * s,
    ]
}

/// The cube root of `x` ≥ 0 (0 for less): an exponent-thirding first guess (within 4 %), then
/// two Newton steps, each of which roughly squares the relative error (4e-2 → 2e-3 → 4e-6):
/// a thousand times finer than a byte step of any channel, at a fraction of `f32::cbrt`'s cost.
fn cube_root(x: f32) -> f32 {
    if x <= 0.0 {
        return 0.0;
    }
    let mut y = f32::from_bits(x.to_bits() / 3 + 709_921_077);
    for _ in 0..2 {
        y -= (y * y * y - x) / (3.0 * y * y);
    }
    y
}

/// An Oklab colour back in sRGB bytes (out-of-gamut channels clamped).
pub fn from_oklab([lightness, a, b]: [f32; 3]) -> [u8; 3] {
    let l = lightness + 0.396_337_78 * a + 0.215_803_76 * b;
    let m = lightness - 0.105_561_346 * a - 0.063_854_17 * b;
    let s = lightness - 0.089_484_18 * a - 1.291_485_5 * b;
    let (l, m, s) = (l * l * l, m * m * m, s * s * s);
    let linear = [
        4.076_741_7 * l - 3.307_711_6 * m + 0.230_969_94 * s,
        -1.268_438 * l + 2.609_757_4 * m - 0.341_319_38 * s,
        -0.004_196_086_3 * l - 0.703_418_6 * m + 1.707_614_7 * s,
    ];
    let table = encode_table();
    // `+ 0.5` then truncation rounds (the value is not negative) without a libm call.
    linear.map(|c| table[(c.clamp(0.0, 1.0) * (ENCODE_STEPS - 1) as f32 + 0.5) as usize])
}

// ---- The correction ------------------------------------------------------------------------

/// A measured correction, in Oklab.
#[derive(Clone, Debug, PartialEq)]
pub enum Correction {
    /// Nothing to correct (no ring: the mask covers the region, or the mode is off).
    None,
    /// `(value − mean_result) · gain + mean_artist` per channel.
    Global {
        /// The result's mean in the ring.
        mean_result: [f32; 3],
        /// Artist's spread over the result's.
        gain: [f32; 3],
        /// The artist's mean in the ring.
        mean_artist: [f32; 3],
    },
    /// A membrane of offsets, sampled bilinearly.
    Local(Field),
}

/// A coarse grid of Oklab offsets over the region.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    width: usize,
    height: usize,
    /// Region pixels per cell.
    cell: f32,
    values: Vec<[f32; 3]>,
}

impl Field {
    /// The offset at region pixel `(x, y)` (bilinear between cell centres).
    pub fn at(&self, x: usize, y: usize) -> [f32; 3] {
        self.between(self.axis(x, self.width), self.axis(y, self.height))
    }

    /// Where region coordinate `at` falls between the centres of an axis of `cells` cells: the
    /// two cells and the weight of the second.
    fn axis(&self, at: usize, cells: usize) -> (usize, usize, f32) {
        let f = ((at as f32 + 0.5) / self.cell - 0.5).clamp(0.0, (cells - 1) as f32);
        let first = f as usize;
        (first, (first + 1).min(cells - 1), f - first as f32)
    }

    /// The offset between the cells of `(x0, x1, tx)` across and `(y0, y1, ty)` down.
    fn between(
        &self,
        (x0, x1, tx): (usize, usize, f32),
        (y0, y1, ty): (usize, usize, f32),
    ) -> [f32; 3] {
        let v = |x: usize, y: usize| self.values[y * self.width + x];
        let (a, b, c, d) = (v(x0, y0), v(x1, y0), v(x0, y1), v(x1, y1));
        std::array::from_fn(|k| {
            let top = a[k] + (b[k] - a[k]) * tx;
            let bottom = c[k] + (d[k] - c[k]) * tx;
            top + (bottom - top) * ty
        })
    }
}

/// Measures the correction of `result` (RGB, `width × height`) against `artist` (the pixels the
/// model was given, same size) in the ring: pixels whose distance beyond the visible edge,
/// `beyond(index)` in pixels, lies in `(0, RING]`.
pub fn measure(
    mode: ColorMatchMode,
    result: &[u8],
    artist: &[u8],
    width: usize,
    height: usize,
    beyond: impl Fn(usize) -> f32 + Sync,
) -> Correction {
    let ring = ring(width, height, beyond);
    measure_in(mode, result, artist, (width, height), &ring)
}

/// The ring [`measure`] measures in: the pixels (indices of a `width × height` region) whose
/// distance beyond the visible edge, `beyond(index)` in pixels, lies in `(0, RING]`. It depends
/// on the mask alone, so a layer keeps it for every mode.
pub fn ring(width: usize, height: usize, beyond: impl Fn(usize) -> f32 + Sync) -> Vec<usize> {
    (0..width * height)
        .filter(|&index| {
            let d = beyond(index);
            d > 0.0 && d <= RING
        })
        .collect()
}

/// [`measure`] in a ring already found, of a region `(width, height)`.
pub fn measure_in(
    mode: ColorMatchMode,
    result: &[u8],
    artist: &[u8],
    (width, height): (usize, usize),
    ring: &[usize],
) -> Correction {
    let pixel = |buffer: &[u8], index: usize| {
        [
            buffer[index * 3],
            buffer[index * 3 + 1],
            buffer[index * 3 + 2],
        ]
    };
    if ring.is_empty() || mode == ColorMatchMode::Off {
        return Correction::None;
    }
    match mode {
        ColorMatchMode::Off => Correction::None,
        ColorMatchMode::Global => {
            let mut sums = [[0.0_f64; 3]; 4]; // result sum, result sum², artist sum, artist sum²
            for &index in ring {
                let (r, a) = (
                    to_oklab(pixel(result, index)),
                    to_oklab(pixel(artist, index)),
                );
                for k in 0..3 {
                    sums[0][k] += f64::from(r[k]);
                    sums[1][k] += f64::from(r[k]) * f64::from(r[k]);
                    sums[2][k] += f64::from(a[k]);
                    sums[3][k] += f64::from(a[k]) * f64::from(a[k]);
                }
            }
            let n = ring.len() as f64;
            let mean = |sum: f64| sum / n;
            let spread = |sum: f64, squares: f64| (squares / n - mean(sum).powi(2)).max(0.0).sqrt();
            let mut gain = [1.0; 3];
            for (k, gain) in gain.iter_mut().enumerate() {
                let (from, to) = (
                    spread(sums[0][k], sums[1][k]),
                    spread(sums[2][k], sums[3][k]),
                );
                // A flat ring says nothing about spread: keep the result's.
                if from > 1e-4 && to > 1e-4 {
                    *gain = (to / from).clamp(0.25, 4.0) as f32;
                }
            }
            Correction::Global {
                mean_result: std::array::from_fn(|k| mean(sums[0][k]) as f32),
                gain,
                mean_artist: std::array::from_fn(|k| mean(sums[2][k]) as f32),
            }
        }
        ColorMatchMode::Local => {
            let cell = (width.max(height) as f32 / FIELD_SIDE as f32).max(1.0);
            let (columns, rows) = (
                ((width as f32 / cell).ceil() as usize).max(1),
                ((height as f32 / cell).ceil() as usize).max(1),
            );
            let mut sum = vec![[0.0_f32; 3]; columns * rows];
            let mut weight = vec![0.0_f32; columns * rows];
            for &index in ring {
                let (x, y) = (index % width, index / width);
                let cell_index = ((y as f32 / cell) as usize).min(rows - 1) * columns
                    + ((x as f32 / cell) as usize).min(columns - 1);
                let (r, a) = (
                    to_oklab(pixel(result, index)),
                    to_oklab(pixel(artist, index)),
                );
                for k in 0..3 {
                    sum[cell_index][k] += a[k] - r[k];
                }
                weight[cell_index] += 1.0;
            }
            let known: Vec<Option<[f32; 3]>> = sum
                .iter()
                .zip(&weight)
                .map(|(sum, &weight)| (weight > 0.0).then(|| sum.map(|s| s / weight)))
                .collect();
            Correction::Local(Field {
                width: columns,
                height: rows,
                cell,
                values: membrane(&known, columns, rows),
            })
        }
    }
}

/// The harmonic interpolation of `known` values over a grid (known cells fixed), solved coarse
/// to fine.
fn membrane(known: &[Option<[f32; 3]>], width: usize, height: usize) -> Vec<[f32; 3]> {
    // The coarser level: a cell is known when any of its four children is (their mean).
    let initial = if width > 2 || height > 2 {
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        let mut coarse = vec![None; cw * ch];
        for (index, slot) in coarse.iter_mut().enumerate() {
            let (cx, cy) = (index % cw, index / cw);
            let mut total = [0.0; 3];
            let mut count = 0.0;
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let (x, y) = (cx * 2 + dx, cy * 2 + dy);
                if x < width
                    && y < height
                    && let Some(value) = known[y * width + x]
                {
                    for k in 0..3 {
                        total[k] += value[k];
                    }
                    count += 1.0;
                }
            }
            if count > 0.0 {
                *slot = Some(total.map(|t| t / count));
            }
        }
        let solved = membrane(&coarse, cw, ch);
        (0..width * height)
            .map(|index| solved[(index / width / 2) * cw + (index % width) / 2])
            .collect()
    } else {
        let known_values: Vec<[f32; 3]> = known.iter().flatten().copied().collect();
        let mean = if known_values.is_empty() {
            [0.0; 3]
        } else {
            let n = known_values.len() as f32;
            std::array::from_fn(|k| known_values.iter().map(|v| v[k]).sum::<f32>() / n)
        };
        vec![mean; width * height]
    };
    let mut values: Vec<[f32; 3]> = initial
        .iter()
        .zip(known)
        .map(|(guess, known)| known.unwrap_or(*guess))
        .collect();
    // Relaxation (Gauss–Seidel with over-relaxation) from the coarse solution.
    const ITERATIONS: usize = 24;
    const OMEGA: f32 = 1.8;
    for _ in 0..ITERATIONS {
        for y in 0..height {
            for x in 0..width {
                let index = y * width + x;
                if known[index].is_some() {
                    continue;
                }
                let mut total = [0.0; 3];
                let mut count = 0.0;
                for (nx, ny) in [
                    (x.wrapping_sub(1), y),
                    (x + 1, y),
                    (x, y.wrapping_sub(1)),
                    (x, y + 1),
                ] {
                    if nx < width && ny < height {
                        let value = values[ny * width + nx];
                        for k in 0..3 {
                            total[k] += value[k];
                        }
                        count += 1.0;
                    }
                }
                let old = values[index];
                values[index] =
                    std::array::from_fn(|k| old[k] + OMEGA * (total[k] / count - old[k]));
            }
        }
    }
    values
}

/// `from` blended towards `to` by `t` (0..1), byte by byte, on every core.
pub fn blend(from: &[u8], to: &[u8], t: f32) -> Vec<u8> {
    use rayon::prelude::*;
    let weight = (t.clamp(0.0, 1.0) * 256.0).round() as u16;
    let mut out = vec![0; from.len()];
    out.par_chunks_mut(1 << 16)
        .zip(from.par_chunks(1 << 16).zip(to.par_chunks(1 << 16)))
        .for_each(|(out, (from, to))| {
            for ((out, &a), &b) in out.iter_mut().zip(from).zip(to) {
                let (a, b) = (u16::from(a), u16::from(b));
                *out = ((a * (256 - weight) + b * weight + 128) >> 8) as u8;
            }
        });
    out
}

impl Correction {
    /// `rgb` at region pixel `(x, y)` corrected with `strength`.
    pub fn apply(&self, rgb: [u8; 3], x: usize, y: usize, strength: f32) -> [u8; 3] {
        let lab = to_oklab(rgb);
        let corrected = match self {
            Self::None => return rgb,
            Self::Global {
                mean_result,
                gain,
                mean_artist,
            } => std::array::from_fn(|k| {
                let target = (lab[k] - mean_result[k]) * gain[k] + mean_artist[k];
                lab[k] + (target - lab[k]) * strength
            }),
            Self::Local(field) => return shifted(lab, field.at(x, y), strength),
        };
        from_oklab(corrected)
    }

    /// `result` (RGB, `width` wide) corrected with `strength`, on every core.
    pub fn corrected(&self, result: &[u8], width: usize, strength: f32) -> Vec<u8> {
        self.corrected_where(result, width, strength, |_| true)
    }

    /// `result` corrected where `shows(pixel index)` (the pixels a layer can show), as it is
    /// elsewhere.
    pub fn corrected_where(
        &self,
        result: &[u8],
        width: usize,
        strength: f32,
        shows: impl Fn(usize) -> bool + Sync,
    ) -> Vec<u8> {
        use rayon::prelude::*;
        let mut out = result.to_vec();
        if *self == Self::None {
            return out;
        }
        let rows = out.par_chunks_mut(width * 3).enumerate();
        if let Self::Local(field) = self {
            // Where each column falls between the field's cells, worked out once, not per row.
            let columns: Vec<_> = (0..width).map(|x| field.axis(x, field.width)).collect();
            rows.for_each(|(y, row)| {
                let down = field.axis(y, field.height);
                for (x, pixel) in row.chunks_exact_mut(3).enumerate() {
                    if !shows(y * width + x) {
                        continue;
                    }
                    let lab = to_oklab([pixel[0], pixel[1], pixel[2]]);
                    let value = shifted(lab, field.between(columns[x], down), strength);
                    pixel.copy_from_slice(&value);
                }
            });
        } else {
            rows.for_each(|(y, row)| {
                for (x, pixel) in row.chunks_exact_mut(3).enumerate() {
                    if !shows(y * width + x) {
                        continue;
                    }
                    let value = self.apply([pixel[0], pixel[1], pixel[2]], x, y, strength);
                    pixel.copy_from_slice(&value);
                }
            });
        }
        out
    }
}

/// `lab` moved by a local correction's `offset` times `strength`, back in sRGB bytes.
fn shifted(lab: [f32; 3], offset: [f32; 3], strength: f32) -> [u8; 3] {
    from_oklab(std::array::from_fn(|k| lab[k] + offset[k] * strength))
}

/// The measurement colour match is held to: a picture (the hidden truth), a "generation" that
/// is the truth shifted in colour and brightness inside a round mask, and how far the
/// corrected result is from the truth along the edge. Used by the tests and the bench.
pub mod evaluation {
    use super::{ColorMatchMode, from_oklab, measure, to_oklab};

    /// One test picture: the truth, the shifted generation and the mask, `side × side`.
    pub struct Case {
        /// Side in pixels.
        pub side: usize,
        /// The artist's pixels (RGB).
        pub truth: Vec<u8>,
        /// The truth shifted (RGB): what the model "returned".
        pub generated: Vec<u8>,
        /// Whether each pixel is inside the mask.
        pub inside: Vec<bool>,
    }

    /// How a result meets the truth at the edge.
    #[derive(Clone, Copy, Debug)]
    pub struct Scores {
        /// Mean Oklab distance to the truth over the pixels up to 4 px inside the edge.
        pub edge_error: f32,
        /// Mean jump of the gradient across the edge: for each inside pixel next to an outside
        /// one, how much the step between them differs from the truth's step (Oklab distance).
        pub seam: f32,
    }

    /// A textured truth (gradients, stripes, a dot pattern) of `side` pixels with a disc mask,
    /// and its generation shifted by `shift(x, y)` (Oklab, per pixel).
    pub fn case(side: usize, shift: impl Fn(f32, f32) -> [f32; 3]) -> Case {
        let mut truth = Vec::with_capacity(side * side * 3);
        let mut generated = Vec::with_capacity(side * side * 3);
        let mut inside = Vec::with_capacity(side * side);
        let centre = side as f32 / 2.0;
        for y in 0..side {
            for x in 0..side {
                let (fx, fy) = (x as f32 / side as f32, y as f32 / side as f32);
                let stripes = ((fx * 23.0 + fy * 7.0).sin() * 0.5 + 0.5) * 60.0;
                let dots = if (x / 5 + y / 5) % 2 == 0 { 20.0 } else { 0.0 };
                let rgb = [
                    (60.0 + 120.0 * fx + stripes) as u8,
                    (90.0 + 80.0 * fy + dots) as u8,
                    (150.0 - 60.0 * fx + stripes * 0.5) as u8,
                ];
                truth.extend_from_slice(&rgb);
                let lab = to_oklab(rgb);
                let delta = shift(fx, fy);
                generated
                    .extend_from_slice(&from_oklab(std::array::from_fn(|k| lab[k] + delta[k])));
                let (dx, dy) = (x as f32 + 0.5 - centre, y as f32 + 0.5 - centre);
                inside.push(dx.hypot(dy) <= side as f32 * 0.3);
            }
        }
        Case {
            side,
            truth,
            generated,
            inside,
        }
    }

    /// The generation corrected in `mode` (at full strength), or as it is for `Off`.
    pub fn corrected(case: &Case, mode: ColorMatchMode) -> Vec<u8> {
        let side = case.side;
        let beyond = distance_outside(&case.inside, side);
        measure(mode, &case.generated, &case.truth, side, side, |index| {
            beyond[index]
        })
        .corrected(&case.generated, side, 1.0)
    }

    /// The composite (result inside the mask, truth outside) scored against the truth.
    pub fn score(case: &Case, result: &[u8]) -> Scores {
        let side = case.side;
        let lab = |buffer: &[u8], index: usize| {
            to_oklab([
                buffer[index * 3],
                buffer[index * 3 + 1],
                buffer[index * 3 + 2],
            ])
        };
        let distance = |a: [f32; 3], b: [f32; 3]| {
            ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
        };
        let depth = distance_outside(&case.inside.iter().map(|&i| !i).collect::<Vec<_>>(), side);
        let (mut edge, mut edge_count) = (0.0, 0.0);
        let (mut seam, mut seam_count) = (0.0, 0.0);
        for y in 0..side {
            for x in 0..side {
                let index = y * side + x;
                if !case.inside[index] {
                    continue;
                }
                if depth[index] <= 4.0 {
                    edge += distance(lab(result, index), lab(&case.truth, index));
                    edge_count += 1.0;
                }
                for (nx, ny) in [
                    (x + 1, y),
                    (x.wrapping_sub(1), y),
                    (x, y + 1),
                    (x, y.wrapping_sub(1)),
                ] {
                    if nx >= side || ny >= side || case.inside[ny * side + nx] {
                        continue;
                    }
                    let outside = lab(&case.truth, ny * side + nx);
                    let ours = distance(lab(result, index), outside);
                    let truths = distance(lab(&case.truth, index), outside);
                    seam += (ours - truths).abs();
                    seam_count += 1.0;
                }
            }
        }
        Scores {
            edge_error: edge / f32::max(edge_count, 1.0),
            seam: seam / f32::max(seam_count, 1.0),
        }
    }

    /// Distance in pixels from each pixel outside `set` to the nearest pixel of it (0 inside).
    pub(crate) fn distance_outside(set: &[bool], side: usize) -> Vec<f32> {
        crate::document::distance::squared_distance_to(set, side, side)
            .into_iter()
            .map(f32::sqrt)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::evaluation::{case, corrected, score};
    use super::*;

    #[test]
    fn the_cube_root_is_within_a_millionth_or_so_of_the_standard_one() {
        let mut x = 1e-6_f32;
        while x < 1.5 {
            let (ours, std) = (cube_root(x), x.cbrt());
            assert!((ours - std).abs() <= 1e-5 * std, "{x}: {ours} vs {std}");
            x *= 1.013;
        }
        assert_eq!(cube_root(0.0), 0.0);
        assert_eq!(cube_root(-1.0), 0.0);
    }

    #[test]
    fn oklab_round_trips_every_byte_within_one_step() {
        for r in (0..=255).step_by(5) {
            for g in (0..=255).step_by(5) {
                for b in (0..=255).step_by(3) {
                    let back = from_oklab(to_oklab([r, g, b]));
                    for (x, y) in back.iter().zip([r, g, b]) {
                        assert!(x.abs_diff(y) <= 1, "{:?} → {back:?}", [r, g, b]);
                    }
                }
            }
        }
        // White is L 1, a and b 0.
        let white = to_oklab([255, 255, 255]);
        assert!((white[0] - 1.0).abs() < 1e-3 && white[1].abs() < 1e-3 && white[2].abs() < 1e-3);
    }

    #[test]
    fn a_uniform_shift_is_undone_by_both_matches() {
        // Darker and warmer everywhere: one offset, which the ring measures exactly.
        let case = case(160, |_, _| [-0.08, 0.03, 0.02]);
        let none = score(&case, &case.generated);
        for mode in [ColorMatchMode::Global, ColorMatchMode::Local] {
            let ours = score(&case, &corrected(&case, mode));
            // What is left is rounding to bytes twice (about 1/255 in each channel, ~0.004
            // in Oklab): a tenth of the shift (0.09) is well above it.
            assert!(
                ours.edge_error < 0.1 * none.edge_error,
                "{mode:?} {ours:?} vs {none:?}"
            );
            assert!(
                ours.seam < 0.25 * none.seam,
                "{mode:?} {ours:?} vs {none:?}"
            );
        }
    }

    #[test]
    fn correcting_a_whole_region_equals_correcting_each_pixel() {
        let case = case(150, |x, y| [0.08 * x - 0.05, 0.03 * y, -0.02 * x * y]);
        let side = case.side;
        let beyond = evaluation::distance_outside(&case.inside, side);
        for mode in [ColorMatchMode::Global, ColorMatchMode::Local] {
            let correction = measure(mode, &case.generated, &case.truth, side, side, |index| {
                beyond[index]
            });
            assert_ne!(correction, Correction::None);
            for strength in [0.35, 1.0] {
                let shows = |index: usize| index % 7 != 3;
                let whole = correction.corrected_where(&case.generated, side, strength, shows);
                for (index, (pixel, original)) in whole
                    .chunks_exact(3)
                    .zip(case.generated.chunks_exact(3))
                    .enumerate()
                {
                    let expected = if shows(index) {
                        let rgb = [original[0], original[1], original[2]];
                        correction.apply(rgb, index % side, index / side, strength)
                    } else {
                        [original[0], original[1], original[2]]
                    };
                    assert_eq!(pixel, expected, "{mode:?} {strength} at {index}");
                }
            }
        }
    }

    #[test]
    fn a_shift_that_changes_along_the_edge_is_matched_locally() {
        // Brightness falling from left to right and a cast that turns with the angle: no
        // single map fits the whole edge; the membrane follows it.
        let case = case(192, |x, y| {
            let angle = (y - 0.5).atan2(x - 0.5);
            [0.10 - 0.20 * x, 0.04 * angle.cos(), 0.04 * angle.sin()]
        });
        let none = score(&case, &case.generated);
        let global = score(&case, &corrected(&case, ColorMatchMode::Global));
        let local = score(&case, &corrected(&case, ColorMatchMode::Local));
        assert!(global.edge_error < none.edge_error, "{global:?} {none:?}");
        assert!(local.edge_error < global.edge_error, "{local:?} {global:?}");
        assert!(local.seam < global.seam, "{local:?} {global:?}");
        assert!(global.seam < none.seam, "{global:?} {none:?}");
    }

    #[test]
    fn no_ring_no_correction() {
        let field = measure(ColorMatchMode::Local, &[10; 12], &[200; 12], 2, 2, |_| -1.0);
        assert_eq!(field, Correction::None);
        let global = measure(ColorMatchMode::Global, &[10; 12], &[200; 12], 2, 2, |_| 9.0);
        assert_eq!(global, Correction::None, "beyond the ring");
    }
}
