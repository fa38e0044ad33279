//! The Hub's model API: which commit a revision points to and which files it holds, and what an
//! error status means.

use serde::Deserialize;

use super::HubError;
use super::client::{Client, Event, Head, Method, Request, encode_path, encode_segment};
use super::verify::{Expected, is_hex};
use crate::CancelToken;

/// Largest listing read, in bytes.
const MAX_LISTING_BYTES: usize = 64 << 20;

/// The repository being downloaded, for requests and messages.
pub(crate) struct Target<'a> {
    pub repo: &'a str,
    pub revision: &'a str,
}

/// One file of a listing.
#[derive(Clone, Debug)]
pub(crate) struct RemoteFile {
    /// Path in the repository.
    pub path: String,
    /// What it should be.
    pub expected: Expected,
}

/// A revision's commit and files.
pub(crate) struct Listing {
    pub commit: String,
    pub files: Vec<RemoteFile>,
}

#[derive(Deserialize)]
struct ApiModelInfo {
    sha: Option<String>,
    #[serde(default)]
    siblings: Vec<ApiSibling>,
}

#[derive(Deserialize)]
struct ApiSibling {
    rfilename: String,
    size: Option<u64>,
    #[serde(rename = "blobId")]
    blob_id: Option<String>,
    lfs: Option<ApiLfs>,
}

#[derive(Deserialize)]
struct ApiLfs {
    sha256: Option<String>,
    oid: Option<String>,
    size: Option<u64>,
}

impl ApiSibling {
    fn into_remote_file(self) -> RemoteFile {
        let mut expected = Expected {
            size: self.size,
            ..Expected::default()
        };
        if let Some(lfs) = self.lfs {
            let sha256 = lfs
                .sha256
                .or_else(|| {
                    lfs.oid
                        .map(|oid| oid.trim_start_matches("sha256:").to_owned())
                })
                .map(|sha| sha.to_ascii_lowercase())
                .filter(|sha| is_hex(sha, 64));
            expected.sha256 = sha256;
            expected.size = lfs.size.or(expected.size);
        } else {
            expected.git_sha1 = self
                .blob_id
                .map(|id| id.to_ascii_lowercase())
                .filter(|id| is_hex(id, 40));
        }
        RemoteFile {
            path: self.rfilename,
            expected,
        }
    }
}

/// `GET {endpoint}/api/models/{repo}/revision/{revision}?blobs=true`. `None` when cancelled.
pub(crate) fn list(
    client: &Client,
    target: &Target<'_>,
    cancel: &CancelToken,
) -> Result<Option<Listing>, HubError> {
    let url = format!(
        "{}/api/models/{}/revision/{}?blobs=true",
        client.endpoint(),
        target.repo,
        encode_segment(target.revision)
    );
    let transfer = client.start(Request {
        method: Method::Get,
        url: url.clone(),
        range_from: None,
        identity_encoding: false,
    });
    let unreachable = |reason: String| HubError::Unreachable {
        reason,
        endpoint: client.endpoint().to_owned(),
    };
    let mut body = Vec::new();
    loop {
        let Some(event) = transfer.next(cancel) else {
            return Ok(None);
        };
        match event {
            Event::Head(head) if head.status == 200 => {}
            Event::Head(head) => return Err(status_error(client, target, &head, None)),
            Event::Data(bytes) => {
                body.extend_from_slice(&bytes);
                if body.len() > MAX_LISTING_BYTES {
                    return Err(unexpected("the file listing is too large", &url));
                }
            }
            Event::End => break,
            Event::Failed(reason) => return Err(unreachable(reason)),
        }
    }
    let info: ApiModelInfo = serde_json::from_slice(&body)
        .map_err(|err| unexpected(&format!("the file listing is not valid: {err}"), &url))?;
    let commit = info
        .sha
        .map(|sha| sha.to_ascii_lowercase())
        .filter(|sha| is_hex(sha, 40))
        .ok_or_else(|| unexpected("the listing names no commit", &url))?;
    Ok(Some(Listing {
        commit,
        files: info
            .siblings
            .into_iter()
            .map(ApiSibling::into_remote_file)
            .collect(),
    }))
}

