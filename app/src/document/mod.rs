//! The document: canvas size, layers, the inpainting mask, the generation log and the undo
//! history. Plain data — no UI types — so tests and the command line use it directly.
//!
//! Every operation that changes pixels or layers records an undo step and marks what it
//! changed, so the canvas re-uploads only those tiles.

pub mod brush;
pub mod canvas_size;
pub mod choice;
pub mod color_match;
pub mod compositor;
pub mod distance;
pub mod generations;
pub mod generative;
pub mod history;
pub mod layer;
pub mod painting;
pub mod provenance_log;
pub mod tiles;

use std::collections::BTreeSet;

use brush::Stroke;
use compositor::Provenance;
use history::{Change, Entry, History, TileTarget};
use layer::{Layer, LayerContent, LayerId, LayerProperties};
pub use provenance_log::{GenerationRecord, ImportRecord, LoraRecord};
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
    /// A mask of another size than the canvas.
    #[error(
        "the mask is {mask_width}×{mask_height} pixels but the picture is {width}×{height}; \
         make the mask the picture's size (white = regenerate, black = keep)"
    )]
    MaskSize {
        /// The mask's width.
        mask_width: u32,
        /// The mask's height.
        mask_height: u32,
        /// The canvas width.
        width: u32,
        /// The canvas height.
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
    /// Canvas size only grows.
    #[error(
        "the canvas is {width}×{height}; Canvas size only adds to it — to make the picture \
         smaller, export it and crop the copy"
    )]
    WouldShrink {
        /// Current width.
        width: u32,
        /// Current height.
        height: u32,
    },
    /// The variation brush needs a generative layer with several variations.
    #[error(
        "\"{name}\" has no variations to choose between; select a generative layer made with \
         two or more variations"
    )]
    NoVariations {
        /// Its name.
        name: String,
    },
    /// The variation brush was set to a variation the layer does not have.
    #[error("\"{name}\" has {count} variations, not {variation}; pick one of its own")]
    NoSuchVariation {
        /// Its name.
        name: String,
        /// The variation asked for (1-based).
        variation: usize,
        /// How many it has.
        count: usize,
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
    /// Every image brought into this document (append-only).
    pub imports: Vec<ImportRecord>,
    history: History,
    next_id: u64,
    dirty: Dirty,
    /// Increases with every change; compared with the saved revision for "unsaved changes".
    revision: u64,
    saved_revision: u64,
    active: Option<ActiveStroke>,
    moving: Option<ActiveMove>,
}

/// A canvas side must be 1 to [`MAX_SIDE`] pixels.
fn check_size(width: u32, height: u32) -> Result<(), DocumentError> {
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(DocumentError::Size { width, height });
    }
    Ok(())
}

