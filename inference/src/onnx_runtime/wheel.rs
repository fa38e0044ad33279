//! The ONNX Runtime release Pentimento runs on, and how to obtain it from PyPI.
//!
//! Microsoft publishes ONNX Runtime as Python wheels on PyPI; a wheel is a zip file that holds the
//! same shared library a C program links against. Pentimento pins one release: the exact wheel URL
//! per platform, the wheel's sha256 as PyPI lists it, and the sha256 of every library file inside.
//! The library is extracted into the user's cache directory once and verified every time it is
//! used, so a damaged or tampered copy is never loaded.
//!
//! This file is compiled twice: into `pentimento-inference` (to locate and repair the library at
//! run time) and into its build script (to fetch it during the first build). It therefore only
//! uses `std`, `sha2`, `ureq`, `zip`, `directories` and `thiserror`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::sha256::{self, CopyError};

/// The ONNX Runtime release Pentimento is built and tested against.
pub const ONNX_RUNTIME_VERSION: &str = "1.32.0";

/// Environment variable naming a cache directory to use instead of the platform's.
pub const CACHE_DIR_ENV: &str = "PENTIMENTO_CACHE_DIR";

/// Environment variable naming a mirror of `https://files.pythonhosted.org` to download from.
pub const MIRROR_ENV: &str = "PENTIMENTO_ORT_MIRROR";

const PYPI_FILES_HOST: &str = "https://files.pythonhosted.org";

/// How far a download has come, readable from another thread while it runs.
#[derive(Debug, Default)]
pub struct DownloadProgress {
    received: AtomicU64,
    /// The size the server announced; 0 while unknown.
    total: AtomicU64,
}

impl DownloadProgress {
    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// The download's size, once the server has said it.
    pub fn total(&self) -> Option<u64> {
        Some(self.total.load(Ordering::Relaxed)).filter(|&total| total > 0)
    }

    /// A download begins; `total` is its announced size.
    pub fn start(&self, total: Option<u64>) {
        self.received.store(0, Ordering::Relaxed);
        self.total.store(total.unwrap_or(0), Ordering::Relaxed);
    }

