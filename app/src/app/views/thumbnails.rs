//! The layer panel's thumbnails: made on the CPU from each layer's tiles when the document
//! changes (at most four times a second while a stroke is painted, a layer dragged or a slider
//! dragged) and kept as textures.

use std::collections::HashMap;

use crate::document::Document;
use crate::document::layer::LayerId;
use crate::document::tiles::{Thumbnail, ThumbnailCache};

/// Texture pixels per thumbnail side (drawn at half that in points, sharp on HiDPI screens).
pub const THUMBNAIL_PIXELS: u32 = 64;

/// How often thumbnails follow a stroke in progress, in seconds.
const STROKE_REFRESH: f64 = 0.25;

/// The thumbnails of the open document's layers.
#[derive(Default)]
pub struct LayerThumbnails {
    /// The document revision they show.
    revision: Option<u64>,
    /// When they were last made (app time, seconds).
    made_at: f64,
    entries: HashMap<LayerId, (Thumbnail, egui::TextureHandle)>,
    /// Per layer, what its thumbnail was made from (only changed tiles are read again).
    caches: HashMap<LayerId, ThumbnailCache>,
}

impl LayerThumbnails {
    /// Brings the thumbnails up to date with `document` when due.
    pub fn refresh(&mut self, ctx: &egui::Context, document: &Document) {
        if self.revision == Some(document.revision()) {
            return;
        }
        let now = ctx.input(|input| input.time);
        // A stroke, a move or a slider drag (a live edge): the canvas follows at once, the
        // thumbnails (made on the CPU) a few times a second.
        let busy = document.is_stroking() || document.is_moving() || ctx.dragged_id().is_some();
        if busy && now - self.made_at < STROKE_REFRESH {
            ctx.request_repaint_after(std::time::Duration::from_secs_f64(STROKE_REFRESH));
            return;
        }
        self.revision = Some(document.revision());
        self.made_at = now;
        self.entries
            .retain(|id, _| document.layers().iter().any(|layer| layer.id == *id));
        self.caches
            .retain(|id, _| document.layers().iter().any(|layer| layer.id == *id));
        // Made on all cores (each layer's from its own cache), then handed to egui.
        let mut caches: Vec<ThumbnailCache> = document
            .layers()
            .iter()
            .map(|layer| self.caches.remove(&layer.id).unwrap_or_default())
            .collect();
        let thumbnails: Vec<Thumbnail> = {
            use rayon::prelude::*;
            document
                .layers()
                .par_iter()
                .zip(caches.par_iter_mut())
                .map(|(layer, cache)| layer.pixels().thumbnail_with(THUMBNAIL_PIXELS, cache))
                .collect()
        };
        for (layer, cache) in document.layers().iter().zip(caches) {
            self.caches.insert(layer.id, cache);
        }
        for (layer, thumbnail) in document.layers().iter().zip(thumbnails) {
            if let Some((shown, _)) = self.entries.get(&layer.id)
                && *shown == thumbnail
            {
                continue;
            }
            let image = egui::ColorImage::from_rgba_premultiplied(
                [thumbnail.width as usize, thumbnail.height as usize],
                &thumbnail.pixels,
            );
            match self.entries.get_mut(&layer.id) {
                Some((shown, texture)) => {
                    texture.set(image, egui::TextureOptions::LINEAR);
                    *shown = thumbnail;
                }
                None => {
                    let texture = ctx.load_texture(
                        format!("layer-thumbnail-{}", layer.id.0),
                        image,
                        egui::TextureOptions::LINEAR,
                    );
                    self.entries.insert(layer.id, (thumbnail, texture));
                }
            }
        }
    }

    /// A layer's thumbnail and its texture.
    pub fn get(&self, id: LayerId) -> Option<&(Thumbnail, egui::TextureHandle)> {
        self.entries.get(&id)
    }
}

/// Draws a thumbnail fitted and centred in a square of `side` points, over a checkerboard
/// where it is transparent, with a thin frame.
pub fn show(ui: &mut egui::Ui, entry: Option<&(Thumbnail, egui::TextureHandle)>, side: f32) {
    let (area, _) = ui.allocate_exact_size(egui::vec2(side, side), egui::Sense::hover());
    let Some((thumbnail, texture)) = entry else {
        return;
    };
    let longest = thumbnail.width.max(thumbnail.height).max(1) as f32;
    let size = egui::vec2(
        side * thumbnail.width as f32 / longest,
        side * thumbnail.height as f32 / longest,
    );
    let rect = egui::Rect::from_center_size(area.center(), size);
    let painter = ui.painter_at(area);
    let cell = side / 6.0;
    let (light, dark) = (egui::Color32::from_gray(200), egui::Color32::from_gray(150));
    painter.rect_filled(rect, 0.0, light);
    let columns = (rect.width() / cell).ceil() as usize;
    let rows = (rect.height() / cell).ceil() as usize;
    for row in 0..rows {
        for column in (row % 2..columns).step_by(2) {
            let min = rect.min + egui::vec2(column as f32 * cell, row as f32 * cell);
            let square = egui::Rect::from_min_size(min, egui::vec2(cell, cell)).intersect(rect);
            painter.rect_filled(square, 0.0, dark);
        }
    }
    painter.image(
        texture.id(),
        rect,
        egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
        egui::Color32::WHITE,
    );
    painter.rect_stroke(
        rect,
        0.0,
        ui.visuals().widgets.noninteractive.bg_stroke,
        egui::StrokeKind::Inside,
    );
}
