//! The variation brush: painting which of a generative layer's variations shows where.

use std::sync::Arc;

use super::brush::{BrushSettings, StrokeMode, StrokePoint};
use super::color_match::{ColorMatch, ColorMatchMode};
use super::compositor::Provenance;
use super::generative::GenerativeParams;
use super::layer::{LayerContent, LayerId};
use super::tiles::PixelRect;
use super::*;

const SIDE: u32 = 400;
/// The generation's region: most of the canvas, crossing tile edges.
const REGION: PixelRect = PixelRect {
    x0: 40,
    y0: 30,
    x1: 360,
    y1: 330,
};
const RED: [u8; 3] = [220, 30, 20];
const BLUE: [u8; 3] = [20, 40, 230];
const GREEN: [u8; 3] = [30, 200, 60];

fn flat(color: [u8; 3]) -> Arc<Vec<u8>> {
    let pixels = (REGION.width() * REGION.height()) as usize;
    Arc::new(color.iter().copied().cycle().take(pixels * 3).collect())
}

/// A document with a generative layer of three flat variations (red shown), mask all over
/// the region.
fn with_variations() -> (Document, LayerId) {
    let mut document = Document::new(SIDE, SIDE).expect("size");
    let pixels = (REGION.width() * REGION.height()) as usize;
    let id = document.add_generative_layer_with_variations(
        "Gen 1 · seed 1",
        REGION,
        vec![flat(RED), flat(BLUE), flat(GREEN)],
        0,
        vec![255; pixels],
        1,
    );
    (document, id)
}

fn brush(size: f32, hardness: f32) -> BrushSettings {
    BrushSettings {
        size,
        hardness,
        ..BrushSettings::default()
    }
}

fn paint(document: &mut Document, id: LayerId, variation: u8, brush: BrushSettings, y: f32) {
    document
        .paint_stroke(
            Some(id),
            StrokeMode::Variation(variation),
            brush,
            [StrokePoint::new(100.0, y), StrokePoint::new(300.0, y)],
        )
        .expect("the variation brush paints on a generative layer with variations");
}

fn rgb_at(document: &Document, x: u32, y: u32) -> [u8; 3] {
    let (rgba, _) = document.composite(&PixelRect::new(x, y, 1, 1));
    [rgba[0], rgba[1], rgba[2]]
}

fn generative(document: &Document, id: LayerId) -> &generative::GenerativeLayer {
    match &document.layer(id).expect("layer").content {
        LayerContent::Generative(generative) => generative,
        LayerContent::Paint(_) => panic!("generative"),
    }
}

#[test]
fn a_hard_stroke_shows_the_painted_variation_inside_and_undoes_exactly() {
    let (mut document, id) = with_variations();
    let before = document.composite(&document.bounds());
    let steps = document.history().undo_depth();
    paint(&mut document, id, 1, brush(40.0, 1.0), 150.0);
    assert_eq!(document.history().undo_depth(), steps + 1);
    assert_eq!(
        document.history().undo_label(),
        Some("Variation brush stroke")
    );
    assert_eq!(rgb_at(&document, 200, 150), BLUE, "on the stroke");
    assert_eq!(rgb_at(&document, 110, 160), BLUE, "near its start");
    assert_eq!(rgb_at(&document, 200, 200), RED, "off the stroke: the base");
    assert_eq!(rgb_at(&document, 200, 172), RED, "just past its edge");
    // Provenance is exact: still generated everywhere the layer shows, nothing else.
    let (_, provenance) = document.composite(&document.bounds());
    assert!(
        provenance
            .iter()
            .zip(&before.1)
            .all(|(now, then)| now == then),
        "which variation shows does not change what made the pixels"
    );
    assert_eq!(
        provenance[(150 * SIDE + 200) as usize],
        Provenance::Generated
    );

    assert_eq!(document.undo().as_deref(), Some("Variation brush stroke"));
    assert_eq!(document.composite(&document.bounds()), before);
    document.redo();
    assert_eq!(rgb_at(&document, 200, 150), BLUE);
}

