//! Which variation of a generative layer shows where, as the variation brush paints it.
//!
//! Each pixel holds one weight per variation (0..=255). Whatever the weights leave — 255 less
//! their sum — shows the layer's selected variation, so a pixel the brush never touched (and a
//! tile it never reached, kept absent) shows the selected one alone, and "Previous" / "Next"
//! still change what shows there. A brush stroke of variation `k` at coverage `s` moves every
//! weight towards `k`'s alone (`w ← w + s·(255·[j = k] − w)`), so soft edges blend the
//! variations and painting over a blend never leaves more than full coverage.
//!
//! This is the CPU reference of the mix: what each pixel shows is the weighted mean of the
//! variations' colours (each already colour-matched when the layer matches colour).

use crate::document::tiles::{PixelRect, TILE, Tiled};

/// The most variations the brush can choose between (a generation makes up to 8).
pub const MAX_VARIATIONS: usize = 8;

/// The weights, one channel per variation, at document size (absent tiles: untouched).
pub type ChoiceTiles = Tiled<MAX_VARIATIONS>;

/// The weights a pixel's variations show with, summing to 255, from its stored weights
/// (`None`: untouched). Stored weights that sum past 255 (byte rounding of overlapping soft
/// dabs) are scaled down; below 255 the rest is the selected variation's.
pub fn effective(stored: Option<&[u8]>, selected: usize, count: usize) -> [u16; MAX_VARIATIONS] {
    let mut weights = [0_u16; MAX_VARIATIONS];
    let count = count.min(MAX_VARIATIONS);
    let selected = selected.min(count.saturating_sub(1));
    let Some(stored) = stored else {
        weights[selected] = 255;
        return weights;
    };
    let sum: u16 = stored[..count].iter().map(|&w| u16::from(w)).sum();
    if sum <= 255 {
        for (weight, &w) in weights.iter_mut().zip(&stored[..count]) {
            *weight = u16::from(w);
        }
        weights[selected] += 255 - sum;
    } else {
        // Largest remainder, so the scaled weights still sum to exactly 255.
        let mut given = 0;
        let mut remainders = [(0_u32, 0_usize); MAX_VARIATIONS];
        for index in 0..count {
            let scaled = u32::from(stored[index]) * 255;
            weights[index] = (scaled / u32::from(sum)) as u16;
            given += weights[index];
            remainders[index] = (scaled % u32::from(sum), index);
        }
        remainders[..count].sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for &(_, index) in remainders.iter().take(usize::from(255 - given)) {
            weights[index] += 1;
        }
    }
    weights
}

/// Which variations show anywhere in `region` (the selected one always does, unless painted
/// out everywhere — it is still reported, it is what untouched pixels would show).
pub fn used(choice: &ChoiceTiles, region: &PixelRect, count: usize) -> [bool; MAX_VARIATIONS] {
    let mut used = [false; MAX_VARIATIONS];
    each_stored(choice, region, |_, _, weights| {
        for (flag, &weight) in used.iter_mut().zip(&weights[..count.min(MAX_VARIATIONS)]) {
            *flag |= weight > 0;
        }
    });
    used
}

/// Calls `visit(x, y, weights)` for each pixel of `region` whose tile holds weights, with the
/// pixel's stored weights (one per variation); untouched tiles are passed over.
fn each_stored(choice: &ChoiceTiles, region: &PixelRect, mut visit: impl FnMut(u32, u32, &[u8])) {
    for (tile, part) in choice.stored_parts(region) {
        for y in part.y0..part.y1 {
            let row = ((y % TILE) * TILE) as usize;
            for x in part.x0..part.x1 {
                let offset = (row + (x % TILE) as usize) * MAX_VARIATIONS;
                visit(x, y, &tile[offset..offset + MAX_VARIATIONS]);
            }
        }
    }
}

