//! `pentimento project`: what the window does to a project, headless. `inpaint` runs the same
//! plan, worker, generation log and accept as the window's Generate and Accept, so a script's
//! project reads exactly like one made by hand.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use pentimento_inference::{
    CancelToken, GenerationRequest, LoadOptions, LocateOptions, ProviderChoice, SchedulerKind,
};

use crate::document::LoraRecord;
use crate::document::canvas_size::Anchor;
use crate::region::{self, ModeChoice, ModelShape};
use crate::settings::{Folders, GenerationSettings, Settings};
use crate::worker::{Command, Event, ModelInfo, Worker};

/// `pentimento project …`.
#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Inpaint the masked area of a project or image, accept one variation as a generative
    /// layer and write the project, with the generation in its log.
    Inpaint(Box<InpaintArgs>),
    /// Fill the masked area of a project or image with the picture's own texture (content-aware
    /// fill, no model) as a layer of its own class, logged, and write the project.
    Fill {
        /// The project (.ora) or image to fill.
        input: PathBuf,
        /// The area to fill: a greyscale image the picture's size, white = fill (default: the
        /// project's own mask).
        #[arg(long)]
        mask: Option<PathBuf>,
        /// Seed of the random search.
        #[arg(long, default_value_t = 1)]
        seed: u32,
        /// The project to write (.ora).
        #[arg(long)]
        out: PathBuf,
    },
    /// Add to the canvas of a project or image (every layer keeps its pixels) and mask the
    /// new area, so that `project inpaint` then outpaints it.
    Grow {
        /// The project (.ora) or image to grow.
        input: PathBuf,
        /// The new width (at least the current one).
        #[arg(long)]
        width: u32,
        /// The new height (at least the current one).
        #[arg(long)]
        height: u32,
        /// Where the picture sits: centre, left, right, top, bottom, top-left, top-right,
        /// bottom-left or bottom-right.
        #[arg(long, default_value = "centre", value_parser = parse_anchor)]
        anchor: Anchor,
        /// How far the mask reaches into the picture, in pixels.
        #[arg(long, default_value_t = 32)]
        overlap: u32,
        /// Leave the mask as it is (grow only).
        #[arg(long)]
        no_mask: bool,
        /// The project to write (.ora).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print a project's layers and generation log.
    Show {
        /// The project (.ora).
        project: PathBuf,
    },
}

