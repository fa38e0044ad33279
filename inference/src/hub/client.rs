//! HTTP with the Hub: each request runs on its own worker thread and hands back its headers and
//! then its body in chunks, so the caller can stop waiting the moment it is cancelled, even
//! while a connection hangs.
//!
//! Redirects are followed here rather than by the HTTP library, for two reasons: the Hub's own
//! headers (`X-Repo-Commit`, `X-Linked-Etag`, `X-Linked-Size`) come on the redirect itself, and
//! the token must go to the Hub only, never to the storage the Hub redirects to.

use std::io::Read;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::Duration;

use crate::CancelToken;

/// Bytes per chunk handed from the worker thread.
const CHUNK_BYTES: usize = 1 << 16;
/// Chunks the worker may read ahead of the writer.
const CHUNKS_IN_FLIGHT: usize = 16;
/// How often a waiting caller looks at the cancel token.
const CANCEL_POLL: Duration = Duration::from_millis(25);
/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 10;
/// Bytes of an error answer kept for the message.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// Which HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    /// Headers and body.
    Get,
    /// Headers only.
    Head,
}

/// One request.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub method: Method,
    pub url: String,
    /// Ask for the bytes from this offset on (`Range: bytes=N-`).
    pub range_from: Option<u64>,
    /// Ask for the bytes as stored, not compressed on the way, so that offsets and sizes are
    /// those of the file.
    pub identity_encoding: bool,
}

/// `Content-Range: bytes first-last/total`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ContentRange {
    /// First byte sent, when bytes were sent.
    pub first: Option<u64>,
    /// The whole file's size, when known.
    pub total: Option<u64>,
}

/// What the headers of an answer say, over the whole chain of redirects.
#[derive(Clone, Debug, Default)]
pub(crate) struct Head {
    /// Status of the last answer.
    pub status: u16,
    /// Address of the last answer.
    pub url: String,
    /// `X-Repo-Commit`: the commit the Hub resolved.
    pub repo_commit: Option<String>,
    /// `X-Linked-Etag`: for LFS files, the sha256 of the content.
    pub linked_etag: Option<String>,
    /// `ETag` of the Hub's answer: for other files, their git blob id.
    pub etag: Option<String>,
    /// `X-Linked-Size`: for LFS files, the size of the content.
    pub linked_size: Option<u64>,
    /// `Content-Length` of the last answer.
    pub content_length: Option<u64>,
    /// `Content-Range` of the last answer.
    pub content_range: Option<ContentRange>,
    /// `X-Error-Code`, e.g. `RepoNotFound`, `RevisionNotFound`, `GatedRepo`.
    pub error_code: Option<String>,
    /// `X-Error-Message`, or the body of an error answer.
    pub error_message: Option<String>,
}

impl Head {
    /// The content's size as the headers tell it.
    pub fn file_size(&self) -> Option<u64> {
        self.linked_size
            .or(self.content_range.and_then(|range| range.total))
            .or(if self.status == 200 {
                self.content_length
            } else {
                None
            })
    }

    fn absorb_hub_headers(&mut self, headers: &ureq::http::HeaderMap) {
        let text = |name: &str| header_text(headers, name);
        self.repo_commit = self.repo_commit.take().or_else(|| text("x-repo-commit"));
        self.linked_etag = self
            .linked_etag
            .take()
            .or_else(|| text("x-linked-etag").map(|etag| clean_etag(&etag)));
        self.etag = self
            .etag
            .take()
            .or_else(|| text("etag").map(|etag| clean_etag(&etag)));
        self.linked_size = self
            .linked_size
            .or_else(|| text("x-linked-size").and_then(|size| size.parse().ok()));
    }

    fn absorb_final_headers(&mut self, headers: &ureq::http::HeaderMap) {
        let text = |name: &str| header_text(headers, name);
        self.content_length = text("content-length").and_then(|length| length.parse().ok());
        self.content_range = text("content-range").and_then(|range| parse_content_range(&range));
        self.error_code = text("x-error-code");
        self.error_message = text("x-error-message");
    }
}

/// A header's value, trimmed, when it is present and readable as text.
fn header_text(headers: &ureq::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim().to_owned())
}

/// An ETag without its quotes and weak marker.
fn clean_etag(etag: &str) -> String {
    etag.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_owned()
}

