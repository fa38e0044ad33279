//! A small HTTP server that answers like the Hugging Face Hub for the fixture model: the model
//! API, `resolve` URLs with the Hub's headers, LFS files redirected to a separate storage server
//! that honours `Range`, and faults on demand (a dropped connection, corrupted bytes, a slow
//! file, a required token). Shared by the downloader's tests and the app's model-manager tests.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use pentimento_inference::hub::HubOptions;
use sha1::Sha1;
use sha2::{Digest, Sha256};

pub const COMMIT: &str = "4f1c2a9e0b7d3c5e6f8a9b0c1d2e3f4a5b6c7d8e";
pub const REPO: &str = "test-org/tiny-sd";
pub const NESTED_REPO: &str = "test-org/nested";
pub const NESTED_FOLDER: &str = "pipelines/inpaint";
pub const PYTORCH_REPO: &str = "test-org/pytorch-only";
pub const TOKEN: &str = "hf_test_secret";

// ---------------------------------------------------------------------------------------------
// The fixture model and the repositories served.

pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/models/tiny-sd-inpaint")
}

/// Every file of the fixture model, by path relative to its folder.
pub fn fixture_files() -> Vec<(String, Vec<u8>)> {
    pub fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
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

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn git_blob_id(bytes: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", bytes.len()).as_bytes());
    hasher.update(bytes);
    hex::encode(hasher.finalize())
}

/// A file of a served repository.
pub struct ServedFile {
    pub path: String,
    pub bytes: Arc<Vec<u8>>,
    pub lfs: bool,
    pub sha256: String,
    pub git_sha1: String,
}

impl ServedFile {
    pub fn new(path: &str, bytes: Vec<u8>) -> Self {
        Self {
            path: path.to_owned(),
            lfs: path.ends_with(".onnx") || path.ends_with(".safetensors"),
            sha256: sha256_hex(&bytes),
            git_sha1: git_blob_id(&bytes),
            bytes: Arc::new(bytes),
        }
    }

    /// The name of its blob in the cache.
    pub fn etag(&self) -> &str {
        if self.lfs {
            &self.sha256
        } else {
            &self.git_sha1
        }
    }
}

/// Files that are in the repositories but no ONNX pipeline needs.
pub fn decoys(prefix: &str) -> Vec<ServedFile> {
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

pub fn repositories() -> HashMap<String, Vec<ServedFile>> {
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
pub struct Faults {
    /// Send half the bytes, then close the connection: once.
    pub drop_once: HashSet<String>,
    /// Send one wrong byte: once.
    pub corrupt_once: HashSet<String>,
    /// Send one wrong byte: always.
    pub corrupt_always: HashSet<String>,
    /// Send in small chunks with a pause between.
    pub slow: HashSet<String>,
    /// Pause between the chunks of slow files (5 ms when zero).
    pub slow_pause: Duration,
    /// Refuse requests without `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// List the files without sizes and hashes, as some mirrors do.
    pub bare_listing: bool,
}

/// One request the servers answered.
#[derive(Clone, Debug)]
pub struct Logged {
    pub server: &'static str,
    pub method: String,
    pub target: String,
    pub range: Option<String>,
    pub authorization: Option<String>,
}

pub struct Shared {
    pub repos: HashMap<String, Vec<ServedFile>>,
    pub faults: Mutex<Faults>,
    pub log: Mutex<Vec<Logged>>,
    pub storage_origin: String,
}

pub struct HubServer {
    pub endpoint: String,
    pub shared: Arc<Shared>,
}

impl HubServer {
    pub fn start() -> Self {
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

    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        self.shared.faults.lock().expect("faults")
    }

    pub fn log(&self) -> Vec<Logged> {
        self.shared.log.lock().expect("log").clone()
    }

    pub fn file(&self, repo: &str, path: &str) -> &ServedFile {
        self.shared.repos[repo]
            .iter()
            .find(|file| file.path == path)
            .expect("served file")
    }

    /// Options for this server, a cache folder and no token.
    pub fn options(&self, cache: &Path) -> HubOptions {
        HubOptions {
            endpoint: Some(self.endpoint.clone()),
            token: Some(String::new()),
            cache_dir: Some(cache.to_path_buf()),
        }
    }

    /// Whether a file of `repo` was asked for from a point after its start: a resumed download.
    pub fn resumed(&self, repo: &str, path: &str) -> bool {
        let file = self.file(repo, path);
        // LFS files are fetched from the storage server by their sha256.
        let tail = if file.lfs { &file.sha256 } else { &file.path };
        self.log().iter().any(|request| {
            request.target.ends_with(tail.as_str())
                && request.range.as_deref().is_some_and(|range| {
                    range
                        .trim_start_matches("bytes=")
                        .trim_end_matches('-')
                        .parse::<usize>()
                        .is_ok_and(|from| from > 0 && from < file.bytes.len())
                })
        })
    }

    /// Requests for file contents (not the listing).
    pub fn file_requests(&self) -> usize {
        self.log()
            .iter()
            .filter(|request| request.server == "storage" || request.target.contains("/resolve/"))
            .count()
    }
}

pub struct HttpRequest {
    pub method: String,
    pub target: String,
    pub headers: HashMap<String, String>,
}

pub fn read_request(stream: &TcpStream) -> Option<HttpRequest> {
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

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub fn json(mut self, value: &serde_json::Value) -> Self {
        self.body = value.to_string().into_bytes();
        self.header("Content-Type", "application/json")
    }

    pub fn error(status: u16, code: &str, message: &str) -> Self {
        Self::new(status)
            .header("X-Error-Code", code)
            .header("X-Error-Message", message)
            .json(&serde_json::json!({ "error": message }))
    }
}

pub fn reason(status: u16) -> &'static str {
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

/// Writes an answer. `cut_after`: close the connection after this many body bytes. `slow`: the
/// pause between the small chunks the body is sent in.
pub fn write_answer(
    stream: &mut TcpStream,
    answer: &Answer,
    head_only: bool,
    cut_after: Option<usize>,
    slow: Option<Duration>,
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
    if let Some(pause) = slow {
        for chunk in body.chunks(16 * 1024) {
            if stream.write_all(chunk).is_err() {
                return;
            }
            let _ = stream.flush();
            std::thread::sleep(pause);
        }
    } else {
        let _ = stream.write_all(body);
    }
    let _ = stream.flush();
}

pub fn handle(mut stream: TcpStream, shared: &Shared, server: &'static str) {
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
            write_answer(&mut stream, &Answer::new(404), head_only, None, None);
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
                None,
            );
            return;
        }
    }

    let target = request.target.clone();
    if let Some(rest) = target.strip_prefix("/api/models/") {
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let Some((repo, revision)) = path.split_once("/revision/") else {
            write_answer(&mut stream, &Answer::new(400), head_only, None, None);
            return;
        };
        let answer = listing(shared, repo, revision, query.contains("blobs=true"));
        write_answer(&mut stream, &answer, head_only, None, None);
        return;
    }

    // `/<owner>/<name>/resolve/<revision>/<path>`.
    let parts: Vec<&str> = target.trim_start_matches('/').splitn(5, '/').collect();
    let [owner, name, "resolve", revision, path] = parts.as_slice() else {
        write_answer(&mut stream, &Answer::new(404), head_only, None, None);
        return;
    };
    let repo = format!("{owner}/{name}");
    let Some(files) = shared.repos.get(&repo) else {
        let answer = Answer::error(404, "RepoNotFound", "Repository not found");
        write_answer(&mut stream, &answer, head_only, None, None);
        return;
    };
    if *revision != COMMIT && *revision != "main" {
        let answer = Answer::error(404, "RevisionNotFound", "Invalid rev id");
        write_answer(&mut stream, &answer, head_only, None, None);
        return;
    }
    let Some(file) = files.iter().find(|file| file.path == *path) else {
        let answer = Answer::error(404, "EntryNotFound", "Entry not found");
        write_answer(&mut stream, &answer, head_only, None, None);
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
        write_answer(&mut stream, &answer, head_only, None, None);
    } else {
        serve_content(&mut stream, shared, file, &request, hub_headers);
    }
}

pub fn listing(shared: &Shared, repo: &str, revision: &str, blobs: bool) -> Answer {
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
pub fn serve_content(
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
        write_answer(stream, &answer, head_only, None, None);
        return;
    }
    let (corrupt, cut, slow) = {
        let mut faults = shared.faults.lock().expect("faults");
        let corrupt = !head_only
            && (faults.corrupt_always.contains(&file.path)
                || faults.corrupt_once.remove(&file.path));
        let cut = !head_only && faults.drop_once.remove(&file.path);
        let pause = if faults.slow_pause.is_zero() {
            Duration::from_millis(5)
        } else {
            faults.slow_pause
        };
        (
            corrupt,
            cut,
            faults.slow.contains(&file.path).then_some(pause),
        )
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
