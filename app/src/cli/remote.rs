//! `pentimento serve-repo` (a Triton model repository and its client folder for a model) and
//! `pentimento info` on a client folder (the servers and what they serve).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use pentimento_inference::remote::repository::{self, RepositoryOptions};
use pentimento_inference::remote::{Pool, RemoteConfig, ServerState};
use pentimento_inference::{Component, LocateOptions, ModelFolder, ModelReport, OnnxRuntime};

/// `pentimento serve-repo`.
#[derive(Debug, clap::Args)]
pub struct ServeRepoArgs {
    /// The model folder (diffusers or optimum ONNX layout).
    pub model: PathBuf,
    /// The Triton model repository to write into (`tritonserver --model-repository=…`).
    pub repository: PathBuf,
    /// The model's name on the servers; its components are NAME-text_encoder, NAME-unet,
    /// NAME-vae_encoder and NAME-vae_decoder. Defaults to the model folder's name.
    #[arg(long)]
    pub name: Option<String>,
    /// Where to write the client folder artists add in the model manager (default: beside the
    /// repository, named NAME-client).
    #[arg(long)]
    pub client: Option<PathBuf>,
    /// A server's gRPC endpoint for the client folder (repeat for a pool), e.g.
    /// http://gpu1.studio:8001 or https://… for TLS.
    #[arg(long = "server", default_value = "http://localhost:8001")]
    pub servers: Vec<String>,
    /// Run the models on the servers' CPUs instead of their GPUs.
    #[arg(long)]
    pub cpu: bool,
    /// Instances of each model per GPU.
    #[arg(long, default_value_t = 1)]
    pub instances: u32,
    /// The largest batch the batched models take (one guided step is a batch of 2).
    #[arg(long, default_value_t = 8)]
    pub max_batch: u32,
    /// How long the UNet's dynamic batcher waits for calls to join a batch, in microseconds.
    #[arg(long, default_value_t = 2_000)]
    pub queue_delay_us: u64,
}

/// Writes the repository and the client folder.
pub fn serve_repo(args: &ServeRepoArgs) -> anyhow::Result<ExitCode> {
    let folder = ModelFolder::open(&args.model)?;
    let runtime = OnnxRuntime::initialize(&LocateOptions::default())?;
    let report = ModelReport::inspect(&runtime, folder.clone())
        .with_context(|| format!("inspecting {}", args.model.display()))?;
    let name = match &args.name {
        Some(name) => name.clone(),
        None => default_name(&args.model),
    };
    let client = match &args.client {
        Some(client) => client.clone(),
        None => {
            let parent = args
                .repository
                .parent()
                .filter(|parent| !parent.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            parent.join(format!("{name}-client"))
        }
    };
    if client.starts_with(&args.repository) {
        anyhow::bail!(
            "the client folder must not be inside the repository (the server would try to load \
             it as a model); choose another --client than {}",
            client.display()
        );
    }
    let mut options = RepositoryOptions::new(name);
    options.gpu_instances = (!args.cpu).then_some(args.instances.max(1));
    options.max_batch_size = args.max_batch.max(1);
    options.max_queue_delay_microseconds = args.queue_delay_us;
    options.servers = args.servers.clone();
    let downsamplings = (report.size_multiple / 8).max(1).trailing_zeros();
    let written = repository::write(
        &folder,
        &report.signatures,
        report.conventions.unet_in_channels,
        downsamplings,
        &args.repository,
        &client,
        &options,
    )?;
    println!("wrote the model repository {}:", args.repository.display());
    for model in &written.models {
        println!("  {model}");
    }
    println!(
        "and the client folder {} (add it in the model manager; servers: {})",
        written.client.display(),
        written.config.servers.join(", ")
    );
    println!(
        "start a server with: tritonserver --model-repository={}",
        args.repository.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The folder's name as a model name: letters, digits, `-`, `_`, `.`.
fn default_name(model: &Path) -> String {
    let name: String = model
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_start_matches('.').to_owned();
    if name.is_empty() {
        "model".to_owned()
    } else {
        name
    }
}

/// `pentimento info` on a client folder: each server's state, and each component's check
/// against what the servers declare.
pub fn info(folder: &Path) -> anyhow::Result<ExitCode> {
    let config = RemoteConfig::read(folder)?;
    let token = config.bearer_token(folder)?;
    let ca = match &config.ca_certificate {
        Some(file) => Some(
            std::fs::read(folder.join(file))
                .with_context(|| format!("reading {}", folder.join(file).display()))?,
        ),
        None => None,
    };
    let pool = Pool::new(
        &config.servers,
        token.as_deref(),
        ca.as_deref(),
        config.timeout(),
    )?;
    let models: Vec<String> = Component::ALL
        .into_iter()
        .filter(|component| config.components.contains_key(component.folder_name()))
        .map(|component| config.served_name(component))
        .collect();
    let status = pool.probe_all(&models)?;
    let mut text = String::new();
    let _ = writeln!(text, "remote model {} ({})", config.model, folder.display());
    let _ = writeln!(text, "servers:");
    for server in &status {
        let state = match &server.state {
            ServerState::Ready => "ready".to_owned(),
            ServerState::Unknown => "not asked".to_owned(),
            ServerState::Down(reason) => format!("unavailable: {reason}"),
        };
        let _ = writeln!(text, "  {}: {state}", server.url);
    }
    let remote = pentimento_inference::pipeline::RemoteModel {
        config: config.clone(),
        pool: std::sync::Arc::new(pool),
    };
    let mut failed = false;
    for component in Component::ALL {
        let Some(description) = config.components.get(component.folder_name()) else {
            continue;
        };
        let served = config.served_name(component);
        match remote.component(component) {
            Ok(loaded) => {
                let _ = writeln!(
                    text,
                    "{component} as {served} (sha256 {}…): matches the servers",
                    &description.sha256[..description.sha256.len().min(12)]
                );
                for spec in &loaded.signature.inputs {
                    let _ = writeln!(text, "  in  {spec}");
                }
                for spec in &loaded.signature.outputs {
                    let _ = writeln!(text, "  out {spec}");
                }
            }
            Err(err) => {
                failed = true;
                let _ = writeln!(text, "{component} as {served}: {err}");
            }
        }
    }
    let unet_channels = config.unet_in_channels;
    let _ = writeln!(
        text,
        "capabilities: text to image{}{}",
        if config.components.contains_key("vae_encoder") {
            ", image to image, inpainting"
        } else {
            ""
        },
        if unet_channels == 9 {
            " (inpainting UNet)"
        } else {
            ""
        }
    );
    print!("{text}");
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
