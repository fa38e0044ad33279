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

pub use wheel::{DownloadProgress, FetchError, ONNX_RUNTIME_VERSION};

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

    /// `ORT_DYLIB_PATH` or the library chosen in the settings names a file that does not exist.
    #[error("{}: {}", missing_override(*named_by), path.display())]
    OverrideMissing {
        /// The path that was named.
        path: PathBuf,
        /// Who named it: the environment variable or the settings.
        named_by: LibrarySource,
    },

    /// The library exists but the system could not load it.
    #[error("could not load the ONNX Runtime library ({reason}); {fix}: {}", path.display())]
    Load {
        /// The loader's explanation.
        reason: String,
        /// What to do about it, which depends on where the library came from.
        fix: &'static str,
        /// The library that failed to load.
        path: PathBuf,
    },

    /// The library is older than the API Pentimento needs.
    #[error(
        "the ONNX Runtime library is version {found}, but Pentimento needs \
         1.{MINIMUM_MINOR_VERSION} or newer; {fix}: {}",
        path.display()
    )]
    TooOld {
        /// The version the library reports.
        found: String,
        /// What to do about it.
        fix: &'static str,
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
    /// Chosen in the settings.
    Chosen,
}

impl LibrarySource {
    /// What to do when the library from this source does not work.
    fn fix(self) -> &'static str {
        match self {
            Self::EnvironmentVariable => {
                "replace it with a working copy, or unset ORT_DYLIB_PATH to use the copy \
                 Pentimento downloads"
            }
            Self::NextToExecutable => {
                "replace it with a working copy, or remove it to use the copy Pentimento downloads"
            }
            Self::Cache => {
                "this system may be too old for the official ONNX Runtime build; set \
                 ORT_DYLIB_PATH to an ONNX Runtime library built for it"
            }
            Self::Chosen => {
                "choose another ONNX Runtime library in Settings (or set ORT_DYLIB_PATH), or \
                 clear the choice to use the copy Pentimento downloads"
            }
        }
    }
}

impl std::fmt::Display for LibrarySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::EnvironmentVariable => DYLIB_PATH_ENV,
            Self::NextToExecutable => "next to the executable",
            Self::Cache => "verified cache",
            Self::Chosen => "chosen in the settings",
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
    /// A library chosen explicitly (Pentimento's settings); used before everything else.
    pub library: Option<PathBuf>,
    /// Where a download of the library reports how far it has come.
    pub progress: Option<Arc<DownloadProgress>>,
}

impl Default for LocateOptions {
    fn default() -> Self {
        Self {
            cache_root: None,
            allow_download: true,
            use_overrides: true,
            library: None,
            progress: None,
        }
    }
}

/// What to say about a named library that is not there.
fn missing_override(source: LibrarySource) -> &'static str {
    match source {
        LibrarySource::Chosen => {
            "the ONNX Runtime library chosen in Settings does not exist; choose another, or \
             clear the choice to use the copy Pentimento downloads"
        }
        _ => {
            "ORT_DYLIB_PATH names a file that does not exist; correct it, or unset it to use \
             the copy Pentimento downloads"
        }
    }
}