impl Document {
    /// An empty canvas with one transparent paint layer.
    pub fn new(width: u32, height: u32) -> Result<Self, DocumentError> {
        check_size(width, height)?;
        let mut document = Self::from_parts(
            width,
            height,
            Vec::new(),
            MaskTiles::new(width, height),
            Vec::new(),
        )?;
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
        check_size(width, height)?;
        let next_id = layers.iter().map(|layer| layer.id.0).max().unwrap_or(0) + 1;
        Ok(Self {
            width,
            height,
            layers,
            mask,
            generation_log,
            imports: Vec::new(),
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
            imports: self.imports.clone(),
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

    /// The pixels of paint layer `id`; none for a generative layer or an unknown id.
    fn paint_pixels_mut(&mut self, id: LayerId) -> Option<&mut RgbaTiles> {
        match &mut self.layers.iter_mut().find(|layer| layer.id == id)?.content {
            LayerContent::Paint(pixels) => Some(pixels),
            LayerContent::Generative(_) => None,
        }
    }

    /// A generative layer's content, for changing it in place (shared state is copied first).
    fn generative_mut(&mut self, id: LayerId) -> Option<&mut generative::GenerativeLayer> {
        match &mut self.layers.iter_mut().find(|layer| layer.id == id)?.content {
            LayerContent::Generative(generative) => Some(std::sync::Arc::make_mut(generative)),
            LayerContent::Paint(_) => None,
        }
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
        let tiles: Vec<usize> = match self.layer(id).map(|layer| &layer.content) {
            Some(LayerContent::Paint(pixels)) => (0..pixels.tile_count())
                .filter(|&index| pixels.tile(index).is_some())
                .collect(),
            // Its region (without making its pixels, which the GPU shapes itself).
            Some(LayerContent::Generative(generative)) => {
                MaskTiles::new(self.width, self.height).tiles_in(&generative.region)
            }
            None => return,
        };
        self.dirty.tiles.extend(tiles);
    }

    /// Puts `value` in one field of a layer and gives back what was there, marking the tiles
    /// the layer covers before and after (old and new content may cover different tiles).
    fn replace_in_layer<T>(
        &mut self,
        id: LayerId,
        field: impl FnOnce(&mut Layer) -> &mut T,
        value: T,
    ) -> Option<T> {
        let index = self.layer_index(id)?;
        self.mark_layer(id);
        let previous = std::mem::replace(field(&mut self.layers[index]), value);
        self.mark_layer(id);
        Some(previous)
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

    /// Records one change of layer `id`; changes in a row with the same `coalesce` key on the
    /// same layer (a slider drag) make one undo step.
    fn record_on_layer(
        &mut self,
        label: &str,
        id: LayerId,
        change: Change,
        coalesce: Option<&str>,
    ) {
        let key = coalesce.map(|key| format!("{key}:{}", id.0));
        self.record(label, vec![change], key);
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
        if self.layer(id).ok_or(DocumentError::NoLayer)?.properties == properties {
            return Ok(());
        }
        let previous = self
            .replace_in_layer(id, |it| &mut it.properties, properties)
            .ok_or(DocumentError::NoLayer)?;
        let change = Change::Properties {
            layer: id,
            properties: previous,
        };
        self.record_on_layer("Layer properties", id, change, coalesce);
        Ok(())
    }

    /// Ends a coalesced run of changes (a slider released).
    pub fn seal_history(&mut self) {
        self.history.seal();
    }

    // ---- Undo ------------------------------------------------------------------------------

    /// Undoes the last step; returns its label.
    pub fn undo(&mut self) -> Option<String> {
        if self.active.is_some() {
            self.end_stroke();
        }
        self.replay(History::take_undo, History::push_redo)
    }

    /// Redoes the last undone step; returns its label.
    pub fn redo(&mut self) -> Option<String> {
        self.replay(History::take_redo, History::push_undo_keep_redo)
    }

    /// Applies the step `take` gives and hands its inverse to `put` (undo's inverse goes to
    /// the redo list and back); returns the step's label.
    fn replay(
        &mut self,
        take: fn(&mut History) -> Option<Entry>,
        put: fn(&mut History, Entry),
    ) -> Option<String> {
        self.end_move();
        let entry = take(&mut self.history)?;
        let inverse = self.apply_entry(&entry);
        put(&mut self.history, inverse);
        self.changed();
        Some(entry.label)
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
                            let pixels = self.paint_pixels_mut(id)?;
                            previous.push((index, pixels.replace_tile(index, tile)));
                            self.dirty.tiles.insert(index);
                        }
                        TileTarget::Choice(_) => previous.push((index, tile)),
                    }
                }
                if let TileTarget::Choice(id) = target {
                    // Swapped together, so the layer re-renders once.
                    let generative = self.generative_mut(id)?;
                    let (replaced, changed) = generative.swap_choice_tiles(previous);
                    self.dirty.tiles.extend(changed);
                    previous = replaced;
                }
                Some(Change::Tiles {
                    target,
                    tiles: previous,
                })
            }
            Change::Properties { layer, properties } => self
                .replace_in_layer(layer, |it| &mut it.properties, properties)
                .map(|properties| Change::Properties { layer, properties }),
            Change::Content { layer, content } => self
                .replace_in_layer(layer, |it| &mut it.content, content)
                .map(|content| Change::Content { layer, content }),
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
            Change::Canvas {
                width,
                height,
                layers,
                mask,
            } => {
                let previous = Change::Canvas {
                    width: self.width,
                    height: self.height,
                    layers: std::mem::replace(&mut self.layers, layers),
                    mask: std::mem::replace(&mut self.mask, mask),
                };
                self.width = width;
                self.height = height;
                self.dirty.all = true;
                Some(previous)
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
#[cfg(test)]
mod variation_brush_tests;
