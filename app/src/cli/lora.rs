//! `pentimento lora info FILE [--model MODEL]`: what a LoRA file is, what it says about itself,
//! and, given a model, whether and how it fits it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;
use pentimento_inference::lora::onnx::ModelWeights;
use pentimento_inference::lora::{LoraChoice, LoraComponent, LoraFile, merge};
use pentimento_inference::{Component, ModelFolder};

/// What `pentimento lora` does.
#[derive(Debug, Subcommand)]
pub enum LoraCommand {
    /// Show a LoRA file's layout, the layers it changes, what it was made for and its metadata
    /// (title, author, license, trigger words, training settings).
    Info {
        /// The .safetensors file.
        file: PathBuf,
        /// Also check it against this model folder: which layers it changes there, which of
        /// its keys match nothing, whether its shapes fit.
        #[arg(long)]
        model: Option<PathBuf>,
    },
}

/// Runs `pentimento lora`.
pub fn run(command: LoraCommand) -> anyhow::Result<ExitCode> {
    match command {
        LoraCommand::Info { file, model } => {
            let lora = LoraFile::open(&file)?;
            print!("{}", describe(&lora));
            if let Some(model) = model {
                print!("{}", fit(&lora, &model)?);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The report about the file itself.
pub fn describe(lora: &LoraFile) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: String| {
        out.push_str(&format!("{label:<14}{value}\n"));
    };
    line(
        "LoRA",
        format!(
            "{} ({}, {:.1} MB)",
            lora.name(),
            lora.path.display(),
            lora.size as f64 / 1e6
        ),
    );
    line("sha256", lora.sha256.clone());
    line("layout", lora.format.describe().to_owned());
    let per_component: Vec<String> = lora
        .components()
        .into_iter()
        .map(|component| {
            let count = lora
                .pairs
                .iter()
                .filter(|pair| pair.component == component)
                .count();
            format!("{} ({count} layers)", component_name(component))
        })
        .collect();
    line("changes", per_component.join(", "));
    let ranks: Vec<String> = lora.ranks().iter().map(usize::to_string).collect();
    line(
        "rank",
        format!(
            "{}{}",
            ranks.join(", "),
            if lora.has_convolutions() {
                "; with 3×3 convolutions (LoCon)"
            } else {
                ""
            }
        ),
    );
    let metadata = &lora.metadata;
    line(
        "made for",
        match (metadata.base_model(), metadata.family()) {
            (Some(base), Some(family)) => format!("{base} ({})", family.name()),
            (Some(base), None) => base.to_owned(),
            _ => "not stated in the file".to_owned(),
        },
    );
    for (label, value) in [
        ("title", metadata.title()),
        ("author", metadata.author()),
        ("license", metadata.license()),
        ("description", metadata.description()),
    ] {
        if let Some(value) = value {
            line(label, value.to_owned());
        }
    }
    let triggers = metadata.trigger_words();
    if !triggers.is_empty() {
        line("trigger words", triggers.join(", "));
    }
    for (label, value) in metadata.training() {
        line(label, value);
    }
    out
}

/// How the LoRA fits a model folder.
fn fit(lora: &LoraFile, model: &std::path::Path) -> anyhow::Result<String> {
    let folder = ModelFolder::open(model)?;
    let choice = [LoraChoice {
        lora: Arc::new(lora.clone()),
        strength: 1.0,
    }];
    let mut out = format!("\nagainst {}:\n", model.display());
    let mut matched = 0;
    for (component, part) in [
        (LoraComponent::TextEncoder, Component::TextEncoder),
        (LoraComponent::Unet, Component::Unet),
    ] {
        if !lora.components().contains(&component) {
            continue;
        }
        let Some(files) = folder.component(part) else {
            out.push_str(&format!(
                "  {}: the model has none\n",
                component_name(component)
            ));
            continue;
        };
        let weights = ModelWeights::read(&files.model).map_err(anyhow::Error::msg)?;
        let found = merge::check(&weights, component, &choice)?.remove(0);
        matched += found.matched;
        out.push_str(&format!(
            "  {}: {} layers changed",
            component_name(component),
            found.matched
        ));
        if found.unmatched.is_empty() {
            out.push('\n');
        } else {
            out.push_str(&format!(
                "; {} keys match no layer: {}\n",
                found.unmatched.len(),
                found.unmatched.join(", ")
            ));
        }
    }
    if matched == 0 {
        anyhow::bail!(
            "{out}none of the LoRA's layers is in this model: it was made for another kind of model"
        );
    }
    Ok(out)
}

fn component_name(component: LoraComponent) -> &'static str {
    match component {
        LoraComponent::Unet => "UNet",
        LoraComponent::TextEncoder => "text encoder",
    }
}
