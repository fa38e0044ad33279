//! Memory over many generate/cancel cycles: the worker loads the tiny model, then starts a long
//! generation and cancels it after its first steps, again and again. The resident memory after
//! the warm-up cycles and after the last one are printed with their difference; anything that
//! leaked per cycle would show as growth.
//!
//! Run with `cargo bench -p pentimento --bench generate_cancel` (`-- --cycles N` for another
//! count; 100 by default).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pentimento::worker::{Command, Event, Worker};
use pentimento_inference::{CancelToken, GenerationRequest, LoadOptions, LocateOptions};

mod common;
use common::{mib, rss_bytes};

fn main() {
    let cycles: usize = std::env::args()
        .skip_while(|arg| arg != "--cycles")
        .nth(1)
        .and_then(|value| value.parse().ok())
        .unwrap_or(100);
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/models/tiny-sd");
    let cache = std::env::temp_dir().join(format!("pentimento-cycles-{}", std::process::id()));
    let worker = Worker::spawn(LocateOptions::default(), Some(cache.clone()), || {})
        .expect("start the worker");
    worker
        .send(Command::LoadModel {
            job: 0,
            path: model,
            options: LoadOptions::default(),
        })
        .expect("send");
    loop {
        match next(&worker) {
            Event::ModelLoaded { .. } => break,
            Event::ModelFailed { message, .. } => panic!("{message}"),
            _ => {}
        }
    }
    println!(
        "{cycles} generate/cancel cycles on the tiny model (256 × 256, cancelled after 2 steps)"
    );
    let warm_up = 10.min(cycles);
    let mut after_warm_up = None;
    let started = Instant::now();
    let mut samples = Vec::new();
    for cycle in 1..=cycles {
        let job = cycle as u64;
        let cancel = CancelToken::new();
        worker
            .send(Command::Generate {
                job,
                request: Box::new(GenerationRequest {
                    width: 256,
                    height: 256,
                    steps: 500,
                    count: 2,
                    seed: cycle as u32,
                    ..GenerationRequest::text_to_image("a lighthouse in a storm")
                }),
                cancel: cancel.clone(),
            })
            .expect("send");
        loop {
            match next(&worker) {
                Event::Progress { job: j, step, .. } if j == job && step >= 2 => break,
                Event::Failed { message, .. } => panic!("{message}"),
                _ => {}
            }
        }
        cancel.cancel();
        loop {
            match next(&worker) {
                Event::Finished {
                    job: j, cancelled, ..
                } if j == job => {
                    assert!(cancelled, "cycle {cycle} was not cancelled");
                    break;
                }
                Event::Failed { message, .. } => panic!("{message}"),
                _ => {}
            }
        }
        if cycle == warm_up {
            after_warm_up = rss_bytes();
        }
        if cycle % 10 == 0 {
            samples.push((cycle, rss_bytes()));
        }
    }
    let elapsed = started.elapsed();
    for (cycle, rss) in &samples {
        if let Some(rss) = rss {
            println!("  after {cycle:>4} cycles   RSS {:>8.1} MiB", mib(*rss));
        }
    }
    if let (Some(first), Some(last)) = (after_warm_up, rss_bytes()) {
        let growth = last as f64 - first as f64;
        println!(
            "  growth from cycle {warm_up} to {cycles}: {:+.1} MiB ({:+.3} MiB per cycle)",
            growth / (1 << 20) as f64,
            growth / (1 << 20) as f64 / (cycles - warm_up).max(1) as f64
        );
    }
    println!(
        "  {:.0} ms per cycle",
        elapsed.as_secs_f64() * 1000.0 / cycles as f64
    );
    drop(worker);
    let _ = std::fs::remove_dir_all(cache);
}

fn next(worker: &Worker) -> Event {
    worker
        .recv_timeout(Duration::from_secs(120))
        .expect("the worker went quiet")
}
