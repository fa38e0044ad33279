//! Fetching files into the cache: resumable (a partial file continues with a `Range` request,
//! within a call after a dropped connection and across calls), cancellable between chunks, and
//! verified before it becomes a blob.

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use super::HubError;
use super::api::{RemoteFile, Target, file_url, status_error, unexpected};
use super::cache::RepoCache;
use super::client::{Client, Event, Method, Request};
use super::progress::Tracker;
use super::verify::{ContentHasher, is_hex};
use crate::CancelToken;

/// Failed tries in a row, without a byte of progress, before giving up on a file.
const MAX_FAILURES_IN_A_ROW: u32 = 4;
/// Failed tries of one file in all.
const MAX_FAILURES: u32 = 20;
/// Wait before the first retry; it doubles with each failure in a row.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How a step ended when it did not fail.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Done,
    Cancelled,
}

/// A download of one revision's files into the cache.
pub(crate) struct Downloader<'a> {
    pub client: &'a Client,
    pub cache: &'a RepoCache,
    pub target: Target<'a>,
    pub commit: &'a str,
    pub cancel: &'a CancelToken,
    pub tracker: Tracker<'a>,
}

/// A partial file being written.
struct Partial {
    file: File,
    path: PathBuf,
    /// Bytes in the file.
    length: u64,
    /// Bytes of it counted in the progress.
    counted: u64,
    /// Hash of the bytes in the file; `None` until it is computed from the file.
    hasher: Option<ContentHasher>,
}

/// Why one try of a transfer ended.
enum TryEnd {
    /// The file is complete (or at least as long as expected).
    Complete,
    Cancelled,
    /// The connection failed; worth another try.
    Failed(String),
}

