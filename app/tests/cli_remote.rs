//! `pentimento serve-repo`, `info` and `generate` on a remote model as a studio and an artist
//! run them, against a real Triton Inference Server on loopback (PyPI's `tritonserver`, the
//! written repository served through the Python backend with onnxruntime).

#[path = "../../inference/tests/common/triton.rs"]
#[allow(dead_code)]
mod triton;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/models")
        .join(name)
}

fn pentimento(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pentimento"))
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env_remove("ORT_DYLIB_PATH")
        .output()
        .expect("the binary runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_studio_writes_the_repository_and_an_artist_generates_on_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let repository = dir.path().join("repository");
    let client = dir.path().join("client");
    let model = fixture("tiny-sd");
    let port = triton::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let output = pentimento(
        &home,
        &[
            "serve-repo",
            model.to_str().expect("utf-8"),
            repository.to_str().expect("utf-8"),
            "--name",
            "sketchbook",
            "--client",
            client.to_str().expect("utf-8"),
            "--server",
            &url,
            "--cpu",
        ],
    );
    assert!(output.status.success(), "{}", text(&output));
    let said = text(&output);
    for model in [
        "sketchbook-text_encoder",
        "sketchbook-unet",
        "sketchbook-vae_encoder",
        "sketchbook-vae_decoder",
    ] {
        assert!(said.contains(model), "{said}");
        assert!(
            repository.join(model).join("1/model.onnx").is_file(),
            "{model}"
        );
        let config = std::fs::read_to_string(repository.join(model).join("config.pbtxt"))
            .expect("config.pbtxt");
        assert!(config.contains(&format!("name: \"{model}\"")), "{config}");
        assert!(
            config.contains("platform: \"onnxruntime_onnx\""),
            "{config}"
        );
        assert!(config.contains("kind: KIND_CPU"), "{config}");
        assert_eq!(
            config.contains("dynamic_batching"),
            model.ends_with("-unet"),
            "{config}"
        );
    }
    for file in [
        "remote.json",
        "model_index.json",
        "tokenizer/vocab.json",
        "scheduler/scheduler_config.json",
    ] {
        assert!(client.join(file).is_file(), "{file}");
    }
    assert!(
        !client.join("unet/model.onnx").exists(),
        "no weights in the client folder"
    );

    // No server yet: info says so in sentences and fails.
    let output = pentimento(&home, &["info", client.to_str().expect("utf-8")]);
    let said = text(&output);
    assert!(!output.status.success(), "{said}");
    assert!(said.contains(&format!("{url}: unavailable")), "{said}");

    // The repository as the server serves it (Python backend, same files and configuration).
    triton::to_python_backend(&repository);
    let mut server = triton::Server::start_on(&repository, port);
    let output = pentimento(&home, &["info", client.to_str().expect("utf-8")]);
    let said = text(&output);
    assert!(output.status.success(), "{said}");
    assert!(said.contains(&format!("{url}: ready")), "{said}");
    assert!(said.contains("unet as sketchbook-unet"), "{said}");
    assert!(said.contains("matches the servers"), "{said}");

    // An artist generates through the client folder exactly what the local model paints.
    let args = |model: &Path, out: &Path| {
        vec![
            "generate".to_owned(),
            "--model".to_owned(),
            model.display().to_string(),
            "--prompt".to_owned(),
            "a harbour at night".to_owned(),
            "--width".to_owned(),
            "64".to_owned(),
            "--height".to_owned(),
            "64".to_owned(),
            "--steps".to_owned(),
            "3".to_owned(),
            "--seed".to_owned(),
            "9".to_owned(),
            "--out".to_owned(),
            out.display().to_string(),
        ]
    };
    let remote_png = dir.path().join("remote.png");
    let local_png = dir.path().join("local.png");
    for (model, out) in [(&client, &remote_png), (&model, &local_png)] {
        let arguments = args(model, out);
        let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
        let output = pentimento(&home, &arguments);
        assert!(output.status.success(), "{}", text(&output));
    }
    let remote = image::open(&remote_png).expect("remote png").to_rgb8();
    let local = image::open(&local_png).expect("local png").to_rgb8();
    let worst = remote
        .as_raw()
        .iter()
        .zip(local.as_raw())
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .expect("pixels");
    assert!(worst <= 1, "remote and local differ by {worst} levels");

    // The server dies: generating says so, and how to go on.
    server.kill();
    let arguments = args(&client, &dir.path().join("none.png"));
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
    let output = pentimento(&home, &arguments);
    let said = text(&output);
    assert!(!output.status.success(), "{said}");
    assert!(said.contains("no inference server could run the"), "{said}");
    assert!(said.contains("continue on this computer"), "{said}");
}
