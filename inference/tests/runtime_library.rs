//! Obtaining ONNX Runtime: the cache is verified against pinned hashes, and every way of failing
//! (offline, a dropped connection, a tampered download, a truncated cache) ends in a message
//! that says what to do — never a panic, never a half-written cache. A local HTTP server stands
//! in for PyPI.

#[path = "common/listing.rs"]
#[allow(dead_code)]
mod listing;

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;

use pentimento_inference::onnx_runtime::wheel::{
    self, CacheState, FetchError, PinnedFile, PinnedWheel,
};
use sha2::{Digest as _, Sha256};

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// How the test server answers.
#[derive(Clone, Copy)]
enum Serve {
    /// The whole body.
    Whole,
    /// Announces the whole length, sends half, hangs up.
    DropHalfway,
}

/// Serves `body` to every request on a local port; returns the base URL.
fn serve(body: Vec<u8>, mode: Serve) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let address = listener.local_addr().expect("local address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0_u8; 4096];
            let _ = stream.read(&mut request);
            let header = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(header.as_bytes());
            let sent = match mode {
                Serve::Whole => &body[..],
                Serve::DropHalfway => &body[..body.len() / 2],
            };
            let _ = stream.write_all(sent);
            let _ = stream.flush();
        }
    });
    format!("http://{address}")
}

/// A wheel served on a local port, and an empty cache to install it into.
struct ServedWheel {
    /// Keeps the cache folder until the test ends.
    _cache: tempfile::TempDir,
    /// The install folder for the pin, inside the cache.
    dir: std::path::PathBuf,
    /// Where the wheel is served.
    url: String,
}

fn served_wheel(zip_bytes: Vec<u8>, pin: &PinnedWheel, mode: Serve) -> ServedWheel {
    let base = serve(zip_bytes, mode);
    let cache = tempfile::tempdir().expect("temporary folder");
    ServedWheel {
        dir: wheel::install_dir(cache.path(), pin),
        _cache: cache,
        url: format!("{base}{}", pin.url_path),
    }
}

/// A URL on a port nothing listens on, like a machine without network.
fn unreachable_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let address = listener.local_addr().expect("local address");
    drop(listener);
    format!("http://{address}/packages/onnxruntime.whl")
}

/// A wheel-shaped zip holding a fake library and companion, and a pin that matches it.
fn synthetic_wheel() -> (Vec<u8>, &'static PinnedWheel) {
    let library = b"not really a shared library, but the right bytes".repeat(1000);
    let companion = b"companion".repeat(10);
    let mut zip_bytes = std::io::Cursor::new(Vec::new());
    {
        let mut writer = zip::ZipWriter::new(&mut zip_bytes);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        writer
            .start_file("onnxruntime/capi/libtest.so", options)
            .expect("zip entry");
        writer.write_all(&library).expect("zip write");
        writer
            .start_file("onnxruntime/capi/libcompanion.so", options)
            .expect("zip entry");
        writer.write_all(&companion).expect("zip write");
        writer.finish().expect("zip finish");
    }
    let zip_bytes = zip_bytes.into_inner();
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let companions: &'static [PinnedFile] = Box::leak(Box::new([PinnedFile {
        path_in_wheel: "onnxruntime/capi/libcompanion.so",
        file_name: "libcompanion.so",
        sha256: leak(sha256_hex(&companion)),
    }]));
    let pin = Box::leak(Box::new(PinnedWheel {
        os: "testos",
        arch: "testarch",
        url_path: "/packages/test.whl",
        sha256: leak(sha256_hex(&zip_bytes)),
        library: PinnedFile {
            path_in_wheel: "onnxruntime/capi/libtest.so",
            file_name: "libtest.so",
            sha256: leak(sha256_hex(&library)),
        },
        companions,
    }));
    (zip_bytes, pin)
}

/// A failed install left neither its folder nor anything else (a staging folder, the wheel) in
/// the cache.
fn assert_nothing_left(dir: &Path) {
    assert!(!dir.exists());
    assert_eq!(
        listing::names(dir.parent().expect("parent")),
        Vec::<String>::new()
    );
}

#[test]
fn every_supported_platform_has_a_pinned_wheel() {
    for (os, arch, library) in [
        ("linux", "x86_64", "libonnxruntime.so.1.32.0"),
        ("linux", "aarch64", "libonnxruntime.so.1.32.0"),
        ("windows", "x86_64", "onnxruntime.dll"),
        ("windows", "aarch64", "onnxruntime.dll"),
        ("macos", "aarch64", "libonnxruntime.1.32.0.dylib"),
    ] {
        let pin = wheel::wheel_for_platform(os, arch).expect("pinned");
        assert_eq!(pin.library.file_name, library);
        assert!(
            pin.url_path.ends_with(".whl") && pin.url_path.contains("onnxruntime-1.32.0-"),
            "{}",
            pin.url_path
        );
        assert_eq!(pin.sha256.len(), 64);
        assert_eq!(pin.library.sha256.len(), 64);
    }
    let err = wheel::wheel_for_platform("freebsd", "x86_64").expect_err("no wheel");
    assert!(err.to_string().contains("ORT_DYLIB_PATH"), "{err}");
}

