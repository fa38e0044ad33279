//! Painting speed and memory, printed with the targets they are held to:
//!
//! - one brush dab on a 4096 × 4096 document with 16 layers (target ≤ 0.5 ms), with and without
//!   preparing the GPU composite jobs of the tiles it touched;
//! - a feather change of a 2048 × 2048 generative layer: the CPU part of a drag frame (the
//!   change and the changed tiles' GPU jobs; target ≤ 16 ms), the GPU pass that shapes and
//!   composites them (on whatever wgpu adapter the machine has), and the CPU shaping and
//!   reference composite for when the CPU needs the pixels;
//! - the first frame of the app with a model configured (target ≤ 0.5 s; the model loads on the
//!   worker thread, so it must not delay the window);
//! - the memory of an idle 4096 × 4096 document with 16 layers.
//!
//! Run with `cargo bench -p pentimento --bench painting`; `-- dab` (or `thumbnails`, `feather`,
//! `first frame`) runs only the parts whose names contain that text.

use std::time::{Duration, Instant};

use pentimento::canvas::compositor_gpu::TileJob;
use pentimento::document::Document;
use pentimento::document::brush::{BrushSettings, StrokeMode, StrokePoint};
use pentimento::document::generative::GenerativeParams;
use pentimento::document::tiles::PixelRect;

mod common;
use common::{mib, rss_bytes};

