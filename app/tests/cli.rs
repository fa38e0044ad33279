//! The `pentimento` binary's command line, run as a user runs it: a subprocess with its own
//! environment. Broken or missing ONNX Runtime libraries give one clear sentence and exit code 1.

use std::path::Path;
use std::process::{Command, Output};

use pentimento_inference::onnx_runtime::{self, LocateOptions, wheel};

fn pentimento(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pentimento"));
    command
        .args(args)
        .env_remove(onnx_runtime::DYLIB_PATH_ENV)
        .env_remove(wheel::CACHE_DIR_ENV)
        .env_remove(wheel::MIRROR_ENV);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs the binary, which must fail with exit code 1; returns what it said.
fn failure(args: &[&str], env: &[(&str, &Path)]) -> String {
    let output = pentimento(args, env);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    message
}

/// `pentimento runtime` with this cache and no way to download: must fail; returns what it said.
fn runtime_offline(cache: &Path) -> String {
    let mirror = dead_mirror();
    failure(
        &["runtime"],
        &[
            (wheel::CACHE_DIR_ENV, cache),
            (wheel::MIRROR_ENV, Path::new(&mirror)),
        ],
    )
}

/// The verified library from the cache the build filled.
fn cached_library() -> std::path::PathBuf {
    onnx_runtime::locate_library(&LocateOptions {
        cache_root: None,
        allow_download: true,
        use_overrides: false,
        library: None,
        progress: None,
    })
    .expect("the build fetched ONNX Runtime into the cache")
    .path
}

fn dead_mirror() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{address}")
}

#[test]
fn help_lists_the_subcommands() {
    let output = pentimento(&["--help"], &[]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("info"), "{text}");
    assert!(text.contains("runtime"), "{text}");
}

#[test]
fn runtime_reports_the_verified_cache() {
    let output = pentimento(&["runtime"], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout.contains("ONNX Runtime 1.32.0"), "{stdout}");
    assert!(stdout.contains("found via: verified cache"), "{stdout}");
}

#[test]
fn truncated_library_named_by_ort_dylib_path_is_explained() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let truncated = dir.path().join("libonnxruntime.so");
    let bytes = std::fs::read(cached_library()).expect("read the library");
    std::fs::write(&truncated, &bytes[..bytes.len() / 10]).expect("write");

    let message = failure(&["runtime"], &[("ORT_DYLIB_PATH", &truncated)]);
    assert!(
        message.starts_with("error: could not load the ONNX Runtime library ("),
        "{message}"
    );
    assert!(message.contains("unset ORT_DYLIB_PATH"), "{message}");
    assert!(!message.contains("panicked"), "{message}");
}

#[test]
fn missing_override_is_explained() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let missing = dir.path().join("nothing-here.so");
    let message = failure(&["runtime"], &[("ORT_DYLIB_PATH", &missing)]);
    assert!(
        message.starts_with("error: ORT_DYLIB_PATH names a file that does not exist"),
        "{message}"
    );
}

#[test]
fn offline_with_an_empty_cache_is_explained() {
    let cache = tempfile::tempdir().expect("temporary folder");
    let message = runtime_offline(cache.path());
    assert!(
        message.starts_with("error: could not download ONNX Runtime 1.32.0 ("),
        "{message}"
    );
    assert!(
        message.contains("connect to the internet once"),
        "{message}"
    );
    assert_eq!(
        message.lines().count(),
        1,
        "one sentence, one line: {message}"
    );
}

#[test]
fn truncated_cache_while_offline_is_explained() {
    let cache = tempfile::tempdir().expect("temporary folder");
    let pin = wheel::wheel_for_platform(std::env::consts::OS, std::env::consts::ARCH)
        .expect("this platform has a wheel");
    let dir = wheel::install_dir(cache.path(), pin);
    std::fs::create_dir_all(&dir).expect("create");
    let bytes = std::fs::read(cached_library()).expect("read the library");
    std::fs::write(dir.join(pin.library.file_name), &bytes[..bytes.len() / 2]).expect("write");
    let message = runtime_offline(cache.path());
    assert!(
        message.starts_with("error: the cached ONNX Runtime library is damaged (sha256 is "),
        "{message}"
    );
    assert!(message.contains("download failed"), "{message}");
}

#[test]
fn info_on_a_file_that_is_not_a_model_folder() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let message = failure(
        &["info", dir.path().join("absent").to_str().expect("utf-8")],
        &[],
    );
    assert!(message.contains("there is no folder here"), "{message}");

    let output = pentimento(&["info", dir.path().to_str().expect("utf-8")], &[]);
    let message = stderr(&output);
    assert!(
        message.contains("this folder is empty; choose the folder that holds model_index.json"),
        "{message}"
    );
}
