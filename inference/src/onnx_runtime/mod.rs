//! Finding, verifying and starting ONNX Runtime.
//!
//! `ort` loads ONNX Runtime dynamically, so a missing or broken library is an error the app can
//! show, not a crash. The library is looked for, in order:
//! 1. the file named by `ORT_DYLIB_PATH`, which overrides everything;
//! 2. next to the executable (how a packaged Pentimento ships it);
//! 3. the cache (`~/.cache/pentimento/onnxruntime/…` on Linux), filled by the first build and
//!    verified against pinned hashes on every start; a missing or damaged copy is downloaded
//!    again from PyPI when downloads are allowed.

pub mod wheel;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use wheel::{FetchError, ONNX_RUNTIME_VERSION};

/// Environment variable that names the ONNX Runtime library to load, overriding everything else.
pub const DYLIB_PATH_ENV: &str = "ORT_DYLIB_PATH";

/// The oldest ONNX Runtime minor version `ort` can drive (its `api-31` feature).
pub const MINIMUM_MINOR_VERSION: u32 = 31;

/// Why ONNX Runtime is not available. Every message says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The library could not be obtained (offline, damaged cache, unsupported platform).
    #[error(transparent)]
    Fetch(#[from] FetchError),

    /// `ORT_DYLIB_PATH` names a file that does not exist.
    #[error("{DYLIB_PATH_ENV} names a file that does not exist; correct or unset it: {}", path.display())]
    OverrideMissing {
        /// The path from the environment variable.
        path: PathBuf,
    },

    /// The library exists but the system could not load it.
    #[error(
        "could not load the ONNX Runtime library ({reason}); it is damaged or built for another \
         system — replace it, or unset {DYLIB_PATH_ENV} to use the copy Pentimento downloads: {}",
        path.display()
    )]
    Load {
        /// The loader's explanation.
        reason: String,
        /// The library that failed to load.
        path: PathBuf,
    },

    /// The library is older than the API Pentimento needs.
    #[error(
        "the ONNX Runtime library is version {found}, but Pentimento needs 1.{MINIMUM_MINOR_VERSION} \
         or newer; install a newer one, or unset {DYLIB_PATH_ENV} to use the copy Pentimento \
         downloads: {}",
        path.display()
    )]
    TooOld {
        /// The version the library reports.
        found: String,
        /// The library.
        path: PathBuf,
    },

    /// The library loaded but refused to create an environment.
    #[error("ONNX Runtime loaded but could not start ({reason}); restart Pentimento, and if it persists reinstall ONNX Runtime: {}", path.display())]
    Start {
        /// ONNX Runtime's explanation.
        reason: String,
        /// The library.
        path: PathBuf,
    },
}

/// How the library was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LibrarySource {
    /// From the `ORT_DYLIB_PATH` environment variable.
    EnvironmentVariable,
    /// Shipped next to the executable.
    NextToExecutable,
    /// From Pentimento's verified cache.
    Cache,
}

impl std::fmt::Display for LibrarySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::EnvironmentVariable => DYLIB_PATH_ENV,
            Self::NextToExecutable => "next to the executable",
            Self::Cache => "verified cache",
        })
    }
}

/// A located ONNX Runtime library, not yet loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeLibrary {
    /// The library file.
    pub path: PathBuf,
    /// How it was found.
    pub source: LibrarySource,
}

/// Where to look for the library and whether it may be downloaded.
#[derive(Clone, Debug)]
pub struct LocateOptions {
    /// The cache root; `None` means [`wheel::default_cache_root`].
    pub cache_root: Option<PathBuf>,
    /// Download the pinned wheel when the cache lacks it or holds a damaged copy.
    pub allow_download: bool,
    /// Honour `ORT_DYLIB_PATH` and a library next to the executable. Tests of the cache turn
    /// this off.
    pub use_overrides: bool,
}

impl Default for LocateOptions {
    fn default() -> Self {
        Self {
            cache_root: None,
            allow_download: true,
            use_overrides: true,
        }
    }
}

