//! The exact Euclidean distance transform of a pixel set: for each pixel, the squared distance
//! to the nearest pixel of the set, in two separable passes of the lower envelope of parabolas
//! (Felzenszwalb and Huttenlocher). The generative layer's edge and colour-match ring, colour
//! match's distance weights and the region's graded mask edge all measure with it.

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
