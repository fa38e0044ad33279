//! `pentimento generate`: text to image, image to image and inpainting from files, with a
//! terminal progress bar. Ctrl-C stops within one step; finished variations are kept, a
//! partial one is never written.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Args;
use pentimento_inference::lora::LoraRequest;
use pentimento_inference::lora::prompt::{find_in_folder, take_lora_tags};
use pentimento_inference::pipeline::{CacheUse, Img2ImgSchedule, Progress};
use pentimento_inference::{
    CancelToken, GenerationRequest, LoadOptions, LocateOptions, Mode, OnnxRuntime, Outcome,
    ProviderChoice, SchedulerKind, StableDiffusion, Variation, npy,
};

use crate::io;

/// Arguments of `pentimento generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The model and what to paint with it.
    #[command(flatten)]
    pub painting: super::Painting,
    /// Width in pixels (default: the input image's, else the model's native resolution).
    #[arg(long)]
    pub width: Option<u32>,
    /// Height in pixels (default: the input image's, else the model's native resolution).
    #[arg(long)]
    pub height: Option<u32>,
    /// Denoising steps.
    #[arg(long, default_value_t = 25)]
    pub steps: usize,
    /// Classifier-free guidance scale (1 or less: no guidance, faster).
    #[arg(long, default_value_t = 7.5)]
    pub guidance: f32,
    /// Skip the unconditional half of guidance after this fraction of the steps (0 to 1; not
    /// exact: the image changes a little, the last steps take half as long).
    #[arg(long)]
    pub guidance_cutoff: Option<f32>,
    /// Noise scheduler: ddim, pndm, euler, euler-a, dpmpp-2m, dpmpp-2m-karras or lcm.
    #[arg(long, default_value = "dpmpp-2m-karras")]
    pub scheduler: SchedulerKind,
    /// DDIM's eta (0: deterministic).
    #[arg(long, default_value_t = 0.0)]
    pub eta: f32,
    /// Seed of the first image; image i uses seed + i.
    #[arg(long, default_value_t = 0)]
    pub seed: u32,
    /// How many variations.
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// Input image (PNG, JPEG or WebP) for image to image or inpainting.
    #[arg(long)]
    pub init_image: Option<PathBuf>,
    /// How much to change the input image (0 < strength ≤ 1; default 0.75, inpainting 1).
    #[arg(long)]
    pub strength: Option<f64>,
    /// Inpainting mask: a greyscale image, white = regenerate (needs --init-image).
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// Soft inpainting: the mask's grey levels say how strongly each area is regenerated
    /// (differential diffusion), so graded edges meet the picture in the model itself.
    #[arg(long)]
    pub soft_inpainting: bool,
    /// Standard-normal starting noise from a .npy file, [count, 4, height/8, width/8]
    /// (or [4, h/8, w/8] for one image), instead of the seeded noise.
    #[arg(long)]
    pub init_noise: Option<PathBuf>,
    /// Save the final latents of all images as one .npy file, [count, 4, height/8, width/8].
    #[arg(long)]
    pub save_latents: Option<PathBuf>,
    /// Execution provider: auto, cpu, cuda, tensorrt, directml or coreml.
    #[arg(long, default_value = "auto")]
    pub provider: ProviderChoice,
    /// ONNX Runtime threads per operator (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// img2img strength convention: "diffusers" (default) or "diffusers-onnx" (reproduces
    /// diffusers' ONNX img2img pipeline exactly).
    #[arg(long, default_value = "diffusers", value_parser = parse_schedule)]
    pub img2img_schedule: Img2ImgSchedule,
    /// A LoRA to apply: PATH or PATH:STRENGTH (strength 1 when omitted; a negative strength
    /// subtracts it). Repeat for several. `<lora:name:0.8>` in the prompt works too.
    #[arg(long = "lora", value_name = "PATH[:STRENGTH]")]
    pub loras: Vec<String>,
    /// Where `<lora:name>` in the prompt looks for name.safetensors (default: the LoRA folder
    /// from Settings).
    #[arg(long)]
    pub lora_dir: Option<PathBuf>,
    /// Output PNG; with --count above 1 the images are numbered (out-1.png, out-2.png, …).
    #[arg(long)]
    pub out: PathBuf,
}

fn parse_schedule(text: &str) -> Result<Img2ImgSchedule, String> {
    match text {
        "diffusers" => Ok(Img2ImgSchedule::Diffusers),
        "diffusers-onnx" => Ok(Img2ImgSchedule::DiffusersOnnx),
        other => Err(format!(
            "unknown img2img schedule \"{other}\"; use diffusers or diffusers-onnx"
        )),
    }
}

