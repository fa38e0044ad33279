//! Brush strokes: round dabs placed along a smoothed path, with hardness, opacity, flow and pen
//! pressure. Within one stroke dabs build up coverage up to the stroke's opacity (flow is how
//! fast), like a real brush pass: crossing your own stroke does not darken it past the opacity.
//! The stroke is applied against the pixels as they were before it began, so it is exact and
//! undo restores exactly those.

use std::collections::HashMap;
use std::sync::Arc;

use crate::document::tiles::{PixelRect, TILE, Tile, Tiled};

/// What a stroke does to its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StrokeMode {
    /// Paint colour over a layer.
    Paint,
    /// Erase a layer's alpha.
    Erase,
    /// Add to the mask.
    MaskAdd,
    /// Remove from the mask.
    MaskErase,
    /// Show more of one variation of a generative layer (its index) where it paints.
    Variation(u8),
}

/// The brush a stroke uses.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BrushSettings {
    /// Diameter in pixels at full pressure.
    pub size: f32,
    /// 0: soft edge all the way, 1: hard edge.
    pub hardness: f32,
    /// Most coverage one stroke reaches, 0..1.
    pub opacity: f32,
    /// Coverage each dab adds, 0..1.
    pub flow: f32,
    /// Straight RGB colour.
    pub color: [u8; 3],
    /// Pressure scales the size.
    pub pressure_size: bool,
    /// Pressure scales the opacity.
    pub pressure_opacity: bool,
}

impl Default for BrushSettings {
    fn default() -> Self {
        Self {
            size: 24.0,
            hardness: 0.7,
            opacity: 1.0,
            flow: 1.0,
            color: [30, 30, 30],
            pressure_size: true,
            pressure_opacity: false,
        }
    }
}

/// One input sample of a stroke.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StrokePoint {
    /// Document x in pixels.
    pub x: f32,
    /// Document y in pixels.
    pub y: f32,
    /// Pen pressure 0..1 (1 for a mouse).
    pub pressure: f32,
}

impl StrokePoint {
    /// A point at full pressure, as a mouse gives.
    pub fn new(x: f32, y: f32) -> Self {
        Self {
            x,
            y,
            pressure: 1.0,
        }
    }
}

/// A stroke in progress on a tiled image with `CHANNELS` channels.
#[derive(Debug)]
pub struct Stroke {
    /// What it does.
    pub mode: StrokeMode,
    /// The brush.
    pub brush: BrushSettings,
    /// Tiles as they were before the stroke touched them.
    pub before: HashMap<usize, Option<Arc<Tile>>>,
    /// Coverage built up by this stroke, per touched tile (0..1 per pixel).
    coverage: HashMap<usize, Vec<f32>>,
    /// Input points not yet fully drawn (for smoothing).
    recent: Vec<StrokePoint>,
    /// Where the last dab was placed.
    last_dab: Option<StrokePoint>,
    /// Path length travelled since the last dab.
    since_last: f32,
    /// Document area the stroke changed.
    pub changed: PixelRect,
    /// Area changed since `take_recent_change`.
    recent_change: PixelRect,
    /// The falloff table of the last large dab, and its radius.
    table: Option<(f32, FalloffTable)>,
}

impl Stroke {
    /// A new stroke.
    pub fn new(mode: StrokeMode, brush: BrushSettings) -> Self {
        Self {
            mode,
            brush,
            before: HashMap::new(),
            coverage: HashMap::new(),
            recent: Vec::new(),
            last_dab: None,
            since_last: 0.0,
            changed: PixelRect::new(0, 0, 0, 0),
            recent_change: PixelRect::new(0, 0, 0, 0),
            table: None,
        }
    }

    /// The area changed since the last call.
    pub fn take_recent_change(&mut self) -> PixelRect {
        std::mem::replace(&mut self.recent_change, PixelRect::new(0, 0, 0, 0))
    }

    /// Adds an input point and draws what can be drawn. The path is smoothed with quadratic
    /// curves through the midpoints of consecutive inputs.
    pub fn add_point<const C: usize>(&mut self, image: &mut Tiled<C>, point: StrokePoint) {
        self.recent.push(point);
        match self.recent.len() {
            1 => self.dab(image, point),
            2 => {
                let (a, b) = (self.recent[0], self.recent[1]);
                self.draw_segment(image, a, midpoint(a, b), midpoint(a, b));
            }
            _ => {
                let n = self.recent.len();
                let (a, b, c) = (self.recent[n - 3], self.recent[n - 2], self.recent[n - 1]);
                self.draw_segment(image, midpoint(a, b), b, midpoint(b, c));
                self.recent.drain(..n - 2);
            }
        }
    }

