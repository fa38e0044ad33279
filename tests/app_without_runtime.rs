//! When ONNX Runtime cannot be had (an empty cache and downloads off, as when offline), the app
//! still opens, says in one sentence what failed and how to fix it, and stays usable.
//! A separate test binary: ONNX Runtime can be started only once per process.

use egui_kittest::kittest::{NodeT as _, Queryable as _};
use pentimento::AppOptions;
use pentimento::runtime_status::RuntimeStatus;
use pentimento_inference::LocateOptions;
use pentimento_inference::onnx_runtime::{self, wheel};

#[test]
fn app_opens_and_explains_a_missing_runtime() {
    let empty_cache = tempfile::tempdir().expect("temporary folder");
    let sandbox = pentimento_tests::Sandbox::new();
    let options = AppOptions {
        runtime: Some(pentimento_tests::offline_runtime(
            empty_cache.path().to_path_buf(),
            None,
        )),
        ..sandbox.options()
    };
    let mut harness = pentimento_tests::window(options);
    let message = pentimento_tests::unavailable_runtime_message(&mut harness);
    assert!(
        message.starts_with("ONNX Runtime 1.32.0 is not in the cache"),
        "{message}"
    );
    assert!(
        message.contains("ORT_DYLIB_PATH"),
        "says how to fix it: {message}"
    );
    harness.get_by_label(message.as_str());
    harness.get_by_label("ONNX Runtime unavailable");

    // The rest of the window works: the canvas is there and the prompt takes text.
    harness.get_by_label("Canvas");
    pentimento_tests::type_into(&mut harness, "Describe what to paint", "still paintable");
    assert!(
        harness
            .get_by_label("Generate")
            .accesskit_node()
            .is_disabled()
    );

    // The artist fixes the cause (here: the library arrives in the cache) and clicks
    // "Try again"; generation becomes available without a restart.
    let pin = wheel::wheel_for_platform(std::env::consts::OS, std::env::consts::ARCH)
        .expect("this platform has a wheel");
    let verified = onnx_runtime::locate_library(&LocateOptions {
        cache_root: None,
        allow_download: true,
        use_overrides: false,
        library: None,
        progress: None,
    })
    .expect("the build fetched ONNX Runtime into the user's cache");
    let source_dir = verified.path.parent().expect("folder");
    let target_dir = wheel::install_dir(empty_cache.path(), pin);
    std::fs::create_dir_all(&target_dir).expect("create");
    for file in std::iter::once(&pin.library).chain(pin.companions) {
        std::fs::copy(
            source_dir.join(file.file_name),
            target_dir.join(file.file_name),
        )
        .expect("copy");
    }
    pentimento_tests::click(&mut harness, "Try again");
    pentimento_tests::wait_for_runtime(&mut harness);
    let RuntimeStatus::Ready(runtime) = harness.state().runtime_status() else {
        panic!(
            "expected ONNX Runtime to start, got {:?}",
            harness.state().runtime_status()
        );
    };
    assert_eq!(
        runtime.library().path,
        target_dir.join(pin.library.file_name)
    );
    harness.get_by_label("ONNX Runtime 1.32.0 ready (verified cache)");
    assert!(harness.query_by_label("Try again").is_none());
}
