//! Fetches the pinned ONNX Runtime library into the user's cache during the first build, so the
//! app and the tests find it without a manual step and later builds work offline.
//!
//! A failure never fails the build: the app still has to open (the artist can paint without
//! ONNX Runtime) and explains at run time what is missing and how to fix it.

#[path = "src/onnx_runtime/wheel.rs"]
#[allow(dead_code)]
mod wheel;

#[path = "src/sha256.rs"]
#[allow(dead_code)]
mod sha256;

fn main() {
    println!("cargo:rerun-if-changed=src/onnx_runtime/wheel.rs");
    println!("cargo:rerun-if-changed=src/sha256.rs");
    for variable in [
        "ORT_DYLIB_PATH",
        wheel::CACHE_DIR_ENV,
        wheel::MIRROR_ENV,
        "CARGO_NET_OFFLINE",
    ] {
        println!("cargo:rerun-if-env-changed={variable}");
    }
    if std::env::var_os("ORT_DYLIB_PATH").is_some() {
        return;
    }
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let offline = std::env::var("CARGO_NET_OFFLINE").is_ok_and(|value| value == "true");
    let result = wheel::wheel_for_platform(&os, &arch).and_then(|wheel| {
        let dir = wheel::install_dir(&wheel::default_cache_root()?, wheel);
        wheel::ensure_installed(&dir, wheel, !offline, None)
    });
    if let Err(err) = result {
        println!("cargo:warning=ONNX Runtime is not available yet: {err}");
    }
}
