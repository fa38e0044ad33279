//! `pentimento models …` as a user runs it: the list lives in the settings file the window also
//! uses, folders are checked before they are added, names and paths both select a model, and a
//! download from a server that answers like the Hugging Face Hub lands in the Hugging Face cache
//! and joins the list.

#[path = "../../inference/tests/common/hub_server.rs"]
mod hub_server;
#[path = "../../inference/tests/common/listing.rs"]
#[allow(dead_code)]
mod listing;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temporary folder"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs the binary with its settings and caches inside this folder.
    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("the binary runs")
    }

    /// The same with `HF_HUB_OFFLINE=1`.
    fn run_offline(&self, args: &[&str]) -> Output {
        self.command(args)
            .env("HF_HUB_OFFLINE", "1")
            .output()
            .expect("the binary runs")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pentimento"));
        command
            .args(args)
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("HF_HOME", self.path("hf"))
            .env_remove("HF_HUB_CACHE")
            .env_remove("HF_ENDPOINT")
            .env_remove("HF_TOKEN")
            .env_remove("HF_HUB_OFFLINE")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command
    }

    fn settings(&self) -> serde_json::Value {
        let file = self.path("config").join("pentimento").join("settings.json");
        serde_json::from_str(&std::fs::read_to_string(&file).expect("settings file"))
            .expect("settings JSON")
    }
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn fixture(name: &str) -> PathBuf {
    std::fs::canonicalize(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/models")
            .join(name),
    )
    .expect("fixture model")
}

/// `models download` of the test repository from `server`.
fn download_args(server: &hub_server::HubServer) -> [&str; 5] {
    [
        "models",
        "download",
        hub_server::REPO,
        "--endpoint",
        server.endpoint.as_str(),
    ]
}

