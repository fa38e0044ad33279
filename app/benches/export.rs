//! Signed export of a 2048 × 2048 picture: how long tracing the regions and signing take, and
//! how close the traced regions are to the pixels they describe.
//!
//! The picture: a painted background, a generative layer with a soft round mask (feathered
//! 24 px) and a second one with a ring-shaped mask (a hole), with brush strokes painted over
//! both — the regions a real inpainting session leaves. Printed for each region: polygons,
//! vertices, the grid they follow and the two closeness shares (the region's pixels inside the
//! shapes; the shapes' pixels that are the region's), then the export's time.
//!
//! Run with `cargo bench -p pentimento --bench export`.

use std::time::Instant;

use pentimento::credentials::SigningIdentity;
use pentimento::credentials::export::{ExportFormat, export};
use pentimento::credentials::manifest::ExportChoices;
use pentimento::document::Document;
use pentimento::document::brush::{BrushSettings, StrokeMode, StrokePoint};
use pentimento::document::generative::GenerativeParams;
use pentimento::document::tiles::PixelRect;

const SIDE: u32 = 2048;

fn main() {
    let document = picture();
    let identity = SigningIdentity::make_local("Bench Artist").expect("identity");
    let folder =
        std::env::temp_dir().join(format!("pentimento-export-bench-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("folder");
    println!("Pentimento signed export, {SIDE} × {SIDE}, two generative layers painted over\n");
    for (name, format) in [
        ("png", ExportFormat::Png),
        ("jpg", ExportFormat::Jpeg { quality: 92 }),
    ] {
        let path = folder.join(format!("export.{name}"));
        let started = Instant::now();
        let exported = export(
            &document,
            &path,
            format,
            Some(&identity),
            &ExportChoices::default(),
        )
        .expect("export");
        let seconds = started.elapsed().as_secs_f64();
        let size = std::fs::metadata(&path).map_or(0, |meta| meta.len());
        println!(
            "{name}: {seconds:.2} s for composite, regions, encoding and signing; {:.1} MiB",
            size as f64 / (1 << 20) as f64
        );
        if name == "png" {
            for (index, report) in exported.regions.iter().enumerate() {
                println!("  generated region {}: {}", index + 1, report.describe());
            }
        }
    }
    let _ = std::fs::remove_dir_all(&folder);
}

/// The picture described at the top.
fn picture() -> Document {
    let mut document = Document::new(SIDE, SIDE).expect("size");
    let background: Vec<u8> = (0..SIDE * SIDE)
        .flat_map(|i| {
            let (x, y) = (i % SIDE, i / SIDE);
            [(x / 8) as u8, (y / 8) as u8, 160, 255]
        })
        .collect();
    document.import_layer("background", SIDE, SIDE, &background, 0, 0);
    let disc = |cx: f32, cy: f32, outer: f32, inner: f32| {
        move |x: u32, y: u32| {
            let d = (x as f32 - cx).hypot(y as f32 - cy);
            let soft = |edge: f32, d: f32| ((edge - d) / 24.0 + 0.5).clamp(0.0, 1.0);
            (soft(outer, d) * (1.0 - soft(inner, d))).mul_add(255.0, 0.5) as u8
        }
    };
    for (index, (region, shape)) in [
        (
            PixelRect::new(200, 200, 900, 900),
            disc(650.0, 650.0, 420.0, -100.0),
        ),
        (
            PixelRect::new(1000, 900, 1000, 1000),
            disc(1500.0, 1400.0, 470.0, 180.0),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let (w, h) = (region.width(), region.height());
        let mask: Vec<u8> = (0..w * h)
            .map(|i| shape(region.x0 + i % w, region.y0 + i / w))
            .collect();
        let raw: Vec<u8> = (0..w * h)
            .flat_map(|i| [(i % 251) as u8, (i % 241) as u8, 90])
            .collect();
        let id = document.add_generative_layer(&format!("Gen {}", index + 1), region, raw, mask, 0);
        document
            .set_generative_params(
                id,
                GenerativeParams {
                    grow: 0,
                    feather: 12.0,
                    ..GenerativeParams::default()
                },
                None,
            )
            .expect("params");
    }
    // Strokes painted over both on a layer above.
    let top = document.add_paint_layer("Touch-ups", None);
    let brush = BrushSettings {
        size: 60.0,
        color: [240, 240, 230],
        pressure_size: false,
        ..BrushSettings::default()
    };
    for stroke in 0..6 {
        let y = 400.0 + stroke as f32 * 260.0;
        let points: Vec<StrokePoint> = (0..40)
            .map(|step| StrokePoint {
                x: 300.0 + step as f32 * 40.0,
                y: y + (step as f32 * 0.6).sin() * 80.0,
                pressure: 1.0,
            })
            .collect();
        document
            .paint_stroke(Some(top), StrokeMode::Paint, brush, points)
            .expect("stroke");
    }
    document
}
