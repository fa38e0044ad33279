//! Generative layers: a generation's raw result over its region, shown through the mask it was
//! made with, shaped by live parameters (grow or shrink, feather, colour match — see
//! [`super::color_match`]), and which variation shows where (painted with the variation
//! brush — see [`super::choice`]). Changing a parameter shapes the kept raw result again;
//! nothing is generated again, and no other layer is touched.
//!
//! Shaping works on the mask's signed distance field (computed once per layer, exact Euclidean):
//! growing moves the edge along it, feathering turns the distance into a smooth ramp, and the
//! match strength blends the colours as generated towards the fully matched ones. The GPU
//! compositor does that shaping itself from [`GpuTile`]s (which do not depend on those
//! parameters), so dragging one costs a GPU pass; the CPU shapes the same bytes, in integer
//! arithmetic, only when its pixels are asked for (exports, thumbnails, the provenance map).

use std::sync::{Arc, OnceLock};

use crate::document::choice::{self, ChoiceTiles, MAX_VARIATIONS};
use crate::document::color_match::{self, ColorMatch, Correction};
use crate::document::distance::squared_distance_to;
use crate::document::tiles::{PixelRect, RgbaTiles, TILE, Tile};

mod edge;

pub use edge::{shape_mask, signed_distance};

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
    /// The variation shown (where the variation brush has not painted another).
    pub selected: usize,
    /// The mask the generation was made with, at region size (255 = regenerated).
    pub mask: Arc<Vec<u8>>,
    /// Grow, feather and colour match.
    pub params: GenerativeParams,
    /// The entry of the generation log this layer came from.
    pub generation: u64,
    /// What made its pixels.
    pub origin: Origin,
    /// Signed distance to the mask's edge per region pixel (negative inside), in 1/64 px.
    distance: Arc<Vec<i16>>,
    /// The document pixels the mask covers at all (where the layer can show, before growing).
    mask_bounds: PixelRect,
    /// The artist's pixels the generation was given (RGB at region size), when known: what
    /// colour match matches to.
    pub context: Option<Arc<Vec<u8>>>,
    /// Which variation shows where, once the variation brush has painted (document size).
    choice: Option<ChoiceTiles>,
    /// Where colour match measures (region pixel indices just outside the mask), found when
    /// first measured; it depends on the mask alone, so every version of the layer shares it.
    ring: Arc<OnceLock<Vec<usize>>>,
    /// Variations fully colour-matched (RGB at region size), and what for: each variation
    /// once per mode it was shown with (at most two, global and local).
    matched: Vec<(MeasuredFor, Arc<Vec<u8>>)>,
    /// What shows, as generated: the variations mixed as chosen (RGB at region size).
    raw_mix: Option<Arc<Vec<u8>>>,
    /// What shows, fully colour-matched: each variation matched, then mixed (while colour
    /// match is on). The match strength blends `raw_mix` towards it.
    matched_mix: Option<Arc<Vec<u8>>>,
    /// The shaped pixels the CPU compositor uses, made when first asked for after a change.
    rendered: OnceLock<RgbaTiles>,
    /// Per document tile, what the GPU compositor shapes itself (made when first asked for).
    /// They do not depend on grow, feather or the match strength.
    gpu: Vec<OnceLock<Option<Arc<GpuTile>>>>,
}

/// A generative layer's unshaped pixels of one document tile, for the GPU compositor, which
/// shapes them as [`GenerativeLayer::rendered`] does (`shaders/composite.wgsl`).
#[derive(Clone, Debug, PartialEq)]
pub struct GpuTile {
    /// RGBA8 per pixel: the colour as generated (`raw_mix`) and the mask.
    pub colour: Tile,
    /// RGBA8 per pixel: the fully matched colour, while colour match is on.
    pub matched: Option<Tile>,
    /// The signed distance per pixel, `i16` little-endian (far outside beyond the region).
    pub distance: Vec<u8>,
}

