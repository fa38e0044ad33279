//! The mask's edge: its exact Euclidean signed distance field, and grow and feather applied
//! along it.

use super::{DISTANCE_SCALE, GenerativeParams, Shading};
use crate::document::distance::squared_distance_to;

/// Applies grow/shrink and feather to a mask. With neither, the mask is returned as it is (soft
/// edges kept); otherwise the edge is the mask's half-way line, moved and softened.
pub fn shape_mask(mask: &[u8], width: usize, height: usize, params: GenerativeParams) -> Vec<u8> {
    if params.edge_only() == GenerativeParams::default() {
        return mask.to_vec();
    }
    let shape = Shading::of(params, 0);
    signed_distance(mask, width, height)
        .iter()
        .map(|&d| shape.alpha(d))
        .collect()
}

/// Signed Euclidean distance from each pixel centre to the mask's edge (the boundary between
/// pixels at or above half and those below), negative inside, in 1/64 px, clamped to ±511 px.
pub fn signed_distance(mask: &[u8], width: usize, height: usize) -> Vec<i16> {
    let inside: Vec<bool> = mask.iter().map(|&value| value >= 128).collect();
    let outside: Vec<bool> = inside.iter().map(|&value| !value).collect();
    let (to_inside, to_outside) = rayon::join(
        || squared_distance_to(&inside, width, height),
        || squared_distance_to(&outside, width, height),
    );
    let limit = f32::from(i16::MAX) / DISTANCE_SCALE;
    inside
        .iter()
        .zip(to_inside.iter().zip(&to_outside))
        .map(|(&is_inside, (&squared_in, &squared_out))| {
            let distance = if is_inside {
                -(squared_out.sqrt() - 0.5)
            } else {
                squared_in.sqrt() - 0.5
            };
            (distance.clamp(-limit, limit) * DISTANCE_SCALE).round() as i16
        })
        .collect()
}
