//! Document behaviour: strokes, undo/redo across every kind of change, masks, generative
//! layers leaving the unmasked area untouched, provenance.

use std::sync::Arc;

use super::brush::{BrushSettings, StrokeMode, StrokePoint};
use super::compositor::{Provenance, ProvenanceShares};
use super::generative::GenerativeParams;
use super::layer::LayerProperties;
use super::tiles::PixelRect;
use super::*;

/// A generative layer of one grey over all of `region`, fully masked (generation 1).
pub(super) fn flat_generation(
    document: &mut Document,
    name: &str,
    region: PixelRect,
    grey: u8,
) -> LayerId {
    let pixels = region.width() as usize * region.height() as usize;
    document.add_generative_layer(name, region, vec![grey; pixels * 3], vec![255; pixels], 1)
}

fn point(x: f32, y: f32) -> StrokePoint {
    StrokePoint::new(x, y)
}

fn stroke(
    document: &mut Document,
    layer: Option<LayerId>,
    mode: StrokeMode,
    points: &[(f32, f32)],
) {
    let brush = BrushSettings {
        size: 10.0,
        hardness: 1.0,
        color: [255, 0, 0],
        ..BrushSettings::default()
    };
    let points = points.iter().map(|&(x, y)| point(x, y));
    document
        .paint_stroke(layer, mode, brush, points)
        .expect("stroke starts");
}

/// A square document of `side` pixels and its one layer.
fn square(side: u32) -> (Document, LayerId) {
    let document = Document::new(side, side).expect("size");
    let layer = document.layers()[0].id;
    (document, layer)
}

/// Paints a line through `points` on `layer` with the test brush.
fn paint_line(document: &mut Document, layer: LayerId, points: &[(f32, f32)]) {
    stroke(document, Some(layer), StrokeMode::Paint, points);
}

#[test]
fn a_stroke_paints_along_its_path_and_undoes_exactly() {
    let (mut document, layer) = square(300);
    paint_line(&mut document, layer, &[(20.0, 150.0), (280.0, 150.0)]);
    let pixels = document.layer(layer).expect("layer").pixels();
    for x in (25..275).step_by(10) {
        assert_eq!(pixels.pixel(x, 150), [255, 0, 0, 255], "covered at x = {x}");
    }
    assert_eq!(pixels.pixel(150, 170), [0, 0, 0, 0], "outside the brush");
    assert!(document.has_unsaved_changes());

    assert_eq!(document.undo().as_deref(), Some("Brush stroke"));
    assert!(document.layer(layer).expect("layer").pixels().is_empty());
    assert_eq!(document.redo().as_deref(), Some("Brush stroke"));
    assert_eq!(
        document
            .layer(layer)
            .expect("layer")
            .pixels()
            .pixel(150, 150),
        [255, 0, 0, 255]
    );
}

#[test]
fn strokes_build_up_to_their_opacity_only() {
    let (mut document, layer) = square(64);
    document
        .begin_stroke(
            Some(layer),
            StrokeMode::Paint,
            BrushSettings {
                size: 20.0,
                hardness: 1.0,
                opacity: 0.5,
                flow: 0.3,
                color: [0, 0, 255],
                ..BrushSettings::default()
            },
        )
        .expect("starts");
    // Scrub back and forth over the same spot.
    for i in 0..40 {
        let x = 30.0 + (i % 2) as f32;
        document.stroke_to(point(x, 32.0));
    }
    document.end_stroke();
    let alpha = document.layer(layer).expect("layer").pixels().pixel(31, 32)[3];
    // One dab adds 0.3 × 0.5 ≈ 38; scrubbing builds up well past that but never past 0.5.
    assert!(
        (100..=128).contains(&alpha),
        "built up, capped at opacity 0.5: {alpha}"
    );
}

#[test]
fn erasing_and_locked_layers() {
    let (mut document, layer) = square(100);
    paint_line(&mut document, layer, &[(10.0, 50.0), (90.0, 50.0)]);
    stroke(
        &mut document,
        Some(layer),
        StrokeMode::Erase,
        &[(50.0, 10.0), (50.0, 90.0)],
    );
    let pixels = document.layer(layer).expect("layer").pixels();
    assert_eq!(pixels.pixel(50, 50)[3], 0, "erased where the strokes cross");
    assert_eq!(pixels.pixel(20, 50)[3], 255);

    let mut properties = document.layer(layer).expect("layer").properties.clone();
    properties.locked = true;
    document
        .set_properties(layer, properties, None)
        .expect("exists");
    let err = document
        .begin_stroke(Some(layer), StrokeMode::Paint, BrushSettings::default())
        .expect_err("locked");
    assert_eq!(
        err.to_string(),
        "the layer \"Layer 1\" is locked; unlock it in the layer panel to change it"
    );
}

