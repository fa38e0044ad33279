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
    compile_protocol();
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

/// Generates the Open Inference Protocol's messages and gRPC client from
/// `proto/open_inference.proto` with the protoc that `protoc-bin-vendored` ships, so the build
/// needs nothing installed.
fn compile_protocol() {
    println!("cargo:rerun-if-changed=proto/open_inference.proto");
    let protoc = protoc_bin_vendored::protoc_bin_path().expect("protoc-bin-vendored has a protoc");
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc);
    // Tensor contents as `bytes::Bytes`: a call sent again to another server is not copied.
    config.bytes(["."]);
    tonic_prost_build::configure()
        .build_server(false)
        .compile_with_config(config, &["proto/open_inference.proto"], &["proto"])
        .expect("the Open Inference Protocol definition compiles");
}