/// How `generate` ended, for the exit code.
#[derive(Debug, PartialEq, Eq)]
pub enum GenerateEnd {
    /// Every image was written.
    Finished,
    /// Stopped by Ctrl-C after writing this many whole images.
    Cancelled(usize),
}

/// The path of image `index` (0-based) of `count`.
pub fn numbered_output(out: &Path, index: usize, count: usize) -> PathBuf {
    if count == 1 {
        return out.to_path_buf();
    }
    let stem = out
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_owned());
    let extension = out
        .extension()
        .map(|extension| extension.to_string_lossy().into_owned())
        .unwrap_or_else(|| "png".to_owned());
    out.with_file_name(format!("{stem}-{}.{extension}", index + 1))
}

/// Runs `pentimento generate`.
pub fn run(args: &GenerateArgs) -> anyhow::Result<GenerateEnd> {
    if args.mask.is_some() && args.init_image.is_none() {
        bail!("--mask needs --init-image: the mask says which part of that image to regenerate");
    }
    if args.strength.is_some() && args.init_image.is_none() {
        bail!("--strength needs --init-image: it says how much of that image to change");
    }
    let image = args.init_image.as_deref().map(io::read_rgb).transpose()?;
    let image_size = image.as_ref().map(|image| (image.width, image.height));
    let mode = match (image, &args.mask) {
        (None, _) => Mode::TextToImage,
        (Some(image), None) => Mode::ImageToImage {
            image,
            strength: args.strength.unwrap_or(0.75),
        },
        (Some(image), Some(mask)) => Mode::Inpaint {
            image,
            mask: io::read_mask(mask)?,
            strength: args.strength.unwrap_or(1.0),
        },
    };
    let (prompt, loras) = requested_loras(args)?;
    let mut request = GenerationRequest {
        prompt,
        negative_prompt: args.painting.negative_prompt.clone(),
        width: 0,
        height: 0,
        steps: args.steps,
        guidance: args.guidance,
        scheduler: args.scheduler,
        eta: args.eta,
        seed: args.seed,
        count: args.count,
        mode,
        initial_noise: None,
        img2img_schedule: args.img2img_schedule,
        loras,
        soft_inpainting: args.soft_inpainting,
        guidance_cutoff: args.guidance_cutoff,
    };
    let runtime = OnnxRuntime::initialize(&LocateOptions::default())?;
    let started = Instant::now();
    let mut model = StableDiffusion::load(
        Arc::clone(&runtime),
        &args.painting.model,
        LoadOptions {
            provider: args.provider,
            intra_threads: args.threads,
            optimized_cache: crate::settings::optimized_cache_folder(),
            ..LoadOptions::default()
        },
    )?;
    let load_time = started.elapsed();
    let native = model.native_resolution();
    request.width = args.width.or(image_size.map(|(w, _)| w)).unwrap_or(native);
    request.height = args.height.or(image_size.map(|(_, h)| h)).unwrap_or(native);
    if let Some(path) = &args.init_noise {
        request.initial_noise = Some(read_noise(path, &request)?);
    }
    model.validate(&request)?;
    eprintln!(
        "model loaded in {:.1} s; running on {}",
        load_time.as_secs_f64(),
        model.provider()
    );
    for lora in model.use_loras(&request.loras)? {
        eprintln!(
            "LoRA {} at strength {}: {} layers changed{}",
            lora.name,
            lora.strength,
            lora.merged,
            unmatched_note(&lora.unmatched)
        );
    }
    let prompt_tokens = model.tokenizer().encode(&request.prompt);
    if prompt_tokens.truncated_tokens > 0 {
        eprintln!(
            "note: the prompt is {} tokens long; the model reads the first {}, the last {} are ignored",
            prompt_tokens.token_count,
            model.tokenizer().max_length() - 2,
            prompt_tokens.truncated_tokens
        );
    }

    let cancel = CancelToken::new();
    {
        let cancel = cancel.clone();
        let presses = std::sync::atomic::AtomicUsize::new(0);
        // A failure to install the handler only loses Ctrl-C handling; generation still works.
        let _ = ctrlc::set_handler(move || {
            if presses.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0 {
                std::process::exit(130);
            }
            eprintln!("\nstopping… (press Ctrl-C again to quit at once)");
            cancel.cancel();
        });
    }

    let bar = indicatif::ProgressBar::new((request.count * request.steps) as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{bar:32}] image {msg} · {elapsed_precise} · eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    // One variation at a time, each written as soon as it is whole.
    let generation_started = Instant::now();
    let latent_size: usize = request.latent_shape().iter().product();
    let mut variations = Vec::with_capacity(request.count);
    let mut cancelled = false;
    for index in 0..request.count {
        let single = GenerationRequest {
            seed: request.seed.wrapping_add(index as u32),
            count: 1,
            initial_noise: request
                .initial_noise
                .as_ref()
                .map(|noise| noise[index * latent_size..(index + 1) * latent_size].to_vec()),
            ..request.clone()
        };
        let mut on_step = |progress: &Progress<'_>| {
            // Steps per image can differ from --steps (img2img strength, PNDM).
            bar.set_length((request.count * progress.steps) as u64);
            bar.set_position((index * progress.steps + progress.step) as u64);
            bar.set_message(format!(
                "{}/{} step {}/{}",
                index + 1,
                request.count,
                progress.step,
                progress.steps
            ));
            ControlFlow::Continue(())
        };
        let mut done = match model.generate(&single, &mut on_step, &cancel)? {
            Outcome::Finished(done) => done,
            Outcome::Cancelled { completed } => {
                cancelled = true;
                completed
            }
        };
        for variation in done.drain(..) {
            let path = numbered_output(&args.out, index, request.count);
            io::write_png(
                &path,
                &variation.image,
                &png_text(&request, &model, &variation),
            )?;
            bar.suspend(|| println!("{} (seed {})", path.display(), variation.seed));
            variations.push(variation);
        }
        if cancelled {
            break;
        }
    }
    bar.finish_and_clear();
    if let Some(path) = &args.save_latents
        && !variations.is_empty()
    {
        save_latents(path, &request, &variations)?;
        println!("{}", path.display());
    }
    let times = model.session_times();
    eprintln!(
        "{} image(s) in {:.1} s ({:.1} s inside ONNX Runtime)",
        variations.len(),
        generation_started.elapsed().as_secs_f64(),
        times.total().as_secs_f64()
    );
    if cancelled {
        eprintln!(
            "cancelled: {} of {} image(s) finished and written; nothing partial was saved",
            variations.len(),
            request.count
        );
        return Ok(GenerateEnd::Cancelled(variations.len()));
    }
    // The images are written; now keep the optimized model for the next load.
    if let Some(work) = model.take_cache_work() {
        eprintln!("saving the model optimized for this computer, so that later loads are faster…");
        let saved = work.run(&cancel);
        if saved
            .iter()
            .all(|(_, cache_use)| *cache_use == CacheUse::Stored)
        {
            eprintln!("saved");
        } else {
            for (component, cache_use) in saved {
                if let CacheUse::Unused(reason) = cache_use {
                    eprintln!("note: {component} was not saved: {reason}");
                }
            }
        }
    }
    Ok(GenerateEnd::Finished)
}

