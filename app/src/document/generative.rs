//! Generative layers: a generation's raw result over its region, shown through the mask it was
//! made with, shaped by live parameters (grow or shrink, feather, colour match — see
//! [`super::color_match`]), and which variation shows where (painted with the variation
//! brush — see [`super::choice`]). Changing a parameter
//! re-renders the layer from the kept raw result; nothing is generated again, and no other
//! layer is touched.
//!
//! Shaping works on the mask's signed distance field (computed once per layer, exact Euclidean):
//! growing moves the edge along it, feathering turns the distance into a smooth ramp. So a
//! parameter change costs one pass over the region whatever the radii, and only pixels whose
//! alpha changes are rewritten.

use std::sync::Arc;

use crate::document::choice::{self, ChoiceTiles, MAX_VARIATIONS};
use crate::document::color_match::{self, ColorMatch, Correction};
use crate::document::tiles::{PixelRect, RgbaTiles, TILE, Tile};

/// The live parameters of a generative layer.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct GenerativeParams {
    /// Grow (positive) or shrink (negative) the mask, in pixels.
    pub grow: i32,
    /// Width of the soft edge, in pixels (0: the mask's own edge, anti-aliased).
    pub feather: f32,
    /// How its colours are matched to the artist's pixels at the edge.
    pub color: ColorMatch,
}

impl Default for GenerativeParams {
    fn default() -> Self {
        Self {
            grow: 0,
            feather: 0.0,
            color: ColorMatch::default(),
        }
    }
}

impl GenerativeParams {
    /// The same parameters without colour match (what shapes the edge).
    fn edge_only(self) -> Self {
        Self {
            color: ColorMatch::default(),
            ..self
        }
    }
}

/// Tiles to put in, by index (`None`: empty).
pub type TileSwap = Vec<(usize, Option<Arc<Tile>>)>;

/// Signed distance units per pixel (stored as `i16`).
const DISTANCE_SCALE: f32 = 64.0;
/// The most a layer's edge can grow, in pixels (the layer panel's range).
pub const MAX_GROW: i32 = 64;
/// The widest feather, in pixels (the layer panel's range).
pub const MAX_FEATHER: f32 = 128.0;

/// A generation kept as a layer.
#[derive(Clone, Debug)]
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
    /// What made its pixels.
    pub origin: Origin,
    /// Signed distance to the mask's edge per region pixel (negative inside), in 1/64 px.
    distance: Arc<Vec<i16>>,
    /// The artist's pixels the generation was given (RGB at region size), when known: what
    /// colour match matches to.
    pub context: Option<Arc<Vec<u8>>>,
    /// Which variation shows where, once the variation brush has painted (document size).
    choice: Option<ChoiceTiles>,
    /// Variations fully colour-matched (RGB at region size), and what for.
    matched: Vec<(MeasuredFor, Arc<Vec<u8>>)>,
    /// Each variation's RGB as it shows with the current colour match, once needed.
    sources: Vec<Option<Arc<Vec<u8>>>>,
    /// The RGB shown: the variations mixed as chosen, each corrected when colour match is on.
    shown: Option<Arc<Vec<u8>>>,
    rendered: RgbaTiles,
}

/// Two layers are equal when they hold the same generation shown the same way (what they have
/// worked out on the way — corrections, sources — does not count).
impl PartialEq for GenerativeLayer {
    fn eq(&self, other: &Self) -> bool {
        self.document_size == other.document_size
            && self.region == other.region
            && self.variations == other.variations
            && self.selected == other.selected
            && self.mask == other.mask
            && self.params == other.params
            && self.generation == other.generation
            && self.origin == other.origin
            && self.context == other.context
            && self.choice() == other.choice()
            && self.rendered == other.rendered
    }
}

/// What made a generative layer's pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// A generation by a model (trained algorithmic media).
    #[default]
    Model,
    /// Content-aware fill from the picture's own pixels (an algorithm, no model, no training).
    Fill,
}