#[test]
fn soft_edges_blend_variations_as_convex_mixes() {
    let (mut document, id) = with_variations();
    paint(&mut document, id, 1, brush(80.0, 0.0), 150.0);
    // Across the stroke's soft edge the colour goes from blue to red, each pixel a mix of the
    // two (the green variation is nowhere).
    let mut previous_blue = u8::MAX;
    for y in 150..200 {
        let [r, g, b] = rgb_at(&document, 200, y);
        let t = f32::from(r - BLUE[0]) / f32::from(RED[0] - BLUE[0]);
        let expected = |blue: u8, red: u8| f32::from(blue) + t * (f32::from(red) - f32::from(blue));
        assert!(
            (f32::from(g) - expected(BLUE[1], RED[1])).abs() <= 1.5
                && (f32::from(b) - expected(BLUE[2], RED[2])).abs() <= 1.5,
            "a mix of blue and red at y = {y}: {r} {g} {b}"
        );
        assert!(b <= previous_blue, "blue fades monotonically: {y}");
        previous_blue = b;
    }
    let [r, _, _] = rgb_at(&document, 200, 175);
    assert!(
        r > BLUE[0] + 10 && r < RED[0] - 10,
        "a blend at the edge: {r}"
    );
    // Painting green across it: green wins on its path, blue stays beside it.
    document
        .paint_stroke(
            Some(id),
            StrokeMode::Variation(2),
            brush(30.0, 1.0),
            [
                StrokePoint::new(200.0, 50.0),
                StrokePoint::new(200.0, 300.0),
            ],
        )
        .expect("paints");
    assert_eq!(rgb_at(&document, 200, 150), GREEN);
    assert_eq!(rgb_at(&document, 150, 150), BLUE);
    let shares = generative(&document, id).variation_shares();
    assert_eq!(
        shares
            .iter()
            .map(|share| share.variation)
            .collect::<Vec<_>>(),
        [0, 1, 2]
    );
    let total: f64 = shares.iter().map(|share| share.share).sum();
    assert!((total - 1.0).abs() < 1e-9, "{total}");
    // Green's bounds: the vertical stroke, 30 px wide at x = 200 from y = 50 to 300. It starts
    // with a dab on its first point (rows 35..); its last dab lies within one dab spacing
    // (0.12 × 30 px) before its end.
    let green = shares[2].bounds;
    assert!(green.x0 >= 184 && green.x1 <= 216, "{green:?}");
    assert_eq!(green.y0, 35, "{green:?}");
    assert!(
        (300 + 15 - 4..=300 + 15 + 1).contains(&green.y1),
        "{green:?}"
    );
}

#[test]
fn previous_and_next_change_only_where_the_brush_did_not_paint() {
    let (mut document, id) = with_variations();
    paint(&mut document, id, 1, brush(40.0, 1.0), 150.0);
    document
        .set_generative_variation(id, 2, None)
        .expect("switches the base");
    assert_eq!(rgb_at(&document, 200, 150), BLUE, "painted: kept");
    assert_eq!(
        rgb_at(&document, 200, 250),
        GREEN,
        "unpainted: the new base"
    );
}

#[test]
fn the_brush_is_refused_where_there_is_nothing_to_choose() {
    let (mut document, id) = with_variations();
    let paint_layer = document.layers()[0].id;
    let err = document
        .begin_stroke(
            Some(paint_layer),
            StrokeMode::Variation(1),
            brush(20.0, 1.0),
        )
        .expect_err("a paint layer has no variations");
    assert!(err.to_string().contains("no variations"), "{err}");
    let err = document
        .begin_stroke(Some(id), StrokeMode::Variation(5), brush(20.0, 1.0))
        .expect_err("there is no variation 6");
    assert!(err.to_string().contains("has 3 variations, not 6"), "{err}");
    assert!(!document.is_stroking());
}

#[test]
fn colour_match_corrects_each_painted_variation() {
    let (mut document, id) = with_variations();
    // The artist's pixels around the generation are grey; the layer keeps them as its context.
    let pixels = (REGION.width() * REGION.height()) as usize;
    let mut mask = vec![0_u8; pixels];
    let width = REGION.width() as usize;
    for y in 40..260 {
        for x in 40..280 {
            mask[y * width + x] = 255;
        }
    }
    let context = Arc::new(vec![128_u8; pixels * 3]);
    let layer_index = document.layer_index(id).expect("layer");
    let LayerContent::Generative(layer) = &document.layers[layer_index].content else {
        panic!("generative");
    };
    let rebuilt = generative::GenerativeLayer::new(
        (SIDE, SIDE),
        REGION,
        layer.variations.clone(),
        Arc::new(mask),
        GenerativeParams::default(),
        1,
    )
    .with_context(context);
    document.layers[layer_index].content = LayerContent::Generative(Arc::new(rebuilt));
    paint(&mut document, id, 1, brush(40.0, 1.0), 150.0);
    let raw_blue = rgb_at(&document, 200, 150);
    assert_eq!(raw_blue, BLUE);
    document
        .set_generative_params(
            id,
            GenerativeParams {
                color: ColorMatch {
                    mode: ColorMatchMode::Global,
                    strength: 1.0,
                },
                ..GenerativeParams::default()
            },
            None,
        )
        .expect("colour match");
    // Global match moves each variation's colour to the grey it meets at the edge.
    for (x, y) in [(200, 150), (200, 250)] {
        let [r, g, b] = rgb_at(&document, x, y);
        assert!(
            r.abs_diff(128) <= 2 && g.abs_diff(128) <= 2 && b.abs_diff(128) <= 2,
            "matched to grey at ({x}, {y}): {r} {g} {b}"
        );
    }
}