    /// Draws the rest of the path to the last input point.
    pub fn finish<const C: usize>(&mut self, image: &mut Tiled<C>) {
        let n = self.recent.len();
        if n >= 2 {
            let (a, b) = (self.recent[n - 2], self.recent[n - 1]);
            let start = midpoint(a, b);
            self.draw_segment(image, start, midpoint(start, b), b);
        }
        self.recent.clear();
    }

    /// Dabs along the quadratic curve from `from` to `to` with control point `control`.
    fn draw_segment<const C: usize>(
        &mut self,
        image: &mut Tiled<C>,
        from: StrokePoint,
        control: StrokePoint,
        to: StrokePoint,
    ) {
        let length = distance(from, control) + distance(control, to);
        let samples = (length.ceil() as usize * 2).max(1);
        let mut previous = from;
        for i in 1..=samples {
            let t = i as f32 / samples as f32;
            let point = quadratic(from, control, to, t);
            self.walk(image, previous, point);
            previous = point;
        }
    }

    /// Places dabs every `spacing` pixels along a straight piece of the path.
    fn walk<const C: usize>(&mut self, image: &mut Tiled<C>, from: StrokePoint, to: StrokePoint) {
        if self.last_dab.is_none() {
            self.dab(image, from);
        }
        let length = distance(from, to);
        if length <= f32::EPSILON {
            return;
        }
        let mut position = 0.0;
        loop {
            let here = lerp(from, to, position / length);
            let next = position + (self.spacing(here.pressure) - self.since_last).max(0.0);
            if next > length {
                self.since_last += length - position;
                break;
            }
            position = next;
            self.dab(image, lerp(from, to, position / length));
        }
    }

    fn spacing(&self, pressure: f32) -> f32 {
        (self.diameter(pressure) * 0.12).max(0.5)
    }

    fn diameter(&self, pressure: f32) -> f32 {
        if self.brush.pressure_size {
            (self.brush.size * pressure.clamp(0.05, 1.0)).max(1.0)
        } else {
            self.brush.size.max(1.0)
        }
    }

    /// One round dab.
    fn dab<const C: usize>(&mut self, image: &mut Tiled<C>, point: StrokePoint) {
        self.last_dab = Some(point);
        self.since_last = 0.0;
        let radius = self.diameter(point.pressure) / 2.0;
        let hardness = self.brush.hardness.clamp(0.0, 1.0);
        let flow = self.brush.flow.clamp(0.0, 1.0);
        let opacity = if self.brush.pressure_opacity {
            self.brush.opacity * point.pressure.clamp(0.0, 1.0)
        } else {
            self.brush.opacity
        }
        .clamp(0.0, 1.0);
        let x0 = (point.x - radius - 1.0).floor().max(0.0) as u32;
        let y0 = (point.y - radius - 1.0).floor().max(0.0) as u32;
        let x1 = ((point.x + radius + 1.0).ceil().max(0.0) as u32).min(image.width());
        let y1 = ((point.y + radius + 1.0).ceil().max(0.0) as u32).min(image.height());
        let rect = PixelRect {
            x0,
            y0,
            x1: x1.max(x0),
            y1: y1.max(y0),
        };
        if rect.is_empty() {
            return;
        }
        self.changed = self.changed.union(&rect);
        self.recent_change = self.recent_change.union(&rect);
        for index in image.tiles_in(&rect) {
            let part = image.tile_rect(index).intersect(&rect);
            self.before
                .entry(index)
                .or_insert_with(|| image.tile(index).cloned());
            let before = self.before.get(&index).cloned().flatten();
            let coverage = self
                .coverage
                .entry(index)
                .or_insert_with(|| vec![0.0; (TILE * TILE) as usize]);
            let tile = image.tile_mut(index);
            let reach = radius + 0.5;
            // Inside this distance the dab is fully on (no falloff, no anti-aliased rim).
            let core = (hardness.min(1.0 - 0.5 / radius.max(0.5)) * radius).max(0.0);
            let core_squared = if hardness >= 1.0 {
                (radius - 0.5).max(0.0).powi(2)
            } else {
                core * core
            };
            // Large dabs look their falloff up by squared distance instead of computing it; the
            // table is kept while the dab's size stays (no pen pressure on the size).
            let table = if radius > 24.0 {
                match self.table.take() {
                    Some((kept, table)) if kept == radius => Some((kept, table)),
                    _ => Some((
                        radius,
                        FalloffTable::new(core_squared, reach, hardness, radius),
                    )),
                }
            } else {
                None
            };
            let dab = DabRows {
                point,
                reach,
                core_squared,
                table: table.as_ref().map(|(_, table)| table),
                hardness,
                radius,
                flow,
                opacity,
                mode: self.mode,
                color: self.brush.color,
                part,
            };
            let before = before.as_deref().map(Vec::as_slice);
            let row_bytes = (TILE as usize) * C;
            let rows = (part.y0 % TILE) as usize..((part.y1 - 1) % TILE) as usize + 1;
            let tile_rows =
                tile[rows.start * row_bytes..rows.end * row_bytes].chunks_mut(row_bytes);
            let coverage_rows = coverage[rows.start * TILE as usize..rows.end * TILE as usize]
                .chunks_mut(TILE as usize);
            for (y, (pixels, coverage)) in (part.y0..part.y1).zip(tile_rows.zip(coverage_rows)) {
                dab.row::<C>(y, pixels, coverage, before);
            }
            self.table = table;
        }
    }
}

