//! `pentimento fill`: content-aware fill of a masked area with the picture's own texture, with no
//! model (PatchMatch, see [`crate::fill`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::bail;
use clap::Args;
use pentimento_inference::image::RgbImage;

/// Arguments of `pentimento fill`.
#[derive(Debug, Args)]
pub struct FillArgs {
    /// The picture (PNG, JPEG or WebP; transparency is composited over white).
    pub input: PathBuf,
    /// The area to fill: a greyscale image the picture's size, white (at least half) = fill.
    #[arg(long)]
    pub mask: PathBuf,
    /// The PNG to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the random search (the same seed fills the same way).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Runs `pentimento fill`.
pub fn run(args: &FillArgs) -> anyhow::Result<ExitCode> {
    let picture = crate::io::read_rgb(&args.input)?;
    let mask = crate::io::read_mask(&args.mask)?;
    if (mask.width, mask.height) != (picture.width, picture.height) {
        bail!(
            "the mask is {}×{} pixels but the picture is {}×{}; make the mask the picture's size \
             (white = fill)",
            mask.width,
            mask.height,
            picture.width,
            picture.height
        );
    }
    let hole: Vec<bool> = mask.pixels.iter().map(|&value| value >= 128).collect();
    let holes = hole.iter().filter(|&&h| h).count();
    if holes == 0 {
        bail!(
            "the mask {} has no white pixel, so there is nothing to fill",
            args.mask.display()
        );
    }
    if holes == hole.len() {
        bail!(
            "the mask {} covers the whole picture; content-aware fill needs some of the picture \
             to take texture from",
            args.mask.display()
        );
    }
    let started = Instant::now();
    let filled = crate::fill::fill(
        &picture.pixels,
        picture.width as usize,
        picture.height as usize,
        &hole,
        args.seed,
    );
    let seconds = started.elapsed().as_secs_f64();
    crate::io::write_png(
        &args.out,
        &RgbImage {
            width: picture.width,
            height: picture.height,
            pixels: filled,
        },
        &[
            (
                "Software",
                format!("Pentimento {}", env!("CARGO_PKG_VERSION")),
            ),
            (
                "pentimento:provenance",
                format!(
                    "{holes} pixels filled by content-aware fill (PatchMatch, from the picture's \
                     own pixels; no model), the rest unchanged"
                ),
            ),
        ],
    )?;
    println!(
        "{}: {holes} pixels filled in {seconds:.2} s",
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
