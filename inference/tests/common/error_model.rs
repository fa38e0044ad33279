//! How close two float32 runs of the same ONNX graphs on different computers can be.
//!
//! The goldens were made on one computer; the test runs on any other. ONNX Runtime chooses its
//! kernels by instruction set (AVX2, AVX-512, NEON), and two kernel families sum the same
//! products in different orders, so their float32 results differ in the last bits. The bound
//! follows where those differences enter and how they travel:
//!
//! - One component evaluation on identical inputs differs between kernel families by a few
//!   units of float32's roundoff `u = 2^-24` times the magnitude of its output. Measured with
//!   `tests/fixtures/kernel_spread.py` between AVX-512 and AVX2 (`qemu-x86_64 -cpu Haswell`):
//!   text encoder 4.2, UNet 4.9–9.1, VAE encoder 14–23 (of `u` × the output's largest value;
//!   the VAE decoder's 25–34 matter less: its output is compared as 8-bit pixels).
//! - Classifier-free guidance `uncond + g·(text − uncond)` multiplies a difference of the UNet
//!   outputs by up to `|1 − g| + g = 2g − 1` (15 at g = 7.5; 1 without guidance).
//! - The scheduler passes the UNet's output into the latents through each step's update, so a
//!   step adds at most that relative difference of its update `Δ_j = max|x_{j+1} − x_j|`, and
//!   the differences of earlier steps carry forward. The starting latents carry their own
//!   rounding (for img2img, the VAE encoder's, scaled down by 0.18215).
//!
//! So after step k the latents may differ by
//! `τ_k = K · u · (max|x_0| + A(g) · Σ_{j≤k} Δ_j)`, with `A(g) = max(1, 2g − 1)` and the
//! golden's own `x_j`. Measured against this model, the largest spread needed `K = 13.7`
//! (AVX2, `txt2img-euler-cfg1`; 10.8 with AVX-512 on the optimum graphs; 4.1 between diffusers'
//! own runs on two machines), the text embeddings 5.7. [`KERNEL_SPREAD`] is that worst value
//! rounded up to a power of two (16) and multiplied by four, for kernel families not measured
//! here (NEON, other AVX-512 generations).
//!
//! The same model bounds one component's output on its own: `K · u · max|output|`
//! ([`component_bound`]), e.g. two exports of the same weights run on one computer.
//!
//! This file has no other dependency, so that the tests of other crates can include it.

/// float32's unit roundoff: half the gap between 1 and the next float.
pub const UNIT_ROUNDOFF: f32 = f32::EPSILON / 2.0;

/// How many units of roundoff × magnitude two kernel families may differ by in one evaluation
/// (see the module documentation for where 64 comes from).
pub const KERNEL_SPREAD: f32 = 64.0;

/// The bound for one component's output whose largest value is `scale`.
pub fn component_bound(scale: f32) -> f32 {
    KERNEL_SPREAD * UNIT_ROUNDOFF * scale
}

/// The largest absolute value.
pub fn largest_magnitude(values: &[f32]) -> f32 {
    values.iter().fold(0.0_f32, |acc, v| acc.max(v.abs()))
}

/// The bounds `τ_k` for each step of a golden run: `start` are the latents entering the loop
/// and `latents` the latents after each step (diffusers').
pub fn step_bounds(start: &[f32], latents: &[f32], guidance: f32) -> Vec<f32> {
    let amplification = (2.0 * guidance - 1.0).max(1.0);
    let mut carried = largest_magnitude(start);
    let mut previous = start;
    latents
        .chunks_exact(start.len())
        .map(|next| {
            let update = next
                .iter()
                .zip(previous)
                .fold(0.0_f32, |acc, (a, b)| acc.max((a - b).abs()));
            carried += amplification * update;
            previous = next;
            component_bound(carried)
        })
        .collect()
}