#[test]
fn layer_operations_undo_and_redo() {
    let (mut document, bottom) = square(64);
    let top = document.add_paint_layer("Ink", Some(0));
    assert_eq!(document.layers().len(), 2);
    document.move_layer(top, 0).expect("moves");
    assert_eq!(document.layers()[0].id, top);
    let mut properties = LayerProperties::named("Renamed");
    properties.opacity = 0.25;
    document
        .set_properties(bottom, properties.clone(), None)
        .expect("exists");
    document.remove_layer(top).expect("exists");
    assert_eq!(document.layers().len(), 1);

    document.undo(); // remove
    assert_eq!(document.layers()[0].id, top);
    document.undo(); // properties
    assert_eq!(
        document.layer(bottom).expect("layer").properties.name,
        "Layer 1"
    );
    document.undo(); // move
    assert_eq!(document.layers()[1].id, top);
    document.undo(); // add
    assert_eq!(document.layers().len(), 1);
    for _ in 0..4 {
        document.redo();
    }
    assert_eq!(document.layers().len(), 1);
    assert_eq!(
        document.layer(bottom).expect("layer").properties,
        properties
    );
}

#[test]
fn slider_drags_make_one_undo_step() {
    let (mut document, layer) = square(8);
    for step in 1..=10 {
        let mut properties = document.layer(layer).expect("layer").properties.clone();
        properties.opacity = 1.0 - step as f32 * 0.05;
        document
            .set_properties(layer, properties, Some("opacity"))
            .expect("exists");
    }
    document.seal_history();
    assert_eq!(document.history().undo_depth(), 1);
    document.undo();
    assert_eq!(
        document.layer(layer).expect("layer").properties.opacity,
        1.0
    );
}

#[test]
fn mask_selection_and_strokes() {
    let mut document = Document::new(200, 200).expect("size");
    document.fill_mask_polygon(
        &[(10.0, 10.0), (60.0, 10.0), (60.0, 40.0), (10.0, 40.0)],
        false,
    );
    assert_eq!(document.mask().pixel(10, 10), [255]);
    assert_eq!(document.mask().pixel(59, 39), [255]);
    assert_eq!(document.mask().pixel(60, 40), [0]);
    assert_eq!(
        document.mask().content_bounds(0),
        PixelRect::new(10, 10, 50, 30)
    );
    stroke(
        &mut document,
        None,
        StrokeMode::MaskAdd,
        &[(100.0, 100.0), (150.0, 100.0)],
    );
    assert_eq!(document.mask().pixel(120, 100), [255]);
    stroke(
        &mut document,
        None,
        StrokeMode::MaskErase,
        &[(120.0, 80.0), (120.0, 120.0)],
    );
    assert_eq!(document.mask().pixel(120, 100), [0]);
    document.undo();
    document.undo();
    document.undo();
    assert!(document.mask().is_empty());
}

