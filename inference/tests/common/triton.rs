//! A real Triton Inference Server for the remote tests: the `tritonserver` binary from PyPI's
//! `nvidia-pytriton` wheel (Triton 2.51 with the Python backend), installed once into a venv
//! under the target folder, started on free loopback ports and killed when dropped.
//!
//! Triton's ONNX Runtime backend is not on PyPI, so the repository `serve-repo` writes is turned
//! into one whose models are `tests/triton/onnx_model.py` (Python backend, running the same
//! ONNX file with onnxruntime): same model names, tensor names, types, batching and
//! configuration otherwise.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

pub use pentimento_inference::remote::repository::WrittenRepository;
use pentimento_inference::remote::repository::{self, RepositoryOptions};
use pentimento_inference::remote::{Pool, ServerState};
use pentimento_inference::{LocateOptions, ModelFolder, ModelReport, OnnxRuntime};

/// ONNX Runtime, started once per test process.
pub fn runtime() -> Arc<OnnxRuntime> {
    static RUNTIME: OnceLock<Arc<OnnxRuntime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            OnnxRuntime::initialize(&LocateOptions::default()).unwrap_or_else(|err| panic!("{err}"))
        })
        .clone()
}

/// The installed server: its binary, backends, and the environment it needs.
#[derive(Debug)]
pub struct Installation {
    venv: PathBuf,
    server: PathBuf,
    backends: PathBuf,
    library_path: String,
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("could not run {command:?}: {err}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Installs the server into `target/tmp/triton-venv` the first time (about 90 MB from PyPI)
/// and returns it.
pub fn installation() -> &'static Installation {
    static INSTALLED: OnceLock<Installation> = OnceLock::new();
    INSTALLED.get_or_init(install)
}

fn install() -> Installation {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("triton-venv");
    let python = venv.join("bin/python");
    let site = |venv: &Path, version: &str| venv.join(format!("lib/python{version}/site-packages"));
    let version = run(Command::new("python3").args([
        "-c",
        "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')",
    ]));
    let marker = venv.join("installed");
    if !marker.is_file() {
        let staging = venv.with_extension(format!("staging-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        run(Command::new("python3").args(["-m", "venv"]).arg(&staging));
        run(Command::new(staging.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "-r",
            ])
            .arg(workspace().join("tests/triton/requirements.txt")));
        let triton = site(&staging, &version).join("pytriton/tritonserver");
        let stub = triton.join(format!(
            "python_backend_stubs/{version}/triton_python_backend_stub"
        ));
        assert!(
            stub.is_file(),
            "the Triton wheel has no Python backend stub for Python {version} ({})",
            stub.display()
        );
        std::fs::copy(
            &stub,
            triton.join("backends/python/triton_python_backend_stub"),
        )
        .expect("copy the Python backend stub");
        std::fs::write(staging.join("installed"), "").expect("marker");
        // Another test process may have finished first; either copy works.
        if std::fs::rename(&staging, &venv).is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
    }
    let triton = site(&venv, &version).join("pytriton/tritonserver");
    let libdir = run(Command::new("python3").args([
        "-c",
        "import sysconfig; print(sysconfig.get_config_var('LIBDIR') or '')",
    ]));
    let soname = format!("libpython{version}.so.1.0");
    let python_lib = [libdir.as_str(), "/usr/lib/x86_64-linux-gnu", "/usr/lib"]
        .into_iter()
        .map(PathBuf::from)
        .find(|dir| dir.join(&soname).is_file())
        .unwrap_or_else(|| {
            panic!(
                "Triton's Python backend needs {soname}; install it (Debian: apt-get install \
                 libpython{version})"
            )
        });
    assert!(
        python.is_file(),
        "the venv has no python: {}",
        python.display()
    );
    Installation {
        server: triton.join("bin/tritonserver"),
        backends: triton.join("backends"),
        library_path: format!(
            "{}:{}",
            site(&venv, &version).join("nvidia_pytriton.libs").display(),
            python_lib.display()
        ),
        venv,
    }
}

/// A free port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A running `tritonserver`, killed (with its Python stubs) when dropped.
pub struct Server {
    child: Option<Child>,
    /// Its gRPC endpoint, `http://127.0.0.1:PORT`.
    pub url: String,
    log: PathBuf,
}

/// TLS for a test server: its certificate and key (PEM files) and the authority that signed
/// them (PEM), which clients are given as the studio's own.
#[derive(Clone, Debug)]
pub struct Tls {
    /// The server's certificate.
    pub certificate: PathBuf,
    /// Its key.
    pub key: PathBuf,
    /// The authority's certificate.
    pub authority_pem: Vec<u8>,
}

impl Server {
    /// Starts a server on `repository` and waits until it and every model in it are ready.
    pub fn start(repository: &Path) -> Self {
        Self::start_full(repository, None, None, free_port())
    }

    /// As [`Self::start`], on a given port.
    pub fn start_on(repository: &Path, port: u16) -> Self {
        Self::start_full(repository, None, None, port)
    }

    /// As [`Self::start`], refusing calls without `token` when given (Triton's restricted
    /// protocols, as a studio would set them).
    pub fn start_with(repository: &Path, token: Option<&str>) -> Self {
        Self::start_full(repository, token, None, free_port())
    }

    /// As [`Self::start`], speaking gRPC over TLS only.
    pub fn start_tls(repository: &Path, tls: &Tls) -> Self {
        Self::start_full(repository, None, Some(tls), free_port())
    }

    fn start_full(repository: &Path, token: Option<&str>, tls: Option<&Tls>, port: u16) -> Self {
        let mut extra: Vec<String> = Vec::new();
        if let Some(token) = token {
            extra.push(format!(
                "--grpc-restricted-protocol=inference,health,metadata,statistics:\
                 authorization=Bearer {token}"
            ));
        }
        if let Some(tls) = tls {
            extra.push("--grpc-use-ssl=true".to_owned());
            extra.push(format!("--grpc-server-cert={}", tls.certificate.display()));
            extra.push(format!("--grpc-server-key={}", tls.key.display()));
        }
        let install = installation();
        let log = repository.with_extension(format!("log-{port}"));
        let log_file = std::fs::File::create(&log).expect("log file");
        let path = format!(
            "{}:{}",
            install.venv.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new(&install.server);
        command
            .arg(format!("--model-repository={}", repository.display()))
            .arg(format!(
                "--backend-directory={}",
                install.backends.display()
            ))
            .args(["--allow-http=false", "--allow-metrics=false"])
            .arg("--grpc-address=127.0.0.1")
            .arg(format!("--grpc-port={port}"))
            .args(&extra)
            .env("PATH", path)
            .env("LD_LIBRARY_PATH", &install.library_path)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log"))
            .stderr(log_file);
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("could not start {}: {err}", install.server.display()));
        let scheme = if tls.is_some() { "https" } else { "http" };
        let server = Self {
            child: Some(child),
            url: format!("{scheme}://127.0.0.1:{port}"),
            log,
        };
        server.wait_ready(
            repository,
            token,
            tls.map(|tls| tls.authority_pem.as_slice()),
        );
        server
    }

    fn wait_ready(&self, repository: &Path, token: Option<&str>, authority: Option<&[u8]>) {
        let models: Vec<String> = std::fs::read_dir(repository)
            .expect("repository")
            .filter_map(Result::ok)
            .filter(|entry| entry.path().join("config.pbtxt").is_file())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        let pool = self.pool_with(token, authority);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let status = pool.probe_all(&models).expect("probe");
            if status[0].state == ServerState::Ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "tritonserver did not become ready within 120 s: {:?}\n{}",
                status[0].state,
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// A pool of this one server, for its status and statistics.
    pub fn pool(&self) -> Pool {
        self.pool_with(None, None)
    }

    fn pool_with(&self, token: Option<&str>, authority: Option<&[u8]>) -> Pool {
        Pool::new(
            std::slice::from_ref(&self.url),
            token,
            authority,
            Duration::from_secs(10),
        )
        .expect("pool")
    }

    /// Freezes the server (SIGSTOP to its process group): it keeps its connections and
    /// answers nothing, as a hung machine does.
    pub fn freeze(&self) {
        self.signal("STOP");
    }

    fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args(["-s", signal, "--", &format!("-{}", child.id())])
                .status();
        }
    }

    /// The end of the server's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Kills the server at once (SIGKILL to its process group), as a crash or power loss
    /// would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A repository for a fixture model as `serve-repo` writes it (CPU instances), turned into
/// Python-backend models running the same ONNX files, and its client folder; under `dir`.
pub fn repository_for(
    model: &Path,
    dir: &Path,
    name: &str,
    queue_delay_microseconds: u64,
) -> WrittenRepository {
    let folder = ModelFolder::open(model).unwrap_or_else(|err| panic!("{err}"));
    let report =
        ModelReport::inspect(&runtime(), folder.clone()).unwrap_or_else(|err| panic!("{err}"));
    let mut options = RepositoryOptions::new(name);
    options.gpu_instances = None;
    options.max_queue_delay_microseconds = queue_delay_microseconds;
    let repo = dir.join("repository");
    let written = repository::write(
        &folder,
        &report.signatures,
        report.conventions.unet_in_channels,
        (report.size_multiple / 8).trailing_zeros(),
        &repo,
        &dir.join("client"),
        &options,
    )
    .unwrap_or_else(|err| panic!("{err}"));
    to_python_backend(&repo);
    written
}

/// Turns the `onnxruntime_onnx` models of a repository `serve-repo` wrote into Python-backend
/// models that run the same ONNX files with onnxruntime (`tests/triton/onnx_model.py`).
pub fn to_python_backend(repository: &Path) {
    let script = workspace().join("tests/triton/onnx_model.py");
    for entry in std::fs::read_dir(repository).expect("repository") {
        let dir = entry.expect("entry").path();
        let config = dir.join("config.pbtxt");
        if !config.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&config).expect("config");
        assert!(text.contains("platform: \"onnxruntime_onnx\"\n"), "{text}");
        std::fs::write(
            &config,
            text.replace("platform: \"onnxruntime_onnx\"\n", "backend: \"python\"\n"),
        )
        .expect("config");
        std::fs::copy(&script, dir.join("1/model.py")).expect("model.py");
    }
}