    /// `bytes` more arrived.
    pub fn add(&self, bytes: usize) {
        self.received.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// One file Pentimento takes out of a wheel.
#[derive(Debug)]
pub struct PinnedFile {
    /// Path of the file inside the wheel.
    pub path_in_wheel: &'static str,
    /// Name the file gets in the cache directory (ONNX Runtime finds its companions by name).
    pub file_name: &'static str,
    /// Lower-case hex sha256 of the file's contents.
    pub sha256: &'static str,
}

/// The official wheel for one platform.
#[derive(Debug)]
pub struct PinnedWheel {
    /// Rust's `target_os` this wheel serves.
    pub os: &'static str,
    /// Rust's `target_arch` this wheel serves.
    pub arch: &'static str,
    /// Path of the wheel below `https://files.pythonhosted.org`.
    pub url_path: &'static str,
    /// Lower-case hex sha256 of the wheel, as PyPI lists it.
    pub sha256: &'static str,
    /// The ONNX Runtime library itself, the file handed to `ort`.
    pub library: PinnedFile,
    /// Files that must sit next to the library (the shared provider bridge that GPU execution
    /// providers load).
    pub companions: &'static [PinnedFile],
}

/// Every platform with an official ONNX Runtime 1.32.0 CPU wheel. The wheels are the CPython 3.12
/// builds; the library inside does not depend on Python.
pub const WHEELS: &[PinnedWheel] = &[
    PinnedWheel {
        os: "linux",
        arch: "x86_64",
        url_path: "/packages/a3/81/55845186c20cba59f614991f4065dea148e48eeb9749893768c85ce64327/onnxruntime-1.32.0-cp312-cp312-manylinux_2_28_x86_64.whl",
        sha256: "99e1074c4b2197accd5073052a465361be17b89c093b8ffb6e6bd8f986c52df8",
        library: PinnedFile {
            path_in_wheel: "onnxruntime/capi/libonnxruntime.so.1.32.0",
            file_name: "libonnxruntime.so.1.32.0",
            sha256: "6c1585d1bbf45b0712ea4a21b705c5fcb4ba04ff2e30f1fbf81a49faf658638f",
        },
        companions: &[PinnedFile {
            path_in_wheel: "onnxruntime/capi/libonnxruntime_providers_shared.so",
            file_name: "libonnxruntime_providers_shared.so",
            sha256: "8ef51f6bf2c621fc129f625b22241fa6f9a5870bc08eaf2fdd279169ec40d09a",
        }],
    },
    PinnedWheel {
        os: "linux",
        arch: "aarch64",
        url_path: "/packages/4a/8f/1e43fb994513c7c7a9c6965272ef89d963c1bd4080993a6267bf913701d1/onnxruntime-1.32.0-cp312-cp312-manylinux_2_28_aarch64.whl",
        sha256: "e36c187006e7a7c8b8d6d57f1a209dd63f52430dca6c282b177718ad6b841054",
        library: PinnedFile {
            path_in_wheel: "onnxruntime/capi/libonnxruntime.so.1.32.0",
            file_name: "libonnxruntime.so.1.32.0",
            sha256: "49852228a93995158b2a813d4df487d47a1b76b0eaa894507ef49e91b6d7954a",
        },
        companions: &[PinnedFile {
            path_in_wheel: "onnxruntime/capi/libonnxruntime_providers_shared.so",
            file_name: "libonnxruntime_providers_shared.so",
            sha256: "f91fa2b0a2b8dba9cbc319254d342fa8201fd94b5912b9ce717f82e2207ee3d5",
        }],
    },
    PinnedWheel {
        os: "windows",
        arch: "x86_64",
        url_path: "/packages/a9/3e/27039badc39a1b01628b6b40b1ff1bf4a886e6dfb2f311c483606b7c86f7/onnxruntime-1.32.0-cp312-cp312-win_amd64.whl",
        sha256: "efe7456952c243a05a53d5b8732953625144642c2f3989094277f6217f0c0c40",
        library: PinnedFile {
            path_in_wheel: "onnxruntime/capi/onnxruntime.dll",
            file_name: "onnxruntime.dll",
            sha256: "443c0065fcdba17618ddef05050308f4b471893c5c7da0337d6957c9073ad8a7",
        },
        companions: &[PinnedFile {
            path_in_wheel: "onnxruntime/capi/onnxruntime_providers_shared.dll",
            file_name: "onnxruntime_providers_shared.dll",
            sha256: "b7ce00a1246473401b9b7fed2816852c1f9ecd70f2e68a136761c40d6523b712",
        }],
    },
    PinnedWheel {
        os: "windows",
        arch: "aarch64",
        url_path: "/packages/5d/e1/2ee4e15cebe7c2868e1d9ef391450db0951e6bbb2f01b2eb926722e19397/onnxruntime-1.32.0-cp312-cp312-win_arm64.whl",
        sha256: "64d394c69d561af3efd4d4f49dcac8f11d0ce135a20701c16d53b74056cd4cf8",
        library: PinnedFile {
            path_in_wheel: "onnxruntime/capi/onnxruntime.dll",
            file_name: "onnxruntime.dll",
            sha256: "a5c1951a7d495fa0c22a0865fe36981fe67f9d5dc7ba3893c20fa7266dd1e994",
        },
        companions: &[PinnedFile {
            path_in_wheel: "onnxruntime/capi/onnxruntime_providers_shared.dll",
            file_name: "onnxruntime_providers_shared.dll",
            sha256: "f51b2f49604e9df7f6af648162d9d53d26b21a0008508c9953dd363462152b39",
        }],
    },
    PinnedWheel {
        os: "macos",
        arch: "aarch64",
        url_path: "/packages/6f/a4/480cd367bc135dd9951c89d461cc6af6be9302cd2ce91e231f6cb0e7ee1b/onnxruntime-1.32.0-cp312-cp312-macosx_14_0_arm64.whl",
        sha256: "d52510bbbcc880c13b826f7d75cdf33ac5cf0bb864d960000fc29ce73f0cb83e",
        library: PinnedFile {
            path_in_wheel: "onnxruntime/capi/libonnxruntime.1.32.0.dylib",
            file_name: "libonnxruntime.1.32.0.dylib",
            sha256: "fa585fabbea65b823b9a8f7e27d46aee3989d1be7e36b528203d3a1fd613aae7",
        },
        companions: &[],
    },
];

/// Why the ONNX Runtime library could not be obtained. Every message says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// No official wheel exists for this operating system and processor.
    #[error(
        "ONNX Runtime {ONNX_RUNTIME_VERSION} has no official build for {os} on {arch}; \
         build ONNX Runtime 1.31 or newer yourself and set ORT_DYLIB_PATH to the library"
    )]
    UnsupportedPlatform {
        /// Rust's name of the operating system.
        os: String,
        /// Rust's name of the processor architecture.
        arch: String,
    },

    /// Neither `PENTIMENTO_CACHE_DIR` nor a home directory gives a place to keep the library.
    #[error(
        "there is no cache directory to keep ONNX Runtime in (no home directory found); \
         set {CACHE_DIR_ENV} to a writable folder, or ORT_DYLIB_PATH to an ONNX Runtime library"
    )]
    NoCacheDirectory,

    /// The library is not cached and downloading is switched off.
    #[error(
        "ONNX Runtime {ONNX_RUNTIME_VERSION} is not in the cache and downloads are switched off; \
         run once with network access to PyPI, or set ORT_DYLIB_PATH to an ONNX Runtime library: {}",
        dir.display()
    )]
    NotCached {
        /// The folder the library was expected in.
        dir: PathBuf,
    },

    /// A cached file is damaged and no fresh copy could be had.
    #[error(
        "the cached ONNX Runtime library is damaged ({reason}) and a fresh copy could not be \
         had ({why}); connect to the internet once, set {MIRROR_ENV} to a mirror of \
         files.pythonhosted.org, or set ORT_DYLIB_PATH to an ONNX Runtime library: {}",
        file.display()
    )]
    Damaged {
        /// What is wrong with the cached file.
        reason: String,
        /// Why it could not be replaced.
        why: String,
        /// The damaged file.
        file: PathBuf,
    },

    /// The wheel could not be downloaded (offline, proxy, server error).
    #[error(
        "could not download ONNX Runtime {ONNX_RUNTIME_VERSION} ({reason}); connect to the \
         internet once (the library is cached afterwards), set {MIRROR_ENV} to a mirror of \
         files.pythonhosted.org, or set ORT_DYLIB_PATH to an ONNX Runtime library: {url}"
    )]
    Download {
        /// What went wrong, in the HTTP client's words.
        reason: String,
        /// The address that was tried.
        url: String,
    },

    /// The downloaded wheel is not the file PyPI lists.
    #[error(
        "the downloaded ONNX Runtime wheel is damaged or not the official one (sha256 {found}, \
         expected {expected}); try again, and if it persists check {MIRROR_ENV} or your proxy: {url}"
    )]
    WheelHashMismatch {
        /// The pinned sha256.
        expected: String,
        /// The sha256 of what arrived.
        found: String,
        /// The address it came from.
        url: String,
    },

    /// The wheel arrived intact but does not hold the expected files.
    #[error(
        "the ONNX Runtime wheel does not hold {path_in_wheel} as expected ({reason}); \
         this build of Pentimento pins a wheel that does — please report it: {url}"
    )]
    UnexpectedWheelContents {
        /// The file that was looked for.
        path_in_wheel: String,
        /// What went wrong.
        reason: String,
        /// The wheel's address.
        url: String,
    },

    /// Reading or writing the cache failed.
    #[error("could not {action} ({source}); check that the folder is writable and has free space: {}", path.display())]
    Io {
        /// What was being done, as a verb phrase ("write the library").
        action: &'static str,
        /// The file or folder involved.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
}

