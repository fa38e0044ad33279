//! What generating on an inference server costs against generating here, on loopback with a real
//! Triton (PyPI's `tritonserver`, the tiny fixture model served through the Python backend with
//! onnxruntime, as the tests do): the time of one UNet step on each side, what the server itself
//! spent computing it (Triton's statistics), the difference (the remote path's own overhead:
//! serialising, gRPC, the server's queueing), the bytes each step sends and receives; and the
//! throughput of one and of four artists generating at once on one server.
//!
//! `cargo bench -p pentimento-inference --bench remote`

#[path = "../tests/common/triton.rs"]
#[allow(dead_code)]
mod triton;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pentimento_inference::remote::{Pool, RemoteConfig};
use pentimento_inference::{
    CancelToken, Component, GenerationRequest, LoadOptions, SchedulerKind, StableDiffusion,
};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/models/tiny-sd")
}

fn load(folder: &Path) -> StableDiffusion {
    StableDiffusion::load(
        triton::runtime(),
        folder,
        LoadOptions {
            intra_threads: Some(1),
            ..LoadOptions::default()
        },
    )
    .unwrap_or_else(|err| panic!("{err}"))
}

fn request(size: u32, steps: usize, seed: u32) -> GenerationRequest {
    GenerationRequest {
        prompt: "a lighthouse on a cliff at dusk".to_owned(),
        width: size,
        height: size,
        steps,
        scheduler: SchedulerKind::Ddim,
        seed,
        ..GenerationRequest::text_to_image("")
    }
}

fn generate(model: &mut StableDiffusion, request: &GenerationRequest) {
    model
        .generate(
            request,
            &mut |_| ControlFlow::Continue(()),
            &CancelToken::new(),
        )
        .unwrap_or_else(|err| panic!("{err}"));
}

/// Mean time of one UNet call over a generation (after a warm-up generation), and with a pool
/// the server's own compute time per execution over the same generation.
fn unet_step(
    model: &mut StableDiffusion,
    request: &GenerationRequest,
    pool: Option<&Pool>,
) -> (Duration, Duration) {
    generate(model, request);
    model.reset_session_times();
    let before = pool.map(|pool| server_compute(pool, (0, 0)).1);
    generate(model, request);
    let server = match (pool, before) {
        (Some(pool), Some(before)) => server_compute(pool, before).0,
        _ => Duration::ZERO,
    };
    let (_, total, count) = model
        .session_times()
        .components
        .iter()
        .find(|(component, _, _)| *component == Component::Unet)
        .cloned()
        .expect("UNet calls");
    (total / count as u32, server)
}

/// The server's own compute time per UNet execution since `before` (cumulative statistics).
fn server_compute(pool: &Pool, before: (u64, u64)) -> (Duration, (u64, u64)) {
    let stats = pool.statistics("bench-unet");
    let (_, unet) = stats.first().expect("statistics");
    let infer = unet
        .inference_stats
        .as_ref()
        .and_then(|stats| stats.compute_infer)
        .map_or((0, 0), |duration| (duration.count, duration.ns));
    let now = (unet.execution_count, infer.1);
    let executions = (now.0 - before.0).max(1);
    (Duration::from_nanos((now.1 - before.1) / executions), now)
}

/// A repository whose UNet batcher waits `delay_us` for calls to join, its server, the client
/// folder pointing at it, and a pool for its statistics.
fn serve(dir: &Path, delay_us: u64) -> (triton::Server, PathBuf, Pool) {
    let written = triton::repository_for(&fixture(), dir, "bench", delay_us);
    let server = triton::Server::start(&dir.join("repository"));
    let mut config = RemoteConfig::read(&written.client).expect("remote.json");
    config.servers = vec![server.url.clone()];
    config.write(&written.client).expect("remote.json");
    let pool = server.pool();
    (server, written.client, pool)
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Without a queue window, for the remote path's own cost.
    let (server, client, stats_pool) = serve(&dir.path().join("immediate"), 0);

    println!("one UNet step (guided, batch 2), tiny fixture model, mean over a generation");
    println!(
        "{:>6} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9}",
        "size", "local ms", "remote ms", "server ms", "overhead", "sent KiB", "got KiB"
    );
    let mut local = load(&fixture());
    let mut remote = load(&client);
    for size in [64u32, 128, 256] {
        let request = request(size, 8, 1);
        let (local_step, _) = unet_step(&mut local, &request, None);
        let (remote_step, server_step) = unet_step(&mut remote, &request, Some(&stats_pool));
        let latents = 4 * (size / 8) as usize * (size / 8) as usize;
        let context = 77 * 32; // the tiny model's text embeddings per prompt
        let sent = 2 * (latents + context + 1) * 4;
        let received = 2 * latents * 4;
        println!(
            "{size:>6} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>9.1} {:>9.1}",
            local_step.as_secs_f64() * 1e3,
            remote_step.as_secs_f64() * 1e3,
            server_step.as_secs_f64() * 1e3,
            (remote_step.saturating_sub(server_step)).as_secs_f64() * 1e3,
            sent as f64 / 1024.0,
            received as f64 / 1024.0,
        );
    }
    drop(server);

    println!();
    // With serve-repo's default window, in which the batcher gathers concurrent calls.
    let (_server, client, stats_pool) = serve(&dir.path().join("batched"), 2_000);
    println!(
        "throughput on one server (batcher window 2 ms), 128², 8 DDIM steps, 2 generations per \
         artist"
    );
    let mut single = None;
    for artists in [1usize, 4] {
        let before = stats_pool.statistics("bench-unet");
        let started = Instant::now();
        let threads: Vec<_> = (0..artists)
            .map(|artist| {
                let client = client.clone();
                std::thread::spawn(move || {
                    let mut model = load(&client);
                    for round in 0..2 {
                        generate(&mut model, &request(128, 8, (artist * 10 + round) as u32));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("artist");
        }
        let elapsed = started.elapsed();
        let after = stats_pool.statistics("bench-unet");
        let executions = after[0].1.execution_count - before[0].1.execution_count;
        let requests = (after[0].1.inference_count - before[0].1.inference_count) / 2;
        let per_minute = (artists * 2) as f64 / elapsed.as_secs_f64() * 60.0;
        let ratio = single.map_or(1.0, |single: f64| per_minute / single);
        single.get_or_insert(per_minute);
        println!(
            "  {artists} artist{}: {:.1} images/min ({ratio:.2}× one artist), {requests} UNet \
             requests in {executions} executions (load included)",
            if artists == 1 { "" } else { "s" },
            per_minute
        );
    }
}
