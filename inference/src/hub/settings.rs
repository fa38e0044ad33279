//! Where the Hub is, which token to send and where the cache lives: the options given, else the
//! environment variables and files `huggingface_hub` uses.

use std::path::PathBuf;

use super::HubOptions;

/// The Hub itself, when neither the options nor `HF_ENDPOINT` name another endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// The options with every default filled in.
#[derive(Clone, derive_more::Debug)]
pub(crate) struct Settings {
    /// Endpoint without a trailing slash, e.g. `https://huggingface.co`.
    pub endpoint: String,
    /// Token to send as `Authorization: Bearer …` (shown only as set or not).
    #[debug("{:?}", token.as_ref().map(|_| "<set>"))]
    pub token: Option<String>,
    /// The hub cache (the folder holding `models--owner--name`).
    pub cache_dir: PathBuf,
    /// `HF_HUB_OFFLINE` is set: only what the cache holds may be used.
    pub offline: bool,
}

impl Settings {
    pub(crate) fn resolve(options: &HubOptions) -> Self {
        let endpoint = options
            .endpoint
            .clone()
            .or_else(|| env_value("HF_ENDPOINT"))
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
        let token = match &options.token {
            Some(token) => Some(token.trim().to_owned()).filter(|token| !token.is_empty()),
            None => default_token(),
        };
        Self {
            endpoint: endpoint.trim().trim_end_matches('/').to_owned(),
            token,
            cache_dir: super::hub_cache_dir(options),
            offline: env_flag("HF_HUB_OFFLINE"),
        }
    }
}

/// `HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`.
pub(crate) fn default_cache_dir() -> PathBuf {
    env_path("HF_HUB_CACHE")
        .or_else(|| env_path("HUGGINGFACE_HUB_CACHE"))
        .unwrap_or_else(|| hf_home().join("hub"))
}

/// `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`.
fn hf_home() -> PathBuf {
    env_path("HF_HOME").unwrap_or_else(|| {
        env_path("XDG_CACHE_HOME")
            .unwrap_or_else(|| home_dir().join(".cache"))
            .join("huggingface")
    })
}

/// `HF_TOKEN`, else the file `huggingface_hub` saves at login (`HF_TOKEN_PATH`, else
/// `HF_HOME/token`).
fn default_token() -> Option<String> {
    if let Some(token) = env_value("HF_TOKEN").or_else(|| env_value("HUGGING_FACE_HUB_TOKEN")) {
        return Some(token);
    }
    if let Some(path) = env_path("HF_TOKEN_PATH") {
        let text = std::fs::read_to_string(path).ok()?;
        return Some(text.trim().to_owned()).filter(|token| !token.is_empty());
    }
    // hf-hub's cache knows the token file sits beside the `hub` folder.
    hf_hub::Cache::new(hf_home().join("hub")).token()
}

fn home_dir() -> PathBuf {
    directories::BaseDirs::new()
        .map(|dirs| dirs.home_dir().to_path_buf())
        .unwrap_or_default()
}

/// A yes/no environment variable as `huggingface_hub` reads it: `1`, `true`, `yes` or `on`.
fn env_flag(name: &str) -> bool {
    env_value(name).is_some_and(|value| {
        matches!(
            value.to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

/// A non-empty environment variable, trimmed.
fn env_value(name: &str) -> Option<String> {
    let value = std::env::var(name).ok()?;
    Some(value.trim().to_owned()).filter(|value| !value.is_empty())
}

/// A path from the environment, with a leading `~` expanded as the Python tools do.
fn env_path(name: &str) -> Option<PathBuf> {
    let value = env_value(name)?;
    Some(
        match value.strip_prefix("~/").or(value.strip_prefix("~\\")) {
            Some(rest) => home_dir().join(rest),
            None if value == "~" => home_dir(),
            None => PathBuf::from(value),
        },
    )
}