/// The prompt without its `<lora:…>` tags, and every LoRA asked for: `--lora` first, then the
/// tags, found in `--lora-dir` or the settings' LoRA folder.
fn requested_loras(args: &GenerateArgs) -> anyhow::Result<(String, Vec<LoraRequest>)> {
    let mut loras = Vec::new();
    for text in &args.loras {
        loras.push(parse_lora_argument(text)?);
    }
    let (prompt, tagged) = take_lora_tags(&args.painting.prompt).map_err(anyhow::Error::msg)?;
    if !tagged.is_empty() {
        let folder = match &args.lora_dir {
            Some(folder) => folder.clone(),
            None => crate::settings::lora_folder_from_saved_settings(),
        };
        for tag in tagged {
            let path = find_in_folder(&folder, &tag.name).with_context(|| {
                format!(
                    "the prompt asks for <lora:{}>, but there is no {}.safetensors in {} (or                      below it); put the file there or name the folder with --lora-dir",
                    tag.name,
                    tag.name,
                    folder.display()
                )
            })?;
            loras.push(LoraRequest {
                path,
                strength: tag.strength,
            });
        }
    }
    Ok((prompt, loras))
}

/// `PATH` or `PATH:STRENGTH`. A colon followed by something other than a number belongs to the
/// path (`C:\loras\ink.safetensors`).
pub fn parse_lora_argument(text: &str) -> anyhow::Result<LoraRequest> {
    if let Some((path, strength)) = text.rsplit_once(':')
        && let Ok(strength) = strength.trim().parse::<f32>()
    {
        if !strength.is_finite() {
            bail!("the strength in --lora {text} must be a finite number");
        }
        return Ok(LoraRequest {
            path: PathBuf::from(path),
            strength,
        });
    }
    Ok(LoraRequest {
        path: PathBuf::from(text),
        strength: 1.0,
    })
}

