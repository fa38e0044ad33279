//! Downloading Stable Diffusion ONNX models from the Hugging Face Hub into the standard Hugging
//! Face cache, where diffusers, `huggingface_hub` and the `hf` command line find them too.
//!
//! [`download_model`] lists the files of a revision through the Hub's API, keeps only those an
//! ONNX pipeline needs ([`model_files`]), and fetches them from `{endpoint}/{repo}/resolve/
//! {commit}/{path}`. It reports bytes, speed and time left over all files, stops within a
//! fraction of a second when its [`CancelToken`] is set, continues a partial file where it
//! stopped (after a dropped connection within the same call, and in a later call), checks every
//! file against the sha256 or git blob id the Hub lists, and fetches a corrupted file once more
//! before giving up.
//!
//! # Where things are
//!
//! Each setting of [`HubOptions`] left at `None` takes the value `huggingface_hub` would:
//!
//! - **Endpoint**: `HF_ENDPOINT`, else `https://huggingface.co`.
//! - **Token**: `HF_TOKEN`, else the file `huggingface_hub` writes at login (`HF_TOKEN_PATH`,
//!   else `HF_HOME/token`, else `~/.cache/huggingface/token`). A token given as an empty string
//!   means no token at all.
//! - **Offline**: with `HF_HUB_OFFLINE=1` nothing is fetched; a complete copy in the cache is
//!   used, as it is when the Hub cannot be reached.
//! - **Cache** ([`hub_cache_dir`]): `HF_HUB_CACHE`, else `HF_HOME/hub`, else
//!   `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`.
//!
//! Inside the cache, a repository `owner/name` lives in `models--owner--name/`: file contents
//! in `blobs/` (named by sha256 for LFS files, by git blob id for others; a download in progress
//! is `blobs/<name>.incomplete`), the files of each commit in `snapshots/<commit>/` as links to
//! the blobs (copies where the file system has no links), and in `refs/<revision>` the commit a
//! branch or tag pointed to. Files already there are not downloaded again; when the Hub cannot
//! be reached, a snapshot downloaded before is used as it is.

mod api;
mod cache;
mod client;
mod download;
mod error;
mod files;
mod progress;
mod settings;
mod suggestions;
mod verify;

use std::path::PathBuf;
use std::time::Duration;

pub use error::HubError;
pub use files::model_files;
pub use settings::DEFAULT_ENDPOINT;
pub use suggestions::{SUGGESTIONS, Suggestion};

use crate::CancelToken;
use crate::model::{Component, ModelFolder};
use api::{RemoteFile, Target};
use cache::RepoCache;
use client::Client;
use download::{Downloader, Step};
use progress::Tracker;
use settings::Settings;

/// A model on the Hub: repository, revision and the folder of the pipeline in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubSource {
    /// `owner/name`, e.g. `onnx-community/stable-diffusion-v1-5-ONNX`.
    pub repo: String,
    /// Branch, tag or commit; empty means `main`.
    pub revision: String,
    /// Folder of the pipeline inside the repository, when it is not at the top.
    pub subfolder: Option<String>,
}

impl HubSource {
    /// The `main` branch of `repo`, pipeline at the top.
    pub fn new(repo: impl Into<String>) -> Self {
        Self {
            repo: repo.into(),
            revision: "main".to_owned(),
            subfolder: None,
        }
    }
}

impl Default for HubSource {
    fn default() -> Self {
        Self::new(String::new())
    }
}

/// Where to download from and to. `None` takes the usual default (see the module docs).
#[derive(Clone, Default, PartialEq, Eq, derive_more::Debug)]
pub struct HubOptions {
    /// The Hub or a mirror, e.g. `https://huggingface.co`.
    pub endpoint: Option<String>,
    /// Access token for private and gated repositories; `Some("")` sends none (shown only as
    /// set or not).
    #[debug("{:?}", token.as_ref().map(|_| "<set>"))]
    pub token: Option<String>,
    /// The hub cache folder (the one that holds `models--owner--name`).
    pub cache_dir: Option<PathBuf>,
}

