//! The GPU compositor (`shaders/composite.wgsl`) against the CPU reference compositor: the same
//! document composited both ways matches within 1/255 in every channel of every pixel —
//! normal, multiply and screen layers, partial opacity, soft brush edges, a feathered
//! generative layer, and tiles cut by the document edge.

use egui_wgpu::wgpu;
use pentimento::canvas::compositor_gpu::{GpuCompositor, TileJob};
use pentimento::document::Document;
use pentimento::document::brush::{BrushSettings, StrokeMode, StrokePoint};
use pentimento::document::generative::GenerativeParams;
use pentimento::document::layer::BlendMode;
use pentimento::document::tiles::PixelRect;

fn device() -> (wgpu::Device, wgpu::Queue) {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
            .expect("a wgpu adapter (Mesa's software drivers work)");
    pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default()))
        .expect("a device")
}

fn stroke(
    document: &mut Document,
    layer: pentimento::document::layer::LayerId,
    color: [u8; 3],
    from: (f32, f32),
    to: (f32, f32),
    hardness: f32,
) {
    let brush = BrushSettings {
        size: 60.0,
        hardness,
        opacity: 0.8,
        flow: 0.6,
        color,
        ..BrushSettings::default()
    };
    let line = (0..=20).map(|i| {
        let t = i as f32 / 20.0;
        StrokePoint::new(from.0 + (to.0 - from.0) * t, from.1 + (to.1 - from.1) * t)
    });
    document
        .paint_stroke(Some(layer), StrokeMode::Paint, brush, line)
        .expect("paintable");
}

#[test]
fn gpu_composite_matches_the_cpu_reference() {
    // 600×400: tiles at the right and bottom edges are partial.
    let mut document = Document::new(600, 400).expect("size");
    let base = document.layers()[0].id;
    let multiply = document.add_paint_layer("Multiply", None);
    let screen = document.add_paint_layer("Screen", None);
    for (layer, color, from, to, hardness) in [
        (base, [200, 150, 40], (0.0, 100.0), (600.0, 300.0), 0.3),
        (multiply, [40, 90, 220], (100.0, 0.0), (300.0, 400.0), 0.9),
        (screen, [250, 20, 90], (550.0, 0.0), (50.0, 380.0), 0.0),
    ] {
        stroke(&mut document, layer, color, from, to, hardness);
    }
    for (layer, blend, opacity) in [
        (multiply, BlendMode::Multiply, 0.7),
        (screen, BlendMode::Screen, 0.55),
    ] {
        let mut properties = document.layer(layer).expect("layer").properties.clone();
        properties.blend = blend;
        properties.opacity = opacity;
        document
            .set_properties(layer, properties, None)
            .expect("exists");
    }
    let region = PixelRect::new(250, 150, 200, 150);
    let raw: Vec<u8> = (0..200 * 150)
        .flat_map(|i| [(i % 200) as u8, (i / 200) as u8, 128])
        .collect();
    let mask: Vec<u8> = (0..200 * 150)
        .map(|i| {
            if (i % 200) > 40 && (i / 200) > 30 {
                255
            } else {
                0
            }
        })
        .collect();
    let generated = document.add_generative_layer("Generation", region, raw, mask, 1);
    document
        .set_generative_params(
            generated,
            GenerativeParams {
                grow: 4,
                feather: 10.0,
                ..GenerativeParams::default()
            },
            None,
        )
        .expect("generative");

    let (device, queue) = device();
    let compositor = GpuCompositor::new(&device, [600, 400]);
    let grid = document.layers()[0].pixels();
    let jobs: Vec<TileJob> = (0..grid.tile_count())
        .filter_map(|index| TileJob::for_tile(document.layers(), index))
        .collect();
    compositor.composite_tiles(&device, &queue, &jobs);
    let gpu = compositor.read_composite(&device, &queue);
    let (cpu, _) = document.composite(&document.bounds());
    assert_eq!(gpu.len(), cpu.len());
    let mut worst = 0;
    let mut covered = 0;
    for (index, (g, c)) in gpu.iter().zip(&cpu).enumerate() {
        let difference = g.abs_diff(*c);
        assert!(
            difference <= 1,
            "pixel {} channel {}: GPU {g}, CPU {c}",
            index / 4,
            index % 4
        );
        worst = worst.max(difference);
        if index % 4 == 3 && *c > 0 {
            covered += 1;
        }
    }
    assert!(
        covered > 600 * 400 / 3,
        "the test document is mostly painted: {covered}"
    );
    println!("worst difference {worst}/255 over {covered} covered pixels");
}