/// ", 3 keys matched nothing (…)" when some did.
fn unmatched_note(unmatched: &[String]) -> String {
    if unmatched.is_empty() {
        return String::new();
    }
    let shown: Vec<&str> = unmatched.iter().take(3).map(String::as_str).collect();
    format!(
        "; {} of its keys match no layer of this model ({}{})",
        unmatched.len(),
        shown.join(", "),
        if unmatched.len() > shown.len() {
            ", …"
        } else {
            ""
        }
    )
}

fn read_noise(path: &Path, request: &GenerationRequest) -> anyhow::Result<Vec<f32>> {
    let [_, channels, height, width] = request.latent_shape();
    let array = npy::read_f32(path)?;
    let shape = array.shape().to_vec();
    let accepted = shape == [request.count, channels, height, width]
        || (request.count == 1 && shape == [channels, height, width]);
    if !accepted {
        bail!(
            "the noise in this file has shape {shape:?}, but {count} image(s) of {w}×{h} need \
             [{count}, {channels}, {height}, {width}]: {}",
            path.display(),
            count = request.count,
            w = request.width,
            h = request.height,
        );
    }
    if array.iter().any(|value| !value.is_finite()) {
        bail!(
            "the noise in this file contains NaN or infinite values: {}",
            path.display()
        );
    }
    Ok(array.iter().copied().collect())
}

fn save_latents(
    path: &Path,
    request: &GenerationRequest,
    variations: &[Variation],
) -> anyhow::Result<()> {
    let [_, channels, height, width] = request.latent_shape();
    let data: Vec<f32> = variations
        .iter()
        .flat_map(|variation| variation.latents.iter().copied())
        .collect();
    let array =
        ndarray::ArrayD::from_shape_vec(vec![variations.len(), channels, height, width], data)
            .context("latents have an unexpected size")?;
    npy::write_f32(path, &array)?;
    Ok(())
}

/// The PNG text chunks recording how an image was made.
fn png_text(
    request: &GenerationRequest,
    model: &StableDiffusion,
    variation: &Variation,
) -> Vec<(&'static str, String)> {
    let mode = match &request.mode {
        Mode::TextToImage => "text to image".to_owned(),
        Mode::ImageToImage { strength, .. } => format!("image to image, strength {strength}"),
        Mode::Inpaint { strength, .. } => format!("inpainting, strength {strength}"),
    };
    let parameters = serde_json::json!({
        "generator": "Pentimento",
        "version": env!("CARGO_PKG_VERSION"),
        "model": model.folder().root.display().to_string(),
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "seed": variation.seed,
        "scheduler": request.scheduler.cli_name(),
        "steps": request.steps,
        "guidance": request.guidance,
        "guidance_cutoff": request.guidance_cutoff,
        "eta": request.eta,
        "mode": mode,
        "width": request.width,
        "height": request.height,
        "execution_provider": model.provider().active.cli_name(),
        "initial_noise": if request.initial_noise.is_some() { "supplied" } else { "seeded" },
        "loras": model.applied_loras().iter().map(|lora| serde_json::json!({
            "name": lora.name,
            "sha256": lora.sha256,
            "strength": lora.strength,
            "title": lora.credits.title,
            "author": lora.credits.author,
            "license": lora.credits.license,
        })).collect::<Vec<_>>(),
    });
    vec![
        (
            "Software",
            format!("Pentimento {}", env!("CARGO_PKG_VERSION")),
        ),
        (
            "Comment",
            "AI-generated image (Stable Diffusion); parameters in pentimento:generation".to_owned(),
        ),
        ("pentimento:generation", parameters.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::numbered_output;
    use std::path::Path;

    #[test]
    fn outputs_are_numbered_only_for_several_images() {
        let out = Path::new("/tmp/result.png");
        assert_eq!(numbered_output(out, 0, 1), Path::new("/tmp/result.png"));
        assert_eq!(numbered_output(out, 0, 3), Path::new("/tmp/result-1.png"));
        assert_eq!(numbered_output(out, 2, 3), Path::new("/tmp/result-3.png"));
    }
}
