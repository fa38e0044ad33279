//! Canvas size: adding to any side of the canvas, the picture anchored where the artist
//! chooses, and (for outpainting) the new area masked so the next generation paints it, taking
//! its context from the picture beside it.

use std::sync::Arc;

use super::history::Change;
use super::layer::{Layer, LayerContent};
use super::tiles::{MaskTiles, PixelRect};
use super::{Document, DocumentError, check_size};

/// Where the existing picture sits in the grown canvas, per axis: 0 at the left (top), 1 in
/// the middle, 2 at the right (bottom).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Anchor {
    /// 0 left, 1 centre, 2 right.
    pub x: u8,
    /// 0 top, 1 centre, 2 bottom.
    pub y: u8,
}

impl Default for Anchor {
    fn default() -> Self {
        Self::CENTRE
    }
}

impl Anchor {
    /// The picture in the middle: the canvas grows on every side.
    pub const CENTRE: Self = Self { x: 1, y: 1 };

    /// Where the picture's top-left corner lands when a `from` canvas grows to `to`.
    pub fn offset(self, from: (u32, u32), to: (u32, u32)) -> (u32, u32) {
        let along = |anchor: u8, from: u32, to: u32| {
            let added = to.saturating_sub(from);
            match anchor {
                0 => 0,
                1 => added / 2,
                _ => added,
            }
        };
        (along(self.x, from.0, to.0), along(self.y, from.1, to.1))
    }

    /// "top left", "centre", "bottom" … (for the dialog and the log).
    pub fn describe(self) -> &'static str {
        match (self.x.min(2), self.y.min(2)) {
            (0, 0) => "top left",
            (1, 0) => "top",
            (2, 0) => "top right",
            (0, 1) => "left",
            (1, 1) => "centre",
            (2, 1) => "right",
            (0, 2) => "bottom left",
            (1, 2) => "bottom",
            _ => "bottom right",
        }
    }
}

/// How a canvas grew.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grown {
    /// Where the old picture now lies.
    pub picture: PixelRect,
    /// Pixels the new area masks (0 when not masked).
    pub masked: u64,
}

impl Document {
    /// Grows the canvas to `width × height` with the picture at `anchor`; with `outpaint`, the
    /// new area is added to the mask, reaching that many pixels into the picture (so the
    /// generation blends across the seam). Every layer keeps every pixel: paint layers and the
    /// mask move with the picture, generative layers keep their generation and live edges. One
    /// undo step, which also puts the mask back.
    pub fn grow_canvas(
        &mut self,
        width: u32,
        height: u32,
        anchor: Anchor,
        outpaint: Option<u32>,
    ) -> Result<Grown, DocumentError> {
        check_size(width, height)?;
        if width < self.width || height < self.height {
            return Err(DocumentError::WouldShrink {
                width: self.width,
                height: self.height,
            });
        }
        self.end_stroke();
        self.end_move();
        let from = (self.width, self.height);
        let (dx, dy) = anchor.offset(from, (width, height));
        let picture = PixelRect::new(dx, dy, from.0, from.1);
        if (width, height) == from {
            return Ok(Grown { picture, masked: 0 });
        }
        let layers = self
            .layers
            .iter()
            .map(|layer| {
                let content = match &layer.content {
                    LayerContent::Paint(pixels) => LayerContent::Paint(pixels.placed(
                        width,
                        height,
                        i64::from(dx),
                        i64::from(dy),
                    )),
                    LayerContent::Generative(generative) => LayerContent::Generative(Arc::new(
                        // The region moves by the offset onto a larger canvas: it always fits.
                        generative
                            .placed((width, height), dx, dy)
                            .unwrap_or_else(|| (**generative).clone()),
                    )),
                };
                Layer {
                    id: layer.id,
                    properties: layer.properties.clone(),
                    content,
                }
            })
            .collect();
        let mut mask = self
            .mask
            .placed(width, height, i64::from(dx), i64::from(dy));
        let mut masked = 0;
        if let Some(overlap) = outpaint {
            masked = mask_new_area(&mut mask, picture, overlap);
        }
        let grown = Change::Canvas {
            width,
            height,
            layers,
            mask,
        };
        let undo = self.apply_change(grown).into_iter().collect();
        self.record("Canvas size", undo, None);
        Ok(Grown { picture, masked })
    }
}

