//! Downloading from the Hugging Face Hub, against a small HTTP server in the test that answers
//! like the Hub: the model API, `resolve` URLs with the Hub's headers, LFS files redirected to a
//! separate storage server that honours `Range`, and faults on demand (a dropped connection,
//! corrupted bytes, a slow file, a required token).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pentimento_inference::hub::{
    DownloadOutcome, DownloadProgress, HubError, HubOptions, HubSource, download_model, model_files,
};
use pentimento_inference::{CancelToken, ModelFolder};
use sha1::Sha1;
use sha2::{Digest, Sha256};

const COMMIT: &str = "4f1c2a9e0b7d3c5e6f8a9b0c1d2e3f4a5b6c7d8e";
const REPO: &str = "test-org/tiny-sd";
const NESTED_REPO: &str = "test-org/nested";
const NESTED_FOLDER: &str = "pipelines/inpaint";
const PYTORCH_REPO: &str = "test-org/pytorch-only";
const TOKEN: &str = "hf_test_secret";

// ---------------------------------------------------------------------------------------------
// The fixture model and the repositories served.

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/models/tiny-sd-inpaint")
}

/// Every file of the fixture model, by path relative to its folder.
fn fixture_files() -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("fixture folder")
            .map(|entry| entry.expect("entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .expect("inside")
                    .components()
                    .map(|part| part.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((relative, std::fs::read(&path).expect("fixture file")));
            }
        }
    }
    let mut out = Vec::new();
    walk(&fixture_dir(), &fixture_dir(), &mut out);
    assert!(out.len() >= 10, "the fixture model is incomplete");
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn git_blob_id(bytes: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", bytes.len()).as_bytes());
    hasher.update(bytes);
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A file of a served repository.
struct ServedFile {
    path: String,
    bytes: Arc<Vec<u8>>,
    lfs: bool,
    sha256: String,
    git_sha1: String,
}

impl ServedFile {
    fn new(path: &str, bytes: Vec<u8>) -> Self {
        Self {
            path: path.to_owned(),
            lfs: path.ends_with(".onnx") || path.ends_with(".safetensors"),
            sha256: sha256_hex(&bytes),
            git_sha1: git_blob_id(&bytes),
            bytes: Arc::new(bytes),
        }
    }

    /// The name of its blob in the cache.
    fn etag(&self) -> &str {
        if self.lfs {
            &self.sha256
        } else {
            &self.git_sha1
        }
    }
}

/// Files that are in the repositories but no ONNX pipeline needs.
fn decoys(prefix: &str) -> Vec<ServedFile> {
    [
        ("README.md", b"# tiny".to_vec()),
        (".gitattributes", b"*.onnx filter=lfs".to_vec()),
        ("safety_checker/model.onnx", vec![7; 3000]),
        ("feature_extractor/preprocessor_config.json", b"{}".to_vec()),
        ("unet/diffusion_pytorch_model.safetensors", vec![9; 5000]),
        ("text_encoder/model_fp16.onnx", vec![3; 2000]),
    ]
    .into_iter()
    .map(|(path, bytes)| ServedFile::new(&format!("{prefix}{path}"), bytes))
    .collect()
}

fn repositories() -> HashMap<String, Vec<ServedFile>> {
    let fixture = fixture_files();
    let mut repos = HashMap::new();

    let mut tiny: Vec<ServedFile> = fixture
        .iter()
        .map(|(path, bytes)| ServedFile::new(path, bytes.clone()))
        .collect();
    tiny.extend(decoys(""));
    repos.insert(REPO.to_owned(), tiny);

    let mut nested: Vec<ServedFile> = fixture
        .iter()
        .map(|(path, bytes)| ServedFile::new(&format!("{NESTED_FOLDER}/{path}"), bytes.clone()))
        .collect();
    nested.extend(decoys(""));
    nested.push(ServedFile::new(
        "pipelines/other/unet/model.onnx",
        vec![1; 1000],
    ));
    nested.push(ServedFile::new("model_index.json", b"{}".to_vec()));
    repos.insert(NESTED_REPO.to_owned(), nested);

    let pytorch = [
        (
            "model_index.json",
            b"{\"_class_name\": \"StableDiffusionPipeline\"}".to_vec(),
        ),
        ("unet/config.json", b"{}".to_vec()),
        ("unet/diffusion_pytorch_model.safetensors", vec![5; 4000]),
        ("text_encoder/model.safetensors", vec![6; 3000]),
        ("vae/diffusion_pytorch_model.safetensors", vec![4; 2000]),
        ("README.md", b"# pytorch".to_vec()),
    ]
    .into_iter()
    .map(|(path, bytes)| ServedFile::new(path, bytes))
    .collect();
    repos.insert(PYTORCH_REPO.to_owned(), pytorch);
    repos
}

// ---------------------------------------------------------------------------------------------
// The server.

/// Faults to inject, by repository path.
#[derive(Default)]
struct Faults {
    /// Send half the bytes, then close the connection: once.
    drop_once: HashSet<String>,
    /// Send one wrong byte: once.
    corrupt_once: HashSet<String>,
    /// Send one wrong byte: always.
    corrupt_always: HashSet<String>,
    /// Send in small chunks with a pause between.
    slow: HashSet<String>,
    /// Refuse requests without `Authorization: Bearer <token>`.
    token: Option<String>,
    /// List the files without sizes and hashes, as some mirrors do.
    bare_listing: bool,
}

/// One request the servers answered.
#[derive(Clone, Debug)]
struct Logged {
    server: &'static str,
    method: String,
    target: String,
    range: Option<String>,
    authorization: Option<String>,
}

struct Shared {
    repos: HashMap<String, Vec<ServedFile>>,
    faults: Mutex<Faults>,
    log: Mutex<Vec<Logged>>,
    storage_origin: String,
}

struct HubServer {
    endpoint: String,
    shared: Arc<Shared>,
}

impl HubServer {
    fn start() -> Self {
        let hub = TcpListener::bind("127.0.0.1:0").expect("bind");
        let storage = TcpListener::bind("127.0.0.1:0").expect("bind");
        let endpoint = format!("http://{}", hub.local_addr().expect("address"));
        let shared = Arc::new(Shared {
            repos: repositories(),
            faults: Mutex::new(Faults::default()),
            log: Mutex::new(Vec::new()),
            storage_origin: format!("http://{}", storage.local_addr().expect("address")),
        });
        for (listener, name) in [(hub, "hub"), (storage, "storage")] {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let shared = Arc::clone(&shared);
                    std::thread::spawn(move || handle(stream, &shared, name));
                }
            });
        }
        Self { endpoint, shared }
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.shared.faults.lock().expect("faults")
    }

    fn log(&self) -> Vec<Logged> {
        self.shared.log.lock().expect("log").clone()
    }

    fn file(&self, repo: &str, path: &str) -> &ServedFile {
        self.shared.repos[repo]
            .iter()
            .find(|file| file.path == path)
            .expect("served file")
    }

    /// Options for this server, a cache folder and no token.
    fn options(&self, cache: &Path) -> HubOptions {
        HubOptions {
            endpoint: Some(self.endpoint.clone()),
            token: Some(String::new()),
            cache_dir: Some(cache.to_path_buf()),
        }
    }

    /// Requests for file contents (not the listing).
    fn file_requests(&self) -> usize {
        self.log()
            .iter()
            .filter(|request| request.server == "storage" || request.target.contains("/resolve/"))
            .count()
    }
}