#[test]
fn models_are_added_listed_chosen_and_removed() {
    let home = Home::new();
    let output = home.run(&["models", "list"]);
    let (out, err) = text(&output);
    assert!(output.status.success(), "{err}");
    assert!(out.starts_with("No models yet."), "{out}");

    let inpaint = fixture("tiny-sd-inpaint");
    let plain = fixture("tiny-sd-optimum");
    for (path, expected) in [
        (&inpaint, "inpainting UNet"),
        (&plain, "inpainting by latent blending"),
    ] {
        let output = home.run(&["models", "add", path.to_str().expect("utf-8")]);
        let (out, err) = text(&output);
        assert!(output.status.success(), "{err}");
        assert!(out.starts_with("added "), "{out}");
        assert!(out.contains(expected), "{out}");
    }
    // Adding the same folder twice keeps one entry.
    let output = home.run(&["models", "add", inpaint.to_str().expect("utf-8")]);
    assert!(output.status.success());
    assert_eq!(home.settings()["models"].as_array().expect("list").len(), 2);

    // The first one added is the default; `list` marks it.
    let (out, _) = text(&home.run(&["models", "list"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "* tiny-sd-inpaint", "{out}");
    assert_eq!(lines[1].trim(), inpaint.display().to_string());
    assert!(lines[2].contains("text to image"), "{out}");
    assert_eq!(lines[3], "  tiny-sd-optimum", "{out}");

    // By name.
    let output = home.run(&["models", "default", "tiny-sd-optimum"]);
    let (out, err) = text(&output);
    assert!(output.status.success(), "{err}");
    assert_eq!(out.trim(), "tiny-sd-optimum is the default model");
    assert_eq!(
        home.settings()["model_folder"].as_str(),
        plain.to_str(),
        "the window loads this one"
    );

    // By path; the files stay.
    let output = home.run(&["models", "remove", plain.to_str().expect("utf-8")]);
    let (out, err) = text(&output);
    assert!(output.status.success(), "{err}");
    assert!(
        out.starts_with("removed tiny-sd-optimum from the list"),
        "{out}"
    );
    assert!(plain.join("model_index.json").is_file());
    assert!(home.settings()["model_folder"].is_null());
    assert_eq!(home.settings()["models"].as_array().expect("list").len(), 1);

    // Mistakes are explained and change nothing.
    let output = home.run(&["models", "default", "no-such-model"]);
    let (_, err) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        err.contains(
            "no model called no-such-model in the list; `pentimento models list` shows them"
        ),
        "{err}"
    );
    let pytorch = home.path("sd-pytorch");
    std::fs::create_dir_all(pytorch.join("unet")).expect("folder");
    std::fs::write(
        pytorch.join("unet").join("diffusion_pytorch_model.bin"),
        b"PK",
    )
    .expect("write");
    let output = home.run(&["models", "add", pytorch.to_str().expect("utf-8")]);
    let (_, err) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(err.contains("PyTorch"), "{err}");
    assert_eq!(home.settings()["models"].as_array().expect("list").len(), 1);
}

#[test]
fn a_download_lands_in_the_hugging_face_cache_and_joins_the_list() {
    let server = hub_server::HubServer::start();
    let home = Home::new();
    // The first attempt is killed while the (slowed) UNet arrives; the second resumes it.
    server.faults().slow.insert("unet/model.onnx".to_owned());
    server.faults().slow_pause = std::time::Duration::from_millis(50);
    let args = download_args(&server);
    let mut child = home.command(&args).spawn().expect("the binary starts");
    let unet_partial = format!(
        "{}.incomplete",
        server.file(hub_server::REPO, "unet/model.onnx").etag()
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !partial_files(&home.path("hf"))
        .iter()
        .any(|(path, length)| path.ends_with(&unet_partial) && *length > 0)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the UNet never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().expect("kill");
    child.wait().expect("reaped");
    assert!(
        home.path("config")
            .join("pentimento")
            .join("settings.json")
            .metadata()
            .is_err(),
        "nothing is added before the download is complete"
    );
    server.faults().slow.clear();

    let output = home.run(&args);
    let (out, err) = text(&output);
    assert!(output.status.success(), "{err}");
    assert!(out.contains("test-org/tiny-sd@main"), "{out}");
    assert!(
        server.resumed(hub_server::REPO, "unet/model.onnx"),
        "the UNet resumed with a Range request"
    );

    let snapshot = home
        .path("hf")
        .join("hub")
        .join("models--test-org--tiny-sd")
        .join("snapshots")
        .join(hub_server::COMMIT);
    assert!(snapshot.join("unet").join("model.onnx").is_file());
    let settings = home.settings();
    assert_eq!(
        settings["models"][0]["source"].as_str(),
        Some("test-org/tiny-sd@main")
    );
    assert_eq!(
        settings["model_folder"].as_str().map(PathBuf::from),
        Some(std::fs::canonicalize(&snapshot).expect("snapshot"))
    );
    let (out, _) = text(&home.run(&["models", "list"]));
    assert!(out.starts_with("* test-org/tiny-sd@main"), "{out}");
    // The repository alone names it too.
    let output = home.run(&["models", "remove", "test-org/tiny-sd"]);
    let (out, err) = text(&output);
    assert!(output.status.success(), "{err}");
    assert!(out.starts_with("removed test-org/tiny-sd@main"), "{out}");
}

#[test]
fn offline_downloads_use_the_cache_or_explain() {
    let server = hub_server::HubServer::start();
    let home = Home::new();
    let args = download_args(&server);
    // Nothing cached yet: explained, nothing asked of the server.
    let output = home.run_offline(&args);
    let (_, err) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("HF_HUB_OFFLINE is set and the Hugging Face cache has no complete copy of test-org/tiny-sd (revision main); unset HF_HUB_OFFLINE to download it"),
        "{err}"
    );
    assert!(server.log().is_empty(), "{:?}", server.log().len());

    let output = home.run(&args);
    assert!(output.status.success(), "{}", text(&output).1);
    let requests = server.log().len();

    // Cached: offline gives the same folder without a request.
    let output = home.run_offline(&args);
    let (out, err) = text(&output);
    assert!(output.status.success(), "{err}");
    assert!(out.contains("test-org/tiny-sd@main"), "{out}");
    assert_eq!(server.log().len(), requests, "no request when offline");
}

/// The partial downloads under a folder, with their lengths.
fn partial_files(dir: &Path) -> Vec<(PathBuf, u64)> {
    listing::files_under(dir)
        .into_iter()
        .filter(|path| path.to_string_lossy().ends_with(".incomplete"))
        .map(|path| {
            let length = std::fs::metadata(&path).map_or(0, |meta| meta.len());
            (path, length)
        })
        .collect()
}