/// Writes into `out` (RGB at `region` size) what the pixels of `rect` show: the mix of
/// `sources` (each variation's RGB at region size; `None` for one with no weight there) by the
/// weights. Pixels the brush never touched show `sources[selected]`.
pub fn mix(
    choice: &ChoiceTiles,
    sources: &[Option<&[u8]>],
    selected: usize,
    region: &PixelRect,
    rect: &PixelRect,
    out: &mut [u8],
) {
    let rect = rect.intersect(region);
    let count = sources.len().min(MAX_VARIATIONS);
    let region_width = region.width() as usize;
    let Some(base) = sources.get(selected).copied().flatten() else {
        return;
    };
    for index in choice.tiles_in(&rect) {
        let part = choice.tile_rect(index).intersect(&rect);
        let tile = choice.tile(index);
        for y in part.y0..part.y1 {
            let row = ((y % TILE) * TILE) as usize;
            for x in part.x0..part.x1 {
                let at = (y - region.y0) as usize * region_width + (x - region.x0) as usize;
                let pixel = &mut out[at * 3..at * 3 + 3];
                let Some(tile) = tile else {
                    pixel.copy_from_slice(&base[at * 3..at * 3 + 3]);
                    continue;
                };
                let offset = (row + (x % TILE) as usize) * MAX_VARIATIONS;
                let weights = effective(
                    Some(&tile[offset..offset + MAX_VARIATIONS]),
                    selected,
                    count,
                );
                let mut sum = [0_u32; 3];
                for (source, &weight) in sources.iter().zip(&weights) {
                    if weight == 0 {
                        continue;
                    }
                    let source = source.unwrap_or(base);
                    for channel in 0..3 {
                        sum[channel] += u32::from(weight) * u32::from(source[at * 3 + channel]);
                    }
                }
                for channel in 0..3 {
                    pixel[channel] = ((sum[channel] + 127) / 255) as u8;
                }
            }
        }
    }
}

/// How much of what a layer shows each variation gives, and where.
#[derive(Clone, Debug, PartialEq)]
pub struct VariationShare {
    /// The variation (index into the generation's seeds).
    pub variation: usize,
    /// Its share of the layer's visible pixels, weighted by their alpha (0..1).
    pub share: f64,
    /// The document pixels where it shows at all.
    pub bounds: PixelRect,
}

/// Each variation's share of the pixels of `region` whose alpha (`alpha(index)`, region
/// index) is above zero, weighted by alpha, with where it shows; variations that do not show
/// are left out.
pub fn shares(
    choice: Option<&ChoiceTiles>,
    selected: usize,
    count: usize,
    region: &PixelRect,
    alpha: impl Fn(usize) -> u8,
) -> Vec<VariationShare> {
    let count = count.clamp(1, MAX_VARIATIONS);
    let mut weighted = [0_f64; MAX_VARIATIONS];
    let mut bounds = [PixelRect::new(0, 0, 0, 0); MAX_VARIATIONS];
    let region_width = region.width() as usize;
    for y in region.y0..region.y1 {
        for x in region.x0..region.x1 {
            let at = (y - region.y0) as usize * region_width + (x - region.x0) as usize;
            let a = alpha(at);
            if a == 0 {
                continue;
            }
            let stored = choice.and_then(|choice| {
                let index = choice.tile_index(x / TILE, y / TILE);
                let offset = (((y % TILE) * TILE + x % TILE) as usize) * MAX_VARIATIONS;
                choice
                    .tile(index)
                    .map(|tile| &tile[offset..offset + MAX_VARIATIONS])
            });
            let weights = effective(stored, selected, count);
            for variation in 0..count {
                if weights[variation] == 0 {
                    continue;
                }
                weighted[variation] += f64::from(weights[variation]) * f64::from(a);
                bounds[variation] = bounds[variation].union(&PixelRect::new(x, y, 1, 1));
            }
        }
    }
    let total: f64 = weighted.iter().sum();
    (0..count)
        .filter(|&variation| weighted[variation] > 0.0)
        .map(|variation| VariationShare {
            variation,
            share: weighted[variation] / total,
            bounds: bounds[variation],
        })
        .collect()
}

/// One variation's stored weights over `region` (L8 at region size), or `None` when it has
/// none there — what a project saves.
pub fn channel(choice: &ChoiceTiles, region: &PixelRect, variation: usize) -> Option<Vec<u8>> {
    let region_width = region.width() as usize;
    let mut out = vec![0_u8; region_width * region.height() as usize];
    let mut any = false;
    each_stored(choice, region, |x, y, weights| {
        let weight = weights[variation];
        if weight > 0 {
            any = true;
            out[(y - region.y0) as usize * region_width + (x - region.x0) as usize] = weight;
        }
    });
    any.then_some(out)
}