/// The GPU composite of `document`'s tiles `tiles` (all when `None`) into `compositor`, read
/// back, against the CPU reference: every channel within 1/255 (the GPU blends in floats; the
/// shaping itself is integer on both).
fn compare(
    document: &Document,
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    compositor: &GpuCompositor,
    tiles: Option<Vec<usize>>,
) {
    let count = pentimento::document::tiles::MaskTiles::new(document.width(), document.height())
        .tile_count();
    let jobs: Vec<TileJob> = tiles
        .unwrap_or_else(|| (0..count).collect())
        .into_iter()
        .filter_map(|index| TileJob::for_tile(document.layers(), index))
        .collect();
    compositor.composite_tiles(device, queue, &jobs);
    let gpu = compositor.read_composite(device, queue);
    let (cpu, _) = document.composite(&document.bounds());
    for (index, (g, c)) in gpu.iter().zip(&cpu).enumerate() {
        assert!(
            g.abs_diff(*c) <= 1,
            "pixel {} channel {}: GPU {g}, CPU {c}",
            index / 4,
            index % 4
        );
    }
}

#[test]
fn the_gpu_shapes_generative_layers_as_the_cpu_does() {
    use pentimento::document::color_match::{ColorMatch, ColorMatchMode};
    let (width, height) = (700_u32, 420_u32);
    let mut document = Document::new(width, height).expect("size");
    let base = document.layers()[0].id;
    stroke(
        &mut document,
        base,
        [90, 140, 60],
        (0.0, 200.0),
        (700.0, 220.0),
        0.5,
    );
    // A generation of three variations over a region crossing tile edges, with a soft-edged
    // round mask, that keeps the pixels it was generated over (so colour match works).
    let region = PixelRect::new(120, 40, 460, 360);
    let (rw, rh) = (region.width() as usize, region.height() as usize);
    let variation = |seed: usize| -> std::sync::Arc<Vec<u8>> {
        std::sync::Arc::new(
            (0..rw * rh)
                .flat_map(|i| {
                    let (x, y) = (i % rw, i / rw);
                    [
                        ((x * 3 + seed * 70) % 256) as u8,
                        ((y * 2 + seed * 40) % 256) as u8,
                        ((x + y + seed * 90) % 256) as u8,
                    ]
                })
                .collect(),
        )
    };
    let mask: Vec<u8> = (0..rw * rh)
        .map(|i| {
            let (x, y) = ((i % rw) as f32, (i / rw) as f32);
            let d = ((x - 230.0).powi(2) + (y - 180.0).powi(2)).sqrt();
            (((150.0 - d) / 12.0).clamp(0.0, 1.0) * 255.0) as u8
        })
        .collect();
    let context = std::sync::Arc::new(pentimento::region::region_pixels(&document, region));
    let id = document.accept_variation(
        1,
        region,
        vec![variation(0), variation(1), variation(2)],
        0,
        mask,
        Some(context),
        0,
    );
    let (device, queue) = device();
    let compositor = GpuCompositor::new(&device, [width, height]);
    // The mask's own soft edge (no grow, no feather).
    compare(&document, &device, &queue, &compositor, None);
    // The variation brush paints variation 2 with a soft brush across it.
    document
        .paint_stroke(
            Some(id),
            StrokeMode::Variation(2),
            BrushSettings {
                size: 90.0,
                hardness: 0.2,
                ..BrushSettings::default()
            },
            (0..=10).map(|i| StrokePoint::new(150.0 + i as f32 * 40.0, 120.0 + i as f32 * 20.0)),
        )
        .expect("the variation brush paints");
    compare(&document, &device, &queue, &compositor, None);
    // Grow, feather and local colour match at part strength; then only a feather change,
    // recomposited in just the tiles it reported.
    let mut params = GenerativeParams {
        grow: -6,
        feather: 23.5,
        color: ColorMatch {
            mode: ColorMatchMode::Local,
            strength: 0.6,
        },
    };
    document
        .set_generative_params(id, params, None)
        .expect("params");
    compare(&document, &device, &queue, &compositor, None);
    params.feather = 57.0;
    params.grow = 9;
    params.color.strength = 0.3;
    document.take_dirty();
    document
        .set_generative_params(id, params, None)
        .expect("params");
    let changed: Vec<usize> = document.take_dirty().tiles.into_iter().collect();
    assert!(!changed.is_empty());
    compare(&document, &device, &queue, &compositor, Some(changed));
}
