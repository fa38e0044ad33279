//! Painting by hand: strokes on a layer or the mask, moving a layer's pixels, and the
//! selections that fill the mask. Each records an undo step when it ends.

use std::sync::Arc;

use super::brush::{BrushSettings, Stroke, StrokeMode, StrokePoint};
use super::history::{Change, TileTarget};
use super::layer::{LayerContent, LayerId};
use super::tiles::{self, PixelRect};
use super::{ActiveMove, ActiveStroke, Document, DocumentError};

impl Document {
    /// Starts a stroke on a paint layer (`Paint`/`Erase`), on the mask (`MaskAdd`/`MaskErase`)
    /// or on which variation a generative layer shows where (`Variation`).
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
            StrokeMode::Variation(variation) => {
                let id = layer.ok_or(DocumentError::NoLayer)?;
                let layer = self.editable(id)?;
                let name = layer.properties.name.clone();
                let count = match &layer.content {
                    LayerContent::Generative(generative) => generative.variations.len(),
                    LayerContent::Paint(_) => 0,
                };
                if count < 2 {
                    return Err(DocumentError::NoVariations { name });
                }
                if usize::from(variation) >= count.min(super::choice::MAX_VARIATIONS) {
                    return Err(DocumentError::NoSuchVariation {
                        name,
                        variation: usize::from(variation) + 1,
                        count,
                    });
                }
                if let Some(generative) = self.generative_mut(id) {
                    generative.prepare_variation(usize::from(variation));
                }
                TileTarget::Choice(id)
            }
        };
        self.active = Some(ActiveStroke {
            target,
            stroke: Stroke::new(mode, brush),
        });
        Ok(())
    }

    /// One whole stroke through `points`, as a drag would paint it: one undo step.
    pub fn paint_stroke(
        &mut self,
        layer: Option<LayerId>,
        mode: StrokeMode,
        brush: BrushSettings,
        points: impl IntoIterator<Item = StrokePoint>,
    ) -> Result<(), DocumentError> {
        self.begin_stroke(layer, mode, brush)?;
        for point in points {
            self.stroke_to(point);
        }
        self.end_stroke();
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
                if let Some(tiles) = self.paint_pixels_mut(id) {
                    active.stroke.add_point(tiles, point);
                }
            }
            TileTarget::Choice(id) => {
                if let Some(generative) = self.generative_mut(id) {
                    active.stroke.add_point(generative.choice_mut(), point);
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
            TileTarget::Choice(id) => {
                if let Some(generative) = self.generative_mut(id) {
                    let tiles = generative.refresh_choice(&changed);
                    self.dirty.tiles.extend(tiles);
                }
            }
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
                if let Some(tiles) = self.paint_pixels_mut(id) {
                    active.stroke.finish(tiles);
                }
            }
            TileTarget::Choice(id) => {
                if let Some(generative) = self.generative_mut(id) {
                    active.stroke.finish(generative.choice_mut());
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
            StrokeMode::Variation(_) => "Variation brush stroke",
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

    /// Replaces the whole mask with `pixels` of `size` (the canvas's; 0 = keep, 255 = regenerate), as one
    /// undo step: a mask file given to `pentimento project inpaint`, for one.
    pub fn replace_mask(
        &mut self,
        (mask_width, mask_height): (u32, u32),
        pixels: &[u8],
    ) -> Result<(), DocumentError> {
        if (mask_width, mask_height) != (self.width, self.height)
            || pixels.len() != self.width as usize * self.height as usize
        {
            return Err(DocumentError::MaskSize {
                mask_width,
                mask_height,
                width: self.width,
                height: self.height,
            });
        }
        let rect = self.bounds();
        let before: Vec<(usize, Option<Arc<tiles::Tile>>)> = (0..self.mask.tile_count())
            .map(|index| (index, self.mask.tile(index).cloned()))
            .collect();
        self.mask.write_rect(&rect, pixels);
        self.dirty.mask_tiles.extend(0..self.mask.tile_count());
        self.record(
            "Replace mask",
            vec![Change::Tiles {
                target: TileTarget::Mask,
                tiles: before,
            }],
            None,
        );
        Ok(())
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
}