fn main() {
    println!("Pentimento painting benchmarks ({} cores)\n", cores());
    // `cargo bench` passes `--bench`; any other argument chooses the parts to run.
    let chosen: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let runs = |part: &str| chosen.is_empty() || chosen.iter().any(|c| part.contains(c.as_str()));
    if runs("idle memory") || runs("thumbnails") || runs("dab") {
        let rss_start = rss_bytes();
        let mut document = layered_document(4096, 16);
        let rss_document = rss_bytes();
        if runs("idle memory") {
            idle_memory(&document, rss_start, rss_document);
        }
        if runs("thumbnails") {
            thumbnails(&mut document);
        }
        if runs("dab") {
            for size in [40.0, 200.0] {
                dabs(&mut document, size);
            }
        }
    }
    if runs("feather") {
        feather_recomposite();
    }
    if runs("first frame") {
        first_frame();
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// A document of `side` pixels with `layers` paint layers, each fully covered with content
/// (every tile present), as a worked-on painting is.
fn layered_document(side: u32, layers: usize) -> Document {
    let mut document = Document::new(side, side).expect("size");
    for index in 1..layers {
        document.add_paint_layer(&format!("Layer {}", index + 1), None);
    }
    let ids: Vec<_> = document.layers().iter().map(|layer| layer.id).collect();
    for (index, id) in ids.iter().enumerate() {
        let brush = BrushSettings {
            size: side as f32 / 6.0,
            color: [(index * 15) as u8, 100, 200 - (index * 10) as u8],
            pressure_size: false,
            ..BrushSettings::default()
        };
        // A zigzag over the whole canvas touches every tile.
        let rows = 8;
        let zigzag = (0..=rows).flat_map(|row| {
            let y = row as f32 * side as f32 / rows as f32;
            let (from, to) = if row % 2 == 0 {
                (0.0, side as f32)
            } else {
                (side as f32, 0.0)
            };
            (0..=16).map(move |step| StrokePoint::new(from + (to - from) * step as f32 / 16.0, y))
        });
        document
            .paint_stroke(Some(*id), StrokeMode::Paint, brush, zigzag)
            .expect("paintable");
    }
    // An idle document: its history cleared of the setup strokes by a small budget.
    document.set_history_budget(0);
    document.set_history_budget(1 << 30);
    document.mark_saved();
    document.take_dirty();
    document
}

fn idle_memory(document: &Document, rss_start: Option<u64>, rss_document: Option<u64>) {
    let pixels = document.memory_bytes();
    println!("Idle 4096 × 4096 document, 16 layers");
    println!(
        "  layer and mask pixels   {:>8.1} MiB ({} tiles of 256 × 256 RGBA; a flat 16-layer RGBA stack is {:.1} MiB)",
        mib(pixels as u64),
        pixels / (256 * 256 * 4),
        mib(4096 * 4096 * 4 * 16)
    );
    println!(
        "  undo history            {:>8.1} MiB",
        mib(document.history().memory_bytes() as u64)
    );
    if let (Some(start), Some(after)) = (rss_start, rss_document) {
        println!(
            "  process memory (RSS)    {:>8.1} MiB (+{:.1} MiB for the document)",
            mib(after),
            mib(after.saturating_sub(start))
        );
    }
    println!();
}

/// The layer panel remakes every layer's thumbnail when the document changes (at most four
/// times a second during a stroke): that must fit well inside a frame.
fn thumbnails(document: &mut Document) {
    use pentimento::document::tiles::ThumbnailCache;
    use rayon::prelude::*;
    // From nothing (a document just opened).
    let mut cold: Vec<Duration> = (0..8)
        .map(|_| {
            // As the layer panel makes them: on all cores.
            let start = Instant::now();
            document.layers().par_iter().for_each(|layer| {
                let mut cache = ThumbnailCache::default();
                std::hint::black_box(layer.pixels().thumbnail_with(64, &mut cache));
            });
            start.elapsed()
        })
        .collect();
    // After a stroke, as the layer panel refreshes them: only the tiles it changed are read.
    let mut caches: Vec<ThumbnailCache> = document
        .layers()
        .iter()
        .map(|layer| {
            let mut cache = ThumbnailCache::default();
            layer.pixels().thumbnail_with(64, &mut cache);
            cache
        })
        .collect();
    let top = document.layers()[15].id;
    let mut warm: Vec<Duration> = (0..8)
        .map(|round| {
            let y = 500.0 + round as f32 * 300.0;
            document
                .paint_stroke(
                    Some(top),
                    StrokeMode::Paint,
                    BrushSettings::default(),
                    [
                        StrokePoint::new(400.0, y),
                        StrokePoint::new(1400.0, y + 200.0),
                    ],
                )
                .expect("paintable");
            let start = Instant::now();
            document
                .layers()
                .par_iter()
                .zip(caches.par_iter_mut())
                .for_each(|(layer, cache)| {
                    std::hint::black_box(layer.pixels().thumbnail_with(64, cache));
                });
            start.elapsed()
        })
        .collect();
    for _ in 0..8 {
        document.undo();
    }
    document.take_dirty();
    let cold = median(&mut cold);
    let warm = median(&mut warm);
    println!("Layer thumbnails, 64 px, all 16 layers of a 4096 × 4096 document (median of 8)");
    println!("  from nothing (opened)   {:>8.2} ms", ms(cold));
    println!(
        "{}",
        against_target("after a stroke", warm, 2, 8.0, " (half a 60 Hz frame)")
    );
    println!();
}

fn dabs(document: &mut Document, size: f32) {
    let layer = document.layers()[15].id;
    let brush = BrushSettings {
        size,
        hardness: 0.7,
        pressure_size: false,
        ..BrushSettings::default()
    };
    let spacing = size * 0.12;
    let events = 2000;
    let mut dab_time = Duration::ZERO;
    let mut job_time = Duration::ZERO;
    let mut jobs = 0;
    document
        .begin_stroke(Some(layer), StrokeMode::Paint, brush)
        .expect("paintable");
    let mut x = 300.0;
    let mut y = 300.0;
    for event in 0..events {
        // A path that wanders over many tiles, one dab per event.
        x += spacing;
        if x > 3800.0 {
            x = 300.0;
            y += size * 1.5;
        }
        let start = Instant::now();
        document.stroke_to(StrokePoint {
            x,
            y: y + (event as f32 * 0.05).sin() * 20.0,
            pressure: 1.0,
        });
        dab_time += start.elapsed();
        let start = Instant::now();
        let dirty = document.take_dirty();
        for &index in &dirty.tiles {
            if TileJob::for_tile(document.layers(), index).is_some() {
                jobs += 1;
            }
        }
        job_time += start.elapsed();
    }
    let start = Instant::now();
    document.end_stroke();
    let end = start.elapsed();
    let per_dab = dab_time / events;
    let per_frame = (dab_time + job_time) / events;
    println!("One brush dab, {size:.0} px, on the top of 16 layers of a 4096 × 4096 document");
    println!("{}", against_target("dab", per_dab, 3, 0.5, ""));
    println!(
        "  dab + GPU tile jobs     {:>8.3} ms   ({} jobs for {events} dabs)",
        ms(per_frame),
        jobs
    );
    println!(
        "  end of stroke (history) {:>8.3} ms once per stroke",
        ms(end)
    );
    document.undo();
    document.take_dirty();
    println!();
}

fn feather_recomposite() {
    let side = 2048;
    let mut document = Document::new(side, side).expect("size");
    let base = document.layers()[0].id;
    let brush = BrushSettings {
        size: 300.0,
        ..BrushSettings::default()
    };
    let wave = (0..=20).map(|step| {
        let t = step as f32 / 20.0;
        StrokePoint::new(t * side as f32, side as f32 / 2.0 + (t * 6.0).sin() * 500.0)
    });
    document
        .paint_stroke(Some(base), StrokeMode::Paint, brush, wave)
        .expect("paintable");
    let region = PixelRect::new(0, 0, side, side);
    let pixels = (side * side) as usize;
    let raw: Vec<u8> = (0..pixels * 3)
        .map(|index| (index * 13 % 251) as u8)
        .collect();
    let centre = side as f32 / 2.0;
    let mask: Vec<u8> = (0..pixels)
        .map(|index| {
            let (x, y) = ((index as u32 % side) as f32, (index as u32 / side) as f32);
            let distance = ((x - centre).powi(2) + ((y - centre) * 1.4).powi(2)).sqrt();
            if distance < 700.0 { 255 } else { 0 }
        })
        .collect();
    let layer = document.add_generative_layer("Generation", region, raw, mask, 1);

    document.take_dirty();
    let grid = pentimento::document::tiles::MaskTiles::new(side, side);
    let gpu = gpu_device();
    let compositor = gpu.as_ref().map(|(device, _, _)| {
        pentimento::canvas::compositor_gpu::GpuCompositor::new(device, [side, side])
    });
    // The first composite packs the layer's GPU tiles (they do not depend on the edge).
    let all: Vec<TileJob> = (0..grid.tile_count())
        .filter_map(|index| TileJob::for_tile(document.layers(), index))
        .collect();
    if let (Some((device, queue, _)), Some(compositor)) = (&gpu, &compositor) {
        compositor.composite_tiles(device, queue, &all);
        let _ = device.poll(egui_wgpu::wgpu::PollType::wait_indefinitely());
    }
    let (mut change, mut jobs, mut gpu_pass, mut cpu_shaping, mut cpu_composite) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut tiles = 0;
    for (index, feather) in [8.0, 16.0, 24.0, 32.0, 12.0, 20.0, 28.0, 4.0]
        .into_iter()
        .enumerate()
    {
        let params = GenerativeParams {
            grow: (index % 3) as i32,
            feather,
            ..GenerativeParams::default()
        };
        let start = Instant::now();
        document
            .set_generative_params(layer, params, Some("edges"))
            .expect("editable");
        change.push(start.elapsed());
        // What the canvas does each frame of a drag: the changed tiles' jobs, then the GPU
        // pass that shapes and composites them.
        let start = Instant::now();
        let dirty: Vec<usize> = document.take_dirty().tiles.into_iter().collect();
        tiles = dirty.len();
        let frame: Vec<TileJob> = dirty
            .iter()
            .filter_map(|&index| TileJob::for_tile(document.layers(), index))
            .collect();
        jobs.push(start.elapsed());
        if let (Some((device, queue, _)), Some(compositor)) = (&gpu, &compositor) {
            let start = Instant::now();
            compositor.composite_tiles(device, queue, &frame);
            let _ = device.poll(egui_wgpu::wgpu::PollType::wait_indefinitely());
            gpu_pass.push(start.elapsed());
        }
        // When the CPU needs the pixels (an export, a thumbnail, the provenance map): the
        // same shaping on the CPU, and the reference composite of the changed tiles.
        let start = Instant::now();
        std::hint::black_box(document.layer(layer).expect("layer").pixels());
        cpu_shaping.push(start.elapsed());
        let start = Instant::now();
        {
            use rayon::prelude::*;
            let document = &document;
            let grid = &grid;
            dirty.par_iter().for_each(|&index| {
                std::hint::black_box(document.composite(&grid.tile_rect(index)));
            });
        }
        cpu_composite.push(start.elapsed());
    }
    let change = median(&mut change);
    let jobs = median(&mut jobs);
    println!("Feather change of a 2048 × 2048 generative layer over a painted layer (median of 8)");
    println!("  the change (CPU)        {:>8.2} ms", ms(change));
    println!(
        "  the frame's tile jobs   {:>8.2} ms   ({tiles} changed tiles of {})",
        ms(jobs),
        grid.tile_count()
    );
    println!(
        "{}",
        against_target("CPU part of a drag frame", change + jobs, 2, 16.0, "")
    );
    match &gpu {
        Some((_, _, adapter)) => {
            let pass = median(&mut gpu_pass);
            println!(
                "  GPU shaping + composite {:>8.2} ms   on {adapter} (uploads included)",
                ms(pass)
            );
        }
        None => println!("  no wgpu adapter here: the GPU pass was not measured"),
    }
    println!(
        "  (when the CPU needs the pixels: shaping {:.2} ms, reference composite {:.2} ms)",
        ms(median(&mut cpu_shaping)),
        ms(median(&mut cpu_composite))
    );
    println!();
}

/// A wgpu device, if this machine has an adapter (Mesa's software one counts), and its name.
fn gpu_device() -> Option<(egui_wgpu::wgpu::Device, egui_wgpu::wgpu::Queue, String)> {
    use egui_wgpu::wgpu;
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
            .ok()?;
    let info = adapter.get_info();
    let name = format!("{} ({:?})", info.name, info.device_type);
    let (device, queue) =
        pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default())).ok()?;
    Some((device, queue, name))
}

