//! `pentimento export` (flatten and sign) and `pentimento verify` (what a signed file says).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use crate::credentials::export::ExportFormat;
use crate::credentials::manifest::ExportChoices;
use crate::credentials::{SigningIdentity, TrainingUse, Verification, mime_of};
use crate::settings::{Folders, Settings};

/// What exported credentials say about AI training.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum TrainingArg {
    /// Allowed.
    Allowed,
    /// Not allowed.
    #[value(name = "notAllowed", alias = "not-allowed")]
    NotAllowed,
    /// Allowed under conditions stated elsewhere.
    Constrained,
}

/// Arguments of `pentimento export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The project (.ora).
    pub project: PathBuf,
    /// The image to write (.png).
    pub output: PathBuf,
    /// Write no Content Credentials.
    #[arg(long)]
    pub no_credentials: bool,
    /// Leave the prompts out of the credentials and text chunks.
    #[arg(long)]
    pub hide_prompt: bool,
    /// What the credentials say about AI training and data mining (default: Settings', which
    /// start as notAllowed).
    #[arg(long)]
    pub training: Option<TrainingArg>,
    /// JPEG quality, 1–100.
    #[arg(long, default_value_t = 92, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub quality: u8,
}

/// Runs `pentimento export`.
pub fn export(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    mime_of(&args.output)?;
    let format =
        ExportFormat::for_path(&args.output, args.quality).context("the output's extension")?;
    let folders = Folders::platform();
    let (settings, _) = Settings::load(&folders.settings_file());
    let document = crate::io::ora::open(&args.project)?;
    let choices = ExportChoices {
        show_prompt: settings.show_prompt && !args.hide_prompt,
        training: match args.training {
            Some(TrainingArg::Allowed) => TrainingUse::Allowed,
            Some(TrainingArg::NotAllowed) => TrainingUse::NotAllowed,
            Some(TrainingArg::Constrained) => TrainingUse::Constrained,
            None => settings.training,
        },
    };
    let identity = if args.no_credentials {
        None
    } else {
        Some(
            SigningIdentity::load_or_make(&folders.identity_dir(), &settings.artist_name)
                .context("the signing identity")?,
        )
    };
    let exported = crate::credentials::export::export(
        &document,
        &args.output,
        format,
        identity.as_ref(),
        &choices,
    )?;
    let shares = &exported.shares;
    println!(
        "wrote {}: {}{}",
        args.output.display(),
        shares.describe(),
        match &identity {
            Some(identity) => format!("; signed by {}", identity.signer),
            None => "; no Content Credentials".to_owned(),
        }
    );
    for (index, report) in exported.regions.iter().enumerate() {
        println!("generated region {}: {}", index + 1, report.describe());
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `pentimento verify FILE [--trust ROOT]`: exit 0 when valid or trusted, 1 otherwise.
pub fn verify(file: &Path, trust: Option<&Path>) -> anyhow::Result<ExitCode> {
    let anchor = trust
        .map(|path| {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
        })
        .transpose()?;
    let read = crate::credentials::verify_file(file, anchor.as_deref())?;
    print!("{}", describe(file, &read));
    Ok(if read.state == "Invalid" {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The verification as lines for people, under the file's name.
pub fn describe(file: &Path, read: &Verification) -> String {
    let mut out = format!("{}\n", file.display());
    for line in read.describe_lines() {
        out.push_str(&line);
        out.push('\n');
    }
    out
}
