//! Downloading from the Hugging Face Hub, against a small HTTP server in the test that answers
//! like the Hub: the model API, `resolve` URLs with the Hub's headers, LFS files redirected to a
//! separate storage server that honours `Range`, and faults on demand (a dropped connection,
//! corrupted bytes, a slow file, a required token).

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pentimento_inference::hub::{
    DownloadOutcome, DownloadProgress, HubError, HubOptions, HubSource, download_model, model_files,
};
use pentimento_inference::{CancelToken, ModelFolder};

mod common;

use common::hub_server::*;

// ---------------------------------------------------------------------------------------------
// Running downloads and checking what they left.

struct Run {
    outcome: Result<DownloadOutcome, HubError>,
    reports: Vec<DownloadProgress>,
}

fn download(source: &HubSource, options: &HubOptions) -> Run {
    let mut reports = Vec::new();
    let outcome = download_model(
        source,
        options,
        &mut |progress| reports.push(progress.clone()),
        &CancelToken::new(),
    );
    Run { outcome, reports }
}

fn finished(run: &Run) -> PathBuf {
    match &run.outcome {
        Ok(DownloadOutcome::Finished(path)) => path.clone(),
        other => panic!("expected a finished download, got {other:?}"),
    }
}

fn source(repo: &str) -> HubSource {
    HubSource::new(repo)
}

fn repo_folder(cache: &Path, repo: &str) -> PathBuf {
    cache.join(format!("models--{}", repo.replace('/', "--")))
}

/// Every fixture file is in `folder`, byte for byte, and nothing the pipeline does not need.
fn assert_model_folder(folder: &Path) {
    for (path, bytes) in fixture_files() {
        let found = std::fs::read(folder.join(&path))
            .unwrap_or_else(|err| panic!("{path} is missing from {}: {err}", folder.display()));
        assert!(found == bytes, "{path} differs from the fixture");
    }
    for decoy in [
        "README.md",
        "safety_checker/model.onnx",
        "feature_extractor/preprocessor_config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "text_encoder/model_fp16.onnx",
    ] {
        assert!(
            !folder.join(decoy).exists(),
            "{decoy} should not be downloaded"
        );
    }
    if let Err(err) = ModelFolder::open(folder) {
        panic!("the downloaded folder does not open: {err}");
    }
}

/// Bytes never go back, and the last report is complete.
/// The download finished with every file of the model, its progress reported sensibly.
fn assert_complete(run: &Run) {
    assert_model_folder(&finished(run));
    assert_progress(&run.reports);
}

fn assert_progress(reports: &[DownloadProgress]) {
    assert!(!reports.is_empty(), "no progress was reported");
    for pair in reports.windows(2) {
        assert!(
            pair[1].bytes_done >= pair[0].bytes_done,
            "bytes went back: {:?} then {:?}",
            pair[0],
            pair[1]
        );
        assert!(pair[1].files_done >= pair[0].files_done);
    }
    for report in reports {
        assert!(report.bytes_done <= report.bytes_total, "{report:?}");
    }
    let last = reports.last().expect("a report");
    assert_eq!(last.bytes_done, last.bytes_total, "{last:?}");
    assert_eq!(last.files_done, last.files_total, "{last:?}");
    assert_eq!(last.remaining, Some(Duration::ZERO));
}

fn needed_bytes() -> u64 {
    fixture_files()
        .iter()
        .map(|(_, bytes)| bytes.len() as u64)
        .sum()
}

