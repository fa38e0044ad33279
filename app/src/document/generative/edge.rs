//! The mask's edge: its exact Euclidean signed distance field, and grow and feather applied
//! along it.

use super::{DISTANCE_SCALE, GenerativeParams, Shading};

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

/// Squared Euclidean distance from each pixel to the nearest pixel of `set` (0 on it; huge when
/// the set is empty).
pub fn squared_distance_to(set: &[bool], width: usize, height: usize) -> Vec<f32> {
    const FAR: f32 = 1e20;
    if width == 0 || height == 0 {
        return Vec::new();
    }
    // Columns first, kept column by column, then rows.
    let mut columns = vec![0.0_f32; width * height];
    transform_lines(&mut columns, height, |x, y| {
        if set[y * width + x] { 0.0 } else { FAR }
    });
    let mut grid = vec![0.0_f32; width * height];
    transform_lines(&mut grid, width, |y, x| columns[x * height + y]);
    grid
}

/// Each `length`-long line of `out` transformed from its input, `input(line, position)`. The
/// lines are independent, so they run in parallel, each thread with its own buffers.
fn transform_lines(out: &mut [f32], length: usize, input: impl Fn(usize, usize) -> f32 + Sync) {
    use rayon::prelude::*;
    out.par_chunks_mut(length).enumerate().for_each_init(
        || {
            (
                vec![0.0_f32; length],
                vec![0_usize; length],
                vec![0.0_f32; length + 1],
            )
        },
        |(line, v, z), (index, out)| {
            for (position, value) in line.iter_mut().enumerate() {
                *value = input(index, position);
            }
            transform_1d(line, out, v, z);
        },
    );
}

/// One dimension of the squared distance transform (lower envelope of parabolas).
fn transform_1d(f: &[f32], out: &mut [f32], v: &mut [usize], z: &mut [f32]) {
    let n = f.len();
    if n == 0 {
        return;
    }
    let mut k = 0;
    v[0] = 0;
    z[0] = f32::NEG_INFINITY;
    z[1] = f32::INFINITY;
    for q in 1..n {
        let intersection =
            |p: usize| ((f[q] + (q * q) as f32) - (f[p] + (p * p) as f32)) / (2.0 * (q - p) as f32);
        let mut s = intersection(v[k]);
        // z[0] is −∞, so k never goes below zero.
        while s <= z[k] {
            k -= 1;
            s = intersection(v[k]);
        }
        k += 1;
        v[k] = q;
        z[k] = s;
        z[k + 1] = f32::INFINITY;
    }
    k = 0;
    for (q, value) in out.iter_mut().enumerate() {
        while z[k + 1] < q as f32 {
            k += 1;
        }
        let d = q as f32 - v[k] as f32;
        *value = d * d + f[v[k]];
    }
}
