//! The open document and what belongs to it: its file, the layer strokes go to, its autosave,
//! and the autosaves of other windows still waiting to be offered. One owner: every change to
//! the document that is not a stroke on the canvas goes through the app's action handler.

use std::path::{Path, PathBuf};

use crate::autosave::{Autosave, Recovery};
use crate::document::Document;
use crate::document::layer::LayerId;

/// The document being worked on.
pub struct Workspace {
    /// The document, with its history.
    pub document: Document,
    /// The file it was opened from or saved to.
    pub path: Option<PathBuf>,
    /// The layer strokes go to.
    pub active_layer: Option<LayerId>,
    /// Its autosave slot.
    pub autosave: Autosave,
    /// Further autosaves of windows that did not close cleanly, offered after the first.
    pub more_recoveries: Vec<Recovery>,
}

impl Workspace {
    /// A workspace for `document` (its top layer active).
    pub fn new(document: Document, autosave: Autosave, more_recoveries: Vec<Recovery>) -> Self {
        let active_layer = document.layers().last().map(|layer| layer.id);
        Self {
            document,
            path: None,
            active_layer,
            autosave,
            more_recoveries,
        }
    }

    /// Puts another document in place, with the history budget of the settings.
    pub fn replace(&mut self, document: Document, path: Option<PathBuf>, history_budget: usize) {
        self.document = document;
        self.document.set_history_budget(history_budget);
        self.path = path;
        self.active_layer = self.document.layers().last().map(|layer| layer.id);
    }

    /// The layer strokes go to after undo or redo, given the layers (bottom to top) before it: a
    /// layer that came back (an undone delete, a redone add) becomes the one strokes go to; when
    /// the one they went to is gone (an undone add), the layer that was below it takes over, or
    /// the lowest one when it was at the bottom, as after deleting it.
    pub fn follow_history(&mut self, before: &[LayerId]) {
        let layers = self.document.layers();
        if let Some(back) = layers
            .iter()
            .rev()
            .find(|layer| !before.contains(&layer.id))
        {
            self.active_layer = Some(back.id);
            return;
        }
        let active = self.active_layer;
        if active.is_some_and(|id| self.document.layer(id).is_some()) {
            return;
        }
        let was_at = active.and_then(|id| before.iter().position(|&other| other == id));
        // The nearest layer below it that is still there, else the bottom one.
        self.active_layer = was_at
            .and_then(|index| {
                before[..index]
                    .iter()
                    .rev()
                    .copied()
                    .find(|&id| self.document.layer(id).is_some())
            })
            .or_else(|| layers.first().map(|layer| layer.id));
    }

    /// The ids of the layers, bottom to top.
    pub fn layer_ids(&self) -> Vec<LayerId> {
        self.document
            .layers()
            .iter()
            .map(|layer| layer.id)
            .collect()
    }

    /// Autosaves now when there are unsaved changes (after an accepted generation, say), or on
    /// the autosave clock when `now` is false.
    pub fn autosave(&mut self, now: bool) {
        self.autosave
            .tick(&self.document, self.path.as_deref(), now);
    }

    /// The file's folder, when the document has a file.
    pub fn folder(&self) -> Option<&Path> {
        self.path.as_deref().and_then(Path::parent)
    }
}