fn parse_content_range(value: &str) -> Option<ContentRange> {
    let rest = value.trim().strip_prefix("bytes")?.trim();
    let (range, total) = rest.split_once('/')?;
    let total = total.trim().parse().ok();
    let first = match range.trim() {
        "*" => None,
        range => Some(range.split_once('-')?.0.trim().parse().ok()?),
    };
    Some(ContentRange { first, total })
}

/// What a worker reports, in order: one `Head`, then `Data` until `End`; or `Failed` at any
/// point.
#[derive(Debug)]
pub(crate) enum Event {
    Head(Head),
    Data(Vec<u8>),
    End,
    /// The connection failed: could not connect, dropped, timed out.
    Failed(String),
}

/// A request under way.
pub(crate) struct Transfer {
    events: Receiver<Event>,
}

impl Transfer {
    /// The next event, or `None` as soon as `cancel` is set. A worker that vanished reads as a
    /// failed connection.
    pub fn next(&self, cancel: &CancelToken) -> Option<Event> {
        loop {
            if cancel.is_cancelled() {
                return None;
            }
            match self.events.recv_timeout(CANCEL_POLL) {
                Ok(event) => return Some(event),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Some(Event::Failed(
                        "the connection ended unexpectedly".to_owned(),
                    ));
                }
            }
        }
    }
}

/// Talks to one endpoint with one token.
#[derive(Clone)]
pub(crate) struct Client {
    agent: ureq::Agent,
    endpoint: String,
    endpoint_origin: String,
    token: Option<String>,
}

