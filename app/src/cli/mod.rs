//! The command line: with no subcommand `pentimento` opens the window; subcommands work
//! headless.

pub mod credentials;
pub mod fill;
pub mod generate;
pub mod lora;
pub mod models;
pub mod project;
pub mod remote;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use pentimento_inference::onnx_runtime::DYLIB_PATH_ENV;
use pentimento_inference::{LocateOptions, ModelFolder, ModelReport, OnnxRuntime};

use crate::{AppOptions, PentimentoApp};

/// Pentimento: a painting assistant with local Stable Diffusion that adds layers and never
/// paints over your work.
#[derive(Debug, Parser)]
#[command(name = "pentimento", version, about)]
pub struct Cli {
    /// What to do; without a subcommand the painting window opens.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// A project (.ora) or image to open in the window.
    pub file: Option<PathBuf>,
    /// A model folder to load in the window (instead of the one used last).
    #[arg(long)]
    pub model: Option<PathBuf>,
}

/// The model folder and the prompts: what every generating subcommand starts from.
#[derive(Debug, clap::Args)]
pub struct Painting {
    /// The model folder (diffusers or optimum ONNX layout).
    #[arg(long)]
    pub model: PathBuf,
    /// What to paint.
    #[arg(long)]
    pub prompt: String,
    /// What to avoid.
    #[arg(long, default_value = "")]
    pub negative_prompt: String,
}

/// The headless subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show a model folder's components, their inputs and outputs, and what the model can do.
    Info {
        /// A Stable Diffusion model in the diffusers or optimum ONNX layout (the folder that
        /// holds model_index.json), or a remote model's client folder (with remote.json: the
        /// servers are asked what they serve).
        model: PathBuf,
    },
    /// Show which ONNX Runtime library is used and where it comes from, fetching it if needed.
    Runtime,
    /// Generate images from a prompt (text to image), an input image (image to image) or an
    /// image and a mask (inpainting).
    Generate(Box<generate::GenerateArgs>),
    /// List, add, remove, choose and download models.
    Models {
        /// What to do.
        #[command(subcommand)]
        command: models::ModelsCommand,
    },
    /// Flatten a project into an image with signed Content Credentials (regions, model, LoRAs,
    /// the training choice).
    Export(credentials::ExportArgs),
    /// Show what an image's Content Credentials say and whether they still hold.
    Verify {
        /// The image.
        file: PathBuf,
        /// A root certificate (PEM) to trust, e.g. the one a Pentimento artist exported.
        #[arg(long)]
        trust: Option<PathBuf>,
    },
    /// Work on a project headless: inpaint a masked area and accept a variation as a
    /// generative layer, as the window does; show its layers and generation log.
    Project {
        /// What to do.
        #[command(subcommand)]
        command: project::ProjectCommand,
    },
    /// Inspect LoRA files.
    Lora {
        /// What to do.
        #[command(subcommand)]
        command: lora::LoraCommand,
    },
    /// Fill a masked area with the picture's own texture (content-aware fill, no model).
    Fill(fill::FillArgs),
    /// Write a Triton Inference Server model repository for a model folder, and the client
    /// folder (tokenizer, scheduler, remote.json) artists add in the model manager.
    ServeRepo(remote::ServeRepoArgs),
    /// Render a project (.ora) to a PNG with the same compositor as the window.
    Flatten {
        /// The project.
        project: PathBuf,
        /// The PNG to write.
        output: PathBuf,
    },
}

/// Parses the command line and runs it; the binary's `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => run_window(AppOptions {
            open: cli.file,
            model: cli.model,
            ..AppOptions::default()
        })
        .map(|()| ExitCode::SUCCESS),
        Some(command) => run_command(command),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the painting window and returns when it closes.
pub fn run_window(app_options: AppOptions) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Pentimento")
            .with_app_id("pentimento")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([640.0, 400.0])
            .with_icon(eframe::icon_data::from_png_bytes(crate::app::ICON_PNG).unwrap_or_default()),
        ..Default::default()
    };
    eframe::run_native(
        "Pentimento",
        options,
        Box::new(|cc| Ok(Box::new(PentimentoApp::with_options(cc, app_options)))),
    )
    .map_err(|err| {
        anyhow::anyhow!(
            "could not open the window ({err}); Pentimento needs a graphics driver with Vulkan, \
             Metal, DirectX 12 or OpenGL (on Linux, Mesa's drivers work without a GPU)"
        )
    })
}

/// Exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_CANCELLED: u8 = 130;

/// Runs one headless subcommand.
pub fn run_command(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Generate(args) => Ok(match generate::run(&args)? {
            generate::GenerateEnd::Finished => ExitCode::SUCCESS,
            generate::GenerateEnd::Cancelled(_) => ExitCode::from(EXIT_CANCELLED),
        }),
        Command::Info { model }
            if model
                .join(pentimento_inference::remote::REMOTE_FILE)
                .is_file() =>
        {
            remote::info(&model)
        }
        Command::ServeRepo(args) => remote::serve_repo(&args),
        Command::Info { model } => {
            let folder = ModelFolder::open(&model)?;
            let runtime = OnnxRuntime::initialize(&LocateOptions::default())?;
            let report = ModelReport::inspect(&runtime, folder)
                .with_context(|| format!("inspecting {}", model.display()))?;
            print!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Models { command } => models::run(command),
        Command::Lora { command } => lora::run(command),
        Command::Project { command } => project::run(command),
        Command::Fill(args) => fill::run(&args),
        Command::Export(args) => credentials::export(&args),
        Command::Verify { file, trust } => credentials::verify(&file, trust.as_deref()),
        Command::Flatten { project, output } => {
            let document = crate::io::ora::open(&project)?;
            // Unsigned: `export` is the command that signs.
            let shares = crate::credentials::export::export_png(
                &document,
                &output,
                None,
                &crate::credentials::manifest::ExportChoices::default(),
            )?;
            println!(
                "wrote {} ({}×{}): {}",
                output.display(),
                document.width(),
                document.height(),
                shares.describe()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Runtime => {
            let runtime = OnnxRuntime::initialize(&LocateOptions::default())?;
            println!("ONNX Runtime {}", runtime.version());
            println!("library: {}", runtime.library().path.display());
            println!("found via: {}", runtime.library().source);
            println!("(set {DYLIB_PATH_ENV} to use another library)");
            Ok(ExitCode::SUCCESS)
        }
    }
}
