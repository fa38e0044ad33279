//! The document: canvas size, layers, the inpainting mask, the generation log and the undo
//! history. Plain data — no UI types — so tests and the command line use it directly.
//!
//! Every operation that changes pixels or layers records an undo step and marks what it
//! changed, so the canvas re-uploads only those tiles.

pub mod brush;
pub mod compositor;
pub mod generative;
pub mod history;
pub mod layer;
pub mod provenance_log;
pub mod tiles;

use std::collections::BTreeSet;
use std::sync::Arc;

use brush::{BrushSettings, Stroke, StrokeMode, StrokePoint};
use compositor::Provenance;
use generative::{GenerativeLayer, GenerativeParams};
use history::{Change, Entry, History, TileTarget};
use layer::{Layer, LayerContent, LayerId, LayerProperties};
pub use provenance_log::GenerationRecord;
use tiles::{MaskTiles, PixelRect, RgbaTiles, TILE};

/// Largest canvas side.
pub const MAX_SIDE: u32 = 8192;

/// Why an operation was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DocumentError {
    /// The canvas size is out of range.
    #[error("a canvas must be 1 to {MAX_SIDE} pixels wide and high, not {width}×{height}")]
    Size {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
    },
    /// The layer does not exist (any more).
    #[error("that layer no longer exists")]
    NoLayer,
    /// The layer is locked.
    #[error("the layer \"{name}\" is locked; unlock it in the layer panel to change it")]
    Locked {
        /// Its name.
        name: String,
    },
    /// Generative layers stay where they were generated.
    #[error(
        "\"{name}\" is a generative layer and stays where it was generated; move a paint layer instead"
    )]
    NotMovable {
        /// Its name.
        name: String,
    },
    /// The operation needs a paint layer.
    #[error("\"{name}\" is a generative layer; paint on a paint layer (add one above it)")]
    NotPaintable {
        /// Its name.
        name: String,
    },
}

/// What changed since the canvas last uploaded, in document tiles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dirty {
    /// Composite tiles to recompute (indices in the document's tile grid).
    pub tiles: BTreeSet<usize>,
    /// Mask tiles to re-upload.
    pub mask_tiles: BTreeSet<usize>,
    /// Everything (new document, size change).
    pub all: bool,
}

/// A paint layer being moved: its pixels before the move, and the offset shown now.
#[derive(Debug)]
struct ActiveMove {
    layer: LayerId,
    original: RgbaTiles,
    offset: (i64, i64),
}

/// A stroke being drawn and its target.
#[derive(Debug)]
struct ActiveStroke {
    target: TileTarget,
    stroke: Stroke,
}

/// A document.
#[derive(Debug)]
pub struct Document {
    width: u32,
    height: u32,
    /// Bottom to top.
    layers: Vec<Layer>,
    mask: MaskTiles,
    /// Every generation made in this document, accepted or not (append-only).
    pub generation_log: Vec<GenerationRecord>,
    history: History,
    next_id: u64,
    dirty: Dirty,
    /// Increases with every change; compared with the saved revision for "unsaved changes".
    revision: u64,
    saved_revision: u64,
    active: Option<ActiveStroke>,
    moving: Option<ActiveMove>,
}