impl Client {
    pub fn new(endpoint: &str, token: Option<String>) -> Self {
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("pentimento/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(20)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            // A connection silent this long is taken as dropped, and the download resumes.
            .timeout_per_read(Some(Duration::from_secs(60)))
            .build()
            .into();
        Self {
            agent,
            endpoint: endpoint.to_owned(),
            endpoint_origin: origin(endpoint).to_ascii_lowercase(),
            token,
        }
    }

    /// The endpoint, without a trailing slash.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Whether a token is sent.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Starts `request` on a worker thread.
    pub fn start(&self, request: Request) -> Transfer {
        let (sender, events) = sync_channel(CHUNKS_IN_FLIGHT);
        let client = self.clone();
        let spawned = std::thread::Builder::new()
            .name("hub-download".to_owned())
            .spawn(move || client.run(&request, &sender));
        // When no thread could start, the closed channel reads as a failed connection.
        drop(spawned);
        Transfer { events }
    }

    fn run(&self, request: &Request, events: &SyncSender<Event>) {
        let mut url = request.url.clone();
        let mut head = Head::default();
        for _ in 0..=MAX_REDIRECTS {
            let mut response = match self.send(request, &url) {
                Ok(response) => response,
                Err(err) => {
                    let _ = events.send(Event::Failed(describe(&err)));
                    return;
                }
            };
            head.absorb_hub_headers(response.headers());
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .and_then(|value| value.to_str().ok())
                .map(|location| join_url(&url, location));
            if let (true, Some(next)) = (matches!(status, 301 | 302 | 303 | 307 | 308), location) {
                // A HEAD request only needs the Hub's headers: it follows the Hub's own
                // redirects (a renamed repository) but not those to the storage.
                let leaves_origin = !origin(&next).eq_ignore_ascii_case(origin(&url));
                if !(request.method == Method::Head && leaves_origin) {
                    url = next;
                    continue;
                }
            }
            head.status = status;
            head.url = url;
            head.absorb_final_headers(response.headers());
            let success = (200..300).contains(&status);
            if !success && request.method == Method::Get && head.error_message.is_none() {
                head.error_message = response
                    .body_mut()
                    .with_config()
                    .limit(MAX_ERROR_BODY)
                    .read_to_string()
                    .ok()
                    .map(|body| error_message_of(&body))
                    .filter(|message| !message.is_empty());
            }
            if events.send(Event::Head(head)).is_err() {
                return;
            }
            if success && request.method == Method::Get {
                stream_body(response.into_body().into_reader(), events);
            } else {
                let _ = events.send(Event::End);
            }
            return;
        }
        let _ = events.send(Event::Failed("too many redirects".to_owned()));
    }

    fn send(
        &self,
        request: &Request,
        url: &str,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let mut builder = match request.method {
            Method::Get => self.agent.get(url),
            Method::Head => self.agent.head(url),
        };
        if let Some(token) = &self.token
            && origin(url).eq_ignore_ascii_case(&self.endpoint_origin)
        {
            builder = builder.header("Authorization", format!("Bearer {token}"));
        }
        if let Some(from) = request.range_from {
            builder = builder.header("Range", format!("bytes={from}-"));
        }
        if request.identity_encoding {
            builder = builder.header("Accept-Encoding", "identity");
        }
        builder.call()
    }
}

fn stream_body(mut reader: impl Read, events: &SyncSender<Event>) {
    loop {
        let mut chunk = vec![0_u8; CHUNK_BYTES];
        match reader.read(&mut chunk) {
            Ok(0) => {
                let _ = events.send(Event::End);
                return;
            }
            Ok(read) => {
                chunk.truncate(read);
                // The receiver is gone when the download was cancelled: stop reading.
                if events.send(Event::Data(chunk)).is_err() {
                    return;
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => {
                let _ = events.send(Event::Failed(err.to_string()));
                return;
            }
        }
    }
}

fn describe(err: &ureq::Error) -> String {
    match err {
        ureq::Error::HostNotFound => "the host name was not found".to_owned(),
        ureq::Error::ConnectionFailed => "the connection was refused or failed".to_owned(),
        other => other.to_string(),
    }
}

/// The `error` of a JSON error answer, else the text itself, on one line.
fn error_message_of(body: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|json| json.get("error")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| body.to_owned());
    let line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    line.chars().take(300).collect()
}

/// `scheme://host:port` of an absolute URL.
pub(crate) fn origin(url: &str) -> &str {
    let Some(scheme_end) = url.find("://") else {
        return "";
    };
    let rest = &url[scheme_end + 3..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    &url[..scheme_end + 3 + end]
}

/// Resolves a `Location` against the URL it came from.
fn join_url(base: &str, location: &str) -> String {
    if location.contains("://") {
        location.to_owned()
    } else if let Some(rest) = location.strip_prefix("//") {
        let scheme = base.split("://").next().unwrap_or("https");
        format!("{scheme}://{rest}")
    } else if location.starts_with('/') {
        format!("{}{location}", origin(base))
    } else {
        let path_end = base.find(['?', '#']).unwrap_or(base.len());
        let directory = base[..path_end]
            .rfind('/')
            .filter(|slash| *slash >= origin(base).len())
            .map_or(origin(base).to_owned() + "/", |slash| {
                base[..=slash].to_owned()
            });
        format!("{directory}{location}")
    }
}

/// Percent-encodes one path segment (everything but unreserved characters).
pub(crate) fn encode_segment(segment: &str) -> String {
    use std::fmt::Write as _;
    segment.bytes().fold(String::new(), |mut out, byte| {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
        out
    })
}

/// Percent-encodes each segment of a `/`-separated path.
pub(crate) fn encode_path(path: &str) -> String {
    path.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_redirects() {
        assert_eq!(
            origin("https://huggingface.co/api/x"),
            "https://huggingface.co"
        );
        assert_eq!(origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(
            join_url("https://huggingface.co/a/resolve/x/y", "/b/resolve/x/y"),
            "https://huggingface.co/b/resolve/x/y"
        );
        assert_eq!(
            join_url("https://huggingface.co/a/b", "https://cdn.example/x?sig=1"),
            "https://cdn.example/x?sig=1"
        );
        assert_eq!(join_url("https://h.co/a/b?q", "c"), "https://h.co/a/c");
    }

    #[test]
    fn content_ranges_and_etags() {
        assert_eq!(
            parse_content_range("bytes 100-199/1000"),
            Some(ContentRange {
                first: Some(100),
                total: Some(1000)
            })
        );
        assert_eq!(
            parse_content_range("bytes */1000"),
            Some(ContentRange {
                first: None,
                total: Some(1000)
            })
        );
        assert_eq!(clean_etag("W/\"abc\""), "abc");
        assert_eq!(encode_segment("refs/pr/1"), "refs%2Fpr%2F1");
        assert_eq!(encode_path("unet/model one.onnx"), "unet/model%20one.onnx");
    }
}