/// How the GPU compositor shapes a generative layer's tiles: [`GpuTile`] plus these give the
/// rendered pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shading {
    /// Alpha from the distance field (grow or feather set); otherwise the mask as it is.
    pub shaped: bool,
    /// The edge, in distance units (grow × 64).
    pub edge: i32,
    /// The ramp width in distance units (feather × 64, at least 64).
    pub width: i32,
    /// The match strength in 1/256 (0 when colour match is off).
    pub weight: u32,
}

impl Shading {
    /// The shading of grow and feather in `params`, with match strength `weight` in 1/256.
    fn of(params: GenerativeParams, weight: u32) -> Self {
        Self {
            shaped: params.edge_only() != GenerativeParams::default(),
            edge: params.grow * DISTANCE_SCALE as i32,
            width: (params.feather.max(1.0) * DISTANCE_SCALE).round() as i32,
            weight,
        }
    }

    /// Alpha at signed distance `d` (negative inside): the smooth ramp `3t² − 2t³` of
    /// `t = ½ − (d − edge) / width`, in integer arithmetic (12-bit `t`) so the GPU computes the
    /// very same bytes.
    pub fn alpha(self, d: i16) -> u8 {
        let width = self.width.max(1);
        let twice = 2 * width;
        let numerator = (width - 2 * (i32::from(d) - self.edge)).clamp(0, twice);
        let t = (numerator * 2048 / width) as u32;
        let squared = (t * t) >> 12;
        let smooth = (squared * (12288 - 2 * t)) >> 12;
        ((smooth * 255 + 2048) >> 12) as u8
    }

