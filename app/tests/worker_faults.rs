//! The generation worker under faults, on the real ONNX Runtime and the tiny model: a
//! generation that runs out of memory inside ONNX Runtime is reported in words, and the same
//! worker then generates normally; a cancelled job leaves it ready for the next.

use std::path::PathBuf;
use std::time::Duration;

use pentimento::worker::{Command, Event, Worker};
use pentimento_inference::pipeline::AttentionGraph;
use pentimento_inference::{CancelToken, GenerationRequest, LoadOptions, LocateOptions};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/models")
        .join(name)
}

/// The next event, waiting up to a minute.
fn next(worker: &Worker) -> Event {
    worker
        .recv_timeout(Duration::from_secs(60))
        .expect("the worker went quiet")
}

/// Events until job `job` ends; returns (variations, the end event).
fn until_end(worker: &Worker, job: u64) -> (usize, Event) {
    let mut variations = 0;
    loop {
        match next(worker) {
            Event::Variation { job: j, .. } if j == job => variations += 1,
            event @ (Event::Finished { .. } | Event::Failed { .. }) => return (variations, event),
            _ => {}
        }
    }
}

/// `end` says job `job` finished, cancelled or not as `cancelled` says.
fn assert_finished(end: &Event, job: u64, cancelled: bool) {
    assert!(
        matches!(
            end,
            Event::Finished { job: j, cancelled: c } if *j == job && *c == cancelled
        ),
        "{end:?}"
    );
}

/// Runs `request` as job `job` to its end; returns (variations, the end event).
fn generate(worker: &Worker, job: u64, request: GenerationRequest) -> (usize, Event) {
    worker
        .send(Command::Generate {
            job,
            request: Box::new(request),
            cancel: CancelToken::new(),
        })
        .expect("send");
    until_end(worker, job)
}

fn request(size: u32, steps: usize) -> GenerationRequest {
    GenerationRequest {
        width: size,
        height: size,
        steps,
        seed: 3,
        ..GenerationRequest::text_to_image("a harbour at night")
    }
}

#[test]
fn out_of_memory_in_onnx_runtime_is_explained_and_the_worker_recovers() {
    let cache = tempfile::tempdir().expect("cache");
    let worker = Worker::spawn(
        LocateOptions::default(),
        Some(cache.path().to_path_buf()),
        || {},
    )
    .expect("worker");
    worker
        .send(Command::LoadModel {
            job: 1,
            path: fixture("tiny-sd"),
            options: LoadOptions {
                intra_threads: Some(2),
                // The exported attention materialises its score tensor, which is what runs
                // out of memory below (the fused one computes it in tiles, for hours).
                attention: AttentionGraph::Exported,
                ..LoadOptions::default()
            },
        })
        .expect("send");
    loop {
        match next(&worker) {
            Event::ModelLoaded { job: 1, .. } => break,
            Event::ModelFailed { message, .. } => panic!("{message}"),
            _ => {}
        }
    }

    // 4096 × 4096 asks the tiny UNet's attention for terabytes.
    let (variations, end) = generate(&worker, 2, request(4096, 2));
    assert_eq!(variations, 0);
    let Event::Failed { job: 2, message } = end else {
        panic!("expected a failure, got {end:?}");
    };
    assert!(message.contains("ran out of memory"), "{message}");
    assert!(
        message.contains("try a smaller size"),
        "says what to do: {message}"
    );

    // The same worker, the same model: the next generation works.
    let (variations, end) = generate(&worker, 3, request(64, 3));
    assert_eq!(variations, 1, "{end:?}");
    assert_finished(&end, 3, false);

    // A cancelled job ends as cancelled, and the worker goes on.
    let cancel = CancelToken::new();
    worker
        .send(Command::Generate {
            job: 4,
            request: Box::new(GenerationRequest {
                count: 3,
                ..request(128, 400)
            }),
            cancel: cancel.clone(),
        })
        .expect("send");
    loop {
        if let Event::Progress { job: 4, step, .. } = next(&worker)
            && step >= 2
        {
            break;
        }
    }
    cancel.cancel();
    let (variations, end) = until_end(&worker, 4);
    assert_eq!(variations, 0);
    assert_finished(&end, 4, true);
    let (variations, end) = generate(&worker, 5, request(64, 2));
    assert_eq!(variations, 1);
    assert_finished(&end, 5, false);
}