fn first_frame() {
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/models/tiny-sd-inpaint");
    let folder = std::env::temp_dir().join(format!("pentimento-bench-{}", std::process::id()));
    // The model is configured as an artist's returning session has it: remembered in the
    // settings.
    let folders = pentimento::settings::Folders {
        config: folder.join("config"),
        data: folder.join("data"),
    };
    let settings = pentimento::settings::Settings {
        model_folder: Some(model),
        ..pentimento::settings::Settings::default()
    };
    settings
        .save(&folders.settings_file())
        .expect("write the benchmark's settings");
    let options = pentimento::AppOptions {
        folders: Some(folders),
        ..pentimento::AppOptions::default()
    };
    let start = Instant::now();
    let mut harness = egui_kittest::Harness::builder()
        .with_size([1280.0, 800.0])
        .wgpu()
        .build_eframe(move |cc| pentimento::PentimentoApp::with_options(cc, options));
    let created = start.elapsed();
    harness.step();
    let stepped = start.elapsed();
    let rendered = harness.render().map(|_| start.elapsed());
    println!(
        "First frame with a model configured (offscreen window, software or GPU wgpu adapter)"
    );
    println!("  app created             {:>8.1} ms", ms(created));
    println!("  first frame laid out    {:>8.1} ms", ms(stepped));
    match rendered {
        Ok(rendered) => println!(
            "{}",
            against_target("first frame rendered", rendered, 1, 500.0, "")
        ),
        Err(err) => println!("  first frame not rendered: {err}"),
    }
    let model_state = harness.state().model.summary();
    println!("  model at that moment    {model_state}");
    // Let ONNX Runtime finish starting before the process ends.
    let deadline = Instant::now() + Duration::from_secs(120);
    while matches!(
        harness.state().runtime_status(),
        pentimento::runtime_status::RuntimeStatus::Starting(..)
    ) && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
        harness.step();
    }
    drop(harness);
    let _ = std::fs::remove_dir_all(folder);
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// One row of figures: `label`, the time with `decimals` decimals, the target in milliseconds
/// (with `why` it is that target), and the ratio of the two.
fn against_target(label: &str, time: Duration, decimals: usize, target: f64, why: &str) -> String {
    format!(
        "  {label:<24}{:>8.decimals$} ms   target {target} ms{why}   ratio {:.2}",
        ms(time),
        ms(time) / target
    )
}