    /// The colour shown: `raw` blended towards `matched` by the match strength (as
    /// [`color_match::blend`]).
    pub fn colour(self, raw: u8, matched: u8) -> u8 {
        let (a, b) = (u32::from(raw), u32::from(matched));
        ((a * (256 - self.weight) + b * self.weight + 128) >> 8) as u8
    }
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
            && self.rendered() == other.rendered()
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
    /// A generative layer.
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
        let tiles = RgbaTiles::new(document_size.0, document_size.1).tile_count();
        let mask_bounds = {
            let width = region.width() as usize;
            let mut bounds = PixelRect::new(0, 0, 0, 0);
            for (y, row) in mask.chunks(width.max(1)).enumerate() {
                let first = row.iter().position(|&value| value > 0);
                let last = row.iter().rposition(|&value| value > 0);
                if let (Some(first), Some(last)) = (first, last) {
                    bounds = bounds.union(&PixelRect::new(
                        region.x0 + first as u32,
                        region.y0 + y as u32,
                        (last - first + 1) as u32,
                        1,
                    ));
                }
            }
            bounds
        };
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
            mask_bounds,
            context: None,
            choice: None,
            ring: Arc::default(),
            matched: Vec::new(),
            raw_mix: None,
            matched_mix: None,
            rendered: OnceLock::new(),
            gpu: vec![OnceLock::new(); tiles],
        };
        layer.prepare_sources();
        layer
    }

    /// The same layer knowing the artist's pixels it was generated over (RGB at region size),
    /// so colour match can use them.
    pub fn with_context(mut self, context: Arc<Vec<u8>>) -> Self {
        let size = self.region.width() as usize * self.region.height() as usize * 3;
        if context.len() == size {
            self.context = Some(context);
            self.matched.clear();
            if self.params.color.is_active() {
                self.prepare_sources();
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
        if !self.mask_bounds.is_empty() {
            layer.mask_bounds = PixelRect {
                x0: self.mask_bounds.x0 + dx,
                y0: self.mask_bounds.y0 + dy,
                x1: self.mask_bounds.x1 + dx,
                y1: self.mask_bounds.y1 + dy,
            };
        }
        layer.choice = self.choice.as_ref().map(|choice| {
            choice.placed(
                document_size.0,
                document_size.1,
                i64::from(dx),
                i64::from(dy),
            )
        });
        let tiles = RgbaTiles::new(document_size.0, document_size.1).tile_count();
        layer.gpu = vec![OnceLock::new(); tiles];
        layer.rendered = OnceLock::new();
        Some(layer)
    }

    /// The same layer showing variations where `choice` says (a project's saved choice).
    pub fn with_choice(mut self, choice: ChoiceTiles) -> Self {
        if choice.width() == self.document_size.0 && choice.height() == self.document_size.1 {
            self.choice = Some(choice);
            self.prepare_sources();
        }
        self
    }

    /// Whether colour match can work (the artist's pixels are known).
    pub fn can_match_colour(&self) -> bool {
        self.context.is_some()
    }

    /// Variation `index` fully colour-matched with the current mode (measured, or reused).
    fn matched_variation(&mut self, index: usize) -> Option<Arc<Vec<u8>>> {
        let mode = self.params.color.mode;
        let context = self
            .context
            .clone()
            .filter(|_| self.params.color.is_active())?;
        let wanted = MeasuredFor {
            selected: index,
            mode,
        };
        if let Some((_, matched)) = self
            .matched
            .iter()
            .find(|(measured, _)| *measured == wanted)
        {
            return Some(Arc::clone(matched));
        }
        let raw = self.variations.get(index)?.clone();
        let correction = self.measure(&raw, &context);
        // Only where the layer can show at the widest grow and feather the panel offers.
        let reach = ((MAX_GROW as f32 + MAX_FEATHER / 2.0 + 1.0) * DISTANCE_SCALE) as i16;
        let distance = Arc::clone(&self.distance);
        let matched = Arc::new(correction.corrected_where(
            &raw,
            self.region.width() as usize,
            1.0,
            |at| distance[at] <= reach,
        ));
        // Kept for the other mode too: switching back to compare costs no second measurement.
        self.matched.push((wanted, Arc::clone(&matched)));
        Some(matched)
    }

    /// The variations that show anywhere (the selected one, and every one painted).
    fn shown_variations(&self, within: &PixelRect) -> [bool; MAX_VARIATIONS] {
        let count = self.variations.len().min(MAX_VARIATIONS);
        let mut used = match &self.choice {
            Some(choice) => choice::used(choice, within, count),
            None => [false; MAX_VARIATIONS],
        };
        if self.selected < MAX_VARIATIONS {
            used[self.selected] = true;
        }
        used
    }

    /// `sources` (one per variation, `None` where unused) mixed as chosen within `rect`
    /// into `out`.
    fn mix_into(&self, sources: &[Option<Arc<Vec<u8>>>], rect: &PixelRect, out: &mut [u8]) {
        if let Some(choice) = &self.choice {
            let borrowed: Vec<Option<&[u8]>> = sources
                .iter()
                .map(|source| source.as_deref().map(Vec::as_slice))
                .collect();
            choice::mix(choice, &borrowed, self.selected, &self.region, rect, out);
        }
    }

    /// The raw variations that are `used` (`None` for the others), one per variation.
    fn raw_sources(&self, used: &[bool; MAX_VARIATIONS]) -> Vec<Option<Arc<Vec<u8>>>> {
        let count = self.variations.len().min(MAX_VARIATIONS);
        (0..count)
            .map(|index| used[index].then(|| Arc::clone(&self.variations[index])))
            .collect()
    }

    /// The fully matched variations that are `used` (measured when first needed).
    fn matched_sources(&mut self, used: &[bool; MAX_VARIATIONS]) -> Vec<Option<Arc<Vec<u8>>>> {
        let count = self.variations.len().min(MAX_VARIATIONS);
        (0..count)
            .map(|index| {
                if used[index] {
                    self.matched_variation(index)
                } else {
                    None
                }
            })
            .collect()
    }

    /// The document's tile grid (an empty image of its size).
    fn grid(&self) -> RgbaTiles {
        RgbaTiles::new(self.document_size.0, self.document_size.1)
    }

    /// Works out what shows (as generated and fully matched) from the variations, the choice
    /// and the colour mode; everything made from them is made again when next asked for.
    fn prepare_sources(&mut self) {
        let Some(base) = self.variations.get(self.selected).cloned() else {
            return;
        };
        let used = self.shown_variations(&self.region);
        let count = self.variations.len().min(MAX_VARIATIONS);
        let painted = self.choice().is_some();
        self.raw_mix = Some(if painted {
            let sources = self.raw_sources(&used);
            let mut mixed = (*base).clone();
            self.mix_into(&sources, &self.region, &mut mixed);
            Arc::new(mixed)
        } else {
            base
        });
        self.matched_mix = if self.params.color.is_active() && self.context.is_some() {
            let sources = self.matched_sources(&used);
            sources[self.selected.min(count - 1)].clone().map(|base| {
                if painted {
                    let mut mixed = (*base).clone();
                    self.mix_into(&sources, &self.region, &mut mixed);
                    Arc::new(mixed)
                } else {
                    base
                }
            })
        } else {
            None
        };
        self.invalidate_all();
    }

    /// Forgets the shaped pixels and the GPU tiles (made again when asked for).
    fn invalidate_all(&mut self) {
        self.rendered = OnceLock::new();
        self.gpu.iter_mut().for_each(|tile| *tile = OnceLock::new());
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
        if index >= MAX_VARIATIONS || index >= self.variations.len() {
            return false;
        }
        if self.params.color.is_active() {
            self.matched_variation(index);
        }
        true
    }

    /// Updates what shows in `rect` (document pixels) after its weights changed; returns the
    /// document tiles whose pixels changed.
    pub fn refresh_choice(&mut self, rect: &PixelRect) -> Vec<usize> {
        let rect = rect.intersect(&self.region);
        if rect.is_empty() || self.choice.is_none() {
            return Vec::new();
        }
        let used = self.shown_variations(&rect);
        let raw = self.raw_sources(&used);
        if let Some(mut mixed) = self.raw_mix.take() {
            self.mix_into(&raw, &rect, Arc::make_mut(&mut mixed).as_mut_slice());
            self.raw_mix = Some(mixed);
        }
        if self.matched_mix.is_some() {
            let matched = self.matched_sources(&used);
            if let Some(mut mixed) = self.matched_mix.take() {
                self.mix_into(&matched, &rect, Arc::make_mut(&mut mixed).as_mut_slice());
                self.matched_mix = Some(mixed);
            }
        }
        let tiles = self.grid().tiles_in(&rect);
        for &index in &tiles {
            self.gpu[index] = OnceLock::new();
        }
        // Shaped pixels already made are brought up to date where they changed.
        if self.rendered.get().is_some() {
            let updates: Vec<(usize, Option<Arc<Tile>>)> = tiles
                .iter()
                .map(|&index| (index, self.render_tile(index)))
                .collect();
            if let Some(rendered) = self.rendered.get_mut() {
                for (index, tile) in updates {
                    rendered.replace_tile(index, tile);
                }
            }
        }
        tiles
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
        let shading = self.shading();
        choice::shares(
            self.choice.as_ref(),
            self.selected,
            self.variations.len(),
            &self.region,
            |index| self.alpha_at(shading, index),
        )
    }

    /// The correction of `raw` against the artist's pixels in the ring just outside the mask
    /// the generation was made with (where the model was asked to keep them).
    fn measure(&self, raw: &[u8], context: &[u8]) -> Correction {
        let (width, height) = (self.region.width() as usize, self.region.height() as usize);
        let ring = self.ring.get_or_init(|| {
            let masked: Vec<bool> = self.mask.iter().map(|&a| a > 0).collect();
            let beyond = squared_distance_to(&masked, width, height);
            color_match::ring(width, height, |index| beyond[index].sqrt())
        });
        color_match::measure_in(self.params.color.mode, raw, context, (width, height), ring)
    }

    /// The same layer with other parameters, and the document tiles whose pixels may have
    /// changed. Grow, feather and match strength change nothing but how the layer is shaped
    /// (the GPU compositor shapes it itself); a colour mode measures its correction once.
    pub fn with_params(&self, params: GenerativeParams) -> (Self, Vec<usize>) {
        let mut layer = self.clone();
        let mode_changed = layer.params.color.mode != params.color.mode
            || layer.params.color.is_active() != params.color.is_active();
        let before = self.params;
        layer.params = params;
        if mode_changed {
            layer.prepare_sources();
        } else {
            layer.rendered = OnceLock::new();
        }
        // Where the layer can show with either set of parameters.
        let reach = |params: GenerativeParams| {
            if params.edge_only() == GenerativeParams::default() {
                0
            } else {
                (params.grow.max(0) as f32 + params.feather.max(1.0) / 2.0 + 1.0).ceil() as u32
            }
        };
        let reach = reach(before).max(reach(params));
        let b = self.mask_bounds;
        let affected = PixelRect {
            x0: b.x0.saturating_sub(reach),
            y0: b.y0.saturating_sub(reach),
            x1: b.x1 + reach,
            y1: b.y1 + reach,
        }
        .intersect(&self.region);
        let tiles = if b.is_empty() {
            Vec::new()
        } else {
            self.grid().tiles_in(&affected)
        };
        (layer, tiles)
    }

    /// The same layer showing another variation (where the brush has not painted another).
    pub fn with_selected(&self, selected: usize) -> Self {
        let mut layer = self.clone();
        layer.selected = selected.min(self.variations.len().saturating_sub(1));
        layer.prepare_sources();
        layer
    }

    /// The shaped pixels the CPU compositor uses.
    ///
    /// They are made on all cores without holding the cell: a thread pool worker that waited
    /// on a cell whose maker waits for the pool would never wake (an autosave and the
    /// thumbnails asking at once). Two threads asking at once may both make them; the first
    /// kept wins, and both are the same pixels.
    pub fn rendered(&self) -> &RgbaTiles {
        if let Some(rendered) = self.rendered.get() {
            return rendered;
        }
        let mut rendered = self.grid();
        let tiles = rendered.tiles_in(&self.region);
        let made: Vec<(usize, Option<Arc<Tile>>)> = {
            use rayon::prelude::*;
            tiles
                .par_iter()
                .map(|&index| (index, self.render_tile(index)))
                .collect()
        };
        for (index, tile) in made {
            rendered.replace_tile(index, tile);
        }
        let _ = self.rendered.set(rendered);
        self.rendered
            .get()
            .unwrap_or_else(|| unreachable!("set just above"))
    }

    /// Where document tile `index` lies.
    pub fn tile_rect(&self, index: usize) -> PixelRect {
        let columns = self.document_size.0.div_ceil(TILE).max(1) as usize;
        let (column, row) = ((index % columns) as u32, (index / columns) as u32);
        PixelRect::new(column * TILE, row * TILE, TILE, TILE).intersect(&PixelRect::new(
            0,
            0,
            self.document_size.0,
            self.document_size.1,
        ))
    }

    /// How the layer is shaped now (the GPU compositor's uniforms).
    pub fn shading(&self) -> Shading {
        let params = self.params;
        let weight = if self.matched_mix.is_some() {
            (params.color.strength.clamp(0.0, 1.0) * 256.0).round() as u32
        } else {
            0
        };
        Shading::of(params, weight)
    }

    /// The alpha the mask gives each region pixel after grow and feather.
    pub fn effective_mask(&self) -> Vec<u8> {
        let shading = self.shading();
        (0..self.mask.len())
            .map(|index| self.alpha_at(shading, index))
            .collect()
    }

    fn alpha_at(&self, shading: Shading, index: usize) -> u8 {
        if shading.shaped {
            shading.alpha(self.distance[index])
        } else {
            self.mask[index]
        }
    }

    /// Document tile `index` shaped (the CPU reference of the GPU compositor's shaping).
    fn render_tile(&self, index: usize) -> Option<Arc<Tile>> {
        let raw = self.raw_mix.as_ref()?;
        let matched = self.matched_mix.as_ref();
        let shading = self.shading();
        let part = self.tile_rect(index).intersect(&self.region);
        if part.is_empty() {
            return None;
        }
        let region_width = self.region.width() as usize;
        let mut tile = vec![0_u8; (TILE * TILE * 4) as usize];
        let mut any = false;
        for y in part.y0..part.y1 {
            for x in part.x0..part.x1 {
                let source =
                    (y - self.region.y0) as usize * region_width + (x - self.region.x0) as usize;
                let alpha = self.alpha_at(shading, source);
                if alpha == 0 {
                    continue;
                }
                any = true;
                let local = ((y % TILE) * TILE + x % TILE) as usize * 4;
                for channel in 0..3 {
                    let from = raw[source * 3 + channel];
                    tile[local + channel] = match matched {
                        Some(matched) => shading.colour(from, matched[source * 3 + channel]),
                        None => from,
                    };
                }
                tile[local + 3] = alpha;
            }
        }
        any.then(|| Arc::new(tile))
    }

    /// Document tile `index` unshaped, for the GPU compositor (`None`: the layer has nothing
    /// there).
    pub fn gpu_tile(&self, index: usize) -> Option<Arc<GpuTile>> {
        self.gpu
            .get(index)?
            .get_or_init(|| self.make_gpu_tile(index))
            .clone()
    }

    fn make_gpu_tile(&self, index: usize) -> Option<Arc<GpuTile>> {
        let raw = self.raw_mix.as_ref()?;
        let part = self.tile_rect(index).intersect(&self.region);
        if part.is_empty() {
            return None;
        }
        let pixels = (TILE * TILE) as usize;
        let mut colour = vec![0_u8; pixels * 4];
        let mut matched = self.matched_mix.as_ref().map(|_| vec![0_u8; pixels * 4]);
        // Beyond the region: far outside, so no grow reaches it.
        let mut distance: Vec<u8> = i16::MAX
            .to_le_bytes()
            .iter()
            .copied()
            .cycle()
            .take(pixels * 2)
            .collect();
        let region_width = self.region.width() as usize;
        for y in part.y0..part.y1 {
            for x in part.x0..part.x1 {
                let source =
                    (y - self.region.y0) as usize * region_width + (x - self.region.x0) as usize;
                let local = ((y % TILE) * TILE + x % TILE) as usize;
                colour[local * 4..local * 4 + 3].copy_from_slice(&raw[source * 3..source * 3 + 3]);
                colour[local * 4 + 3] = self.mask[source];
                if let (Some(out), Some(from)) = (&mut matched, &self.matched_mix) {
                    out[local * 4..local * 4 + 3]
                        .copy_from_slice(&from[source * 3..source * 3 + 3]);
                }
                distance[local * 2..local * 2 + 2]
                    .copy_from_slice(&self.distance[source].to_le_bytes());
            }
        }
        Some(Arc::new(GpuTile {
            colour,
            matched,
            distance,
        }))
    }

    /// Bytes held (raw variations, mask, distance field, what shows and rendered tiles).
    pub fn memory_bytes(&self) -> usize {
        self.variations.iter().map(|raw| raw.len()).sum::<usize>()
            + self.mask.len()
            + self.distance.len() * 2
            + self.context.as_ref().map_or(0, |context| context.len())
            + self
                .ring
                .get()
                .map_or(0, |ring| ring.len() * size_of::<usize>())
            + self
                .matched
                .iter()
                .map(|(_, matched)| matched.len())
                .sum::<usize>()
            + self.matched_mix.as_ref().map_or(0, |mixed| mixed.len())
            + self.choice.as_ref().map_or(0, ChoiceTiles::memory_bytes)
            + self.rendered.get().map_or(0, RgbaTiles::memory_bytes)
    }
}

#[cfg(test)]
mod tests;
