//! What can go wrong while downloading a model from the Hugging Face Hub. Every message is a
//! sentence that says what to do; paths and URLs come last.

use std::path::PathBuf;

/// Why a model could not be downloaded from the Hub.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// The repository id is not of the form `owner/name`.
    #[error(
        "'{repo}' is not a Hugging Face repository id; write it as owner/name, for example \
         onnx-community/stable-diffusion-v1-5-ONNX"
    )]
    InvalidRepo {
        /// The id given.
        repo: String,
    },

    /// The revision is empty or cannot be a branch, tag or commit name.
    #[error(
        "'{revision}' cannot be a branch, tag or commit; leave it empty for main, or write one like onnx"
    )]
    InvalidRevision {
        /// The revision given.
        revision: String,
    },

    /// The subfolder is not a plain relative folder.
    #[error(
        "the subfolder '{subfolder}' is not a folder inside the repository; write it like \
         onnx or models/fp16, or leave it empty"
    )]
    InvalidSubfolder {
        /// The subfolder given.
        subfolder: String,
    },

    /// `HF_HUB_OFFLINE` is set and the cache has no complete copy.
    #[error(
        "HF_HUB_OFFLINE is set and the Hugging Face cache has no complete copy of {repo} \
         (revision {revision}); unset HF_HUB_OFFLINE to download it: {cache}"
    )]
    Offline {
        /// The repository.
        repo: String,
        /// The revision asked for.
        revision: String,
        /// The cache looked in.
        cache: String,
    },

    /// The Hub (or the mirror in `HF_ENDPOINT`) could not be reached.
    #[error(
        "could not reach the Hugging Face Hub ({reason}); check the internet connection and \
         any proxy, and if you use a mirror, check the HF_ENDPOINT environment variable: {endpoint}"
    )]
    Unreachable {
        /// What failed.
        reason: String,
        /// The endpoint that was tried.
        endpoint: String,
    },

    /// The Hub wants a token and none was given.
    #[error(
        "the Hub refused access to {repo} without a token: the repository is private or gated, \
         or does not exist. Check the name; if it is private or gated, create a read token at \
         https://huggingface.co/settings/tokens and set it in the HF_TOKEN environment variable \
         (or log in once with `hf auth login`, which saves it)"
    )]
    TokenRequired {
        /// The repository.
        repo: String,
    },

    /// The Hub rejected the token that was given.
    #[error(
        "the Hub rejected the access token for {repo}; it may be mistyped, expired or revoked. \
         Create a new read token at https://huggingface.co/settings/tokens and set it in the \
         HF_TOKEN environment variable (or log in again with `hf auth login`)"
    )]
    TokenRejected {
        /// The repository.
        repo: String,
    },

    /// The token may not read this repository (gated or restricted).
    #[error(
        "the Hub denied access to {repo}: it is gated or restricted. Open its page while logged \
         in with the token's account, accept the conditions, and use a token that may read \
         gated repositories: {url}"
    )]
    AccessDenied {
        /// The repository.
        repo: String,
        /// Its page.
        url: String,
    },

    /// No such repository.
    #[error("the Hub has no model repository named {repo}; check the owner and the name: {url}")]
    RepoNotFound {
        /// The repository.
        repo: String,
        /// Where it was looked for.
        url: String,
    },

    /// No such branch, tag or commit in the repository.
    #[error(
        "{repo} has no branch, tag or commit named '{revision}'; check the revision (for \
         example main or onnx) on the repository's page: {url}"
    )]
    RevisionNotFound {
        /// The repository.
        repo: String,
        /// The revision.
        revision: String,
        /// The repository's page.
        url: String,
    },

    /// The subfolder does not exist at that revision.
    #[error(
        "{repo} at '{revision}' has no folder '{subfolder}'; check the subfolder's name, or \
         leave it empty if the model is at the top of the repository"
    )]
    SubfolderNotFound {
        /// The repository.
        repo: String,
        /// The revision.
        revision: String,
        /// The subfolder.
        subfolder: String,
    },

    /// The repository holds no ONNX pipeline.
    #[error(
        "{location} has no ONNX model (no unet/model.onnx or any other */model.onnx); it looks \
         like a PyTorch/safetensors repository, which needs an ONNX export first. Choose an \
         ONNX export instead (some repositories keep one on an `onnx` branch), or convert this \
         one with `optimum-cli export onnx --model {repo} <folder>` and open that folder"
    )]
    NotOnnx {
        /// The repository.
        repo: String,
        /// Repository, revision and subfolder, as one phrase.
        location: String,
    },

    /// The ONNX export lacks components every generation needs.
    #[error(
        "{location} is an incomplete ONNX export: it has no {missing}; choose a complete \
         Stable Diffusion ONNX export (with text_encoder/, unet/ and vae_decoder/)"
    )]
    IncompleteExport {
        /// Repository, revision and subfolder, as one phrase.
        location: String,
        /// The missing files, comma-separated.
        missing: String,
    },

    /// The Hub answered with an error of its own (5xx, 429).
    #[error(
        "the Hub answered {status} ({reason}); it may be busy or down, so try again in a few minutes: {url}"
    )]
    Server {
        /// The HTTP status.
        status: u16,
        /// The Hub's explanation, when it gave one.
        reason: String,
        /// The request.
        url: String,
    },

    /// The answer was not what the Hub sends.
    #[error(
        "the server's answer was not what the Hugging Face Hub sends ({reason}); check that \
         HF_ENDPOINT, if set, points to the Hub or a working mirror, and try again: {url}"
    )]
    UnexpectedResponse {
        /// What was unexpected.
        reason: String,
        /// The request.
        url: String,
    },

    /// Fetching a file kept failing: the connection dropped, timed out, or the server erred.
    #[error(
        "downloading {file} failed {attempts} times ({reason}); check the network and run the \
         download again, it continues where it stopped: {url}"
    )]
    ConnectionLost {
        /// The file in the repository.
        file: String,
        /// How many tries failed.
        attempts: u32,
        /// The last failure.
        reason: String,
        /// The file's address.
        url: String,
    },

    /// A file arrived corrupted, and again when it was fetched a second time.
    #[error(
        "{file} arrived corrupted twice (expected {expected}, got {found}) and was deleted; \
         try again later or from another network: {url}"
    )]
    Corrupted {
        /// The file in the repository.
        file: String,
        /// What the Hub says the file is (a hash or a size).
        expected: String,
        /// What arrived.
        found: String,
        /// The file's address.
        url: String,
    },

    /// Another download is writing the same file right now.
    #[error(
        "another download is writing {file} into the same cache right now; wait for it to \
         finish or stop it, then try again: {}",
        path.display()
    )]
    Busy {
        /// The file in the repository.
        file: String,
        /// The partial file that is locked.
        path: PathBuf,
    },

    /// The disk is full.
    #[error(
        "the disk is full while writing {file}; free some space or choose another cache \
         folder (HF_HUB_CACHE or HF_HOME), then run the download again to continue: {}",
        path.display()
    )]
    DiskFull {
        /// The file in the repository.
        file: String,
        /// The file being written.
        path: PathBuf,
    },

    /// Reading or writing the cache failed.
    #[error(
        "could not {action} ({source}); check that the cache folder is writable and has free \
         space, or choose another one (HF_HUB_CACHE or HF_HOME): {}",
        path.display()
    )]
    Io {
        /// What was being done, e.g. "write the download".
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl HubError {
    /// An I/O failure on `path`; a full disk gets its own message.
    pub(crate) fn io(
        action: &'static str,
        file: &str,
        path: &std::path::Path,
        source: std::io::Error,
    ) -> Self {
        if source.kind() == std::io::ErrorKind::StorageFull {
            Self::DiskFull {
                file: file.to_owned(),
                path: path.to_path_buf(),
            }
        } else {
            Self::Io {
                action,
                path: path.to_path_buf(),
                source,
            }
        }
    }
}
