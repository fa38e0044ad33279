//! The standard Hugging Face cache layout, shared with `huggingface_hub`, diffusers and the
//! `hf` command line:
//!
//! ```text
//! <cache>/models--owner--name/
//!     blobs/<etag>                      file contents, named by sha256 (LFS) or git blob id
//!     blobs/<etag>.incomplete           a download in progress, resumed from its length
//!     snapshots/<commit>/<path>         links to ../../blobs/<etag>
//!     refs/<revision>                   the commit a branch or tag pointed to
//! ```
//!
//! hf-hub's cache types name the folders; this adds the blobs, the partial files and the links.

use std::io;
use std::path::{Path, PathBuf};

use hf_hub::{Cache, CacheRepo, Repo, RepoType};

/// One repository's corner of the cache.
pub(crate) struct RepoCache {
    repo: CacheRepo,
    folder: PathBuf,
    revision: String,
}

impl RepoCache {
    pub fn new(cache_dir: &Path, repo_id: &str, revision: &str) -> Self {
        let repo = Repo::with_revision(repo_id.to_owned(), RepoType::Model, revision.to_owned());
        let folder = cache_dir.join(repo.folder_name());
        Self {
            repo: Cache::new(cache_dir.to_path_buf()).repo(repo),
            folder,
            revision: revision.to_owned(),
        }
    }

    /// `blobs/`.
    pub fn blobs(&self) -> PathBuf {
        self.folder.join("blobs")
    }

    /// `blobs/<etag>`.
    pub fn blob(&self, etag: &str) -> PathBuf {
        self.blobs().join(etag)
    }

    /// `blobs/<etag>.incomplete`, the name `huggingface_hub` resumes from too.
    pub fn partial(&self, etag: &str) -> PathBuf {
        self.blobs().join(format!("{etag}.incomplete"))
    }

    /// `snapshots/<commit>`.
    pub fn snapshot(&self, commit: &str) -> PathBuf {
        self.repo.pointer_path(commit)
    }

    /// `snapshots/<commit>/<path>`.
    pub fn entry(&self, commit: &str, path: &str) -> PathBuf {
        path.split('/')
            .fold(self.snapshot(commit), |entry, part| entry.join(part))
    }

    /// Whether the snapshot already holds `path` (a file, or a link to one) of `size` bytes.
    pub fn has_entry(&self, commit: &str, path: &str, size: Option<u64>) -> bool {
        std::fs::metadata(self.entry(commit, path))
            .is_ok_and(|meta| meta.is_file() && size.is_none_or(|size| meta.len() == size))
    }

    /// Whether a complete blob of `size` bytes is stored under `etag`.
    pub fn has_blob(&self, etag: &str, size: Option<u64>) -> bool {
        std::fs::metadata(self.blob(etag))
            .is_ok_and(|meta| meta.is_file() && size.is_none_or(|size| meta.len() == size))
    }

    /// Makes `snapshots/<commit>/<path>` point at `blobs/<etag>`: a relative symbolic link as
    /// `huggingface_hub` makes, else a hard link, else a copy.
    pub fn link(&self, commit: &str, path: &str, etag: &str) -> io::Result<()> {
        let entry = self.entry(commit, path);
        if let Some(parent) = entry.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if std::fs::symlink_metadata(&entry).is_ok() {
            std::fs::remove_file(&entry)?;
        }
        let blob = self.blob(etag);
        // From snapshots/<commit>/<dirs…>/ back up to the repository folder.
        let depth = path.matches('/').count() + 2;
        let target = (0..depth)
            .fold(PathBuf::new(), |target, _| target.join(".."))
            .join("blobs")
            .join(etag);
        if symlink(&target, &entry).is_ok() {
            return Ok(());
        }
        if std::fs::hard_link(&blob, &entry).is_ok() {
            return Ok(());
        }
        std::fs::copy(&blob, &entry).map(|_| ())
    }

    /// Writes `refs/<revision>` when the revision is a branch or tag.
    pub fn write_ref(&self, commit: &str) -> io::Result<()> {
        if self.revision == commit {
            return Ok(());
        }
        self.repo.create_ref(commit)
    }

    /// `refs/<revision>`.
    pub fn ref_file(&self) -> PathBuf {
        self.revision
            .split('/')
            .fold(self.folder.join("refs"), |path, part| path.join(part))
    }

    /// The commit the cache last saw for the revision.
    pub fn cached_commit(&self) -> Option<String> {
        if super::files::is_commit_hash(&self.revision) {
            return Some(self.revision.clone());
        }
        let commit = std::fs::read_to_string(self.ref_file())
            .ok()?
            .trim()
            .to_owned();
        super::files::is_commit_hash(&commit).then_some(commit)
    }
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(windows)]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    // Needs developer mode or administrator rights; otherwise the caller falls back.
    std::os::windows::fs::symlink_file(target, link)
}

#[cfg(not(any(unix, windows)))]
fn symlink(_target: &Path, _link: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}