/// Masks everything outside `picture`, and `overlap` pixels into it along the sides that have
/// new area beside them; returns how many pixels that added to the mask.
fn mask_new_area(mask: &mut MaskTiles, picture: PixelRect, overlap: u32) -> u64 {
    let (width, height) = (mask.width(), mask.height());
    let inner = PixelRect {
        x0: if picture.x0 > 0 {
            (picture.x0 + overlap).min(picture.x1)
        } else {
            0
        },
        y0: if picture.y0 > 0 {
            (picture.y0 + overlap).min(picture.y1)
        } else {
            0
        },
        x1: if picture.x1 < width {
            picture.x1.saturating_sub(overlap).max(picture.x0)
        } else {
            width
        },
        y1: if picture.y1 < height {
            picture.y1.saturating_sub(overlap).max(picture.y0)
        } else {
            height
        },
    };
    let mut added = 0;
    for y in 0..height {
        let row = PixelRect::new(0, y, width, 1);
        let mut values = mask.read_rect(&row);
        let mut changed = false;
        for (x, value) in values.iter_mut().enumerate() {
            if !inner.contains(x as u32, y) && *value < 255 {
                *value = 255;
                changed = true;
                added += 1;
            }
        }
        if changed {
            mask.write_rect(&row, &values);
        }
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::brush::{BrushSettings, StrokeMode, StrokePoint};

    #[test]
    fn the_anchor_places_the_picture() {
        let from = (100, 50);
        let to = (160, 90);
        assert_eq!(Anchor { x: 0, y: 0 }.offset(from, to), (0, 0));
        assert_eq!(Anchor::CENTRE.offset(from, to), (30, 20));
        assert_eq!(Anchor { x: 2, y: 2 }.offset(from, to), (60, 40));
        assert_eq!(Anchor { x: 2, y: 0 }.describe(), "top right");
    }

    #[test]
    fn growing_keeps_every_pixel_masks_the_new_area_and_undoes() {
        let mut document = Document::new(300, 200).expect("size");
        let paint = document.layers()[0].id;
        document
            .paint_stroke(
                Some(paint),
                StrokeMode::Paint,
                BrushSettings {
                    size: 20.0,
                    hardness: 1.0,
                    color: [200, 10, 10],
                    ..BrushSettings::default()
                },
                [
                    StrokePoint::new(10.0, 100.0),
                    StrokePoint::new(290.0, 100.0),
                ],
            )
            .expect("paints");
        let region = PixelRect::new(100, 50, 100, 100);
        let generated =
            crate::document::tests::flat_generation(&mut document, "Gen 1 · seed 1", region, 40);
        let before = document.composite(&document.bounds());
        let steps = document.history().undo_depth();

        let grown = document
            .grow_canvas(500, 260, Anchor { x: 0, y: 1 }, Some(16))
            .expect("grows");
        assert_eq!((document.width(), document.height()), (500, 260));
        assert_eq!(grown.picture, PixelRect::new(0, 30, 300, 200));
        assert_eq!(document.history().undo_depth(), steps + 1);
        assert_eq!(document.history().undo_label(), Some("Canvas size"));
        // The old picture, pixel for pixel, where the anchor put it.
        let (after, provenance) = document.composite(&grown.picture);
        assert_eq!(after, before.0, "every pixel moved with the picture");
        assert_eq!(provenance, before.1);
        // The generative layer moved with it and is still live.
        let LayerContent::Generative(generative) =
            &document.layer(generated).expect("layer").content
        else {
            panic!("generative");
        };
        assert_eq!(generative.region, PixelRect::new(100, 80, 100, 100));
        document
            .set_generative_params(
                generated,
                crate::document::generative::GenerativeParams {
                    feather: 6.0,
                    ..Default::default()
                },
                None,
            )
            .expect("live edges");
        document.undo();
        // The mask: the new area (right, top and bottom strips) and 16 px into the picture
        // along the sides with new area beside them; not the left edge (no new area there).
        let mask = document.mask();
        assert_eq!(mask.pixel(499, 130)[0], 255, "the new area on the right");
        assert_eq!(mask.pixel(150, 5)[0], 255, "above");
        assert_eq!(mask.pixel(150, 255)[0], 255, "below");
        assert_eq!(mask.pixel(290, 130)[0], 255, "16 px into the picture");
        assert_eq!(mask.pixel(280, 130)[0], 0, "beyond the overlap");
        assert_eq!(
            mask.pixel(150, 45)[0],
            255,
            "16 px down from the picture's top"
        );
        assert_eq!(mask.pixel(150, 47)[0], 0);
        assert_eq!(mask.pixel(0, 130)[0], 0, "the left edge had nothing added");
        let expected = 500 * 260 - (300 - 16) * (200 - 32);
        assert_eq!(grown.masked, expected as u64);

        // Undo puts back the size, the layers and the (empty) mask.
        assert_eq!(document.undo().as_deref(), Some("Canvas size"));
        assert_eq!((document.width(), document.height()), (300, 200));
        assert_eq!(document.composite(&document.bounds()), before);
        assert!(document.mask().is_empty());
        document.redo();
        assert_eq!(document.width(), 500);
        assert_eq!(document.composite(&grown.picture).0, before.0);
    }

    #[test]
    fn canvas_size_refuses_to_shrink_or_pass_the_largest_side() {
        let mut document = Document::new(300, 200).expect("size");
        let err = document
            .grow_canvas(299, 400, Anchor::CENTRE, None)
            .expect_err("smaller");
        assert!(err.to_string().contains("only adds"), "{err}");
        let err = document
            .grow_canvas(super::super::MAX_SIDE + 1, 400, Anchor::CENTRE, None)
            .expect_err("too big");
        assert!(err.to_string().contains("8192"), "{err}");
        assert_eq!((document.width(), document.height()), (300, 200));
        assert_eq!(document.history().undo_depth(), 0);
    }
}