/// One dab's geometry and brush, for painting it row by row.
struct DabRows<'a> {
    point: StrokePoint,
    reach: f32,
    core_squared: f32,
    table: Option<&'a FalloffTable>,
    hardness: f32,
    radius: f32,
    flow: f32,
    opacity: f32,
    mode: StrokeMode,
    color: [u8; 3],
    /// The part of the tile being painted (document pixels).
    part: PixelRect,
}

impl DabRows<'_> {
    /// Paints document row `y` of the tile: `pixels` and `coverage` are that row of the tile
    /// and of the stroke's coverage, `before` the tile as it was before the stroke.
    fn row<const C: usize>(
        &self,
        y: u32,
        pixels: &mut [u8],
        coverage: &mut [f32],
        before: Option<&[u8]>,
    ) {
        let point = self.point;
        let dy = y as f32 + 0.5 - point.y;
        let span_squared = self.reach * self.reach - dy * dy;
        if span_squared <= 0.0 {
            return;
        }
        // Only the pixels of this row the dab can reach.
        let part = self.part;
        let span = span_squared.sqrt();
        let from = ((point.x - span - 0.5).floor().max(part.x0 as f32) as u32).max(part.x0);
        let to = ((point.x + span + 0.5).ceil().max(0.0) as u32).min(part.x1);
        // First the coverage this dab adds, noting the pixels whose coverage changed; then those
        // pixels, with the brush mode's arithmetic chosen once for the row.
        let mut changed = [0_u16; TILE as usize];
        let core_squared = self.core_squared;
        let count = match self.table {
            Some(table) => self.cover(from..to, dy, coverage, &mut changed, |squared| {
                if squared <= core_squared {
                    1.0
                } else {
                    table.at(squared)
                }
            }),
            None => self.cover(from..to, dy, coverage, &mut changed, |squared| {
                if squared <= core_squared {
                    1.0
                } else {
                    dab_shape(
                        squared.sqrt() / self.radius.max(0.5),
                        self.hardness,
                        self.radius,
                    )
                }
            }),
        };
        if count == 0 {
            return;
        }
        let changed = &changed[..count];
        let row_bytes = TILE as usize * C;
        let row_start = (y % TILE) as usize * row_bytes;
        let before = before.map_or(&NOTHING[..row_bytes], |tile| {
            &tile[row_start..row_start + row_bytes]
        });
        let opacity = self.opacity;
        let color = self.color;
        macro_rules! each {
            ($mode:expr) => {
                apply_each::<C>(changed, coverage, opacity, before, pixels, |o, s| {
                    apply($mode, color, o, s)
                })
            };
        }
        match self.mode {
            StrokeMode::Variation(chosen) => {
                // Every weight moves towards the chosen variation's alone.
                for &local in changed {
                    let local = usize::from(local);
                    let strength = coverage[local] * opacity;
                    let offset = local * C;
                    for channel in 0..C {
                        let original = f32::from(before[offset + channel]);
                        let target = if channel == usize::from(chosen) {
                            255.0
                        } else {
                            0.0
                        };
                        pixels[offset + channel] =
                            round_byte(original + strength * (target - original));
                    }
                }
            }
            // Each mode a loop of its own, its arithmetic known when the loop is compiled.
            StrokeMode::Paint => each!(StrokeMode::Paint),
            StrokeMode::Erase => each!(StrokeMode::Erase),
            StrokeMode::MaskAdd => each!(StrokeMode::MaskAdd),
            StrokeMode::MaskErase => each!(StrokeMode::MaskErase),
        }
    }

    /// Adds this dab's coverage to the pixels `xs` of a row `dy` below its centre, where `shape`
    /// gives the dab's opacity (before flow) at a squared distance; writes the tile-local
    /// indices of the pixels whose coverage changed to `changed` and returns how many.
    #[inline(always)]
    fn cover(
        &self,
        xs: std::ops::Range<u32>,
        dy: f32,
        coverage: &mut [f32],
        changed: &mut [u16; TILE as usize],
        shape: impl Fn(f32) -> f32,
    ) -> usize {
        let mut count = 0;
        let mut x = xs.start;
        while x < xs.end {
            let local = (x % TILE) as usize;
            if coverage[local] >= 1.0 {
                // Fully covered by this stroke already: no dab changes it any more. Overlapping
                // dabs meet long runs of such pixels; they are passed eight at a time.
                x += covered_run(&coverage[local..local + (xs.end - x) as usize]) as u32;
                continue;
            }
            let dx = x as f32 + 0.5 - self.point.x;
            let opacity = shape(dx * dx + dy * dy);
            x += 1;
            if opacity <= 0.0 {
                continue;
            }
            let c = &mut coverage[local];
            let previous = *c;
            *c += opacity * self.flow * (1.0 - *c);
            if *c != previous {
                // Otherwise already as covered as this dab makes it: the pixel would not change.
                changed[count] = local as u16;
                count += 1;
            }
        }
        count
    }
}

