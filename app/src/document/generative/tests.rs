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

/// A generative layer of one variation over the whole of a `size` × `size` canvas, its mask full
/// over `inner` on both axes.
fn whole_canvas_layer(
    size: u32,
    inner: std::ops::Range<usize>,
    raw: Arc<Vec<u8>>,
    params: GenerativeParams,
) -> GenerativeLayer {
    let mask = square_mask(size as usize, inner);
    let region = PixelRect::new(0, 0, size, size);
    GenerativeLayer::new((size, size), region, vec![raw], Arc::new(mask), params, 1)
}

/// A shaped mask's alpha, read by pixel.
struct Shaped {
    size: usize,
    alpha: Vec<u8>,
}

impl Shaped {
    /// The square mask of `size` px that is full over `inner` on both axes, shaped with `grow`
    /// and `feather`.
    fn square(size: usize, inner: std::ops::Range<usize>, grow: i32, feather: f32) -> Self {
        let params = GenerativeParams {
            grow,
            feather,
            ..GenerativeParams::default()
        };
        let alpha = shape_mask(&square_mask(size, inner), size, size, params);
        Self { size, alpha }
    }

    fn at(&self, x: usize, y: usize) -> u8 {
        self.alpha[y * self.size + x]
    }
}

#[test]
fn grow_and_shrink_move_the_edge_by_the_radius() {
    let grown = Shaped::square(40, 10..30, 3, 0.0);
    assert_eq!(grown.at(7, 20), 255, "3 px outside the edge is inside");
    assert_eq!(grown.at(6, 20), 0, "4 px outside is not");
    assert_eq!(grown.at(20, 20), 255, "the inside stays");
    let shrunk = Shaped::square(40, 10..30, -3, 0.0);
    assert_eq!(shrunk.at(13, 20), 255);
    assert_eq!(shrunk.at(12, 20), 0);
    // Corners grow round (Euclidean), not square.
    assert_eq!(
        grown.at(7, 7),
        0,
        "the diagonal corner is farther than 3 px"
    );
}

#[test]
fn feather_softens_only_near_the_edge() {
    let soft = Shaped::square(64, 16..48, 0, 12.0);
    assert_eq!(soft.at(32, 32), 255, "centre stays full");
    assert_eq!(soft.at(2, 2), 0, "far outside stays empty");
    let edge = soft.at(16, 32);
    assert!(edge > 60 && edge < 200, "edge is soft: {edge}");
    // Symmetric around the edge, monotonic across it.
    let inside = i32::from(soft.at(18, 32));
    let outside = i32::from(soft.at(13, 32));
    assert!((inside - (255 - outside)).abs() < 30, "{inside} {outside}");
    let row: Vec<u8> = (0..32).map(|x| soft.at(x, 32)).collect();
    assert!(row.windows(2).all(|pair| pair[0] <= pair[1]), "{row:?}");
    assert_eq!(soft.at(9, 32), 0, "beyond half the width nothing shows");
}

#[test]
fn pixels_asked_for_from_the_pool_and_another_thread_at_once_never_hang() {
    use rayon::prelude::*;
    let size = 1024;
    let raw = Arc::new(vec![90_u8; (size * size * 3) as usize]);
    for round in 0..20 {
        let params = GenerativeParams {
            feather: 4.0 + round as f32,
            ..GenerativeParams::default()
        };
        let layer = Arc::new(whole_canvas_layer(size, 100..900, Arc::clone(&raw), params));
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
    let raw = Arc::new(vec![200_u8; (size * size * 3) as usize]);
    let layer = whole_canvas_layer(
        size,
        100..200,
        Arc::clone(&raw),
        GenerativeParams::default(),
    );
    let feather = GenerativeParams {
        grow: 0,
        feather: 10.0,
        ..GenerativeParams::default()
    };
    let (feathered, changed) = layer.with_params(feather);
    assert_eq!(changed, vec![0], "the square lies in the first tile");
    let (back, changed) = feathered.with_params(GenerativeParams::default());
    assert_eq!(changed, vec![0]);
    assert!(
        back.rendered() == layer.rendered(),
        "going back restores the pixels exactly"
    );
    // The same result as rendering from scratch.
    let fresh = whole_canvas_layer(size, 100..200, raw, feather);
    assert!(fresh.rendered() == feathered.rendered());
}

#[test]
fn switching_colour_match_back_reuses_the_measured_correction() {
    use crate::document::color_match::{ColorMatch, ColorMatchMode};
    let size = 96;
    // The generation is the artist's picture shifted in brightness, so there is something to
    // correct.
    let context: Vec<u8> = (0..size * size * 3).map(|i| (i % 200) as u8 + 20).collect();
    let raw: Vec<u8> = context.iter().map(|&v| v.saturating_add(30)).collect();
    let layer = whole_canvas_layer(size, 24..72, Arc::new(raw), GenerativeParams::default())
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
