//! Paste-back: how well colour match meets the artist's pixels, and how fast it re-renders.
//!
//! Quality: test pictures whose "generation" is the hidden truth shifted in colour and
//! brightness inside a round mask (a uniform shift, and one that changes along the edge);
//! printed for no match, global mean/spread matching and the local membrane: the mean Oklab
//! distance to the truth up to 4 px inside the edge, and the seam (how much the step across
//! the edge differs from the truth's).
//!
//! Speed: a 2048 × 2048 generative layer with a round mask — a strength change (the correction
//! is kept), a mode change (measured again) and a feather change with local match on. The
//! change itself is what a drag costs the CPU (the GPU compositor shapes the layer; target
//! 16 ms for a live parameter); the CPU shaping is what it costs when the CPU needs the pixels
//! (exports, thumbnails, the provenance map).
//!
//! Run with `cargo bench -p pentimento --bench paste_back`.

use std::sync::Arc;
use std::time::Instant;

use pentimento::document::color_match::evaluation::{case, corrected, score};
use pentimento::document::color_match::{ColorMatch, ColorMatchMode};
use pentimento::document::generative::{GenerativeLayer, GenerativeParams};
use pentimento::document::tiles::PixelRect;

/// A colour shift in Oklab as a function of the position (0..1 across the picture).
type Shift = Box<dyn Fn(f32, f32) -> [f32; 3]>;

fn main() {
    println!("Pentimento paste-back benchmarks\n");
    println!("Colour match against the hidden truth (Oklab; lower is better)");
    println!(
        "{:<34} {:>10} {:>10} {:>10}",
        "case / measure", "none", "global", "local"
    );
    let cases: [(&str, Shift); 2] = [
        ("uniform shift", Box::new(|_, _| [-0.08, 0.03, 0.02])),
        (
            "shift changing along the edge",
            Box::new(|x, y| {
                let angle = (y - 0.5).atan2(x - 0.5);
                [0.10 - 0.20 * x, 0.04 * angle.cos(), 0.04 * angle.sin()]
            }),
        ),
    ];
    for (name, shift) in cases {
        let case = case(512, shift);
        let scores: Vec<_> = [
            ColorMatchMode::Off,
            ColorMatchMode::Global,
            ColorMatchMode::Local,
        ]
        .into_iter()
        .map(|mode| score(&case, &corrected(&case, mode)))
        .collect();
        println!(
            "{:<34} {:>10.4} {:>10.4} {:>10.4}",
            format!("{name}: edge error"),
            scores[0].edge_error,
            scores[1].edge_error,
            scores[2].edge_error
        );
        println!(
            "{:<34} {:>10.4} {:>10.4} {:>10.4}",
            format!("{name}: seam"),
            scores[0].seam,
            scores[1].seam,
            scores[2].seam
        );
    }

    println!("\nA live parameter of a 2048 × 2048 generative layer (target 16 ms)");
    println!("{:<52} {:>11} {:>14}", "", "the change", "CPU shaping");
    let side = 2048_u32;
    let region = PixelRect::new(0, 0, side, side);
    let n = (side * side) as usize;
    let raw: Vec<u8> = (0..n)
        .flat_map(|i| [(i % 251) as u8, ((i / 2048) % 239) as u8, 120])
        .collect();
    let context: Vec<u8> = raw.iter().map(|&v| v.saturating_add(20)).collect();
    let mask: Vec<u8> = (0..n)
        .map(|i| {
            let (x, y) = ((i % 2048) as f32 - 1024.0, (i / 2048) as f32 - 1024.0);
            if x.hypot(y) < 800.0 { 255 } else { 0 }
        })
        .collect();
    let layer = GenerativeLayer::new(
        (side, side),
        region,
        vec![Arc::new(raw)],
        Arc::new(mask),
        GenerativeParams::default(),
        1,
    )
    .with_context(Arc::new(context));
    let with = |color: ColorMatch, feather: f32| GenerativeParams {
        grow: 0,
        feather,
        color,
    };
    let local = |strength| ColorMatch {
        mode: ColorMatchMode::Local,
        strength,
    };
    let timed = |label: &str, from: &GenerativeLayer, params: GenerativeParams| {
        let started = Instant::now();
        let (layer, changed) = from.with_params(params);
        let change = started.elapsed().as_secs_f64() * 1e3;
        let started = Instant::now();
        std::hint::black_box(layer.rendered());
        let shaping = started.elapsed().as_secs_f64() * 1e3;
        println!(
            "{label:<52} {change:>8.1} ms {shaping:>11.1} ms ({} tiles)",
            changed.len()
        );
        layer
    };
    let on = timed(
        "local match on (measure + correct)",
        &layer,
        with(local(1.0), 0.0),
    );
    let half = timed(
        "strength 1 → 0.5 (correction kept)",
        &on,
        with(local(0.5), 0.0),
    );
    let _ = timed(
        "feather 0 → 24 px with local match (correction kept)",
        &half,
        with(local(0.5), 24.0),
    );
    let global = timed(
        "mode local → global",
        &half,
        with(
            ColorMatch {
                mode: ColorMatchMode::Global,
                strength: 0.5,
            },
            0.0,
        ),
    );
    let back = timed(
        "mode global → local again (both kept)",
        &global,
        with(local(0.5), 0.0),
    );
    let off = timed("off again", &back, GenerativeParams::default());
    let _ = timed("local on again (kept)", &off, with(local(0.5), 0.0));

    // Where the measuring time goes.
    let raw = layer.variations[0].clone();
    let context = layer.context.clone().expect("context");
    let inside: Vec<bool> = layer.mask.iter().map(|&a| a > 0).collect();
    let started = Instant::now();
    let distance = pentimento::document::distance::squared_distance_to(&inside, 2048, 2048);
    let t_distance = started.elapsed();
    let started = Instant::now();
    let correction = pentimento::document::color_match::measure(
        ColorMatchMode::Local,
        &raw,
        &context,
        2048,
        2048,
        |index| distance[index].sqrt(),
    );
    let t_measure = started.elapsed();
    let started = Instant::now();
    let _ = correction.corrected(&raw, 2048, 1.0);
    let t_correct = started.elapsed();
    println!(
        "  of which: distance {:.1} ms, ring and membrane {:.1} ms, correcting every pixel {:.1} ms",
        t_distance.as_secs_f64() * 1e3,
        t_measure.as_secs_f64() * 1e3,
        t_correct.as_secs_f64() * 1e3
    );
}