/// The weights from saved channels (`(variation, L8 at region size)`), at document size.
pub fn from_channels(
    document_size: (u32, u32),
    region: &PixelRect,
    channels: &[(usize, Vec<u8>)],
) -> ChoiceTiles {
    let mut choice = ChoiceTiles::new(document_size.0, document_size.1);
    let region_width = region.width() as usize;
    for index in choice.tiles_in(region) {
        let part = choice.tile_rect(index).intersect(region);
        let mut touched = false;
        let mut tile = vec![0_u8; (TILE * TILE) as usize * MAX_VARIATIONS];
        for (variation, weights) in channels {
            if *variation >= MAX_VARIATIONS {
                continue;
            }
            for y in part.y0..part.y1 {
                let row = ((y % TILE) * TILE) as usize;
                for x in part.x0..part.x1 {
                    let weight =
                        weights[(y - region.y0) as usize * region_width + (x - region.x0) as usize];
                    if weight > 0 {
                        touched = true;
                        tile[(row + (x % TILE) as usize) * MAX_VARIATIONS + variation] = weight;
                    }
                }
            }
        }
        if touched {
            choice.replace_tile(index, Some(std::sync::Arc::new(tile)));
        }
    }
    choice
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pixel's stored weights: the given ones, the rest zero.
    fn stored(leading: &[u8]) -> [u8; MAX_VARIATIONS] {
        let mut weights = [0_u8; MAX_VARIATIONS];
        weights[..leading.len()].copy_from_slice(leading);
        weights
    }

    #[test]
    fn untouched_pixels_show_the_selected_variation_alone() {
        assert_eq!(effective(None, 2, 4)[..4], [0, 0, 255, 0]);
        assert_eq!(effective(Some(&stored(&[])), 1, 3)[..3], [0, 255, 0]);
    }

    #[test]
    fn weights_below_full_leave_the_rest_to_the_selected_variation() {
        let weights = effective(Some(&stored(&[0, 100, 55])), 0, 3);
        assert_eq!(weights[..3], [100, 100, 55]);
    }

    #[test]
    fn weights_past_full_are_scaled_to_exactly_full() {
        let weights = effective(Some(&stored(&[128, 128, 3])), 0, 3);
        assert_eq!(weights.iter().sum::<u16>(), 255);
        assert!(weights[0] == 126 || weights[0] == 127, "{weights:?}");
        assert_eq!(weights[0], weights[1]);
    }

    #[test]
    fn the_mix_is_the_weighted_mean() {
        let region = PixelRect::new(0, 0, 2, 1);
        let mut choice = ChoiceTiles::new(2, 1);
        choice.set_pixel(1, 0, stored(&[0, 51])); // a fifth of variation 1
        let a = vec![0_u8, 0, 0, 0, 0, 0];
        let b = vec![255_u8, 255, 255, 250, 100, 5];
        let mut out = vec![9_u8; 6];
        mix(
            &choice,
            &[Some(&a), Some(&b)],
            0,
            &region,
            &region,
            &mut out,
        );
        // Pixel 0 is untouched (variation 0); pixel 1 is 4/5 variation 0 and 1/5 variation 1.
        assert_eq!(out, vec![0, 0, 0, 50, 20, 1]);
    }

    #[test]
    fn shares_count_alpha_weighted_pixels_and_their_bounds() {
        let region = PixelRect::new(10, 10, 4, 1);
        let mut choice = ChoiceTiles::new(20, 20);
        choice.set_pixel(13, 10, stored(&[0, 255]));
        let shares = shares(Some(&choice), 0, 2, &region, |_| 255);
        assert_eq!(shares.len(), 2);
        assert_eq!(shares[0].variation, 0);
        assert!((shares[0].share - 0.75).abs() < 1e-12);
        assert_eq!(shares[1].bounds, PixelRect::new(13, 10, 1, 1));
    }

    #[test]
    fn channels_round_trip() {
        let region = PixelRect::new(3, 4, 300, 20);
        let mut choice = ChoiceTiles::new(400, 40);
        choice.set_pixel(280, 10, stored(&[0, 0, 7, 0, 0, 200]));
        let saved: Vec<(usize, Vec<u8>)> = (0..MAX_VARIATIONS)
            .filter_map(|v| channel(&choice, &region, v).map(|c| (v, c)))
            .collect();
        assert_eq!(saved.iter().map(|(v, _)| *v).collect::<Vec<_>>(), [2, 5]);
        let loaded = from_channels((400, 40), &region, &saved);
        assert!(loaded == choice);
    }
}