struct HttpRequest {
    method: String,
    target: String,
    headers: HashMap<String, String>,
}

fn read_request(stream: &TcpStream) -> Option<HttpRequest> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    Some(HttpRequest {
        method,
        target,
        headers,
    })
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    fn json(mut self, value: &serde_json::Value) -> Self {
        self.body = value.to_string().into_bytes();
        self.header("Content-Type", "application/json")
    }

    fn error(status: u16, code: &str, message: &str) -> Self {
        Self::new(status)
            .header("X-Error-Code", code)
            .header("X-Error-Message", message)
            .json(&serde_json::json!({ "error": message }))
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        401 => "Unauthorized",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        _ => "Other",
    }
}

/// Writes an answer. `cut_after`: close the connection after this many body bytes. `slow`:
/// send the body in small chunks with pauses.
fn write_answer(
    stream: &mut TcpStream,
    answer: &Answer,
    head_only: bool,
    cut_after: Option<usize>,
    slow: bool,
) {
    let mut head = format!("HTTP/1.1 {} {}\r\n", answer.status, reason(answer.status));
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !answer
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-length"))
    {
        head.push_str(&format!("Content-Length: {}\r\n", answer.body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    if stream.write_all(head.as_bytes()).is_err() || head_only {
        return;
    }
    let body = &answer.body[..cut_after.unwrap_or(answer.body.len())];
    if slow {
        for chunk in body.chunks(16 * 1024) {
            if stream.write_all(chunk).is_err() {
                return;
            }
            let _ = stream.flush();
            std::thread::sleep(Duration::from_millis(5));
        }
    } else {
        let _ = stream.write_all(body);
    }
    let _ = stream.flush();
}

fn handle(mut stream: TcpStream, shared: &Shared, server: &'static str) {
    let Some(request) = read_request(&stream) else {
        return;
    };
    shared.log.lock().expect("log").push(Logged {
        server,
        method: request.method.clone(),
        target: request.target.clone(),
        range: request.headers.get("range").cloned(),
        authorization: request.headers.get("authorization").cloned(),
    });
    let head_only = request.method == "HEAD";
    if server == "storage" {
        // `/storage/<owner>/<name>/<sha256>`: the content of an LFS file.
        let (repo, sha) = request
            .target
            .trim_start_matches("/storage/")
            .rsplit_once('/')
            .unwrap_or_default();
        let Some(file) = shared
            .repos
            .get(repo)
            .into_iter()
            .flatten()
            .find(|file| file.lfs && file.sha256 == sha)
        else {
            write_answer(&mut stream, &Answer::new(404), head_only, None, false);
            return;
        };
        serve_content(&mut stream, shared, file, &request, Vec::new());
        return;
    }

    let token = shared.faults.lock().expect("faults").token.clone();
    if let Some(token) = token {
        let expected = format!("Bearer {token}");
        if request.headers.get("authorization") != Some(&expected) {
            let message = if request.headers.contains_key("authorization") {
                "Invalid credentials in Authorization header"
            } else {
                "Access to this repository requires a token"
            };
            write_answer(
                &mut stream,
                &Answer::new(401).json(&serde_json::json!({ "error": message })),
                head_only,
                None,
                false,
            );
            return;
        }
    }

    let target = request.target.clone();
    if let Some(rest) = target.strip_prefix("/api/models/") {
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let Some((repo, revision)) = path.split_once("/revision/") else {
            write_answer(&mut stream, &Answer::new(400), head_only, None, false);
            return;
        };
        let answer = listing(shared, repo, revision, query.contains("blobs=true"));
        write_answer(&mut stream, &answer, head_only, None, false);
        return;
    }

    // `/<owner>/<name>/resolve/<revision>/<path>`.
    let parts: Vec<&str> = target.trim_start_matches('/').splitn(5, '/').collect();
    let [owner, name, "resolve", revision, path] = parts.as_slice() else {
        write_answer(&mut stream, &Answer::new(404), head_only, None, false);
        return;
    };
    let repo = format!("{owner}/{name}");
    let Some(files) = shared.repos.get(&repo) else {
        let answer = Answer::error(404, "RepoNotFound", "Repository not found");
        write_answer(&mut stream, &answer, head_only, None, false);
        return;
    };
    if *revision != COMMIT && *revision != "main" {
        let answer = Answer::error(404, "RevisionNotFound", "Invalid rev id");
        write_answer(&mut stream, &answer, head_only, None, false);
        return;
    }
    let Some(file) = files.iter().find(|file| file.path == *path) else {
        let answer = Answer::error(404, "EntryNotFound", "Entry not found");
        write_answer(&mut stream, &answer, head_only, None, false);
        return;
    };
    let hub_headers = vec![
        ("X-Repo-Commit".to_owned(), COMMIT.to_owned()),
        ("ETag".to_owned(), format!("\"{}\"", file.git_sha1)),
    ];
    if file.lfs {
        let mut answer = Answer::new(302)
            .header(
                "Location",
                format!("{}/storage/{repo}/{}", shared.storage_origin, file.sha256),
            )
            .header("X-Linked-Etag", format!("\"{}\"", file.sha256))
            .header("X-Linked-Size", file.bytes.len().to_string());
        answer.headers.extend(hub_headers);
        write_answer(&mut stream, &answer, head_only, None, false);
    } else {
        serve_content(&mut stream, shared, file, &request, hub_headers);
    }
}

fn listing(shared: &Shared, repo: &str, revision: &str, blobs: bool) -> Answer {
    let Some(files) = shared.repos.get(repo) else {
        return Answer::error(404, "RepoNotFound", "Repository not found");
    };
    if revision != "main" && revision != COMMIT {
        return Answer::error(404, "RevisionNotFound", "Invalid rev id: nope");
    }
    let bare = shared.faults.lock().expect("faults").bare_listing;
    let siblings: Vec<serde_json::Value> = files
        .iter()
        .map(|file| {
            if bare || !blobs {
                return serde_json::json!({ "rfilename": file.path });
            }
            let mut sibling = serde_json::json!({
                "rfilename": file.path,
                "size": file.bytes.len(),
                "blobId": if file.lfs { "0".repeat(40) } else { file.git_sha1.clone() },
            });
            if file.lfs {
                sibling["lfs"] = serde_json::json!({
                    "sha256": file.sha256,
                    "size": file.bytes.len(),
                    "pointerSize": 134,
                });
            }
            sibling
        })
        .collect();
    Answer::new(200).json(&serde_json::json!({
        "_id": "0123",
        "id": repo,
        "sha": COMMIT,
        "siblings": siblings,
    }))
}

/// Serves a file's content, honouring `Range: bytes=N-`, with the faults asked for.
fn serve_content(
    stream: &mut TcpStream,
    shared: &Shared,
    file: &ServedFile,
    request: &HttpRequest,
    headers: Vec<(String, String)>,
) {
    let head_only = request.method == "HEAD";
    let length = file.bytes.len();
    let start = request
        .headers
        .get("range")
        .and_then(|range| range.strip_prefix("bytes="))
        .and_then(|range| range.trim_end_matches('-').parse::<usize>().ok());
    if start.is_some_and(|start| start >= length) {
        let answer = Answer::new(416).header("Content-Range", format!("bytes */{length}"));
        write_answer(stream, &answer, head_only, None, false);
        return;
    }
    let (corrupt, cut, slow) = {
        let mut faults = shared.faults.lock().expect("faults");
        let corrupt = !head_only
            && (faults.corrupt_always.contains(&file.path)
                || faults.corrupt_once.remove(&file.path));
        let cut = !head_only && faults.drop_once.remove(&file.path);
        (corrupt, cut, faults.slow.contains(&file.path))
    };
    let from = start.unwrap_or(0);
    let mut answer = Answer::new(if start.is_some() { 206 } else { 200 })
        .header("Accept-Ranges", "bytes")
        .header("Content-Type", "application/octet-stream");
    answer.headers.extend(headers);
    if start.is_some() {
        answer = answer.header(
            "Content-Range",
            format!("bytes {from}-{}/{length}", length - 1),
        );
    }
    answer.body = file.bytes[from..].to_vec();
    if corrupt {
        let middle = answer.body.len() / 2;
        answer.body[middle] ^= 0xff;
    }
    let cut_after = cut.then_some(answer.body.len() / 2);
    write_answer(stream, &answer, head_only, cut_after, slow);
}

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

#[test]
fn a_dropped_connection_resumes_with_a_range_request() {
    let server = HubServer::start();
    let cache = tempfile::tempdir().expect("temp dir");
    server
        .faults()
        .drop_once
        .insert("unet/model.onnx".to_owned());
    server
        .faults()
        .drop_once
        .insert("tokenizer/vocab.json".to_owned());
    let run = download(&source(REPO), &server.options(cache.path()));
    assert_model_folder(&finished(&run));
    assert_progress(&run.reports);

    let unet = server.file(REPO, "unet/model.onnx");
    let vocab = server.file(REPO, "tokenizer/vocab.json");
    let log = server.log();
    let resumed = |tail: &str, length: usize| {
        log.iter().any(|request| {
            request.target.ends_with(tail)
                && request.range.as_deref().is_some_and(|range| {
                    range
                        .trim_start_matches("bytes=")
                        .trim_end_matches('-')
                        .parse::<usize>()
                        .is_ok_and(|from| from > 0 && from < length)
                })
        })
    };
    assert!(resumed(&unet.sha256, unet.bytes.len()), "{log:#?}");
    assert!(
        resumed("tokenizer/vocab.json", vocab.bytes.len()),
        "{log:#?}"
    );
}

#[test]
fn a_corrupted_file_is_fetched_again() {
    let server = HubServer::start();
    let cache = tempfile::tempdir().expect("temp dir");
    server
        .faults()
        .corrupt_once
        .insert("vae_decoder/model.onnx".to_owned());
    server
        .faults()
        .corrupt_once
        .insert("tokenizer/merges.txt".to_owned());
    let run = download(&source(REPO), &server.options(cache.path()));
    assert_model_folder(&finished(&run));
    assert_progress(&run.reports);
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
    assert_model_folder(&finished(&run));
    assert_progress(&run.reports);
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
    assert_model_folder(&finished(&run));
    assert_progress(&run.reports);
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