/// What a correction depends on: not its strength, nor the edge (it is measured against the
/// mask the generation was made with, so grow and feather only change what shows of it).
#[derive(Clone, Copy, Debug, PartialEq)]
struct MeasuredFor {
    selected: usize,
    mode: color_match::ColorMatchMode,
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
        let distance = Arc::new(signed_distance(
            &mask,
            region.width() as usize,
            region.height() as usize,
        ));
        let mut layer = Self {
            document_size,
            region,
            variations,
            selected: 0,
            mask,
            params,
            generation,
            origin: Origin::Model,
            distance,
            context: None,
            choice: None,
            matched: Vec::new(),
            sources: Vec::new(),
            shown: None,
            rendered: RgbaTiles::new(document_size.0, document_size.1),
        };
        layer.render();
        layer
    }

    /// The same layer knowing the artist's pixels it was generated over (RGB at region size),
    /// so colour match can use them; re-rendered when colour match is on.
    pub fn with_context(mut self, context: Arc<Vec<u8>>) -> Self {
        let size = self.region.width() as usize * self.region.height() as usize * 3;
        if context.len() == size {
            self.context = Some(context);
            self.matched.clear();
            if self.params.color.is_active() {
                self.sources.clear();
                self.render();
            }
        }
        self
    }

    /// The same layer made by `origin`.
    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }

    /// The same layer on a canvas of `document_size`, moved by `dx, dy` pixels (a grown
    /// canvas); `None` when its region would not lie wholly on that canvas.
    pub fn placed(&self, document_size: (u32, u32), dx: u32, dy: u32) -> Option<Self> {
        let region = PixelRect {
            x0: self.region.x0 + dx,
            y0: self.region.y0 + dy,
            x1: self.region.x1 + dx,
            y1: self.region.y1 + dy,
        };
        if region.x1 > document_size.0 || region.y1 > document_size.1 {
            return None;
        }
        let mut layer = self.clone();
        layer.document_size = document_size;
        layer.region = region;
        layer.choice = self.choice.as_ref().map(|choice| {
            choice.placed(
                document_size.0,
                document_size.1,
                i64::from(dx),
                i64::from(dy),
            )
        });
        layer.rendered = self.rendered.placed(
            document_size.0,
            document_size.1,
            i64::from(dx),
            i64::from(dy),
        );
        Some(layer)
    }

    /// The same layer showing variations where `choice` says (a project's saved choice).
    pub fn with_choice(mut self, choice: ChoiceTiles) -> Self {
        if choice.width() == self.document_size.0 && choice.height() == self.document_size.1 {
            self.choice = Some(choice);
            self.render();
        }
        self
    }

    /// Whether colour match can work (the artist's pixels are known).
    pub fn can_match_colour(&self) -> bool {
        self.context.is_some()
    }

    /// Variation `index`'s RGB as it shows with the current colour match (measuring, or
    /// reusing, its correction).
    fn source(&mut self, index: usize) -> Option<Arc<Vec<u8>>> {
        if let Some(Some(source)) = self.sources.get(index) {
            return Some(Arc::clone(source));
        }
        let raw = self.variations.get(index)?.clone();
        let color = self.params.color;
        let source = match self.context.clone().filter(|_| color.is_active()) {
            None => raw,
            Some(context) => {
                let wanted = MeasuredFor {
                    selected: index,
                    mode: color.mode,
                };
                let cached = self
                    .matched
                    .iter()
                    .find(|(measured, _)| *measured == wanted)
                    .map(|(_, matched)| Arc::clone(matched));
                let matched = match cached {
                    Some(matched) => matched,
                    None => {
                        let correction = self.measure(&raw, &context);
                        // Only where the layer can show at the widest grow and feather the panel
                        // offers.
                        let reach =
                            ((MAX_GROW as f32 + MAX_FEATHER / 2.0 + 1.0) * DISTANCE_SCALE) as i16;
                        let distance = Arc::clone(&self.distance);
                        let matched = Arc::new(correction.corrected_where(
                            &raw,
                            self.region.width() as usize,
                            1.0,
                            |index| distance[index] <= reach,
                        ));
                        self.matched
                            .retain(|(measured, _)| measured.mode == color.mode);
                        self.matched.push((wanted, Arc::clone(&matched)));
                        matched
                    }
                };
                let strength = color.strength.clamp(0.0, 1.0);
                if strength >= 1.0 {
                    matched
                } else {
                    Arc::new(color_match::blend(&raw, &matched, strength))
                }
            }
        };
        if self.sources.len() < self.variations.len() {
            self.sources.resize(self.variations.len(), None);
        }
        self.sources[index] = Some(Arc::clone(&source));
        Some(source)
    }

    /// The sources the mix needs: the selected variation's and every painted one's.
    fn mix_sources(&mut self) -> Vec<Option<Arc<Vec<u8>>>> {
        let count = self.variations.len().min(MAX_VARIATIONS);
        let used = match &self.choice {
            Some(choice) => choice::used(choice, &self.region, count),
            None => [false; MAX_VARIATIONS],
        };
        (0..count)
            .map(|index| {
                if used[index] || index == self.selected {
                    self.source(index)
                } else {
                    None
                }
            })
            .collect()
    }

    /// Works out the RGB to show (the variations mixed as chosen, corrected) and returns it.
    fn prepare_shown(&mut self) -> Option<Arc<Vec<u8>>> {
        let base = self.source(self.selected)?;
        if self.choice.is_none() {
            self.shown = Some(Arc::clone(&base));
            return Some(base);
        }
        let sources = self.mix_sources();
        let mut mixed = (*base).clone();
        if let Some(choice) = &self.choice {
            let borrowed: Vec<Option<&[u8]>> = sources
                .iter()
                .map(|s| s.as_deref().map(Vec::as_slice))
                .collect();
            choice::mix(
                choice,
                &borrowed,
                self.selected,
                &self.region,
                &self.region,
                &mut mixed,
            );
        }
        let mixed = Arc::new(mixed);
        self.shown = Some(Arc::clone(&mixed));
        Some(mixed)
    }

    /// Which variation shows where (`None`: the selected one everywhere).
    pub fn choice(&self) -> Option<&ChoiceTiles> {
        self.choice.as_ref().filter(|choice| !choice.is_empty())
    }

    /// The weights the variation brush paints into (created empty on first use).
    pub fn choice_mut(&mut self) -> &mut ChoiceTiles {
        let (width, height) = self.document_size;
        self.choice
            .get_or_insert_with(|| ChoiceTiles::new(width, height))
    }

    /// Gets variation `index` ready to be painted in (its colour match measured), so strokes
    /// stay live; returns whether the layer has it.
    pub fn prepare_variation(&mut self, index: usize) -> bool {
        index < MAX_VARIATIONS && self.source(index).is_some()
    }

    /// Re-renders what shows in `rect` (document pixels) after its weights changed; returns
    /// the document tiles whose pixels changed.
    pub fn refresh_choice(&mut self, rect: &PixelRect) -> Vec<usize> {
        let rect = rect.intersect(&self.region);
        if rect.is_empty() || self.choice.is_none() {
            return Vec::new();
        }
        let count = self.variations.len().min(MAX_VARIATIONS);
        let used = match &self.choice {
            Some(choice) => choice::used(choice, &rect, count),
            None => [false; MAX_VARIATIONS],
        };
        let sources: Vec<Option<Arc<Vec<u8>>>> = (0..count)
            .map(|index| {
                if used[index] || index == self.selected {
                    self.source(index)
                } else {
                    None
                }
            })
            .collect();
        if self.shown.is_none() {
            self.prepare_shown();
        }
        let Some(mut shown) = self.shown.take() else {
            return Vec::new();
        };
        if let Some(choice) = &self.choice {
            let borrowed: Vec<Option<&[u8]>> = sources
                .iter()
                .map(|s| s.as_deref().map(Vec::as_slice))
                .collect();
            choice::mix(
                choice,
                &borrowed,
                self.selected,
                &self.region,
                &rect,
                Arc::make_mut(&mut shown).as_mut_slice(),
            );
        }
        self.shown = Some(Arc::clone(&shown));
        let tiles = self.rendered.tiles_in(&rect);
        let mut changed = Vec::new();
        for index in tiles {
            if let Some(tile) = self.rerender_tile(index, &shown, &rect) {
                self.rendered.replace_tile(index, tile);
                changed.push(index);
            }
        }
        changed
    }

    /// Puts choice tiles back (undo and redo of variation brush strokes); returns the tiles
    /// they replaced and the document tiles whose pixels changed.
    pub fn swap_choice_tiles(&mut self, tiles: TileSwap) -> (TileSwap, Vec<usize>) {
        let mut touched = PixelRect::new(0, 0, 0, 0);
        let choice = self.choice_mut();
        let mut previous = Vec::with_capacity(tiles.len());
        for (index, tile) in tiles {
            touched = touched.union(&choice.tile_rect(index));
            previous.push((index, choice.replace_tile(index, tile)));
        }
        let changed = self.refresh_choice(&touched);
        (previous, changed)
    }

    /// How much of variation `variation` document pixel `(x, y)` shows (0..=255; the weights
    /// of a pixel sum to 255; 0 outside the region).
    pub fn variation_weight(&self, variation: usize, x: u32, y: u32) -> u16 {
        if !self.region.contains(x, y) || variation >= MAX_VARIATIONS {
            return 0;
        }
        let stored = self.choice.as_ref().and_then(|choice| {
            let index = choice.tile_index(x / TILE, y / TILE);
            let offset = (((y % TILE) * TILE + x % TILE) as usize) * MAX_VARIATIONS;
            choice
                .tile(index)
                .map(|tile| &tile[offset..offset + MAX_VARIATIONS])
        });
        choice::effective(stored, self.selected, self.variations.len())[variation]
    }

    /// Each showing variation's share of the layer's visible pixels and where it shows.
    pub fn variation_shares(&self) -> Vec<choice::VariationShare> {
        let shape = (self.params.edge_only() != GenerativeParams::default())
            .then(|| EdgeShape::new(self.params));
        choice::shares(
            self.choice.as_ref(),
            self.selected,
            self.variations.len(),
            &self.region,
            |index| self.alpha_at(shape.as_ref(), index),
        )
    }

    /// The correction of `raw` against the artist's pixels in the ring just outside the mask
    /// the generation was made with (where the model was asked to keep them).
    fn measure(&self, raw: &[u8], context: &[u8]) -> Correction {
        let (width, height) = (self.region.width() as usize, self.region.height() as usize);
        let masked: Vec<bool> = self.mask.iter().map(|&a| a > 0).collect();
        let beyond = squared_distance_transform(&masked, width, height);
        color_match::measure(
            self.params.color.mode,
            raw,
            context,
            width,
            height,
            |index| beyond[index].sqrt(),
        )
    }

    /// The same layer with other parameters, and the document tiles whose pixels changed.
    /// Only pixels that change are rewritten.
    pub fn with_params(&self, params: GenerativeParams) -> (Self, Vec<usize>) {
        let mut layer = self.clone();
        if layer.params.color != params.color {
            layer.sources.clear();
        }
        layer.params = params;
        let Some(raw) = layer.prepare_shown() else {
            return (layer, Vec::new());
        };
        let tiles = self.rendered.tiles_in(&self.region);
        let updates: Vec<(usize, Option<Arc<Vec<u8>>>)> = {
            use rayon::prelude::*;
            tiles
                .par_iter()
                .filter_map(|&index| {
                    layer
                        .rerender_tile(index, &raw, &self.region)
                        .map(|tile| (index, tile))
                })
                .collect()
        };
        let changed = updates.iter().map(|(index, _)| *index).collect();
        for (index, tile) in updates {
            layer.rendered.replace_tile(index, tile);
        }
        (layer, changed)
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
        if self.params.edge_only() == GenerativeParams::default() {
            return self.mask.to_vec();
        }
        let shape = EdgeShape::new(self.params);
        self.distance.iter().map(|&d| shape.alpha(d)).collect()
    }

    fn alpha_at(&self, shape: Option<&EdgeShape>, index: usize) -> u8 {
        match shape {
            None => self.mask[index],
            Some(shape) => shape.alpha(self.distance[index]),
        }
    }

    /// Tile `index` rendered with the current parameters within `within`, if it differs from
    /// the rendered one (`Some(None)`: it became empty).
    fn rerender_tile(
        &self,
        index: usize,
        raw: &[u8],
        within: &PixelRect,
    ) -> Option<Option<Arc<Vec<u8>>>> {
        let shape = (self.params.edge_only() != GenerativeParams::default())
            .then(|| EdgeShape::new(self.params));
        let part = self
            .rendered
            .tile_rect(index)
            .intersect(&self.region)
            .intersect(within);
        let current = self.rendered.tile(index);
        let region_width = self.region.width() as usize;
        let mut updated: Option<Vec<u8>> = None;
        for y in part.y0..part.y1 {
            for x in part.x0..part.x1 {
                let local = ((y % TILE) * TILE + x % TILE) as usize * 4;
                let source =
                    (y - self.region.y0) as usize * region_width + (x - self.region.x0) as usize;
                let alpha = self.alpha_at(shape.as_ref(), source);
                let rgb = &raw[source * 3..source * 3 + 3];
                let unchanged = match current {
                    None => alpha == 0,
                    Some(tile) if alpha == 0 => tile[local + 3] == 0,
                    Some(tile) => tile[local + 3] == alpha && tile[local..local + 3] == *rgb,
                };
                if unchanged {
                    continue;
                }
                let tile = updated.get_or_insert_with(|| {
                    current
                        .map_or_else(|| vec![0; (TILE * TILE * 4) as usize], |tile| tile.to_vec())
                });
                if alpha == 0 {
                    tile[local..local + 4].fill(0);
                } else {
                    tile[local..local + 3].copy_from_slice(rgb);
                    tile[local + 3] = alpha;
                }
            }
        }
        let tile = updated?;
        Some(if tile.iter().all(|&value| value == 0) {
            None
        } else {
            Some(Arc::new(tile))
        })
    }

    fn render(&mut self) {
        let (width, height) = (self.region.width() as usize, self.region.height() as usize);
        let alpha = self.effective_mask();
        let Some(raw) = self.prepare_shown() else {
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

    /// Bytes held (raw variations, mask, distance field and rendered tiles).
    pub fn memory_bytes(&self) -> usize {
        self.variations.iter().map(|raw| raw.len()).sum::<usize>()
            + self.mask.len()
            + self.distance.len() * 2
            + self.context.as_ref().map_or(0, |context| context.len())
            + self.shown.as_ref().map_or(0, |shown| shown.len())
            + self.choice.as_ref().map_or(0, ChoiceTiles::memory_bytes)
            + self.rendered.memory_bytes()
    }
}

/// Grow and feather turned into a map from signed distance to alpha.
struct EdgeShape {
    /// Edge position in distance units (grow moves it outwards).
    edge: f32,
    /// Ramp width in distance units (at least one pixel: anti-aliasing).
    width: f32,
}

impl EdgeShape {
    fn new(params: GenerativeParams) -> Self {
        Self {
            edge: params.grow as f32 * DISTANCE_SCALE,
            width: params.feather.max(1.0) * DISTANCE_SCALE,
        }
    }

    /// Alpha at signed distance `d` (negative inside): a smooth ramp centred on the edge.
    fn alpha(&self, d: i16) -> u8 {
        let t = (0.5 - (f32::from(d) - self.edge) / self.width).clamp(0.0, 1.0);
        crate::document::brush::round_byte(t * t * (3.0 - 2.0 * t) * 255.0)
    }
}

/// Applies grow/shrink and feather to a mask. With neither, the mask is returned as it is (soft
/// edges kept); otherwise the edge is the mask's half-way line, moved and softened.
pub fn shape_mask(mask: &[u8], width: usize, height: usize, params: GenerativeParams) -> Vec<u8> {
    if params.edge_only() == GenerativeParams::default() {
        return mask.to_vec();
    }
    let shape = EdgeShape::new(params);
    signed_distance(mask, width, height)
        .iter()
        .map(|&d| shape.alpha(d))
        .collect()
}

/// Signed Euclidean distance from each pixel centre to the mask's edge (the boundary between
/// pixels at or above half and those below), negative inside, in 1/64 px, clamped to ±511 px.
pub fn signed_distance(mask: &[u8], width: usize, height: usize) -> Vec<i16> {
    let inside: Vec<bool> = mask.iter().map(|&value| value >= 128).collect();
    let outside: Vec<bool> = inside.iter().map(|&value| !value).collect();
    let (to_inside, to_outside) = rayon::join(
        || squared_distance_transform(&inside, width, height),
        || squared_distance_transform(&outside, width, height),
    );
    let limit = f32::from(i16::MAX) / DISTANCE_SCALE;
    inside
        .iter()
        .zip(to_inside.iter().zip(&to_outside))
        .map(|(&is_inside, (&squared_in, &squared_out))| {
            let distance = if is_inside {
                -(squared_out.sqrt() - 0.5)
            } else {
                squared_in.sqrt() - 0.5
            };
            (distance.clamp(-limit, limit) * DISTANCE_SCALE).round() as i16
        })
        .collect()
}

/// Squared Euclidean distance from each pixel to the nearest pixel of `set` (0 on it; huge when
/// the set is empty).
pub fn squared_distance_to(set: &[bool], width: usize, height: usize) -> Vec<f32> {
    squared_distance_transform(set, width, height)
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

    fn shaped(mask: &[u8], size: usize, grow: i32, feather: f32) -> Vec<u8> {
        shape_mask(
            mask,
            size,
            size,
            GenerativeParams {
                grow,
                feather,
                ..GenerativeParams::default()
            },
        )
    }

    #[test]
    fn grow_and_shrink_move_the_edge_by_the_radius() {
        let mask = square_mask(40, 10..30);
        let grown = shaped(&mask, 40, 3, 0.0);
        assert_eq!(grown[20 * 40 + 7], 255, "3 px outside the edge is inside");
        assert_eq!(grown[20 * 40 + 6], 0, "4 px outside is not");
        assert_eq!(grown[20 * 40 + 20], 255, "the inside stays");
        let shrunk = shaped(&mask, 40, -3, 0.0);
        assert_eq!(shrunk[20 * 40 + 13], 255);
        assert_eq!(shrunk[20 * 40 + 12], 0);
        // Corners grow round (Euclidean), not square.
        assert_eq!(
            grown[7 * 40 + 7],
            0,
            "the diagonal corner is farther than 3 px"
        );
    }

    #[test]
    fn feather_softens_only_near_the_edge() {
        let mask = square_mask(64, 16..48);
        let soft = shaped(&mask, 64, 0, 12.0);
        assert_eq!(soft[32 * 64 + 32], 255, "centre stays full");
        assert_eq!(soft[2 * 64 + 2], 0, "far outside stays empty");
        let edge = soft[32 * 64 + 16];
        assert!(edge > 60 && edge < 200, "edge is soft: {edge}");
        // Symmetric around the edge, monotonic across it.
        let inside = i32::from(soft[32 * 64 + 18]);
        let outside = i32::from(soft[32 * 64 + 13]);
        assert!((inside - (255 - outside)).abs() < 30, "{inside} {outside}");
        let row: Vec<u8> = (0..32).map(|x| soft[32 * 64 + x]).collect();
        assert!(row.windows(2).all(|pair| pair[0] <= pair[1]), "{row:?}");
        assert_eq!(soft[32 * 64 + 9], 0, "beyond half the width nothing shows");
    }

    #[test]
    fn no_parameters_keep_the_mask_as_it_is() {
        let mask: Vec<u8> = (0..=255).collect();
        assert_eq!(shape_mask(&mask, 16, 16, GenerativeParams::default()), mask);
    }

    #[test]
    fn changing_parameters_rewrites_only_the_changed_tiles() {
        let size = 600;
        let region = PixelRect::new(0, 0, size, size);
        let mask = square_mask(size as usize, 100..200);
        let raw = vec![200_u8; (size * size * 3) as usize];
        let layer = GenerativeLayer::new(
            (size, size),
            region,
            vec![Arc::new(raw)],
            Arc::new(mask),
            GenerativeParams::default(),
            1,
        );
        let (feathered, changed) = layer.with_params(GenerativeParams {
            grow: 0,
            feather: 10.0,
            ..GenerativeParams::default()
        });
        assert_eq!(changed, vec![0], "the square lies in the first tile");
        let (back, changed) = feathered.with_params(GenerativeParams::default());
        assert_eq!(changed, vec![0]);
        assert!(
            back.rendered() == layer.rendered(),
            "going back restores the pixels exactly"
        );
        // The same result as rendering from scratch.
        let fresh = GenerativeLayer::new(
            (size, size),
            region,
            layer.variations.clone(),
            layer.mask.clone(),
            GenerativeParams {
                grow: 0,
                feather: 10.0,
                ..GenerativeParams::default()
            },
            1,
        );
        assert!(fresh.rendered() == feathered.rendered());
    }
}
