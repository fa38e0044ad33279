//! Undo and redo. An entry holds the state an operation replaced — only the tiles it touched,
//! or the layer properties or content it changed — so undoing swaps that state back in (and
//! the swapped-out state becomes the redo entry). The history keeps within a memory budget by
//! dropping its oldest entries first.

use std::sync::Arc;

use crate::document::layer::{Layer, LayerContent, LayerId, LayerProperties};
use crate::document::tiles::Tile;

/// Default memory budget of the history.
pub const DEFAULT_BUDGET_BYTES: usize = 1 << 30;

/// What a tile change applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TileTarget {
    /// A paint layer's pixels.
    Layer(LayerId),
    /// The inpainting mask.
    Mask,
    /// Which variation a generative layer shows where.
    Choice(LayerId),
}

/// One reversible change: the state to restore.
#[derive(Clone, Debug)]
pub enum Change {
    /// Tiles to put back, by index.
    Tiles {
        /// Whose tiles.
        target: TileTarget,
        /// Index and content (`None`: empty).
        tiles: Vec<(usize, Option<Arc<Tile>>)>,
    },
    /// Layer properties to put back.
    Properties {
        /// The layer.
        layer: LayerId,
        /// Its properties.
        properties: LayerProperties,
    },
    /// Layer content to put back (a generative layer's parameters, a whole paint layer).
    Content {
        /// The layer.
        layer: LayerId,
        /// Its content.
        content: LayerContent,
    },
    /// A layer to insert back at an index.
    Insert {
        /// Position, bottom = 0.
        index: usize,
        /// The layer.
        layer: Box<Layer>,
    },
    /// A layer to remove again.
    Remove {
        /// The layer.
        layer: LayerId,
    },
    /// The canvas size, every layer and the mask to put back (a canvas size change).
    Canvas {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The layers, bottom to top.
        layers: Vec<Layer>,
        /// The mask.
        mask: crate::document::tiles::MaskTiles,
    },
    /// A layer to move back to an index.
    Move {
        /// The layer.
        layer: LayerId,
        /// Position, bottom = 0.
        to: usize,
    },
}

impl Change {
    /// Bytes of pixel data the change keeps alive.
    pub fn memory_bytes(&self) -> usize {
        match self {
            Self::Tiles { tiles, .. } => tiles
                .iter()
                .filter_map(|(_, tile)| tile.as_ref().map(|tile| tile.len()))
                .sum(),
            Self::Content { content, .. } => match content {
                LayerContent::Paint(tiles) => tiles.memory_bytes(),
                LayerContent::Generative(generative) => generative.memory_bytes(),
            },
            Self::Insert { layer, .. } => layer.memory_bytes(),
            Self::Canvas { layers, mask, .. } => {
                layers.iter().map(Layer::memory_bytes).sum::<usize>() + mask.memory_bytes()
            }
            Self::Properties { .. } | Self::Remove { .. } | Self::Move { .. } => 64,
        }
    }
}

/// One undo step.
#[derive(Clone, Debug)]
pub struct Entry {
    /// What it was, for the Edit menu ("Brush stroke").
    pub label: String,
    /// The changes, applied last to first when undoing.
    pub changes: Vec<Change>,
    /// Entries with the same key in a row merge (slider drags).
    pub coalesce: Option<String>,
}

impl Entry {
    fn memory_bytes(&self) -> usize {
        self.changes.iter().map(Change::memory_bytes).sum()
    }
}

/// The undo and redo stacks.
#[derive(Clone, Debug)]
pub struct History {
    undo: Vec<Entry>,
    redo: Vec<Entry>,
    budget: usize,
    /// Entries dropped to stay within the budget.
    pub dropped: usize,
}

impl Default for History {
    fn default() -> Self {
        Self {
            undo: Vec::new(),
            redo: Vec::new(),
            budget: DEFAULT_BUDGET_BYTES,
            dropped: 0,
        }
    }
}

impl History {
    /// Records a new step; clears the redo stack. A step with the same coalesce key as the last
    /// one keeps the last one's original state instead.
    pub fn push(&mut self, entry: Entry) {
        self.redo.clear();
        if let (Some(key), Some(last)) = (&entry.coalesce, self.undo.last())
            && last.coalesce.as_ref() == Some(key)
        {
            return;
        }
        self.undo.push(entry);
        self.enforce_budget();
    }

    /// Takes the step to undo.
    pub fn take_undo(&mut self) -> Option<Entry> {
        self.undo.pop()
    }

    /// Takes the step to redo.
    pub fn take_redo(&mut self) -> Option<Entry> {
        self.redo.pop()
    }

    /// Stores an undone step for redo.
    pub fn push_redo(&mut self, entry: Entry) {
        self.redo.push(entry);
        self.enforce_budget();
    }

    /// Stores a redone step for undo (keeps the redo stack).
    pub fn push_undo_keep_redo(&mut self, entry: Entry) {
        self.undo.push(entry);
        self.enforce_budget();
    }

    /// Ends coalescing: the next step starts a new entry even with the same key.
    pub fn seal(&mut self) {
        if let Some(last) = self.undo.last_mut() {
            last.coalesce = None;
        }
    }

    /// The label of the step undo would revert.
    pub fn undo_label(&self) -> Option<&str> {
        self.undo.last().map(|entry| entry.label.as_str())
    }

    /// The label of the step redo would repeat.
    pub fn redo_label(&self) -> Option<&str> {
        self.redo.last().map(|entry| entry.label.as_str())
    }

    /// Steps that can be undone.
    pub fn undo_depth(&self) -> usize {
        self.undo.len()
    }

    /// Bytes kept by the history.
    pub fn memory_bytes(&self) -> usize {
        self.undo
            .iter()
            .chain(&self.redo)
            .map(Entry::memory_bytes)
            .sum()
    }

    /// The memory budget in bytes.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Sets the memory budget, dropping old steps if needed.
    pub fn set_budget(&mut self, bytes: usize) {
        self.budget = bytes;
        self.enforce_budget();
    }

    fn enforce_budget(&mut self) {
        while self.memory_bytes() > self.budget && !self.undo.is_empty() {
            self.undo.remove(0);
            self.dropped += 1;
        }
        while self.memory_bytes() > self.budget && !self.redo.is_empty() {
            self.redo.remove(0);
            self.dropped += 1;
        }
    }
}
