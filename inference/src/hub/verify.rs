//! Checking that a downloaded file is the one the Hub lists: LFS files by their sha256, other
//! files by their git blob id (a sha1 over a short header and the content), and every file by its
//! size.

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// What a repository file should be, as far as the Hub tells.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Expected {
    /// Its size in bytes.
    pub size: Option<u64>,
    /// The sha256 of its content (LFS files).
    pub sha256: Option<String>,
    /// Its git blob id (other files).
    pub git_sha1: Option<String>,
    /// An ETag that is neither, used only as the blob's name.
    pub opaque_etag: Option<String>,
}

impl Expected {
    /// The name of its blob in the cache: the ETag `huggingface_hub` would use.
    pub fn blob_name(&self) -> Option<&str> {
        self.sha256
            .as_deref()
            .or(self.git_sha1.as_deref())
            .or(self.opaque_etag.as_deref())
    }

    /// Takes an ETag from the Hub's headers: a sha256 for LFS files, a git blob id otherwise.
    pub fn from_etag(etag: &str, size: Option<u64>) -> Self {
        let etag = etag.to_ascii_lowercase();
        let mut expected = Self {
            size,
            ..Self::default()
        };
        if is_hex(&etag, 64) {
            expected.sha256 = Some(etag);
        } else if is_hex(&etag, 40) {
            expected.git_sha1 = Some(etag);
        } else if is_safe_name(&etag) {
            expected.opaque_etag = Some(etag);
        }
        expected
    }
}

/// Hashes content as it arrives.
pub(crate) enum ContentHasher {
    Sha256(Sha256),
    GitSha1(Sha1),
    /// Nothing to compare with: only the size is checked.
    None,
}

impl ContentHasher {
    pub fn new(expected: &Expected) -> Self {
        if expected.sha256.is_some() {
            Self::Sha256(Sha256::new())
        } else if let (Some(_), Some(size)) = (&expected.git_sha1, expected.size) {
            let mut hasher = Sha1::new();
            hasher.update(format!("blob {size}\0").as_bytes());
            Self::GitSha1(hasher)
        } else {
            Self::None
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha256(hasher) => hasher.update(bytes),
            Self::GitSha1(hasher) => hasher.update(bytes),
            Self::None => {}
        }
    }

    /// Compares what arrived (`length` bytes) with what was expected; on a mismatch, both as
    /// phrases for the error message.
    pub fn check(self, expected: &Expected, length: u64) -> Result<(), (String, String)> {
        if let Some(size) = expected.size
            && size != length
        {
            return Err((format!("{size} bytes"), format!("{length} bytes")));
        }
        let (kind, want, found) = match self {
            Self::Sha256(hasher) => ("sha256", &expected.sha256, hex::encode(hasher.finalize())),
            Self::GitSha1(hasher) => (
                "git sha1",
                &expected.git_sha1,
                hex::encode(hasher.finalize()),
            ),
            Self::None => return Ok(()),
        };
        match want {
            Some(want) if !want.eq_ignore_ascii_case(&found) => {
                Err((format!("{kind} {want}"), format!("{kind} {found}")))
            }
            _ => Ok(()),
        }
    }
}

pub(crate) fn is_hex(text: &str, length: usize) -> bool {
    text.len() == length && text.chars().all(|c| c.is_ascii_hexdigit())
}

/// A name that can be a file name in the blobs folder.
pub(crate) fn is_safe_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 128
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_blob_id_matches_git_hash_object() {
        // `printf 'hello\n' | git hash-object --stdin`
        let expected = Expected {
            size: Some(6),
            git_sha1: Some("ce013625030ba8dba906f756967f9e9ca394464a".to_owned()),
            ..Expected::default()
        };
        let mut hasher = ContentHasher::new(&expected);
        hasher.update(b"hello\n");
        assert_eq!(hasher.check(&expected, 6), Ok(()));
    }

    #[test]
    fn etags_are_classified() {
        let sha256 = "a".repeat(64);
        assert_eq!(
            Expected::from_etag(&sha256, None).sha256.as_deref(),
            Some(sha256.as_str())
        );
        assert!(
            Expected::from_etag(&"b".repeat(40), None)
                .git_sha1
                .is_some()
        );
        assert_eq!(Expected::from_etag("../x", None).blob_name(), None);
    }
}