/// What the cache holds for a wheel.
#[derive(Debug, PartialEq, Eq)]
pub enum CacheState {
    /// Every file is present and matches its pinned hash; the path is the library.
    Ready(PathBuf),
    /// Nothing is cached yet.
    Missing,
    /// A file is present but damaged (truncated, overwritten, or unreadable).
    Damaged {
        /// The damaged file.
        file: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// The wheel for a target platform, by Rust's `target_os` and `target_arch` names.
pub fn wheel_for_platform(os: &str, arch: &str) -> Result<&'static PinnedWheel, FetchError> {
    WHEELS
        .iter()
        .find(|wheel| wheel.os == os && wheel.arch == arch)
        .ok_or_else(|| FetchError::UnsupportedPlatform {
            os: os.to_owned(),
            arch: arch.to_owned(),
        })
}

/// The cache root: `PENTIMENTO_CACHE_DIR` if set, else the platform's cache directory for
/// Pentimento (`~/.cache/pentimento` on Linux).
pub fn default_cache_root() -> Result<PathBuf, FetchError> {
    if let Some(dir) = std::env::var_os(CACHE_DIR_ENV).filter(|dir| !dir.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "pentimento")
        .map(|dirs| dirs.cache_dir().to_path_buf())
        .ok_or(FetchError::NoCacheDirectory)
}

/// The folder one wheel's files are extracted into, below a cache root.
pub fn install_dir(cache_root: &Path, wheel: &PinnedWheel) -> PathBuf {
    cache_root.join("onnxruntime").join(format!(
        "{ONNX_RUNTIME_VERSION}-{}-{}",
        wheel.os, wheel.arch
    ))
}

/// The wheel's download address, on PyPI or on the mirror named by `PENTIMENTO_ORT_MIRROR`.
pub fn wheel_url(wheel: &PinnedWheel) -> String {
    let host = std::env::var(MIRROR_ENV)
        .ok()
        .filter(|mirror| !mirror.is_empty())
        .unwrap_or_else(|| PYPI_FILES_HOST.to_owned());
    format!("{}{}", host.trim_end_matches('/'), wheel.url_path)
}

/// Checks the cached files of a wheel against their pinned hashes.
pub fn check_installed(dir: &Path, wheel: &PinnedWheel) -> CacheState {
    let library = dir.join(wheel.library.file_name);
    if !library.exists() {
        return CacheState::Missing;
    }
    for file in std::iter::once(&wheel.library).chain(wheel.companions) {
        let path = dir.join(file.file_name);
        match sha256::of_file(&path) {
            Ok(found) if found == file.sha256 => {}
            Ok(found) => {
                return CacheState::Damaged {
                    file: path,
                    reason: format!("sha256 is {found}, expected {}", file.sha256),
                };
            }
            Err(err) => {
                return CacheState::Damaged {
                    file: path,
                    reason: err.to_string(),
                };
            }
        }
    }
    CacheState::Ready(library)
}

/// Returns the verified library in `dir`, downloading and extracting the wheel first when it is
/// missing or damaged and `allow_download` is set; a download reports into `progress`.
pub fn ensure_installed(
    dir: &Path,
    wheel: &PinnedWheel,
    allow_download: bool,
    progress: Option<&DownloadProgress>,
) -> Result<PathBuf, FetchError> {
    match check_installed(dir, wheel) {
        CacheState::Ready(library) => Ok(library),
        CacheState::Missing if allow_download => {
            download_and_install(dir, wheel, &wheel_url(wheel), progress)
        }
        CacheState::Missing => Err(FetchError::NotCached {
            dir: dir.to_path_buf(),
        }),
        CacheState::Damaged { file, reason } => {
            if !allow_download {
                return Err(FetchError::Damaged {
                    reason,
                    why: "downloads are switched off".to_owned(),
                    file,
                });
            }
            download_and_install(dir, wheel, &wheel_url(wheel), progress).map_err(|err| {
                let why = match err {
                    FetchError::Download { reason, .. } => format!("download failed: {reason}"),
                    other => other.to_string(),
                };
                FetchError::Damaged { reason, why, file }
            })
        }
    }
}

/// Downloads the wheel from `url`, verifies it and extracts its library files into `dir`,
/// replacing whatever was there. The folder is filled beside its final place and renamed into
/// it, so a reader never sees half a library. The download reports into `progress`.
pub fn download_and_install(
    dir: &Path,
    wheel: &PinnedWheel,
    url: &str,
    progress: Option<&DownloadProgress>,
) -> Result<PathBuf, FetchError> {
    let parent = dir.parent().unwrap_or(dir);
    fs::create_dir_all(parent).map_err(|source| FetchError::Io {
        action: "create the cache folder",
        path: parent.to_path_buf(),
        source,
    })?;
    let staging = parent.join(format!(
        ".staging-{}-{}",
        std::process::id(),
        dir.file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let result = fill_staging(&staging, wheel, url, progress).and_then(|()| {
        // Another process may have finished the same download meanwhile; keep its copy.
        if matches!(check_installed(dir, wheel), CacheState::Ready(_)) {
            let _ = fs::remove_dir_all(&staging);
            return Ok(());
        }
        if dir.exists() {
            fs::remove_dir_all(dir).map_err(|source| FetchError::Io {
                action: "remove the damaged ONNX Runtime cache",
                path: dir.to_path_buf(),
                source,
            })?;
        }
        fs::rename(&staging, dir).map_err(|source| FetchError::Io {
            action: "move the extracted ONNX Runtime into the cache",
            path: dir.to_path_buf(),
            source,
        })
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result?;
    Ok(dir.join(wheel.library.file_name))
}

fn fill_staging(
    staging: &Path,
    wheel: &PinnedWheel,
    url: &str,
    progress: Option<&DownloadProgress>,
) -> Result<(), FetchError> {
    let _ = fs::remove_dir_all(staging);
    fs::create_dir_all(staging).map_err(|source| FetchError::Io {
        action: "create a folder in the cache",
        path: staging.to_path_buf(),
        source,
    })?;
    let wheel_path = staging.join("download.whl");
    let found = download_to_file(url, &wheel_path, progress)?;
    if found != wheel.sha256 {
        return Err(FetchError::WheelHashMismatch {
            expected: wheel.sha256.to_owned(),
            found,
            url: url.to_owned(),
        });
    }

    let archive_file = fs::File::open(&wheel_path).map_err(|source| FetchError::Io {
        action: "open the downloaded wheel",
        path: wheel_path.clone(),
        source,
    })?;
    let mut archive = zip::ZipArchive::new(io::BufReader::new(archive_file)).map_err(|err| {
        FetchError::UnexpectedWheelContents {
            path_in_wheel: "(the zip directory)".to_owned(),
            reason: err.to_string(),
            url: url.to_owned(),
        }
    })?;
    for file in std::iter::once(&wheel.library).chain(wheel.companions) {
        let unexpected = |reason: String| FetchError::UnexpectedWheelContents {
            path_in_wheel: file.path_in_wheel.to_owned(),
            reason,
            url: url.to_owned(),
        };
        let mut entry = archive
            .by_name(file.path_in_wheel)
            .map_err(|err| unexpected(err.to_string()))?;
        let target = staging.join(file.file_name);
        let write_error = |source| FetchError::Io {
            action: "write the ONNX Runtime library",
            path: target.clone(),
            source,
        };
        let mut out = fs::File::create(&target).map_err(write_error)?;
        let found = sha256::copy(&mut entry, &mut out, |_| {}).map_err(|err| match err {
            CopyError::Read(err) => unexpected(err.to_string()),
            CopyError::Write(source) => write_error(source),
        })?;
        out.sync_all().map_err(|source| FetchError::Io {
            action: "flush the ONNX Runtime library to disk",
            path: target.clone(),
            source,
        })?;
        if found != file.sha256 {
            return Err(unexpected(format!(
                "its sha256 is {found}, expected {}",
                file.sha256
            )));
        }
    }
    drop(archive);
    fs::remove_file(&wheel_path).map_err(|source| FetchError::Io {
        action: "remove the downloaded wheel",
        path: wheel_path,
        source,
    })
}

/// Streams `url` into `path` and returns the sha256 of what arrived.
fn download_to_file(
    url: &str,
    path: &Path,
    progress: Option<&DownloadProgress>,
) -> Result<String, FetchError> {
    let download_error = |reason: String| FetchError::Download {
        reason,
        url: url.to_owned(),
    };
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_global(Some(Duration::from_secs(15 * 60)))
        .build()
        .into();
    let response = agent
        .get(url)
        .call()
        .map_err(|err| download_error(err.to_string()))?;
    if let Some(progress) = progress {
        progress.start(response.body().content_length());
    }
    let mut reader = response.into_body().into_reader();
    let write_error = |source| FetchError::Io {
        action: "write the downloaded wheel",
        path: path.to_path_buf(),
        source,
    };
    let mut out = fs::File::create(path).map_err(write_error)?;
    let on_chunk = |read| {
        if let Some(progress) = progress {
            progress.add(read);
        }
    };
    sha256::copy(&mut reader, &mut out, on_chunk).map_err(|err| match err {
        CopyError::Read(err) => download_error(err.to_string()),
        CopyError::Write(source) => write_error(source),
    })
}