#[test]
fn generative_layers_touch_only_the_masked_area_and_are_traceable() {
    let (mut document, paint) = square(128);
    paint_line(&mut document, paint, &[(0.0, 64.0), (128.0, 64.0)]);
    let before = document.composite(&document.bounds()).0;

    // A generation over a 64×64 region whose mask covers its middle 32×32.
    let region = PixelRect::new(32, 32, 64, 64);
    let raw: Vec<u8> = (0..64 * 64).flat_map(|_| [10_u8, 200, 30]).collect();
    let mut mask = vec![0_u8; 64 * 64];
    for y in 16..48 {
        for x in 16..48 {
            mask[y * 64 + x] = 255;
        }
    }
    let generated = document.add_generative_layer("Generation 1", region, raw, mask, 1);
    let (after, provenance) = document.composite(&document.bounds());
    let masked = PixelRect::new(48, 48, 32, 32);
    for y in 0..128 {
        for x in 0..128 {
            let index = (y * 128 + x) as usize;
            if masked.contains(x, y) {
                assert_eq!(&after[index * 4..index * 4 + 4], &[10, 200, 30, 255]);
                assert_eq!(provenance[index], Provenance::Generated);
            } else {
                assert_eq!(
                    &after[index * 4..index * 4 + 4],
                    &before[index * 4..index * 4 + 4],
                    "unchanged outside the mask at ({x}, {y})"
                );
                assert_ne!(provenance[index], Provenance::Generated);
            }
        }
    }
    let shares = ProvenanceShares::count(&provenance);
    assert_eq!(shares.generated, 32 * 32);

    // Painting over generated pixels on a layer above marks them.
    let above = document.add_paint_layer("Touch-ups", None);
    paint_line(&mut document, above, &[(60.0, 30.0), (60.0, 100.0)]);
    let (_, provenance) = document.composite(&document.bounds());
    assert_eq!(provenance[60 * 128 + 60], Provenance::GeneratedThenPainted);
    assert_eq!(provenance[60 * 128 + 10], Provenance::Hand);

    // Feather changes the composite without a new generation, and undoes.
    let sharp = document.composite(&document.bounds()).0;
    document
        .set_generative_params(
            generated,
            GenerativeParams {
                grow: 0,
                feather: 8.0,
                ..GenerativeParams::default()
            },
            None,
        )
        .expect("generative");
    let soft = document.composite(&document.bounds()).0;
    assert_ne!(sharp, soft);
    let edge = (48 * 128 + 49) as usize * 4;
    assert!(soft[edge + 1] < sharp[edge + 1], "the edge is softer");
    document.undo();
    assert_eq!(document.composite(&document.bounds()).0, sharp);

    // Generative layers cannot be painted on.
    let err = document
        .begin_stroke(Some(generated), StrokeMode::Paint, BrushSettings::default())
        .expect_err("not paintable");
    assert!(err.to_string().contains("is a generative layer"), "{err}");
}

#[test]
fn history_stays_within_its_budget() {
    let (mut document, layer) = square(1024);
    document.set_history_budget(3 * 256 * 256 * 4);
    for i in 0..10 {
        let y = 50.0 + i as f32 * 90.0;
        paint_line(&mut document, layer, &[(10.0, y), (1000.0, y)]);
    }
    assert!(document.history().memory_bytes() <= 3 * 256 * 256 * 4);
    assert!(document.history().dropped > 0);
    assert!(document.history().undo_depth() < 10);
}

#[test]
fn moving_a_layer_is_one_undo_step_and_loses_nothing_while_dragging() {
    let (mut document, layer) = square(300);
    paint_line(&mut document, layer, &[(20.0, 150.0), (280.0, 150.0)]);
    let original = document.layer(layer).expect("layer").pixels().clone();
    let steps = document.history().undo_depth();

    document.begin_move(layer).expect("a paint layer moves");
    assert!(document.is_moving());
    // Dragging past the right edge and back: the pixels come back whole.
    document.move_by(200, 0);
    assert_eq!(
        document
            .layer(layer)
            .expect("layer")
            .pixels()
            .pixel(250, 150),
        [255, 0, 0, 255],
        "the stroke's start, moved right"
    );
    document.move_by(30, -40);
    assert!(
        document.end_move(),
        "the stroke's end went past the right edge"
    );
    assert!(!document.is_moving());
    assert_eq!(document.history().undo_depth(), steps + 1);
    assert_eq!(document.history().undo_label(), Some("Move layer"));
    let moved = document.layer(layer).expect("layer").pixels();
    assert_eq!(moved, &original.translated(30, -40));
    assert_eq!(moved.pixel(30 + 150, 110), [255, 0, 0, 255]);
    assert_eq!(moved.pixel(150, 150), [0, 0, 0, 0], "where it was is empty");
    let (_, provenance) = document.composite(&document.bounds());
    assert_eq!(provenance[110 * 300 + 180], Provenance::Hand);
    assert_eq!(provenance[150 * 300 + 150], Provenance::Empty);

    assert_eq!(document.undo().as_deref(), Some("Move layer"));
    assert_eq!(document.layer(layer).expect("layer").pixels(), &original);
    document.redo();
    assert_eq!(
        document.layer(layer).expect("layer").pixels(),
        &original.translated(30, -40)
    );
    document.undo();

    // A move that is cancelled, or ends where it began, leaves no step.
    document.begin_move(layer).expect("moves");
    document.move_by(-50, 10);
    document.cancel_move();
    assert_eq!(document.layer(layer).expect("layer").pixels(), &original);
    document.begin_move(layer).expect("moves");
    document.move_by(5, 5);
    document.move_by(0, 0);
    assert!(!document.end_move());
    assert_eq!(document.history().undo_depth(), steps);

    // A move that keeps every painted pixel on the canvas cuts nothing.
    document.begin_move(layer).expect("moves");
    document.move_by(10, 10);
    assert!(!document.end_move());
    document.undo();

    // Undo in the middle of a drag keeps the move as a step first, then undoes it.
    document.begin_move(layer).expect("moves");
    document.move_by(10, 0);
    assert_eq!(document.undo().as_deref(), Some("Move layer"));
    assert!(!document.is_moving());
    assert_eq!(document.layer(layer).expect("layer").pixels(), &original);

    // Locked and generative layers stay put.
    let mut locked = document.layer(layer).expect("layer").properties.clone();
    locked.locked = true;
    document
        .set_properties(layer, locked, None)
        .expect("properties");
    let err = document.begin_move(layer).expect_err("locked");
    assert!(err.to_string().contains("is locked"), "{err}");
    let region = PixelRect::new(0, 0, 64, 64);
    let generated = flat_generation(&mut document, "Generation 1", region, 9);
    let err = document.begin_move(generated).expect_err("generative");
    assert!(
        err.to_string().contains("stays where it was generated"),
        "{err}"
    );
}

