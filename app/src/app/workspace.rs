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