/// Arguments of `pentimento project inpaint`.
#[derive(Debug, Args)]
pub struct InpaintArgs {
    /// The project (.ora) or image (PNG, JPEG, WebP) to inpaint.
    pub input: PathBuf,
    /// The mask: a greyscale image the size of the picture, white = regenerate (default: the
    /// project's own mask, as `project grow` or the window left it).
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// The model and what to paint with it.
    #[command(flatten)]
    pub painting: super::Painting,
    /// Seed of the first variation; variation i uses seed + i.
    #[arg(long, default_value_t = GenerationSettings::default().seed)]
    pub seed: u32,
    /// How much of the masked area to change (0 < strength ≤ 1).
    #[arg(long, default_value_t = 1.0)]
    pub strength: f64,
    /// Denoising steps.
    #[arg(long, default_value_t = GenerationSettings::default().steps)]
    pub steps: usize,
    /// Classifier-free guidance scale.
    #[arg(long, default_value_t = GenerationSettings::default().guidance)]
    pub guidance: f32,
    /// Noise scheduler: ddim, pndm, euler, euler-a, dpmpp-2m, dpmpp-2m-karras or lcm.
    #[arg(long, default_value = "dpmpp-2m-karras")]
    pub scheduler: SchedulerKind,
    /// How many variations to make (default: enough for --accept); all of them stay in the
    /// layer, so another can be shown later.
    #[arg(long)]
    pub count: Option<usize>,
    /// Fill the masked area with content-aware fill first, so that at a strength below 1 the
    /// model starts from the picture's own texture rather than what the mask covers.
    #[arg(long)]
    pub prefill: bool,
    /// Regenerate the mask's feathered part less strongly than its core (soft inpainting):
    /// its grey levels say how strongly each area changes.
    #[arg(long)]
    pub soft_inpainting: bool,
    /// With --soft-inpainting, first grade the mask's edge inwards over this many pixels.
    #[arg(long, default_value_t = 0.0)]
    pub graded_edge: f32,
    /// Which variation becomes the layer (0 = the first).
    #[arg(long, default_value_t = 0)]
    pub accept: usize,
    /// A LoRA to apply: PATH or PATH:STRENGTH. Repeat for several; `<lora:name:0.8>` in the
    /// prompt works too (found in the LoRA folder from Settings).
    #[arg(long = "lora", value_name = "PATH[:STRENGTH]")]
    pub loras: Vec<String>,
    /// Execution provider: auto, cpu, cuda, tensorrt, directml or coreml.
    #[arg(long, default_value = "auto")]
    pub provider: ProviderChoice,
    /// The project to write (.ora); may be the input project.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `pentimento project …`.
pub fn run(command: ProjectCommand) -> anyhow::Result<ExitCode> {
    match command {
        ProjectCommand::Inpaint(args) => inpaint(&args),
        ProjectCommand::Show { project } => show(&project),
        ProjectCommand::Fill {
            input,
            mask,
            seed,
            out,
        } => fill(&input, mask.as_deref(), seed, &out),
        ProjectCommand::Grow {
            input,
            width,
            height,
            anchor,
            overlap,
            no_mask,
            out,
        } => grow(
            &input,
            (width, height),
            anchor,
            (!no_mask).then_some(overlap),
            &out,
        ),
    }
}

/// An anchor by name.
fn parse_anchor(text: &str) -> Result<Anchor, String> {
    let names = [
        ("top-left", (0, 0)),
        ("top", (1, 0)),
        ("top-right", (2, 0)),
        ("left", (0, 1)),
        ("centre", (1, 1)),
        ("center", (1, 1)),
        ("right", (2, 1)),
        ("bottom-left", (0, 2)),
        ("bottom", (1, 2)),
        ("bottom-right", (2, 2)),
    ];
    names
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|&(_, (x, y))| Anchor { x, y })
        .ok_or_else(|| {
            format!(
                "\"{text}\" is not an anchor; use one of {}",
                names
                    .iter()
                    .map(|(name, _)| *name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

fn grow(
    input: &std::path::Path,
    (width, height): (u32, u32),
    anchor: Anchor,
    outpaint: Option<u32>,
    out: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    check_project_out(out)?;
    let mut document = open_input(input)?;
    let grown = document
        .grow_canvas(width, height, anchor, outpaint)
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    crate::io::ora::save(&document, out)?;
    let p = grown.picture;
    println!(
        "{}: canvas {width}×{height}, the picture at {},{}–{},{}; {} px masked for outpainting",
        out.display(),
        p.x0,
        p.y0,
        p.x1,
        p.y1,
        grown.masked
    );
    Ok(ExitCode::SUCCESS)
}

fn show(path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let document = crate::io::ora::open(path)?;
    println!(
        "{} ({}×{})",
        path.display(),
        document.width(),
        document.height()
    );
    for layer in document.layers().iter().rev() {
        let kind = match &layer.content {
            crate::document::layer::LayerContent::Paint(_) => "paint".to_owned(),
            crate::document::layer::LayerContent::Generative(generative) => format!(
                "generative, generation {}, variation {} of {}",
                generative.generation,
                generative.selected + 1,
                generative.variations.len()
            ),
        };
        println!(
            "layer \"{}\": {kind}{}",
            layer.properties.name,
            if layer.properties.visible {
                ""
            } else {
                " (hidden)"
            }
        );
    }
    for shown in document.shown_variations() {
        println!("layer \"{}\" shows {}", shown.name, shown.describe());
    }
    for record in &document.generation_log {
        println!(
            "generation {}: {} at {}, {} \"{}\", {} steps of {}, seeds {:?}, accepted {:?}, {}",
            record.id,
            record.mode,
            record.time,
            record.model,
            record.prompt,
            record.steps,
            record.scheduler,
            record.seeds,
            record.accepted,
            record.outcome
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `--out` must be a project.
fn check_project_out(out: &std::path::Path) -> anyhow::Result<()> {
    if !out
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("ora"))
    {
        bail!(
            "--out must name an OpenRaster project (.ora), not {}",
            out.display()
        );
    }
    Ok(())
}

/// A project or image as a document (an image is recorded as the document's ingredient).
fn open_input(input: &std::path::Path) -> anyhow::Result<crate::document::Document> {
    let mut document = crate::io::open_document(input).map_err(anyhow::Error::msg)?;
    if !input
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("ora"))
    {
        crate::credentials::ingredients::record_opened_image(&mut document, input);
    }
    Ok(document)
}

/// A project or image as a document with `mask` as its mask, or the project's own mask when
/// there is none.
fn open_with_mask(
    input: &std::path::Path,
    mask: Option<&std::path::Path>,
    out: &std::path::Path,
) -> anyhow::Result<crate::document::Document> {
    check_project_out(out)?;
    let mut document = open_input(input)?;
    let Some(mask) = mask else {
        if document.mask().content_bounds(0).is_empty() {
            bail!(
                "{} has no mask; give one with --mask (a greyscale image the picture's size, \
                 white = change), or grow the canvas with `pentimento project grow`",
                input.display()
            );
        }
        return Ok(document);
    };
    let read = crate::io::read_mask(mask)?;
    document
        .replace_mask((read.width, read.height), &read.pixels)
        .map_err(|err| anyhow::anyhow!("{}: {err}", mask.display()))?;
    if document.mask().content_bounds(0).is_empty() {
        bail!(
            "the mask {} is black everywhere, so there is nothing to change; paint the area \
             white",
            mask.display()
        );
    }
    Ok(document)
}

fn fill(
    input: &std::path::Path,
    mask: Option<&std::path::Path>,
    seed: u32,
    out: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    let mut document = open_with_mask(input, mask, out)?;
    let started = std::time::Instant::now();
    let layer = region::content_aware_fill(&mut document, seed).map_err(anyhow::Error::msg)?;
    let seconds = started.elapsed().as_secs_f64();
    let name = save_naming(&document, out, layer)?;
    println!(
        "{}: layer \"{name}\" filled in {seconds:.2} s from the picture's own pixels (no model)",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn inpaint(args: &InpaintArgs) -> anyhow::Result<ExitCode> {
    if !(args.strength > 0.0 && args.strength <= 1.0) {
        bail!("--strength must be above 0 and at most 1");
    }
    let count = args.count.unwrap_or(args.accept + 1).max(1);
    if args.accept >= count {
        bail!(
            "--accept {} asks for variation {} but --count makes {count}; variations count from 0",
            args.accept,
            args.accept + 1
        );
    }
    let mut document = open_with_mask(&args.input, args.mask.as_deref(), &args.out)?;

    let folders = Folders::platform();
    let (settings, _) = Settings::load(&folders.settings_file());
    let (prompt, mut loras) =
        crate::app::loras::requested(&args.painting.prompt, &[], &settings.lora_dir(&folders))
            .map_err(anyhow::Error::msg)?;
    let mut explicit = Vec::new();
    for text in &args.loras {
        explicit.push(super::generate::parse_lora_argument(text)?);
    }
    explicit.append(&mut loras);

    let worker = Worker::spawn(
        LocateOptions::default(),
        crate::settings::optimized_cache_folder(),
        || {},
    )
    .context("starting the generation thread")?;
    let info = load_model(&worker, args)?;
    eprintln!("model {} loaded; running on {}", info.name, info.provider);
    let plan = region::plan_with(
        &document,
        ModeChoice::Inpaint,
        ModelShape {
            native_resolution: info.native_resolution,
            size_multiple: info.size_multiple,
            has_vae_encoder: info.has_vae_encoder,
        },
        args.strength,
        region::PlanOptions {
            prefill: args.prefill,
            graded_edge: if args.soft_inpainting {
                args.graded_edge
            } else {
                0.0
            },
        },
    )
    .map_err(anyhow::Error::msg)?;
    let base = GenerationRequest {
        prompt,
        loras: explicit,
        negative_prompt: args.painting.negative_prompt.clone(),
        steps: args.steps,
        guidance: args.guidance,
        scheduler: args.scheduler,
        seed: args.seed,
        count,
        soft_inpainting: args.soft_inpainting,
        ..GenerationRequest::text_to_image("")
    };
    let request = region::request_for(&plan, &base);
    let log_id = document.log_generation(region::record_for(
        &plan,
        &request,
        &info.name,
        &info.fingerprint,
        &info.provider,
    ));

    let cancel = CancelToken::new();
    {
        let cancel = cancel.clone();
        // A failure to install the handler only loses Ctrl-C handling.
        let _ = ctrlc::set_handler(move || {
            eprintln!("\nstopping after this step…");
            cancel.cancel();
        });
    }
    worker
        .send(Command::Generate {
            job: 2,
            request: Box::new(request.clone()),
            cancel,
        })
        .map_err(anyhow::Error::msg)?;
    let mut variations: Vec<(u32, Arc<Vec<u8>>)> = Vec::new();
    let outcome = loop {
        let Some(event) = worker.recv_timeout(Duration::from_secs(3600)) else {
            bail!("the generation stopped answering; nothing was written");
        };
        match event {
            Event::Progress {
                variation,
                variations: total,
                step,
                steps,
                ..
            } => eprint!(
                "\rvariation {} of {total} · step {step} of {steps}   ",
                variation + 1
            ),
            Event::LorasApplied { loras, .. } => {
                for lora in &loras {
                    eprintln!(
                        "LoRA {} at strength {}: {} layers changed",
                        lora.name, lora.strength, lora.merged
                    );
                }
                if let Some(record) = document.generation_record_mut(log_id) {
                    record.loras = loras.iter().map(LoraRecord::of).collect();
                }
            }
            Event::Variation { variation, .. } => {
                if let Some(record) = document.generation_record_mut(log_id) {
                    record.seeds.push(variation.seed);
                }
                variations.push((
                    variation.seed,
                    Arc::new(region::to_region(&variation.image, plan.region)),
                ));
            }
            Event::Finished { cancelled, .. } => {
                break if cancelled { "cancelled" } else { "finished" };
            }
            Event::Failed { message, .. } => bail!("{message}; nothing was written"),
            Event::ModelLoading { .. } | Event::ModelLoaded { .. } | Event::ModelFailed { .. } => {}
        }
    };
    eprintln!();
    if let Some(record) = document.generation_record_mut(log_id) {
        record.outcome = outcome.to_owned();
    }
    let Some(&(seed, _)) = variations.get(args.accept) else {
        bail!(
            "cancelled before variation {} was finished; nothing was written",
            args.accept + 1
        );
    };
    let layer = document.accept_variation(
        log_id,
        plan.region,
        variations.iter().map(|(_, raw)| Arc::clone(raw)).collect(),
        args.accept,
        plan.region_mask.clone(),
        Some(Arc::clone(&plan.context)),
        seed,
    );
    // The mask did its work; the project keeps it, as the window does after Generate.
    let name = save_naming(&document, &args.out, layer)?;
    println!(
        "{}: layer \"{name}\" (variation {} of {}, seed {seed}), generation {log_id} in the log",
        args.out.display(),
        args.accept + 1,
        variations.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn load_model(worker: &Worker, args: &InpaintArgs) -> anyhow::Result<ModelInfo> {
    worker
        .send(Command::LoadModel {
            job: 1,
            path: args.painting.model.clone(),
            options: LoadOptions {
                provider: args.provider,
                intra_threads: None,
                optimized_cache: None,
                ..LoadOptions::default()
            },
        })
        .map_err(anyhow::Error::msg)?;
    loop {
        match worker.recv_timeout(Duration::from_secs(3600)) {
            Some(Event::ModelLoaded { info, .. }) => return Ok(*info),
            Some(Event::ModelFailed { message, .. }) => bail!("{message}"),
            Some(Event::ModelLoading { stage, .. }) => eprintln!("{stage}"),
            Some(_) => {}
            None => bail!("loading the model stopped answering"),
        }
    }
}

/// Saves the project to `out`; the name of `layer`, the one the command added.
fn save_naming(
    document: &crate::document::Document,
    out: &std::path::Path,
    layer: crate::document::layer::LayerId,
) -> anyhow::Result<String> {
    crate::io::ora::save(document, out)?;
    Ok(document
        .layer(layer)
        .map(|layer| layer.properties.name.clone())
        .unwrap_or_default())
}