impl Downloader<'_> {
    /// Counts what the cache already holds and fetches the rest.
    pub fn run(&mut self, files: &mut [RemoteFile]) -> Result<Step, HubError> {
        let mut pending = Vec::new();
        for (index, file) in files.iter().enumerate() {
            let size = file.expected.size;
            if self.cache.has_entry(self.commit, &file.path, size) {
                self.tracker.already_have(size.unwrap_or(0), true);
                continue;
            }
            let Some(etag) = file.expected.blob_name() else {
                return Err(unexpected(
                    &format!("the Hub gives no ETag for {}", file.path),
                    &file_url(self.client, self.target.repo, self.commit, &file.path),
                ));
            };
            if self.cache.has_blob(etag, size) {
                self.link(file, etag)?;
                self.tracker.already_have(size.unwrap_or(0), true);
                continue;
            }
            // A partial file from an earlier call counts as done as far as it goes.
            let partial = std::fs::metadata(self.cache.partial(etag)).map_or(0, |meta| meta.len());
            if size.is_none_or(|size| partial <= size) {
                self.tracker.already_have(partial, false);
            }
            pending.push(index);
        }
        self.tracker.report(true);
        for index in pending {
            if self.cancel.is_cancelled() {
                return Ok(Step::Cancelled);
            }
            if self.fetch(&mut files[index])? == Step::Cancelled {
                return Ok(Step::Cancelled);
            }
            self.tracker.finish_file();
        }
        Ok(Step::Done)
    }

    fn link(&self, file: &RemoteFile, etag: &str) -> Result<(), HubError> {
        self.cache
            .link(self.commit, &file.path, etag)
            .map_err(|source| {
                HubError::io(
                    "link the file into the snapshot",
                    &file.path,
                    &self.cache.entry(self.commit, &file.path),
                    source,
                )
            })
    }

    /// Fetches one file into its blob and links it; a corrupted file is fetched once more.
    fn fetch(&mut self, file: &mut RemoteFile) -> Result<Step, HubError> {
        self.tracker.start_file(&file.path);
        let etag = file.expected.blob_name().unwrap_or_default().to_owned();
        let url = file_url(self.client, self.target.repo, self.commit, &file.path);
        let blobs = self.cache.blobs();
        std::fs::create_dir_all(&blobs).map_err(|source| {
            HubError::io("create the cache folder", &file.path, &blobs, source)
        })?;
        let mut partial = self.open_partial(file, &etag)?;
        let mut fetched_again = false;
        loop {
            if self.transfer(file, &url, &mut partial)? == Step::Cancelled {
                return Ok(Step::Cancelled);
            }
            let hasher = partial
                .hasher
                .take()
                .unwrap_or_else(|| ContentHasher::new(&file.expected));
            match hasher.check(&file.expected, partial.length) {
                Ok(()) => break,
                Err((expected, found)) => {
                    self.restart(file, &mut partial)?;
                    if fetched_again {
                        let _ = std::fs::remove_file(&partial.path);
                        return Err(HubError::Corrupted {
                            file: file.path.clone(),
                            expected,
                            found,
                            url,
                        });
                    }
                    fetched_again = true;
                }
            }
        }
        let Partial {
            file: handle, path, ..
        } = partial;
        // Unlocked and closed before the rename, which some systems need.
        drop(handle);
        let blob = self.cache.blob(&etag);
        if let Err(source) = std::fs::rename(&path, &blob) {
            if !self.cache.has_blob(&etag, file.expected.size) {
                return Err(HubError::io(
                    "store the download",
                    &file.path,
                    &blob,
                    source,
                ));
            }
            let _ = std::fs::remove_file(&path);
        }
        self.link(file, &etag)?;
        Ok(Step::Done)
    }

    /// Opens (or creates) `blobs/<etag>.incomplete` for appending, locked against other
    /// downloads.
    fn open_partial(&mut self, file: &RemoteFile, etag: &str) -> Result<Partial, HubError> {
        let path = self.cache.partial(etag);
        let handle = File::options()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|source| HubError::io("write the download", &file.path, &path, source))?;
        match handle.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(HubError::Busy {
                    file: file.path.clone(),
                    path,
                });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(HubError::io("lock the download", &file.path, &path, source));
            }
        }
        let length = handle
            .metadata()
            .map_err(|source| HubError::io("read the download", &file.path, &path, source))?
            .len();
        // `run` counted the partial bytes unless there were more than the file has.
        let counted = if file.expected.size.is_none_or(|size| length <= size) {
            length
        } else {
            0
        };
        Ok(Partial {
            file: handle,
            path,
            length,
            counted,
            hasher: None,
        })
    }

    /// Empties the partial file; its counted bytes have to come again.
    fn restart(&mut self, file: &RemoteFile, partial: &mut Partial) -> Result<(), HubError> {
        partial.file.set_len(0).map_err(|source| {
            HubError::io("restart the download", &file.path, &partial.path, source)
        })?;
        self.tracker.discard(partial.counted);
        partial.length = 0;
        partial.counted = 0;
        partial.hasher = Some(ContentHasher::new(&file.expected));
        Ok(())
    }

    /// Brings the partial file to its full length, retrying dropped connections.
    fn transfer(
        &mut self,
        file: &mut RemoteFile,
        url: &str,
        partial: &mut Partial,
    ) -> Result<Step, HubError> {
        let mut failures_in_a_row = 0;
        let mut failures = 0;
        loop {
            let before = partial.length;
            let reason = match self.try_transfer(file, url, partial)? {
                TryEnd::Complete => return Ok(Step::Done),
                TryEnd::Cancelled => return Ok(Step::Cancelled),
                TryEnd::Failed(reason) => reason,
            };
            failures += 1;
            failures_in_a_row = if partial.length > before {
                1
            } else {
                failures_in_a_row + 1
            };
            if failures_in_a_row >= MAX_FAILURES_IN_A_ROW || failures >= MAX_FAILURES {
                return Err(HubError::ConnectionLost {
                    file: file.path.clone(),
                    attempts: failures,
                    reason,
                    url: url.to_owned(),
                });
            }
            let backoff = FIRST_BACKOFF
                .saturating_mul(1 << (failures_in_a_row - 1).min(8))
                .min(MAX_BACKOFF);
            if !self.sleep(backoff) {
                return Ok(Step::Cancelled);
            }
        }
    }

    /// One request: from the partial file's end to the file's end.
    fn try_transfer(
        &mut self,
        file: &mut RemoteFile,
        url: &str,
        partial: &mut Partial,
    ) -> Result<TryEnd, HubError> {
        if let Some(size) = file.expected.size {
            if partial.length > size {
                self.restart(file, partial)?;
            }
            if partial.length == size {
                return self.rehash(file, partial);
            }
        }
        if matches!(self.rehash(file, partial)?, TryEnd::Cancelled) {
            return Ok(TryEnd::Cancelled);
        }
        let transfer = self.client.start(Request {
            method: Method::Get,
            url: url.to_owned(),
            range_from: (partial.length > 0).then_some(partial.length),
            identity_encoding: true,
        });
        let Some(first) = transfer.next(self.cancel) else {
            return Ok(TryEnd::Cancelled);
        };
        let head = match first {
            Event::Head(head) => head,
            Event::Failed(reason) => return Ok(TryEnd::Failed(reason)),
            Event::Data(_) | Event::End => {
                return Err(unexpected("an answer without headers", url));
            }
        };
        match head.status {
            206 => {
                let first_byte = head.content_range.and_then(|range| range.first);
                if first_byte != Some(partial.length) {
                    return Err(unexpected(
                        &format!(
                            "asked for the bytes from {} on, got a range starting at {}",
                            partial.length,
                            first_byte.map_or_else(|| "?".to_owned(), |first| first.to_string())
                        ),
                        url,
                    ));
                }
            }
            // The whole file came, whatever was asked: start over.
            200 => {
                if partial.length > 0 {
                    self.restart(file, partial)?;
                }
            }
            // The partial file is longer than the remote one.
            416 => {
                self.restart(file, partial)?;
                return Ok(TryEnd::Failed(
                    "the partial download was too long".to_owned(),
                ));
            }
            408 | 429 | 500..=599 => {
                return Ok(TryEnd::Failed(format!(
                    "the server answered {}",
                    head.status
                )));
            }
            _ => {
                return Err(status_error(
                    self.client,
                    &self.target,
                    &head,
                    Some(&file.path),
                ));
            }
        }
        self.check_headers(file, url, &head)?;
        loop {
            let Some(event) = transfer.next(self.cancel) else {
                return Ok(TryEnd::Cancelled);
            };
            match event {
                Event::Data(bytes) => {
                    self.append(file, partial, &bytes)?;
                    // Longer than the Hub says: stop; the check will throw it away.
                    if file.expected.size.is_some_and(|size| partial.length > size) {
                        return Ok(TryEnd::Complete);
                    }
                    if self.cancel.is_cancelled() {
                        return Ok(TryEnd::Cancelled);
                    }
                }
                Event::End => {
                    return Ok(match file.expected.size {
                        Some(size) if partial.length < size => {
                            TryEnd::Failed("the connection closed early".to_owned())
                        }
                        _ => TryEnd::Complete,
                    });
                }
                Event::Failed(reason) => return Ok(TryEnd::Failed(reason)),
                Event::Head(_) => return Err(unexpected("a second set of headers", url)),
            }
        }
    }

    /// The Hub's headers must agree with the listing: same commit, same content, same size.
    fn check_headers(
        &mut self,
        file: &mut RemoteFile,
        url: &str,
        head: &super::client::Head,
    ) -> Result<(), HubError> {
        if let Some(commit) = head.repo_commit.as_deref()
            && is_hex(commit, 40)
            && !commit.eq_ignore_ascii_case(self.commit)
        {
            return Err(unexpected(
                &format!("asked for commit {}, got {commit}", self.commit),
                url,
            ));
        }
        if let (Some(linked), Some(sha256)) = (head.linked_etag.as_deref(), &file.expected.sha256)
            && is_hex(linked, 64)
            && !linked.eq_ignore_ascii_case(sha256)
        {
            return Err(unexpected(
                &format!(
                    "{} has sha256 {linked}, the listing says {sha256}",
                    file.path
                ),
                url,
            ));
        }
        match (head.file_size(), file.expected.size) {
            (Some(told), Some(size)) if told != size => Err(unexpected(
                &format!("{} has {told} bytes, the listing says {size}", file.path),
                url,
            )),
            (Some(told), None) => {
                file.expected.size = Some(told);
                self.tracker.add_to_total(told);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn append(
        &mut self,
        file: &RemoteFile,
        partial: &mut Partial,
        bytes: &[u8],
    ) -> Result<(), HubError> {
        partial.file.write_all(bytes).map_err(|source| {
            HubError::io("write the download", &file.path, &partial.path, source)
        })?;
        if let Some(hasher) = &mut partial.hasher {
            hasher.update(bytes);
        }
        let length = bytes.len() as u64;
        partial.length += length;
        // Bytes beyond the expected size are never counted: they will be thrown away.
        let countable = file.expected.size.map_or(length, |size| {
            length.min(size.saturating_sub(partial.counted))
        });
        partial.counted += countable;
        self.tracker.advance(countable);
        Ok(())
    }

    /// Hashes what the partial file already holds, once, so that new bytes can be added to it.
    fn rehash(&mut self, file: &RemoteFile, partial: &mut Partial) -> Result<TryEnd, HubError> {
        if partial.hasher.is_some() {
            return Ok(TryEnd::Complete);
        }
        let mut hasher = ContentHasher::new(&file.expected);
        if partial.length > 0 && !matches!(hasher, ContentHasher::None) {
            let read_error = |source| {
                HubError::io(
                    "read the partial download",
                    &file.path,
                    &partial.path,
                    source,
                )
            };
            let mut reader = File::open(&partial.path)
                .map_err(read_error)?
                .take(partial.length);
            let mut buffer = vec![0_u8; 1 << 20];
            loop {
                if self.cancel.is_cancelled() {
                    return Ok(TryEnd::Cancelled);
                }
                let read = reader.read(&mut buffer).map_err(read_error)?;
                if read == 0 {
                    break;
                }
                hasher.update(&buffer[..read]);
            }
        }
        partial.hasher = Some(hasher);
        Ok(TryEnd::Complete)
    }

    /// Waits, unless cancelled first; `false` when cancelled.
    fn sleep(&self, duration: Duration) -> bool {
        let step = Duration::from_millis(25);
        let mut left = duration;
        while !left.is_zero() {
            if self.cancel.is_cancelled() {
                return false;
            }
            let now = left.min(step);
            std::thread::sleep(now);
            left -= now;
        }
        !self.cancel.is_cancelled()
    }
}