#[test]
fn downloads_verifies_and_extracts() {
    let (zip_bytes, pin) = synthetic_wheel();
    let zip_length = zip_bytes.len() as u64;
    let ServedWheel { dir, url, _cache } = served_wheel(zip_bytes, pin, Serve::Whole);
    assert_eq!(wheel::check_installed(&dir, pin), CacheState::Missing);

    let progress = wheel::DownloadProgress::default();
    let library =
        wheel::download_and_install(&dir, pin, &url, Some(&progress)).expect("download succeeds");
    assert_eq!(progress.total(), Some(zip_length), "the announced size");
    assert_eq!(progress.received(), zip_length, "every byte counted");
    assert_eq!(library, dir.join("libtest.so"));
    assert_eq!(
        wheel::check_installed(&dir, pin),
        CacheState::Ready(library.clone())
    );
    assert_eq!(listing::names(&dir), ["libcompanion.so", "libtest.so"]);
    // Nothing else is left in the cache (no staging folder, no wheel).
    assert_eq!(
        listing::names(dir.parent().expect("parent")),
        [dir.file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned()]
    );

    // A second call uses the cache without the network.
    let again = wheel::ensure_installed(&dir, pin, false, None).expect("cached");
    assert_eq!(again, library);
}

#[test]
fn truncated_cache_is_detected_and_repaired() {
    let (zip_bytes, pin) = synthetic_wheel();
    let ServedWheel { dir, url, _cache } = served_wheel(zip_bytes, pin, Serve::Whole);
    let library = wheel::download_and_install(&dir, pin, &url, None).expect("download");

    let full = std::fs::read(&library).expect("read");
    std::fs::write(&library, &full[..full.len() / 3]).expect("truncate");
    let CacheState::Damaged { file, reason } = wheel::check_installed(&dir, pin) else {
        panic!("a truncated library must be reported as damaged");
    };
    assert_eq!(file, library);
    assert!(reason.contains("sha256"), "{reason}");

    // With downloads off, the message names the file and the fixes.
    let err = wheel::ensure_installed(&dir, pin, false, None).expect_err("damaged");
    let message = err.to_string();
    assert!(matches!(err, FetchError::Damaged { .. }), "{err:?}");
    assert!(message.contains("damaged"), "{message}");
    assert!(message.contains("ORT_DYLIB_PATH"), "{message}");
    assert!(
        message.ends_with(&library.display().to_string()),
        "{message}"
    );

    // With the network, the damaged copy is replaced.
    let repaired = wheel::download_and_install(&dir, pin, &url, None).expect("repair");
    assert_eq!(std::fs::read(&repaired).expect("read"), full);
}

#[test]
fn offline_gives_one_clear_sentence_and_leaves_no_files() {
    let (_, pin) = synthetic_wheel();
    let cache = tempfile::tempdir().expect("temporary folder");
    let dir = wheel::install_dir(cache.path(), pin);
    let url = unreachable_url();
    let err = wheel::download_and_install(&dir, pin, &url, None).expect_err("offline");
    let message = err.to_string();
    assert!(matches!(err, FetchError::Download { .. }), "{err:?}");
    assert!(
        message.starts_with("could not download ONNX Runtime 1.32.0"),
        "{message}"
    );
    assert!(
        message.contains("connect to the internet once"),
        "{message}"
    );
    assert!(message.contains("ORT_DYLIB_PATH"), "{message}");
    assert!(message.ends_with(&url), "the address comes last: {message}");
    assert_nothing_left(&dir);
}

#[test]
fn dropped_connection_is_a_download_error() {
    let (zip_bytes, pin) = synthetic_wheel();
    let ServedWheel { dir, url, _cache } = served_wheel(zip_bytes, pin, Serve::DropHalfway);
    let err =
        wheel::download_and_install(&dir, pin, &url, None).expect_err("the connection dropped");
    assert!(matches!(err, FetchError::Download { .. }), "{err:?}");
    assert!(!dir.exists());
}

#[test]
fn tampered_wheel_is_rejected() {
    let (mut zip_bytes, pin) = synthetic_wheel();
    let last = zip_bytes.len() - 1;
    zip_bytes[last] ^= 0xff;
    let ServedWheel { dir, url, _cache } = served_wheel(zip_bytes, pin, Serve::Whole);
    let err = wheel::download_and_install(&dir, pin, &url, None).expect_err("hash mismatch");
    let message = err.to_string();
    assert!(
        matches!(err, FetchError::WheelHashMismatch { .. }),
        "{err:?}"
    );
    assert!(message.contains(pin.sha256), "{message}");
    assert_nothing_left(&dir);
}

#[test]
fn missing_cache_without_downloads_says_what_to_do() {
    let pin = wheel::wheel_for_platform(std::env::consts::OS, std::env::consts::ARCH)
        .expect("this platform has a wheel");
    let cache = tempfile::tempdir().expect("temporary folder");
    let dir = wheel::install_dir(cache.path(), pin);
    let err = wheel::ensure_installed(&dir, pin, false, None).expect_err("nothing cached");
    let message = err.to_string();
    assert!(
        message.starts_with("ONNX Runtime 1.32.0 is not in the cache"),
        "{message}"
    );
    assert!(message.contains("ORT_DYLIB_PATH"), "{message}");
}