/// `{endpoint}/{repo}/resolve/{commit}/{path}`.
pub(crate) fn file_url(client: &Client, repo: &str, commit: &str, path: &str) -> String {
    format!(
        "{}/{repo}/resolve/{commit}/{}",
        client.endpoint(),
        encode_path(path)
    )
}

/// Learns a file's size and ETag from a HEAD request, for listings that lack them. `Ok(false)`
/// when cancelled.
pub(crate) fn probe(
    client: &Client,
    target: &Target<'_>,
    commit: &str,
    file: &mut RemoteFile,
    cancel: &CancelToken,
) -> Result<bool, HubError> {
    let url = file_url(client, target.repo, commit, &file.path);
    let transfer = client.start(Request {
        method: Method::Head,
        url: url.clone(),
        range_from: None,
        identity_encoding: true,
    });
    let Some(event) = transfer.next(cancel) else {
        return Ok(false);
    };
    let head = match event {
        Event::Head(head) if (200..400).contains(&head.status) => head,
        Event::Head(head) => return Err(status_error(client, target, &head, Some(&file.path))),
        Event::Failed(reason) => {
            return Err(HubError::Unreachable {
                reason,
                endpoint: client.endpoint().to_owned(),
            });
        }
        Event::Data(_) | Event::End => {
            return Err(unexpected("an answer without headers", &url));
        }
    };
    let size = file
        .expected
        .size
        .or(head.linked_size)
        .or(if head.status == 200 {
            head.content_length
        } else {
            None
        });
    let etag = head.linked_etag.as_deref().or(head.etag.as_deref());
    let from_headers = etag.map_or_else(Expected::default, |etag| Expected::from_etag(etag, size));
    file.expected = Expected {
        size,
        sha256: file.expected.sha256.take().or(from_headers.sha256),
        git_sha1: file.expected.git_sha1.take().or(from_headers.git_sha1),
        opaque_etag: from_headers.opaque_etag,
    };
    Ok(true)
}

/// What an error status means, as a [`HubError`]. `file` is set for a file's request.
pub(crate) fn status_error(
    client: &Client,
    target: &Target<'_>,
    head: &Head,
    file: Option<&str>,
) -> HubError {
    let repo = target.repo.to_owned();
    let page = format!("{}/{}", client.endpoint(), target.repo);
    let code = head.error_code.as_deref().unwrap_or_default();
    match head.status {
        401 if code == "RepoNotFound" && client.has_token() => {
            HubError::RepoNotFound { repo, url: page }
        }
        401 if client.has_token() => HubError::TokenRejected { repo },
        401 => HubError::TokenRequired { repo },
        403 => HubError::AccessDenied { repo, url: page },
        404 if code == "RevisionNotFound" => HubError::RevisionNotFound {
            repo,
            revision: target.revision.to_owned(),
            url: page,
        },
        404 if code == "EntryNotFound" || file.is_some() => HubError::UnexpectedResponse {
            reason: format!(
                "the Hub lists {} but does not serve it",
                file.unwrap_or("a file")
            ),
            url: head.url.clone(),
        },
        404 => HubError::RepoNotFound { repo, url: page },
        status @ (429 | 500..=599) => HubError::Server {
            status,
            reason: head
                .error_message
                .clone()
                .unwrap_or_else(|| "no explanation given".to_owned()),
            url: head.url.clone(),
        },
        status => HubError::UnexpectedResponse {
            reason: format!(
                "status {status}{}",
                head.error_message
                    .as_deref()
                    .map(|message| format!(": {message}"))
                    .unwrap_or_default()
            ),
            url: head.url.clone(),
        },
    }
}

pub(crate) fn unexpected(reason: &str, url: &str) -> HubError {
    HubError::UnexpectedResponse {
        reason: reason.to_owned(),
        url: url.to_owned(),
    }
}