/// Finds the ONNX Runtime library, downloading it into the cache when needed and allowed.
pub fn locate_library(options: &LocateOptions) -> Result<RuntimeLibrary, RuntimeError> {
    let wheel = wheel::wheel_for_platform(std::env::consts::OS, std::env::consts::ARCH);
    if options.use_overrides {
        if let Some(path) = std::env::var_os(DYLIB_PATH_ENV).filter(|path| !path.is_empty()) {
            let path = PathBuf::from(path);
            if !path.is_file() {
                return Err(RuntimeError::OverrideMissing { path });
            }
            return Ok(RuntimeLibrary {
                path,
                source: LibrarySource::EnvironmentVariable,
            });
        }
        if let Some(path) = shipped_library(wheel.as_ref().ok().copied()) {
            return Ok(RuntimeLibrary {
                path,
                source: LibrarySource::NextToExecutable,
            });
        }
    }
    let wheel = wheel?;
    let cache_root = match &options.cache_root {
        Some(root) => root.clone(),
        None => wheel::default_cache_root()?,
    };
    let dir = wheel::install_dir(&cache_root, wheel);
    let path = wheel::ensure_installed(&dir, wheel, options.allow_download)?;
    Ok(RuntimeLibrary {
        path,
        source: LibrarySource::Cache,
    })
}

/// A library shipped beside the executable, under the pinned file name or the generic one.
fn shipped_library(wheel: Option<&wheel::PinnedWheel>) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let generic = if cfg!(windows) {
        "onnxruntime.dll"
    } else if cfg!(target_os = "macos") {
        "libonnxruntime.dylib"
    } else {
        "libonnxruntime.so"
    };
    wheel
        .map(|wheel| wheel.library.file_name)
        .into_iter()
        .chain([generic])
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
}

/// A started ONNX Runtime: the loaded library and its environment. One per process, because
/// ONNX Runtime allows only one; get it with [`OnnxRuntime::initialize`].
pub struct OnnxRuntime {
    environment: ort::environment::Environment,
    library: RuntimeLibrary,
    version: String,
}

impl std::fmt::Debug for OnnxRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxRuntime")
            .field("library", &self.library)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

static STARTED: Mutex<Option<Arc<OnnxRuntime>>> = Mutex::new(None);

impl OnnxRuntime {
    /// Locates, loads and starts ONNX Runtime, or returns the one already started in this
    /// process. A failure is not remembered: calling again after fixing the cause (or once the
    /// network is back) tries again.
    pub fn initialize(options: &LocateOptions) -> Result<Arc<Self>, RuntimeError> {
        let mut started = STARTED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(runtime) = started.as_ref() {
            return Ok(Arc::clone(runtime));
        }
        let library = locate_library(options)?;
        let runtime = Arc::new(Self::start(library)?);
        *started = Some(Arc::clone(&runtime));
        Ok(runtime)
    }

    /// The runtime started in this process, if any.
    pub fn current() -> Option<Arc<Self>> {
        STARTED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn start(library: RuntimeLibrary) -> Result<Self, RuntimeError> {
        let builder =
            ort::init_from(&library.path).map_err(|err| load_error(err, &library.path))?;
        let environment = builder
            .with_name("pentimento")
            .with_telemetry(false)
            .build()
            .map_err(|err| RuntimeError::Start {
                reason: err.to_string(),
                path: library.path.clone(),
            })?;
        let version =
            version_from_build_info(ort::info()).unwrap_or_else(|| "unknown version".to_owned());
        Ok(Self {
            environment,
            library,
            version,
        })
    }

    /// The environment sessions are created in.
    pub fn environment(&self) -> &ort::environment::Environment {
        &self.environment
    }

    /// The library in use and how it was found.
    pub fn library(&self) -> &RuntimeLibrary {
        &self.library
    }

    /// The ONNX Runtime version, e.g. `1.32.0`.
    pub fn version(&self) -> &str {
        &self.version
    }
}

fn load_error(err: ort::LoadDynamicError, path: &Path) -> RuntimeError {
    match err {
        ort::LoadDynamicError::BadVersion { version_str, path } => RuntimeError::TooOld {
            found: version_str,
            path,
        },
        ort::LoadDynamicError::Dlopen { error, path } => RuntimeError::Load {
            reason: error.to_string(),
            path,
        },
        other => RuntimeError::Load {
            reason: other.to_string(),
            path: path.to_path_buf(),
        },
    }
}

/// Reads `1.32.0` out of ONNX Runtime's build string (`… git-branch=rel-1.32.0, …`).
fn version_from_build_info(info: &str) -> Option<String> {
    let start = info.find("rel-")? + "rel-".len();
    let version: String = info[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    (!version.is_empty()).then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_version_from_build_info() {
        let info = "ORT Build Info: git-branch=rel-1.32.0, git-commit-id=abc, build type=Release";
        assert_eq!(version_from_build_info(info).as_deref(), Some("1.32.0"));
        assert_eq!(version_from_build_info("no version here"), None);
    }
}