impl Document {
    /// An empty canvas with one transparent paint layer.
    pub fn new(width: u32, height: u32) -> Result<Self, DocumentError> {
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(DocumentError::Size { width, height });
        }
        let mut document = Self {
            width,
            height,
            layers: Vec::new(),
            mask: MaskTiles::new(width, height),
            generation_log: Vec::new(),
            history: History::default(),
            next_id: 1,
            dirty: Dirty {
                all: true,
                ..Dirty::default()
            },
            revision: 0,
            saved_revision: 0,
            active: None,
            moving: None,
        };
        let id = document.allocate_id();
        document.layers.push(Layer {
            id,
            properties: LayerProperties::named("Layer 1"),
            content: LayerContent::Paint(RgbaTiles::new(width, height)),
        });
        Ok(document)
    }

    /// A document from loaded parts (files); no undo history.
    pub fn from_parts(
        width: u32,
        height: u32,
        layers: Vec<Layer>,
        mask: MaskTiles,
        generation_log: Vec<GenerationRecord>,
    ) -> Result<Self, DocumentError> {
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(DocumentError::Size { width, height });
        }
        let next_id = layers.iter().map(|layer| layer.id.0).max().unwrap_or(0) + 1;
        Ok(Self {
            width,
            height,
            layers,
            mask,
            generation_log,
            history: History::default(),
            next_id,
            dirty: Dirty {
                all: true,
                ..Dirty::default()
            },
            revision: 0,
            saved_revision: 0,
            active: None,
            moving: None,
        })
    }

    /// A copy of the current state without history (cheap: tiles are shared), for saving in
    /// the background.
    pub fn snapshot(&self) -> Self {
        Self {
            width: self.width,
            height: self.height,
            layers: self.layers.clone(),
            mask: self.mask.clone(),
            generation_log: self.generation_log.clone(),
            history: History::default(),
            next_id: self.next_id,
            dirty: Dirty::default(),
            revision: self.revision,
            saved_revision: self.saved_revision,
            active: None,
            moving: None,
        }
    }

    fn allocate_id(&mut self) -> LayerId {
        let id = LayerId(self.next_id);
        self.next_id += 1;
        id
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The whole canvas as a rectangle.
    pub fn bounds(&self) -> PixelRect {
        PixelRect::new(0, 0, self.width, self.height)
    }

    /// Layers, bottom to top.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// A layer by id.
    pub fn layer(&self, id: LayerId) -> Option<&Layer> {
        self.layers.iter().find(|layer| layer.id == id)
    }

    /// Position of a layer (bottom = 0).
    pub fn layer_index(&self, id: LayerId) -> Option<usize> {
        self.layers.iter().position(|layer| layer.id == id)
    }

    /// The inpainting mask (255 = regenerate).
    pub fn mask(&self) -> &MaskTiles {
        &self.mask
    }

    /// The undo history.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Sets the history's memory budget.
    pub fn set_history_budget(&mut self, bytes: usize) {
        self.history.set_budget(bytes);
    }

    /// Whether there are changes since the last save.
    pub fn has_unsaved_changes(&self) -> bool {
        self.revision != self.saved_revision
    }

    /// The current revision (changes with every edit, undo and redo).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Marks the current state as saved.
    pub fn mark_saved(&mut self) {
        self.saved_revision = self.revision;
    }

    /// Marks the document as changed since its last save (recovered work that exists only in
    /// an autosave).
    pub fn mark_modified(&mut self) {
        self.changed();
    }

    /// Takes the changes since the last call (for the canvas upload).
    pub fn take_dirty(&mut self) -> Dirty {
        std::mem::take(&mut self.dirty)
    }

    fn mark_rect(&mut self, rect: &PixelRect) {
        let grid = MaskTiles::new(self.width, self.height);
        self.dirty.tiles.extend(grid.tiles_in(rect));
    }

    fn mark_layer(&mut self, id: LayerId) {
        let tiles: Vec<usize> = match self.layer(id) {
            Some(layer) => {
                let pixels = layer.pixels();
                (0..pixels.tile_count())
                    .filter(|&index| pixels.tile(index).is_some())
                    .collect()
            }
            None => return,
        };
        self.dirty.tiles.extend(tiles);
    }

    fn changed(&mut self) {
        self.revision += 1;
    }

    fn record(&mut self, label: &str, changes: Vec<Change>, coalesce: Option<String>) {
        self.history.push(Entry {
            label: label.to_owned(),
            changes,
            coalesce,
        });
        self.changed();
    }

    fn editable(&self, id: LayerId) -> Result<&Layer, DocumentError> {
        let layer = self.layer(id).ok_or(DocumentError::NoLayer)?;
        if layer.properties.locked {
            return Err(DocumentError::Locked {
                name: layer.properties.name.clone(),
            });
        }
        Ok(layer)
    }

    // ---- Layers ----------------------------------------------------------------------------

    /// Adds an empty paint layer above position `below` (or on top); returns its id.
    pub fn add_paint_layer(&mut self, name: &str, above: Option<usize>) -> LayerId {
        let id = self.allocate_id();
        let index = above.map_or(self.layers.len(), |index| {
            (index + 1).min(self.layers.len())
        });
        self.layers.insert(
            index,
            Layer {
                id,
                properties: LayerProperties::named(name),
                content: LayerContent::Paint(RgbaTiles::new(self.width, self.height)),
            },
        );
        self.record("Add layer", vec![Change::Remove { layer: id }], None);
        id
    }

    /// Adds a paint layer holding an image (straight RGBA8) placed at `x, y`.
    pub fn import_layer(
        &mut self,
        name: &str,
        width: u32,
        height: u32,
        rgba: &[u8],
        x: u32,
        y: u32,
    ) -> LayerId {
        let mut tiles = RgbaTiles::new(self.width, self.height);
        tiles.write_rect(&PixelRect::new(x, y, width, height), rgba);
        let id = self.allocate_id();
        self.layers.push(Layer {
            id,
            properties: LayerProperties::named(name),
            content: LayerContent::Paint(tiles),
        });
        self.mark_layer(id);
        self.record("Import image", vec![Change::Remove { layer: id }], None);
        id
    }

    /// Removes a layer.
    pub fn remove_layer(&mut self, id: LayerId) -> Result<(), DocumentError> {
        self.end_move();
        let index = self.layer_index(id).ok_or(DocumentError::NoLayer)?;
        self.mark_layer(id);
        let layer = self.layers.remove(index);
        self.record(
            "Delete layer",
            vec![Change::Insert {
                index,
                layer: Box::new(layer),
            }],
            None,
        );
        Ok(())
    }

    /// Moves a layer to position `to` (bottom = 0).
    pub fn move_layer(&mut self, id: LayerId, to: usize) -> Result<(), DocumentError> {
        let from = self.layer_index(id).ok_or(DocumentError::NoLayer)?;
        let to = to.min(self.layers.len() - 1);
        if from == to {
            return Ok(());
        }
        let layer = self.layers.remove(from);
        self.layers.insert(to, layer);
        self.mark_layer(id);
        self.record(
            "Move layer",
            vec![Change::Move {
                layer: id,
                to: from,
            }],
            None,
        );
        Ok(())
    }

    /// Changes a layer's properties. Changes in a row with the same `coalesce` key (a slider
    /// drag) make one undo step.
    pub fn set_properties(
        &mut self,
        id: LayerId,
        properties: LayerProperties,
        coalesce: Option<&str>,
    ) -> Result<(), DocumentError> {
        let index = self.layer_index(id).ok_or(DocumentError::NoLayer)?;
        let previous = std::mem::replace(&mut self.layers[index].properties, properties);
        if previous == self.layers[index].properties {
            return Ok(());
        }
        self.mark_layer(id);
        self.record(
            "Layer properties",
            vec![Change::Properties {
                layer: id,
                properties: previous,
            }],
            coalesce.map(|key| format!("{key}:{}", id.0)),
        );
        Ok(())
    }

    /// Ends a coalesced run of changes (a slider released).
    pub fn seal_history(&mut self) {
        self.history.seal();
    }

    // ---- Strokes ---------------------------------------------------------------------------

    /// Starts a stroke on a paint layer (`Paint`/`Erase`) or on the mask (`MaskAdd`/`MaskErase`).
    pub fn begin_stroke(
        &mut self,
        layer: Option<LayerId>,
        mode: StrokeMode,
        brush: BrushSettings,
    ) -> Result<(), DocumentError> {
        self.end_move();
        let target = match mode {
            StrokeMode::MaskAdd | StrokeMode::MaskErase => TileTarget::Mask,
            StrokeMode::Paint | StrokeMode::Erase => {
                let id = layer.ok_or(DocumentError::NoLayer)?;
                let layer = self.editable(id)?;
                if layer.is_generative() {
                    return Err(DocumentError::NotPaintable {
                        name: layer.properties.name.clone(),
                    });
                }
                TileTarget::Layer(id)
            }
        };
        self.active = Some(ActiveStroke {
            target,
            stroke: Stroke::new(mode, brush),
        });
        Ok(())
    }

    /// Adds a point to the stroke in progress.
    pub fn stroke_to(&mut self, point: StrokePoint) {
        let Some(mut active) = self.active.take() else {
            return;
        };
        match active.target {
            TileTarget::Mask => active.stroke.add_point(&mut self.mask, point),
            TileTarget::Layer(id) => {
                if let Some(LayerContent::Paint(tiles)) = self
                    .layers
                    .iter_mut()
                    .find(|layer| layer.id == id)
                    .map(|layer| &mut layer.content)
                {
                    active.stroke.add_point(tiles, point);
                }
            }
        }
        self.mark_stroke(&mut active);
        self.active = Some(active);
    }

    /// Marks what the stroke changed since it was last marked.
    fn mark_stroke(&mut self, active: &mut ActiveStroke) {
        let changed = active.stroke.take_recent_change();
        match active.target {
            TileTarget::Mask => {
                let tiles = self.mask.tiles_in(&changed);
                self.dirty.mask_tiles.extend(tiles);
            }
            TileTarget::Layer(_) => self.mark_rect(&changed),
        }
    }

    /// Ends the stroke in progress and records it as one undo step.
    pub fn end_stroke(&mut self) {
        let Some(mut active) = self.active.take() else {
            return;
        };
        match active.target {
            TileTarget::Mask => active.stroke.finish(&mut self.mask),
            TileTarget::Layer(id) => {
                if let Some(LayerContent::Paint(tiles)) = self
                    .layers
                    .iter_mut()
                    .find(|layer| layer.id == id)
                    .map(|layer| &mut layer.content)
                {
                    active.stroke.finish(tiles);
                }
            }
        }
        self.mark_stroke(&mut active);
        if active.stroke.before.is_empty() {
            return;
        }
        let label = match active.stroke.mode {
            StrokeMode::Paint => "Brush stroke",
            StrokeMode::Erase => "Eraser stroke",
            StrokeMode::MaskAdd => "Mask stroke",
            StrokeMode::MaskErase => "Mask eraser stroke",
        };
        let tiles = active.stroke.before.drain().collect();
        self.record(
            label,
            vec![Change::Tiles {
                target: active.target,
                tiles,
            }],
            None,
        );
    }

    /// Whether a stroke is in progress.
    pub fn is_stroking(&self) -> bool {
        self.active.is_some()
    }

    // ---- Moving a layer --------------------------------------------------------------------

    /// Starts moving a paint layer's pixels. Until [`Self::end_move`] the layer shows them at
    /// the offset given to [`Self::move_by`], always taken from the pixels as they were here,
    /// so nothing is lost while the artist drags past an edge and back.
    pub fn begin_move(&mut self, id: LayerId) -> Result<(), DocumentError> {
        self.end_move();
        let layer = self.editable(id)?;
        let LayerContent::Paint(tiles) = &layer.content else {
            return Err(DocumentError::NotMovable {
                name: layer.properties.name.clone(),
            });
        };
        self.moving = Some(ActiveMove {
            layer: id,
            original: tiles.clone(),
            offset: (0, 0),
        });
        Ok(())
    }

    /// Shows the layer being moved at `dx, dy` pixels from where it started.
    pub fn move_by(&mut self, dx: i64, dy: i64) {
        let Some(moving) = &mut self.moving else {
            return;
        };
        if moving.offset == (dx, dy) {
            return;
        }
        moving.offset = (dx, dy);
        let moved = Change::Content {
            layer: moving.layer,
            content: LayerContent::Paint(moving.original.translated(dx, dy)),
        };
        self.apply_change(moved);
        self.changed();
    }

    /// Ends the move in progress; a move that went somewhere is one undo step. Returns whether
    /// painted pixels went past the canvas edge (they are cut off; undo brings them back).
    pub fn end_move(&mut self) -> bool {
        let Some(moving) = self.moving.take() else {
            return false;
        };
        if moving.offset == (0, 0) {
            return false;
        }
        let painted = moving.original.content_bounds(3);
        let (dx, dy) = moving.offset;
        let cut = !painted.is_empty()
            && (i64::from(painted.x0) + dx < 0
                || i64::from(painted.y0) + dy < 0
                || i64::from(painted.x1) + dx > i64::from(self.width)
                || i64::from(painted.y1) + dy > i64::from(self.height));
        self.record(
            "Move layer",
            vec![Change::Content {
                layer: moving.layer,
                content: LayerContent::Paint(moving.original),
            }],
            None,
        );
        cut
    }

    /// Puts the layer being moved back where it started, leaving no undo step.
    pub fn cancel_move(&mut self) {
        let Some(moving) = self.moving.take() else {
            return;
        };
        if moving.offset == (0, 0) {
            return;
        }
        self.apply_change(Change::Content {
            layer: moving.layer,
            content: LayerContent::Paint(moving.original),
        });
        self.changed();
    }

    /// Whether a layer is being moved.
    pub fn is_moving(&self) -> bool {
        self.moving.is_some()
    }

    // ---- Mask ------------------------------------------------------------------------------

    /// Fills a polygon (document pixels) into the mask, or removes it with `subtract`.
    pub fn fill_mask_polygon(&mut self, points: &[(f32, f32)], subtract: bool) {
        if points.len() < 3 {
            return;
        }
        let (low, high) = points.iter().fold(
            ((f32::MAX, f32::MAX), (f32::MIN, f32::MIN)),
            |(low, high), &(x, y)| ((low.0.min(x), low.1.min(y)), (high.0.max(x), high.1.max(y))),
        );
        let min_x = low.0.floor().max(0.0) as u32;
        let min_y = low.1.floor().max(0.0) as u32;
        let max_x = (high.0.ceil().max(0.0) as u32).min(self.width);
        let max_y = (high.1.ceil().max(0.0) as u32).min(self.height);
        if min_y >= max_y || min_x >= max_x {
            return;
        }
        let rect = PixelRect {
            x0: min_x,
            y0: min_y,
            x1: max_x,
            y1: max_y,
        };
        let before: Vec<(usize, Option<Arc<tiles::Tile>>)> = self
            .mask
            .tiles_in(&rect)
            .into_iter()
            .map(|index| (index, self.mask.tile(index).cloned()))
            .collect();
        let mut data = self.mask.read_rect(&rect);
        let width = rect.width() as usize;
        for y in rect.y0..rect.y1 {
            let scan = y as f32 + 0.5;
            let mut crossings: Vec<f32> = Vec::new();
            for i in 0..points.len() {
                let (a, b) = (points[i], points[(i + 1) % points.len()]);
                if (a.1 <= scan && b.1 > scan) || (b.1 <= scan && a.1 > scan) {
                    crossings.push(a.0 + (scan - a.1) / (b.1 - a.1) * (b.0 - a.0));
                }
            }
            crossings.sort_by(f32::total_cmp);
            for pair in crossings.chunks_exact(2) {
                let start = (pair[0] - 0.5).ceil().max(rect.x0 as f32) as u32;
                let end = ((pair[1] - 0.5).floor() as i64 + 1).clamp(0, i64::from(rect.x1)) as u32;
                for x in start..end.max(start) {
                    data[(y - rect.y0) as usize * width + (x - rect.x0) as usize] =
                        if subtract { 0 } else { 255 };
                }
            }
        }
        self.mask.write_rect(&rect, &data);
        self.dirty.mask_tiles.extend(self.mask.tiles_in(&rect));
        self.record(
            if subtract {
                "Subtract selection"
            } else {
                "Selection to mask"
            },
            vec![Change::Tiles {
                target: TileTarget::Mask,
                tiles: before,
            }],
            None,
        );
    }

    /// Clears the mask.
    pub fn clear_mask(&mut self) {
        if self.mask.is_empty() {
            return;
        }
        let before: Vec<(usize, Option<Arc<tiles::Tile>>)> = (0..self.mask.tile_count())
            .filter_map(|index| {
                self.mask
                    .tile(index)
                    .cloned()
                    .map(|tile| (index, Some(tile)))
            })
            .collect();
        for (index, _) in &before {
            self.mask.replace_tile(*index, None);
            self.dirty.mask_tiles.insert(*index);
        }
        self.record(
            "Clear mask",
            vec![Change::Tiles {
                target: TileTarget::Mask,
                tiles: before,
            }],
            None,
        );
    }

    // ---- Generations -----------------------------------------------------------------------

    /// Appends a generation to the log (accepted or not); returns its id.
    pub fn log_generation(&mut self, mut record: GenerationRecord) -> u64 {
        record.id = self.generation_log.last().map_or(1, |last| last.id + 1);
        let id = record.id;
        self.generation_log.push(record);
        self.changed();
        id
    }

    /// A generation log entry, for completing it (seeds, outcome, accepted variations). The log
    /// only grows: entries are completed, never removed.
    pub fn generation_record_mut(&mut self, id: u64) -> Option<&mut GenerationRecord> {
        let record = self
            .generation_log
            .iter_mut()
            .find(|record| record.id == id)?;
        self.revision += 1;
        Some(record)
    }

    /// Adds a generative layer on top; returns its id.
    pub fn add_generative_layer(
        &mut self,
        name: &str,
        region: PixelRect,
        variation: Vec<u8>,
        mask: Vec<u8>,
        generation: u64,
    ) -> LayerId {
        self.add_generative_layer_with_variations(
            name,
            region,
            vec![Arc::new(variation)],
            0,
            mask,
            generation,
        )
    }

    /// Adds a generative layer on top that keeps every variation of its generation (raw RGB at
    /// region size, shared, not copied) and shows `selected`; the artist can switch later
    /// without generating again.
    pub fn add_generative_layer_with_variations(
        &mut self,
        name: &str,
        region: PixelRect,
        variations: Vec<Arc<Vec<u8>>>,
        selected: usize,
        mask: Vec<u8>,
        generation: u64,
    ) -> LayerId {
        let id = self.allocate_id();
        let mut layer = GenerativeLayer::new(
            (self.width, self.height),
            region,
            variations,
            Arc::new(mask),
            GenerativeParams::default(),
            generation,
        );
        if selected != layer.selected {
            layer = layer.with_selected(selected);
        }
        self.layers.push(Layer {
            id,
            properties: LayerProperties::named(name),
            content: LayerContent::Generative(Arc::new(layer)),
        });
        self.mark_rect(&region);
        self.record(
            "Accept generation",
            vec![Change::Remove { layer: id }],
            None,
        );
        id
    }

    /// Changes a generative layer's grow and feather (re-rendered from its raw result).
    pub fn set_generative_params(
        &mut self,
        id: LayerId,
        params: GenerativeParams,
        coalesce: Option<&str>,
    ) -> Result<(), DocumentError> {
        let layer = self.editable(id)?;
        let LayerContent::Generative(generative) = &layer.content else {
            return Err(DocumentError::NoLayer);
        };
        if generative.params == params {
            return Ok(());
        }
        let (updated, changed) = generative.with_params(params);
        let index = self.layer_index(id).ok_or(DocumentError::NoLayer)?;
        let previous = std::mem::replace(
            &mut self.layers[index].content,
            LayerContent::Generative(Arc::new(updated)),
        );
        self.dirty.tiles.extend(changed);
        self.record(
            "Generative layer edges",
            vec![Change::Content {
                layer: id,
                content: previous,
            }],
            coalesce.map(|key| format!("{key}:{}", id.0)),
        );
        Ok(())
    }

    /// Shows another of a generative layer's variations (and renames the layer to `name` when
    /// given), as one undo step.
    pub fn set_generative_variation(
        &mut self,
        id: LayerId,
        selected: usize,
        name: Option<&str>,
    ) -> Result<(), DocumentError> {
        let layer = self.editable(id)?;
        let LayerContent::Generative(generative) = &layer.content else {
            return Err(DocumentError::NoLayer);
        };
        if generative.selected == selected || selected >= generative.variations.len() {
            return Ok(());
        }
        let mut changes = vec![Change::Content {
            layer: id,
            content: LayerContent::Generative(Arc::new(generative.with_selected(selected))),
        }];
        if let Some(name) = name {
            let mut properties = layer.properties.clone();
            properties.name = name.to_owned();
            changes.push(Change::Properties {
                layer: id,
                properties,
            });
        }
        // Applied as undo applies a step, which gives the changes that put it back.
        let undo = changes
            .into_iter()
            .filter_map(|change| self.apply_change(change))
            .collect();
        self.record("Show another variation", undo, None);
        Ok(())
    }

    // ---- Undo ------------------------------------------------------------------------------

    /// Undoes the last step; returns its label.
    pub fn undo(&mut self) -> Option<String> {
        if self.active.is_some() {
            self.end_stroke();
        }
        self.end_move();
        let entry = self.history.take_undo()?;
        let inverse = self.apply_entry(&entry);
        let label = entry.label.clone();
        self.history.push_redo(inverse);
        self.changed();
        Some(label)
    }

    /// Redoes the last undone step; returns its label.
    pub fn redo(&mut self) -> Option<String> {
        self.end_move();
        let entry = self.history.take_redo()?;
        let inverse = self.apply_entry(&entry);
        let label = entry.label.clone();
        self.history.push_undo_keep_redo(inverse);
        self.changed();
        Some(label)
    }

    fn apply_entry(&mut self, entry: &Entry) -> Entry {
        let mut inverse = Vec::with_capacity(entry.changes.len());
        for change in entry.changes.iter().rev() {
            if let Some(undo) = self.apply_change(change.clone()) {
                inverse.push(undo);
            }
        }
        Entry {
            label: entry.label.clone(),
            changes: inverse,
            coalesce: None,
        }
    }

    /// Applies a change and returns the change that reverts it.
    fn apply_change(&mut self, change: Change) -> Option<Change> {
        match change {
            Change::Tiles { target, tiles } => {
                let mut previous = Vec::with_capacity(tiles.len());
                for (index, tile) in tiles {
                    match target {
                        TileTarget::Mask => {
                            previous.push((index, self.mask.replace_tile(index, tile)));
                            self.dirty.mask_tiles.insert(index);
                        }
                        TileTarget::Layer(id) => {
                            let layer = self.layers.iter_mut().find(|layer| layer.id == id)?;
                            let LayerContent::Paint(pixels) = &mut layer.content else {
                                return None;
                            };
                            previous.push((index, pixels.replace_tile(index, tile)));
                            self.dirty.tiles.insert(index);
                        }
                    }
                }
                Some(Change::Tiles {
                    target,
                    tiles: previous,
                })
            }
            Change::Properties { layer, properties } => {
                let index = self.layer_index(layer)?;
                let previous = std::mem::replace(&mut self.layers[index].properties, properties);
                self.mark_layer(layer);
                Some(Change::Properties {
                    layer,
                    properties: previous,
                })
            }
            Change::Content { layer, content } => {
                let index = self.layer_index(layer)?;
                self.mark_layer(layer);
                let previous = std::mem::replace(&mut self.layers[index].content, content);
                self.mark_layer(layer);
                Some(Change::Content {
                    layer,
                    content: previous,
                })
            }
            Change::Insert { index, layer } => {
                let id = layer.id;
                self.layers.insert(index.min(self.layers.len()), *layer);
                self.mark_layer(id);
                Some(Change::Remove { layer: id })
            }
            Change::Remove { layer } => {
                let index = self.layer_index(layer)?;
                self.mark_layer(layer);
                let removed = self.layers.remove(index);
                Some(Change::Insert {
                    index,
                    layer: Box::new(removed),
                })
            }
            Change::Move { layer, to } => {
                let from = self.layer_index(layer)?;
                let moved = self.layers.remove(from);
                self.layers.insert(to.min(self.layers.len()), moved);
                self.mark_layer(layer);
                Some(Change::Move { layer, to: from })
            }
        }
    }

    // ---- Reading ---------------------------------------------------------------------------

    /// The composite of a rectangle (premultiplied RGBA8) and its provenance.
    pub fn composite(&self, rect: &PixelRect) -> (Vec<u8>, Vec<Provenance>) {
        compositor::composite(&self.layers, rect)
    }

    /// Whether nothing visible has been painted.
    pub fn is_blank(&self) -> bool {
        self.layers
            .iter()
            .filter(|layer| layer.properties.visible && layer.properties.opacity > 0.0)
            .all(|layer| layer.pixels().is_empty())
    }

    /// Bytes of pixel data held by the layers and mask (not the history).
    pub fn memory_bytes(&self) -> usize {
        self.layers.iter().map(Layer::memory_bytes).sum::<usize>() + self.mask.memory_bytes()
    }

    /// Tile grid of the document (for the canvas).
    pub fn tile_grid(&self) -> (u32, u32) {
        (self.width.div_ceil(TILE), self.height.div_ceil(TILE))
    }
}

#[cfg(test)]
mod tests;