/// A row of zero bytes: the pixels of a tile that did not exist before the stroke.
static NOTHING: [u8; TILE as usize * 8] = [0; TILE as usize * 8];

/// Applies a stroke's `strength` (coverage × `opacity`) to the `changed` pixels of a row, from
/// the row as it was before the stroke.
#[inline(always)]
fn apply_each<const C: usize>(
    changed: &[u16],
    coverage: &[f32],
    opacity: f32,
    before: &[u8],
    pixels: &mut [u8],
    apply: impl Fn([u8; 4], f32) -> [u8; 4],
) {
    for &local in changed {
        let local = usize::from(local);
        let offset = local * C;
        let mut original = [0; 4];
        original[..C].copy_from_slice(&before[offset..offset + C]);
        let out = apply(original, coverage[local] * opacity);
        pixels[offset..offset + C].copy_from_slice(&out[..C]);
    }
}

/// How many of the first `coverage` values are fully covered (≥ 1), counted eight at a time
/// without branches while a whole group is, then one by one.
fn covered_run(coverage: &[f32]) -> usize {
    let mut run = 0;
    for group in coverage.chunks_exact(8) {
        if !group.iter().fold(true, |all, &c| all & (c >= 1.0)) {
            break;
        }
        run += 8;
    }
    run + coverage[run..].iter().take_while(|&&c| c >= 1.0).count()
}

/// A dab's falloff sampled over squared distance, between the fully-on core and the reach.
#[derive(Debug)]
struct FalloffTable {
    start: f32,
    scale: f32,
    /// Each sample with the step to the next one.
    samples: Box<[[f32; 2]; FalloffTable::SIZE]>,
}

impl FalloffTable {
    const SIZE: usize = 2048;

    fn new(core_squared: f32, reach: f32, hardness: f32, radius: f32) -> Self {
        let start = core_squared;
        let span = (reach * reach - start).max(1e-3);
        let value = |index: usize| {
            let squared = start + span * index as f32 / Self::SIZE as f32;
            dab_shape(squared.sqrt() / radius.max(0.5), hardness, radius)
        };
        let mut samples = Box::new([[0.0; 2]; Self::SIZE]);
        let mut next = value(0);
        for (index, sample) in samples.iter_mut().enumerate() {
            let here = next;
            next = value(index + 1);
            *sample = [here, next - here];
        }
        Self {
            start,
            scale: Self::SIZE as f32 / span,
            samples,
        }
    }