/// Finds the ONNX Runtime library, downloading it into the cache when needed and allowed.
pub fn locate_library(options: &LocateOptions) -> Result<RuntimeLibrary, RuntimeError> {
    let wheel = wheel::wheel_for_platform(std::env::consts::OS, std::env::consts::ARCH);
    if let Some(path) = &options.library {
        if !path.is_file() {
            return Err(RuntimeError::OverrideMissing {
                path: path.clone(),
                named_by: LibrarySource::Chosen,
            });
        }
        return Ok(RuntimeLibrary {
            path: path.clone(),
            source: LibrarySource::Chosen,
        });
    }
    if options.use_overrides {
        if let Some(path) = std::env::var_os(DYLIB_PATH_ENV).filter(|path| !path.is_empty()) {
            let path = PathBuf::from(path);
            if !path.is_file() {
                return Err(RuntimeError::OverrideMissing {
                    path,
                    named_by: LibrarySource::EnvironmentVariable,
                });
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
    let path = wheel::ensure_installed(
        &dir,
        wheel,
        options.allow_download,
        options.progress.as_deref(),
    )?;
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
#[derive(derive_more::Debug)]
pub struct OnnxRuntime {
    #[debug(skip)]
    environment: ort::environment::Environment,
    library: RuntimeLibrary,
    version: String,
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
        // The system loader maps the file's segments directly; a truncated file would crash the
        // process with SIGBUS on first use instead of failing to load, so check it first.
        check_library_file(&library.path).map_err(|reason| RuntimeError::Load {
            reason,
            fix: library.source.fix(),
            path: library.path.clone(),
        })?;
        let builder = ort::init_from(&library.path).map_err(|err| load_error(err, &library))?;
        let environment = builder
            .with_name("pentimento")
            .with_telemetry(false)
            .build()
            .map_err(|err| RuntimeError::Start {
                reason: err.to_string(),
                path: library.path.clone(),
            })?;
        let version = library_version(&library);
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

    /// The ONNX Runtime version, e.g. `1.32.0`, or `1.31 or newer` for a library of unknown
    /// version (`ort` refuses older ones).
    pub fn version(&self) -> &str {
        &self.version
    }
}

fn load_error(err: ort::LoadDynamicError, library: &RuntimeLibrary) -> RuntimeError {
    let fix = library.source.fix();
    match err {
        ort::LoadDynamicError::BadVersion { version_str, path } => RuntimeError::TooOld {
            found: version_str,
            fix,
            path,
        },
        ort::LoadDynamicError::Dlopen { error, path } => RuntimeError::Load {
            reason: error.to_string(),
            fix,
            path,
        },
        other => RuntimeError::Load {
            reason: other.to_string(),
            fix,
            path: library.path.clone(),
        },
    }
}

/// The version of a loaded library: the pinned one for the verified cache, else what the file
/// name says (`libonnxruntime.so.1.32.0`, `libonnxruntime.1.32.0.dylib`).
fn library_version(library: &RuntimeLibrary) -> String {
    if library.source == LibrarySource::Cache {
        return ONNX_RUNTIME_VERSION.to_owned();
    }
    library
        .path
        .file_name()
        .and_then(|name| version_from_file_name(&name.to_string_lossy()))
        .unwrap_or_else(|| format!("1.{MINIMUM_MINOR_VERSION} or newer"))
}

fn version_from_file_name(name: &str) -> Option<String> {
    name.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|part| part.trim_matches('.'))
        .find(|part| part.starts_with("1.") && part.split('.').count() == 3)
        .map(str::to_owned)
}

/// Checks that a shared library is whole: every segment and section the loader could map lies
/// inside the file. Returns the reason when it does not.
pub fn check_library_file(path: &Path) -> Result<(), String> {
    use object::{Object as _, ObjectSection as _, ObjectSegment as _};

    let file = std::fs::File::open(path).map_err(|err| err.to_string())?;
    let length = file.metadata().map_err(|err| err.to_string())?.len();
    let cache = object::ReadCache::new(file);
    let parsed = object::File::parse(&cache)
        .map_err(|err| format!("the file is truncated or not a shared library: {err}"))?;
    let truncated = |end: u64| {
        format!("the file is truncated: it has {length} bytes, but its contents reach byte {end}")
    };
    for segment in parsed.segments() {
        let (offset, size) = segment.file_range();
        let end = offset.saturating_add(size);
        if end > length {
            return Err(truncated(end));
        }
    }
    for section in parsed.sections() {
        if let Some((offset, size)) = section.file_range() {
            let end = offset.saturating_add(size);
            if end > length {
                return Err(truncated(end));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_version_from_file_names() {
        let cases = [
            ("libonnxruntime.so.1.32.0", Some("1.32.0")),
            ("libonnxruntime.1.31.1.dylib", Some("1.31.1")),
            ("onnxruntime.dll", None),
            ("libonnxruntime.so", None),
        ];
        for (name, expected) in cases {
            assert_eq!(version_from_file_name(name).as_deref(), expected, "{name}");
        }
    }

    #[test]
    fn truncated_library_is_refused_before_loading() {
        // Any shared library of the system will do; the test binary itself is an object file.
        let exe = std::env::current_exe().expect("test binary");
        check_library_file(&exe).expect("the test binary is whole");
        let bytes = std::fs::read(&exe).expect("read");
        let dir = std::env::temp_dir().join(format!("pentimento-truncated-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create");
        let truncated = dir.join("truncated.so");
        std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
        let reason = check_library_file(&truncated).expect_err("truncated");
        assert!(reason.contains("truncated"), "{reason}");
        std::fs::write(&truncated, b"plain text").expect("write");
        let reason = check_library_file(&truncated).expect_err("not a library");
        assert!(reason.contains("not a shared library"), "{reason}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
