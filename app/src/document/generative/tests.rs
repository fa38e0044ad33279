use super::*;

fn square_mask(size: usize, inner: std::ops::Range<usize>) -> Vec<u8> {
    let mut mask = vec![0; size * size];
    for y in inner.clone() {
        for x in inner.clone() {
            mask[y * size + x] = 255;
        }
    }
    mask
}

fn shaped(mask: &[u8], size: usize, grow: i32, feather: f32) -> Vec<u8> {
    shape_mask(
        mask,
        size,
        size,
        GenerativeParams {
            grow,
            feather,
            ..GenerativeParams::default()
        },
    )
}

#[test]
fn grow_and_shrink_move_the_edge_by_the_radius() {
    let mask = square_mask(40, 10..30);
    let grown = shaped(&mask, 40, 3, 0.0);
    assert_eq!(grown[20 * 40 + 7], 255, "3 px outside the edge is inside");
    assert_eq!(grown[20 * 40 + 6], 0, "4 px outside is not");
    assert_eq!(grown[20 * 40 + 20], 255, "the inside stays");
    let shrunk = shaped(&mask, 40, -3, 0.0);
    assert_eq!(shrunk[20 * 40 + 13], 255);
    assert_eq!(shrunk[20 * 40 + 12], 0);
    // Corners grow round (Euclidean), not square.
    assert_eq!(
        grown[7 * 40 + 7],
        0,
        "the diagonal corner is farther than 3 px"
    );
}

#[test]
fn feather_softens_only_near_the_edge() {
    let mask = square_mask(64, 16..48);
    let soft = shaped(&mask, 64, 0, 12.0);
    assert_eq!(soft[32 * 64 + 32], 255, "centre stays full");
    assert_eq!(soft[2 * 64 + 2], 0, "far outside stays empty");
    let edge = soft[32 * 64 + 16];
    assert!(edge > 60 && edge < 200, "edge is soft: {edge}");
    // Symmetric around the edge, monotonic across it.
    let inside = i32::from(soft[32 * 64 + 18]);
    let outside = i32::from(soft[32 * 64 + 13]);
    assert!((inside - (255 - outside)).abs() < 30, "{inside} {outside}");
    let row: Vec<u8> = (0..32).map(|x| soft[32 * 64 + x]).collect();
    assert!(row.windows(2).all(|pair| pair[0] <= pair[1]), "{row:?}");
    assert_eq!(soft[32 * 64 + 9], 0, "beyond half the width nothing shows");
}

#[test]
fn pixels_asked_for_from_the_pool_and_another_thread_at_once_never_hang() {
    use rayon::prelude::*;
    let size = 1024;
    let region = PixelRect::new(0, 0, size, size);
    let mask = square_mask(size as usize, 100..900);
    let raw = Arc::new(vec![90_u8; (size * size * 3) as usize]);
    for round in 0..20 {
        let layer = Arc::new(GenerativeLayer::new(
            (size, size),
            region,
            vec![Arc::clone(&raw)],
            Arc::new(mask.clone()),
            GenerativeParams {
                feather: 4.0 + round as f32,
                ..GenerativeParams::default()
            },
            1,
        ));
        let (done, finished) = std::sync::mpsc::channel();
        let outside = {
            let layer = Arc::clone(&layer);
            std::thread::spawn(move || {
                let tiles = layer.rendered().tile_count();
                let _ = done.send(());
                tiles
            })
        };
        let counts: Vec<usize> = (0..8)
            .into_par_iter()
            .map(|_| layer.rendered().tile_count())
            .collect();
        finished
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the other thread got its pixels (no deadlock)");
        assert_eq!(outside.join().expect("joins"), counts[0]);
    }
}

#[test]
fn no_parameters_keep_the_mask_as_it_is() {
    let mask: Vec<u8> = (0..=255).collect();
    assert_eq!(shape_mask(&mask, 16, 16, GenerativeParams::default()), mask);
}

#[test]
fn changing_parameters_rewrites_only_the_changed_tiles() {
    let size = 600;
    let region = PixelRect::new(0, 0, size, size);
    let mask = square_mask(size as usize, 100..200);
    let raw = vec![200_u8; (size * size * 3) as usize];
    let layer = GenerativeLayer::new(
        (size, size),
        region,
        vec![Arc::new(raw)],
        Arc::new(mask),
        GenerativeParams::default(),
        1,
    );
    let (feathered, changed) = layer.with_params(GenerativeParams {
        grow: 0,
        feather: 10.0,
        ..GenerativeParams::default()
    });
    assert_eq!(changed, vec![0], "the square lies in the first tile");
    let (back, changed) = feathered.with_params(GenerativeParams::default());
    assert_eq!(changed, vec![0]);
    assert!(
        back.rendered() == layer.rendered(),
        "going back restores the pixels exactly"
    );
    // The same result as rendering from scratch.
    let fresh = GenerativeLayer::new(
        (size, size),
        region,
        layer.variations.clone(),
        layer.mask.clone(),
        GenerativeParams {
            grow: 0,
            feather: 10.0,
            ..GenerativeParams::default()
        },
        1,
    );
    assert!(fresh.rendered() == feathered.rendered());
}

#[test]
fn switching_colour_match_back_reuses_the_measured_correction() {
    use crate::document::color_match::{ColorMatch, ColorMatchMode};
    let size = 96;
    let region = PixelRect::new(0, 0, size, size);
    let mask = square_mask(size as usize, 24..72);
    // The generation is the artist's picture shifted in brightness, so there is something to
    // correct.
    let context: Vec<u8> = (0..size * size * 3).map(|i| (i % 200) as u8 + 20).collect();
    let raw: Vec<u8> = context.iter().map(|&v| v.saturating_add(30)).collect();
    let layer = GenerativeLayer::new(
        (size, size),
        region,
        vec![Arc::new(raw)],
        Arc::new(mask),
        GenerativeParams::default(),
        1,
    )
    .with_context(Arc::new(context));
    let with = |mode| GenerativeParams {
        color: ColorMatch {
            mode,
            strength: 1.0,
        },
        ..GenerativeParams::default()
    };
    let (local, _) = layer.with_params(with(ColorMatchMode::Local));
    let (global, _) = local.with_params(with(ColorMatchMode::Global));
    let (back, _) = global.with_params(with(ColorMatchMode::Local));
    let mix = |layer: &GenerativeLayer| layer.matched_mix.clone().expect("colour match is on");
    assert!(
        !Arc::ptr_eq(&mix(&local), &mix(&global)),
        "each mode has its own correction"
    );
    assert!(
        Arc::ptr_eq(&mix(&local), &mix(&back)),
        "going back to local uses the correction measured the first time"
    );
    assert!(back.rendered() == local.rendered());
    assert_eq!(back.matched.len(), 2, "one kept correction per mode");
}
