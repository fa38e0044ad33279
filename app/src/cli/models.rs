//! `pentimento models …`: the model manager from the command line. It reads and writes the
//! same list the window shows (in the settings file).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use pentimento_inference::CancelToken;
use pentimento_inference::hub::{self, DownloadOutcome, HubOptions, HubSource};

use crate::models;
use crate::settings::{Folders, Settings};

/// What to do with the model list.
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List the models with what each can do (the default one is marked with *).
    List,
    /// Add a model folder (checked first).
    Add {
        /// The folder that holds model_index.json.
        path: PathBuf,
    },
    /// Remove a model from the list (its files stay on disk).
    Remove {
        /// Its folder, or its name as `list` shows it.
        model: String,
    },
    /// Make a model the default (loaded when a generation first needs it).
    Default {
        /// Its folder, or its name as `list` shows it.
        model: String,
    },
    /// Download an ONNX Stable Diffusion pipeline from the Hugging Face Hub into the Hugging Face
    /// cache and add it. Interrupted downloads resume.
    Download {
        /// The repository, `owner/name`.
        repo: String,
        /// Branch, tag or commit.
        #[arg(long, default_value = "main")]
        revision: String,
        /// The pipeline's folder inside the repository, when not at the top.
        #[arg(long)]
        subfolder: Option<String>,
        /// The Hub or a mirror (default: HF_ENDPOINT, else https://huggingface.co).
        #[arg(long)]
        endpoint: Option<String>,
        /// An access token for gated or private repositories (default: HF_TOKEN or the token
        /// `hf auth login` saved).
        #[arg(long)]
        token: Option<String>,
    },
    /// The suggested ONNX exports to download.
    Suggestions,
}

/// Runs one `models` command.
pub fn run(command: ModelsCommand) -> anyhow::Result<ExitCode> {
    let folders = Folders::platform();
    let file = folders.settings_file();
    let (mut settings, problem) = Settings::load(&file);
    if let Some(problem) = problem {
        eprintln!("{problem}");
    }
    let save = |settings: &Settings| {
        settings
            .save(&file)
            .with_context(|| format!("could not save the model list in {}", file.display()))
    };
    match command {
        ModelsCommand::List => {
            if settings.models.is_empty() {
                println!(
                    "No models yet. Add one with `pentimento models add FOLDER` or download one with `pentimento models download REPO`."
                );
            }
            for entry in &settings.models {
                let default = settings.model_folder.as_deref() == Some(entry.path.as_path());
                println!("{} {}", if default { "*" } else { " " }, entry.name());
                println!("    {}", entry.path.display());
                match models::inspect(&entry.path) {
                    Ok(capabilities) => println!("    {}", capabilities.summary()),
                    Err(message) => println!("    unusable: {message}"),
                }
            }
        }
        ModelsCommand::Add { path } => {
            let capabilities =
                models::add(&mut settings, &path, None).map_err(anyhow::Error::msg)?;
            save(&settings)?;
            println!("added {}: {}", path.display(), capabilities.summary());
        }
        ModelsCommand::Remove { model } => {
            let Some(entry) = models::find(&settings, &model).cloned() else {
                bail!("no model called {model} in the list; `pentimento models list` shows them");
            };
            models::remove(&mut settings, &entry.path);
            save(&settings)?;
            println!(
                "removed {} from the list (its files are still at {})",
                entry.name(),
                entry.path.display()
            );
        }
        ModelsCommand::Default { model } => {
            let Some(entry) = models::find(&settings, &model).cloned() else {
                bail!("no model called {model} in the list; `pentimento models list` shows them");
            };
            models::set_default(&mut settings, &entry.path);
            save(&settings)?;
            println!("{} is the default model", entry.name());
        }
        ModelsCommand::Download {
            repo,
            revision,
            subfolder,
            endpoint,
            token,
        } => {
            let source = HubSource {
                repo,
                revision,
                subfolder,
            };
            let options = HubOptions {
                endpoint,
                token,
                cache_dir: None,
            };
            let cancel = CancelToken::new();
            let handler_cancel = cancel.clone();
            let _ = ctrlc::set_handler(move || handler_cancel.cancel());
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} {eta} left · {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let mut report = |progress: &hub::DownloadProgress| {
                bar.set_length(progress.bytes_total);
                bar.set_position(progress.bytes_done);
                bar.set_message(progress.file.clone());
            };
            let outcome = hub::download_model(&source, &options, &mut report, &cancel)
                .map_err(|err| anyhow::anyhow!(crate::messages::sentence(&err.to_string())))?;
            bar.finish_and_clear();
            match outcome {
                DownloadOutcome::Finished(path) => {
                    let label = models::source_label(&source);
                    let capabilities = models::add(&mut settings, &path, Some(label.clone()))
                        .map_err(anyhow::Error::msg)?;
                    save(&settings)?;
                    println!("{label} is ready in {}", path.display());
                    println!("{}", capabilities.summary());
                }
                DownloadOutcome::Cancelled => {
                    println!("download stopped; run the same command again to resume");
                    return Ok(ExitCode::from(super::EXIT_CANCELLED));
                }
            }
        }
        ModelsCommand::Suggestions => {
            for suggestion in hub::SUGGESTIONS {
                let source = suggestion.source();
                println!(
                    "{}: pentimento models download {} --revision {}{}",
                    suggestion.name,
                    source.repo,
                    source.revision,
                    source
                        .subfolder
                        .as_deref()
                        .map(|folder| format!(" --subfolder {folder}"))
                        .unwrap_or_default()
                );
                println!("    {}", suggestion.note);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
