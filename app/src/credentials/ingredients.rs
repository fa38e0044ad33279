//! Imported images as ingredients. When an image is opened or added as a layer, the document
//! records which file it was (name, format, sha256) and, when the file carries Content
//! Credentials, its manifest store as it was. An export names every imported image whose layer
//! still shows as a `componentOf` ingredient with a `c2pa.placed` action giving the pixels it
//! covers; an ingredient with a manifest store brings that store along, so a reader follows
//! the image's own history (who made it, how) from the export.

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use crate::document::layer::LayerId;
use crate::document::{Document, ImportRecord};

/// An ingredient for the signed manifest: its definition and the manifest store it brings.
#[derive(Clone, Debug, PartialEq)]
pub struct IngredientContent {
    /// The C2PA ingredient definition (title, format, relationship, label, instance id).
    pub definition: serde_json::Value,
    /// The image's own manifest store, when it had one.
    pub manifest_store: Option<Arc<Vec<u8>>>,
}

/// The label an import's ingredient has in a manifest (actions refer to it by this).
pub fn label(import: &ImportRecord) -> String {
    format!("pentimento-import-{}", import.id)
}

/// What the document records of an image file read from `path` (its bytes `bytes`) that became
/// layer `layer`; `opened` when the document was opened from it.
pub fn import_record(path: &Path, bytes: &[u8], layer: LayerId, opened: bool) -> ImportRecord {
    let format = super::mime_of(path)
        .ok()
        .or_else(|| {
            image::guess_format(bytes)
                .ok()
                .map(|format| format.to_mime_type())
        })
        .unwrap_or("application/octet-stream")
        .to_owned();
    let manifest_store =
        c2pa::jumbf_io::load_jumbf_from_stream(&format, &mut Cursor::new(bytes)).ok();
    let mut validation_results = None;
    let credentials = manifest_store
        .as_ref()
        .map(|_| match super::verify(bytes, &format, None) {
            Ok(read) => {
                validation_results = read.json.get("validation_results").cloned();
                let mut said = read.state.clone();
                if let Some(signer) = &read.signer {
                    said.push_str(&format!(", signed by {signer}"));
                }
                said
            }
            Err(err) => format!("unreadable ({err})"),
        });
    ImportRecord {
        id: 0,
        layer: layer.0,
        title: path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
        format,
        sha256: pentimento_inference::sha256::of_bytes(bytes),
        time: crate::document::provenance_log::now_rfc3339(),
        opened,
        credentials,
        // Without the reader's results the SDK cannot carry the store (C2PA 2 ingredients
        // state how their manifest validated when they were brought in).
        manifest_store: manifest_store
            .filter(|_| validation_results.is_some())
            .map(Arc::new),
        validation_results,
    }
}

/// Records in `document` that layer `layer` came from the image at `path` (read again for its
/// hash and credentials; an unreadable file records nothing, the layer is there already).
pub fn record_import(document: &mut Document, path: &Path, layer: LayerId, opened: bool) {
    if let Ok(bytes) = std::fs::read(path) {
        document.record_import(import_record(path, &bytes, layer, opened));
    }
}

/// Records that a document opened from an image is that image (its one layer), so exports name
/// it as an ingredient; the record is part of opening, not an unsaved change.
pub fn record_opened_image(document: &mut Document, path: &Path) {
    if let Some(layer) = document.layers().first().map(|layer| layer.id) {
        record_import(document, path, layer, true);
        document.mark_saved();
    }
}

/// The ingredient of an import that became the layer named `layer_name`.
pub fn ingredient(import: &ImportRecord, layer_name: &str) -> IngredientContent {
    let how = if import.opened {
        format!("opened as the document; its layer \"{layer_name}\"")
    } else {
        format!("added as the layer \"{layer_name}\"")
    };
    let mut definition = serde_json::json!({
            "title": import.title,
            "format": import.format,
            "relationship": "componentOf",
            "label": label(import),
            "instance_id": format!("xmp:iid:sha256:{}", import.sha256),
            "description": format!("{how} (sha256 {})", import.sha256),
    });
    if let Some(results) = import
        .validation_results
        .as_ref()
        .filter(|_| import.manifest_store.is_some())
    {
        definition["validation_results"] = results.clone();
    }
    IngredientContent {
        definition,
        manifest_store: import.manifest_store.clone(),
    }
}