fn incomplete_files(cache: &Path, repo: &str) -> Vec<PathBuf> {
    std::fs::read_dir(repo_folder(cache, repo).join("blobs"))
        .map(|entries| {
            entries
                .map(|entry| entry.expect("entry").path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "incomplete"))
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[test]
fn selects_the_onnx_pipeline_files() {
    let server = HubServer::start();
    let listing: Vec<String> = server.shared.repos[REPO]
        .iter()
        .map(|file| file.path.clone())
        .collect();
    let mut expected: Vec<String> = fixture_files().into_iter().map(|(path, _)| path).collect();
    expected.sort();
    let mut selected = model_files(&listing, None);
    selected.sort();
    assert_eq!(selected, expected);
}

#[test]
fn downloads_the_model_into_the_standard_cache() {
    let server = HubServer::start();
    let cache = tempfile::tempdir().expect("temp dir");
    let run = download(&source(REPO), &server.options(cache.path()));
    let folder = finished(&run);

    let repo = repo_folder(cache.path(), REPO);
    assert_eq!(folder, repo.join("snapshots").join(COMMIT));
    assert_model_folder(&folder);
    assert_eq!(
        std::fs::read_to_string(repo.join("refs").join("main")).expect("ref"),
        COMMIT
    );
    for (path, bytes) in fixture_files() {
        let served = server.file(REPO, &path);
        let blob = repo.join("blobs").join(served.etag());
        assert_eq!(std::fs::read(&blob).expect("blob"), bytes, "blob of {path}");
        #[cfg(unix)]
        {
            let entry = folder.join(&path);
            let meta = std::fs::symlink_metadata(&entry).expect("entry");
            assert!(meta.file_type().is_symlink(), "{path} should be a link");
            let target = std::fs::read_link(&entry).expect("link");
            let ups = path.matches('/').count() + 2;
            let expected = PathBuf::from("../".repeat(ups))
                .join("blobs")
                .join(served.etag());
            assert_eq!(target, expected, "link of {path}");
        }
    }
    assert!(incomplete_files(cache.path(), REPO).is_empty());

    assert_progress(&run.reports);
    assert_eq!(
        run.reports.last().expect("report").bytes_total,
        needed_bytes()
    );
    assert_eq!(
        run.reports.last().expect("report").files_total,
        fixture_files().len()
    );

    // The storage the Hub redirects to never sees the token, and nothing was asked twice.
    let log = server.log();
    assert!(log.iter().all(|request| request.authorization.is_none()));
    assert_eq!(server.file_requests(), {
        let lfs = fixture_files()
            .iter()
            .filter(|(path, _)| path.ends_with(".onnx"))
            .count();
        fixture_files().len() + lfs
    });
}

#[test]
fn downloads_a_subfolder() {
    let server = HubServer::start();
    let cache = tempfile::tempdir().expect("temp dir");
    let mut nested = source(NESTED_REPO);
    nested.subfolder = Some(format!("{NESTED_FOLDER}/"));
    let run = download(&nested, &server.options(cache.path()));
    let folder = finished(&run);
    let snapshot = repo_folder(cache.path(), NESTED_REPO)
        .join("snapshots")
        .join(COMMIT);
    assert_eq!(folder, snapshot.join("pipelines").join("inpaint"));
    assert_model_folder(&folder);
    assert!(!snapshot.join("README.md").exists());
    assert!(!snapshot.join("model_index.json").exists());
    assert!(!snapshot.join("pipelines/other").exists());
    assert_progress(&run.reports);

    nested.subfolder = Some("pipelines/missing".to_owned());
    let run = download(&nested, &server.options(cache.path()));
    assert!(
        matches!(run.outcome, Err(HubError::SubfolderNotFound { .. })),
        "{:?}",
        run.outcome
    );
}

#[test]
fn a_second_call_downloads_nothing() {
    let server = HubServer::start();
    let cache = tempfile::tempdir().expect("temp dir");
    let options = server.options(cache.path());
    let first = finished(&download(&source(REPO), &options));
    let requests = server.file_requests();

    let run = download(&source(REPO), &options);
    assert_eq!(finished(&run), first);
    assert_eq!(server.file_requests(), requests, "files were fetched again");
    let opening = run.reports.first().expect("report");
    assert_eq!(opening.bytes_done, opening.bytes_total);
    assert_eq!(opening.files_done, opening.files_total);
    assert_progress(&run.reports);
}

/// A download that completes although the server fails once on each of `files`, in the way
/// `fault` picks; the server and the run.
fn complete_despite(
    fault: impl FnOnce(&mut Faults) -> &mut HashSet<String>,
    files: &[&str],
) -> (HubServer, Run) {
    let server = HubServer::start();
    let cache = tempfile::tempdir().expect("temp dir");
    fault(&mut server.faults()).extend(files.iter().map(|file| (*file).to_owned()));
    let run = download(&source(REPO), &server.options(cache.path()));
    assert_complete(&run);
    (server, run)
}

#[test]
fn a_dropped_connection_resumes_with_a_range_request() {
    let files = ["unet/model.onnx", "tokenizer/vocab.json"];
    let (server, _) = complete_despite(|faults| &mut faults.drop_once, &files);
    for file in files {
        assert!(server.resumed(REPO, file), "{file}: {:#?}", server.log());
    }
}

#[test]
fn a_corrupted_file_is_fetched_again() {
    let (server, run) = complete_despite(
        |faults| &mut faults.corrupt_once,
        &["vae_decoder/model.onnx", "tokenizer/merges.txt"],
    );
    let last = run.reports.last().expect("report");
    assert!(last.bytes_total > needed_bytes(), "the refetch is counted");

    let vae = server.file(REPO, "vae_decoder/model.onnx");
    let log = server.log();
    let fetches = |tail: &str| {
        log.iter()
            .filter(|request| request.method == "GET" && request.target.ends_with(tail))
            .count()
    };
    assert_eq!(fetches(&vae.sha256), 2);
    assert_eq!(fetches("tokenizer/merges.txt"), 2);
}

#[test]
fn a_file_that_is_always_corrupted_is_an_error() {
    let server = HubServer::start();
    let cache = tempfile::tempdir().expect("temp dir");
    server
        .faults()
        .corrupt_always
        .insert("unet/model.onnx".to_owned());
    let run = download(&source(REPO), &server.options(cache.path()));
    let Err(HubError::Corrupted {
        file,
        expected,
        found,
        ..
    }) = &run.outcome
    else {
        panic!("expected a corrupted file, got {:?}", run.outcome);
    };
    assert_eq!(file, "unet/model.onnx");
    let unet = server.file(REPO, "unet/model.onnx");
    assert!(expected.contains(&unet.sha256), "{expected}");
    assert_ne!(expected, found);
    let message = run.outcome.as_ref().expect_err("error").to_string();
    assert!(message.contains("try again"), "{message}");
    let blobs = repo_folder(cache.path(), REPO).join("blobs");
    assert!(!blobs.join(&unet.sha256).exists());
    assert!(incomplete_files(cache.path(), REPO).is_empty());
}

#[test]
fn a_token_is_required_and_sent_to_the_hub_only() {
    let server = HubServer::start();
    let cache = tempfile::tempdir().expect("temp dir");
    server.faults().token = Some(TOKEN.to_owned());
    let mut options = server.options(cache.path());

    let run = download(&source(REPO), &options);
    assert!(
        matches!(run.outcome, Err(HubError::TokenRequired { .. })),
        "{:?}",
        run.outcome
    );
    let message = run.outcome.as_ref().expect_err("error").to_string();
    assert!(message.contains("HF_TOKEN"), "{message}");

    options.token = Some("hf_wrong".to_owned());
    let run = download(&source(REPO), &options);
    assert!(
        matches!(run.outcome, Err(HubError::TokenRejected { .. })),
        "{:?}",
        run.outcome
    );

    options.token = Some(TOKEN.to_owned());
    let before = server.log().len();
    let run = download(&source(REPO), &options);
    assert_model_folder(&finished(&run));
    let log = server.log();
    let expected = format!("Bearer {TOKEN}");
    for request in &log[before..] {
        match request.server {
            "hub" => assert_eq!(request.authorization.as_deref(), Some(expected.as_str())),
            _ => assert_eq!(request.authorization, None, "{request:?}"),
        }
    }
    assert!(
        log[before..]
            .iter()
            .any(|request| request.server == "storage")
    );
}

#[test]
fn missing_repositories_and_revisions_are_named() {
    let server = HubServer::start();
    let cache = tempfile::tempdir().expect("temp dir");
    let options = server.options(cache.path());

    let run = download(&source("test-org/does-not-exist"), &options);
    assert!(
        matches!(run.outcome, Err(HubError::RepoNotFound { .. })),
        "{:?}",
        run.outcome
    );

    let mut wrong_revision = source(REPO);
    wrong_revision.revision = "nope".to_owned();
    let run = download(&wrong_revision, &options);
    assert!(
        matches!(run.outcome, Err(HubError::RevisionNotFound { .. })),
        "{:?}",
        run.outcome
    );

    let run = download(&source("not a repo"), &options);
    assert!(matches!(run.outcome, Err(HubError::InvalidRepo { .. })));
}

#[test]
fn a_pytorch_repository_is_refused() {
    let server = HubServer::start();
    let cache = tempfile::tempdir().expect("temp dir");
    let run = download(&source(PYTORCH_REPO), &server.options(cache.path()));
    let Err(err @ HubError::NotOnnx { .. }) = &run.outcome else {
        panic!("expected NotOnnx, got {:?}", run.outcome);
    };
    assert!(err.to_string().contains("ONNX export"), "{err}");
    assert_eq!(server.file_requests(), 0);
}

#[test]
fn cancelling_keeps_a_partial_file_that_the_next_call_resumes() {
    let server = HubServer::start();
    let cache = tempfile::tempdir().expect("temp dir");
    let options = server.options(cache.path());
    server.faults().slow.insert("unet/model.onnx".to_owned());

    let cancel = CancelToken::new();
    let mut unet_start = None;
    let mut cancelled_at = None;
    let mut reports = Vec::new();
    let outcome = download_model(
        &source(REPO),
        &options,
        &mut |progress| {
            reports.push(progress.clone());
            if progress.file != "unet/model.onnx" || cancelled_at.is_some() {
                return;
            }
            match unet_start {
                None => unet_start = Some(progress.bytes_done),
                Some(start) if progress.bytes_done > start => {
                    cancel.cancel();
                    cancelled_at = Some(Instant::now());
                }
                Some(_) => {}
            }
        },
        &cancel,
    );
    let stopped = cancelled_at.expect("the callback cancelled").elapsed();
    assert!(
        matches!(outcome, Ok(DownloadOutcome::Cancelled)),
        "{outcome:?}"
    );
    assert!(stopped < Duration::from_millis(500), "took {stopped:?}");
    assert_progress_monotonic(&reports);

    let unet = server.file(REPO, "unet/model.onnx");
    let partial = repo_folder(cache.path(), REPO)
        .join("blobs")
        .join(format!("{}.incomplete", unet.sha256));
    let kept = std::fs::metadata(&partial).expect("partial file").len();
    assert!(kept > 0 && kept < unet.bytes.len() as u64, "kept {kept}");

    server.faults().slow.clear();
    let run = download(&source(REPO), &options);
    assert_complete(&run);
    assert!(run.reports[0].bytes_done >= kept);
    let resumed = format!("bytes={kept}-");
    assert!(
        server
            .log()
            .iter()
            .any(|request| request.target.ends_with(&unet.sha256)
                && request.range.as_deref() == Some(resumed.as_str())),
        "{:#?}",
        server.log()
    );
    assert!(!partial.exists());
}

fn assert_progress_monotonic(reports: &[DownloadProgress]) {
    for pair in reports.windows(2) {
        assert!(pair[1].bytes_done >= pair[0].bytes_done);
    }
}

#[test]
fn an_unreachable_hub_falls_back_to_the_cache() {
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", closed.local_addr().expect("address"));
    drop(closed);
    let cache = tempfile::tempdir().expect("temp dir");
    let offline = HubOptions {
        endpoint: Some(endpoint),
        token: Some(String::new()),
        cache_dir: Some(cache.path().to_path_buf()),
    };

    let run = download(&source(REPO), &offline);
    let Err(err @ HubError::Unreachable { .. }) = &run.outcome else {
        panic!("expected Unreachable, got {:?}", run.outcome);
    };
    assert!(err.to_string().contains("HF_ENDPOINT"), "{err}");

    let server = HubServer::start();
    let folder = finished(&download(&source(REPO), &server.options(cache.path())));
    let run = download(&source(REPO), &offline);
    assert_eq!(finished(&run), folder);
}

#[test]
fn a_listing_without_sizes_is_completed_from_headers() {
    let server = HubServer::start();
    let cache = tempfile::tempdir().expect("temp dir");
    server.faults().bare_listing = true;
    let run = download(&source(REPO), &server.options(cache.path()));
    assert_complete(&run);
    assert_eq!(
        run.reports.last().expect("report").bytes_total,
        needed_bytes()
    );
    assert!(server.log().iter().any(|request| request.method == "HEAD"));
    // Blobs are named as with a full listing.
    let unet = server.file(REPO, "unet/model.onnx");
    assert!(
        repo_folder(cache.path(), REPO)
            .join("blobs")
            .join(&unet.sha256)
            .is_file()
    );
}