#[test]
fn a_generative_layer_switches_between_its_variations_as_one_undo_step() {
    let mut document = Document::new(64, 64).expect("size");
    let region = PixelRect::new(16, 16, 32, 32);
    let dark = Arc::new(vec![10_u8; 32 * 32 * 3]);
    let light = Arc::new(vec![200_u8; 32 * 32 * 3]);
    let id = document.add_generative_layer_with_variations(
        "Gen 1 · seed 8",
        region,
        vec![Arc::clone(&dark), Arc::clone(&light)],
        1,
        vec![255; 32 * 32],
        1,
    );
    let at = |document: &Document| {
        let (rgba, provenance) = document.composite(&PixelRect::new(20, 20, 1, 1));
        (rgba, provenance[0])
    };
    assert_eq!(
        at(&document),
        (vec![200, 200, 200, 255], Provenance::Generated)
    );
    let steps = document.history().undo_depth();

    document
        .set_generative_variation(id, 0, Some("Gen 1 · seed 7"))
        .expect("switches");
    assert_eq!(
        at(&document),
        (vec![10, 10, 10, 255], Provenance::Generated)
    );
    assert_eq!(
        document.layer(id).expect("layer").properties.name,
        "Gen 1 · seed 7"
    );
    assert_eq!(document.history().undo_depth(), steps + 1);
    assert_eq!(document.undo().as_deref(), Some("Show another variation"));
    assert_eq!(at(&document).0, vec![200, 200, 200, 255]);
    assert_eq!(
        document.layer(id).expect("layer").properties.name,
        "Gen 1 · seed 8"
    );
    document.redo();
    assert_eq!(at(&document).0, vec![10, 10, 10, 255]);

    // The variations are shared with whoever staged them, not copied.
    let LayerContent::Generative(generative) = &document.layer(id).expect("layer").content else {
        panic!("generative");
    };
    assert!(Arc::ptr_eq(&generative.variations[0], &dark));
    // Asking for the one shown, or one that does not exist, changes nothing.
    let steps = document.history().undo_depth();
    document
        .set_generative_variation(id, 0, None)
        .expect("no-op");
    document
        .set_generative_variation(id, 5, None)
        .expect("no-op");
    assert_eq!(document.history().undo_depth(), steps);
    // A locked layer keeps its variation.
    let mut locked = document.layer(id).expect("layer").properties.clone();
    locked.locked = true;
    document
        .set_properties(id, locked, None)
        .expect("properties");
    let err = document
        .set_generative_variation(id, 1, None)
        .expect_err("locked");
    assert!(err.to_string().contains("is locked"), "{err}");
}