/// How far a download is, over all of its files.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DownloadProgress {
    /// The file being downloaded (its path in the repository).
    pub file: String,
    /// Files complete, including those already in the cache.
    pub files_done: usize,
    /// Files the model needs.
    pub files_total: usize,
    /// Bytes complete, including those already in the cache; never decreases.
    pub bytes_done: u64,
    /// Bytes to have in the end; grows when a corrupted file has to come again.
    pub bytes_total: u64,
    /// Recent speed.
    pub bytes_per_second: f64,
    /// Time left at that speed, when there is one.
    pub remaining: Option<Duration>,
}

/// How a download ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DownloadOutcome {
    /// Every file is in the cache; this is the model folder (the snapshot joined with the
    /// subfolder), ready for [`ModelFolder::open`].
    Finished(PathBuf),
    /// The cancel token was set; what arrived stays in the cache and the next call continues.
    Cancelled,
}

/// The hub cache folder for these options: the option, else `HF_HUB_CACHE`, else `HF_HOME/hub`,
/// else `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`.
pub fn hub_cache_dir(options: &HubOptions) -> PathBuf {
    options
        .cache_dir
        .clone()
        .unwrap_or_else(settings::default_cache_dir)
}

/// Downloads the ONNX pipeline of `source` into the Hugging Face cache and returns its folder.
///
/// `progress` is called on the calling thread: when the files are known, at the start and end
/// of each file, and every tenth of a second while bytes arrive. Setting `cancel` (from the
/// callback or another thread) stops the download within a fraction of a second with
/// [`DownloadOutcome::Cancelled`]; calling again continues where it stopped.
pub fn download_model(
    source: &HubSource,
    options: &HubOptions,
    progress: &mut dyn FnMut(&DownloadProgress),
    cancel: &CancelToken,
) -> Result<DownloadOutcome, HubError> {
    let repo = source.repo.trim();
    if !files::is_valid_repo_id(repo) {
        return Err(HubError::InvalidRepo {
            repo: source.repo.clone(),
        });
    }
    let revision = match source.revision.trim() {
        "" => "main",
        revision => revision,
    };
    if !files::is_safe_relative_path(revision) {
        return Err(HubError::InvalidRevision {
            revision: source.revision.clone(),
        });
    }
    let subfolder = match source
        .subfolder
        .as_deref()
        .map(|folder| folder.trim().trim_matches('/'))
    {
        None | Some("") => None,
        Some(folder) if files::is_safe_relative_path(folder) => Some(folder),
        Some(_) => {
            return Err(HubError::InvalidSubfolder {
                subfolder: source.subfolder.clone().unwrap_or_default(),
            });
        }
    };
    if cancel.is_cancelled() {
        return Ok(DownloadOutcome::Cancelled);
    }

    let settings = Settings::resolve(options);
    let client = Client::new(&settings.endpoint, settings.token.clone());
    let cache = RepoCache::new(&settings.cache_dir, repo, revision);
    let target = Target { repo, revision };
    let model_folder = |commit: &str| {
        let snapshot = cache.snapshot(commit);
        match subfolder {
            Some(folder) => folder
                .split('/')
                .fold(snapshot, |path, part| path.join(part)),
            None => snapshot,
        }
    };

    // Offline: a snapshot downloaded before is as good as it was then.
    let cached = || {
        cache
            .cached_commit()
            .map(|commit| model_folder(&commit))
            .filter(|folder| ModelFolder::open(folder).is_ok())
    };
    if settings.offline {
        return cached()
            .map(DownloadOutcome::Finished)
            .ok_or_else(|| HubError::Offline {
                repo: repo.to_owned(),
                revision: revision.to_owned(),
                cache: settings.cache_dir.display().to_string(),
            });
    }
    let listing = match api::list(&client, &target, cancel) {
        Ok(Some(listing)) => listing,
        Ok(None) => return Ok(DownloadOutcome::Cancelled),
        Err(err @ HubError::Unreachable { .. }) => {
            return cached().map(DownloadOutcome::Finished).ok_or(err);
        }
        Err(err) => return Err(err),
    };
    let mut files = select_files(repo, revision, subfolder, listing.files)?;

    // Listings without sizes or hashes (some mirrors) are completed from the files' headers.
    for file in &mut files {
        if (file.expected.size.is_none() || file.expected.blob_name().is_none())
            && !api::probe(&client, &target, &listing.commit, file, cancel)?
        {
            return Ok(DownloadOutcome::Cancelled);
        }
    }

    let bytes_total = files.iter().filter_map(|file| file.expected.size).sum();
    let mut downloader = Downloader {
        client: &client,
        cache: &cache,
        target,
        commit: &listing.commit,
        cancel,
        tracker: Tracker::new(progress, files.len(), bytes_total),
    };
    if downloader.run(&mut files)? == Step::Cancelled {
        return Ok(DownloadOutcome::Cancelled);
    }
    downloader.tracker.report(true);
    cache
        .write_ref(&listing.commit)
        .map_err(|source| HubError::Io {
            action: "record the downloaded revision",
            path: cache.ref_file(),
            source,
        })?;
    Ok(DownloadOutcome::Finished(model_folder(&listing.commit)))
}