    /// Linear interpolation between samples.
    #[inline(always)]
    fn at(&self, squared: f32) -> f32 {
        let position = ((squared - self.start) * self.scale).clamp(0.0, Self::SIZE as f32);
        let index = (position as usize).min(Self::SIZE - 1);
        let t = position - index as f32;
        let [value, step] = self.samples[index];
        value + step * t
    }
}

/// The dab's opacity at normalised distance `d` (1 = edge) for a hardness, with a one-pixel
/// anti-aliased rim.
fn dab_shape(d: f32, hardness: f32, radius: f32) -> f32 {
    if d >= 1.0 + 0.5 / radius.max(0.5) {
        return 0.0;
    }
    let soft = if d <= hardness || hardness >= 1.0 {
        1.0
    } else {
        let t = ((d - hardness) / (1.0 - hardness)).clamp(0.0, 1.0);
        // Smooth falloff.
        1.0 - t * t * (3.0 - 2.0 * t)
    };
    // Anti-alias the outer edge over one pixel.
    let edge = ((1.0 - d) * radius + 0.5).clamp(0.0, 1.0);
    soft * edge
}

/// Rounds to the nearest byte, clamped to 0..=255 (without `f32::round`, a library call on
/// baseline x86-64).
#[inline(always)]
pub(crate) fn round_byte(value: f32) -> u8 {
    (value.clamp(0.0, 255.0) + 0.5) as u8
}

/// The pixel after applying a stroke of `strength` (0..1) to `original`.
#[inline(always)]
fn apply(mode: StrokeMode, color: [u8; 3], original: [u8; 4], strength: f32) -> [u8; 4] {
    match mode {
        StrokeMode::Paint => {
            let source_alpha = strength;
            // The common cases without a division: over nothing, and over opaque paint.
            if original[3] == 0 {
                let alpha = round_byte(source_alpha * 255.0);
                return if alpha == 0 {
                    [0, 0, 0, 0]
                } else {
                    [color[0], color[1], color[2], alpha]
                };
            }
            if original[3] == 255 {
                let mut out = [0, 0, 0, 255];
                for c in 0..3 {
                    let (from, to) = (f32::from(original[c]), f32::from(color[c]));
                    out[c] = round_byte(from + (to - from) * source_alpha);
                }
                return out;
            }
            let backdrop_alpha = f32::from(original[3]) / 255.0;
            let alpha = source_alpha + backdrop_alpha * (1.0 - source_alpha);
            if alpha <= 0.0 {
                return [0, 0, 0, 0];
            }
            let mut out = [0; 4];
            let inverse = 1.0 / alpha;
            let backdrop = backdrop_alpha * (1.0 - source_alpha);
            for c in 0..3 {
                let value = (f32::from(color[c]) * source_alpha
                    + f32::from(original[c]) * backdrop)
                    * inverse;
                out[c] = round_byte(value);
            }
            out[3] = round_byte(alpha * 255.0);
            if out[3] == 0 {
                // Invisible colour is not kept: a transparent pixel is all zero, as files
                // store it.
                return [0, 0, 0, 0];
            }
            out
        }
        StrokeMode::Erase => {
            let alpha = round_byte(f32::from(original[3]) * (1.0 - strength));
            if alpha == 0 {
                [0, 0, 0, 0]
            } else {
                [original[0], original[1], original[2], alpha]
            }
        }
        StrokeMode::MaskAdd => {
            let value = f32::from(original[0]);
            [round_byte(value + strength * (255.0 - value)), 0, 0, 0]
        }
        StrokeMode::MaskErase => [
            round_byte(f32::from(original[0]) * (1.0 - strength)),
            0,
            0,
            0,
        ],
        // Handled per channel where the dab is applied.
        StrokeMode::Variation(_) => original,
    }
}

fn distance(a: StrokePoint, b: StrokePoint) -> f32 {
    ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt()
}

fn lerp(a: StrokePoint, b: StrokePoint, t: f32) -> StrokePoint {
    StrokePoint {
        x: a.x + (b.x - a.x) * t,
        y: a.y + (b.y - a.y) * t,
        pressure: a.pressure + (b.pressure - a.pressure) * t,
    }
}

fn midpoint(a: StrokePoint, b: StrokePoint) -> StrokePoint {
    lerp(a, b, 0.5)
}

fn quadratic(a: StrokePoint, control: StrokePoint, b: StrokePoint, t: f32) -> StrokePoint {
    let ab = lerp(a, control, t);
    let bc = lerp(control, b, t);
    lerp(ab, bc, t)
}