/// The files to download, or why there are none worth downloading.
fn select_files(
    repo: &str,
    revision: &str,
    subfolder: Option<&str>,
    listing: Vec<RemoteFile>,
) -> Result<Vec<RemoteFile>, HubError> {
    let names: Vec<String> = listing.iter().map(|file| file.path.clone()).collect();
    let location = match subfolder {
        Some(folder) => format!("{repo} (revision {revision}, folder {folder})"),
        None => format!("{repo} (revision {revision})"),
    };
    if let Some(folder) = subfolder {
        let prefix = format!("{folder}/");
        if !names.iter().any(|name| name.starts_with(&prefix)) {
            return Err(HubError::SubfolderNotFound {
                repo: repo.to_owned(),
                revision: revision.to_owned(),
                subfolder: folder.to_owned(),
            });
        }
    }
    let needed = model_files(&names, subfolder);
    let graph = |component: Component| match subfolder {
        Some(folder) => format!("{folder}/{}/model.onnx", component.folder_name()),
        None => format!("{}/model.onnx", component.folder_name()),
    };
    let graphs: Vec<Component> = Component::ALL
        .into_iter()
        .filter(|component| needed.contains(&graph(*component)))
        .collect();
    if graphs.is_empty() {
        return Err(HubError::NotOnnx {
            repo: repo.to_owned(),
            location,
        });
    }
    let missing: Vec<String> = Component::ALL
        .into_iter()
        .filter(|component| component.is_required() && !graphs.contains(component))
        .map(|component| format!("{}/model.onnx", component.folder_name()))
        .collect();
    if !missing.is_empty() {
        return Err(HubError::IncompleteExport {
            location,
            missing: missing.join(", "),
        });
    }
    Ok(listing
        .into_iter()
        .filter(|file| needed.contains(&file.path))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_token() {
        let options = HubOptions {
            endpoint: Some("http://127.0.0.1:9".to_owned()),
            token: Some("hf_secret_value".to_owned()),
            cache_dir: None,
        };
        let shown = format!("{options:?}");
        assert!(!shown.contains("hf_secret_value"), "{shown}");
        assert!(
            shown.contains("<set>") && shown.contains("127.0.0.1:9"),
            "{shown}"
        );
        let settings = Settings::resolve(&options);
        let shown = format!("{settings:?}");
        assert!(!shown.contains("hf_secret_value"), "{shown}");
        assert!(shown.contains("<set>"), "{shown}");
    }
}
