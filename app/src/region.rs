//! From the document to a generation request and back: which region to regenerate, what the
//! model sees of it, and how its result returns to document pixels.
//!
//! The region is the mask's bounding box plus a context margin, clamped to the canvas, and
//! scaled so its shorter side meets the model's native resolution (small regions are upscaled,
//! not generated at 128 px), with sides rounded to the model's size multiple.

use image::imageops::FilterType;
use pentimento_inference::image::{GrayImage, RgbImage};
use pentimento_inference::{GenerationRequest, Mode};

use crate::document::compositor::over_color;
use crate::document::tiles::PixelRect;
use crate::document::{Document, GenerationRecord};

/// What the artist asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ModeChoice {
    /// Inpaint when a mask exists, image to image when the canvas has content, text to image on
    /// an empty canvas.
    #[default]
    Auto,
    /// From the prompt only (the whole canvas).
    TextToImage,
    /// From the canvas (the whole canvas).
    ImageToImage,
    /// The masked area.
    Inpaint,
}

impl ModeChoice {
    /// Every choice, in menu order.
    pub const ALL: [Self; 4] = [
        Self::Auto,
        Self::TextToImage,
        Self::ImageToImage,
        Self::Inpaint,
    ];

    /// The name shown.
    pub fn label(self) -> &'static str {
        match self {
            Self::Auto => "Auto",
            Self::TextToImage => "Text to image",
            Self::ImageToImage => "Image to image",
            Self::Inpaint => "Inpaint",
        }
    }
}

/// The resolved kind of a generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResolvedMode {
    /// From noise.
    TextToImage,
    /// From the canvas.
    ImageToImage,
    /// The masked area.
    Inpaint,
}

impl ResolvedMode {
    /// The name recorded in the generation log.
    pub fn log_name(self) -> &'static str {
        match self {
            Self::TextToImage => "text-to-image",
            Self::ImageToImage => "image-to-image",
            Self::Inpaint => "inpaint",
        }
    }
}

/// A generation laid out on the document.
#[derive(Clone, Debug)]
pub struct GenerationPlan {
    /// What kind.
    pub mode: ResolvedMode,
    /// The document region it covers.
    pub region: PixelRect,
    /// The size the model generates at.
    pub generated: (u32, u32),
    /// The mask at region size (all 255 for whole-canvas generations).
    pub region_mask: Vec<u8>,
    /// The visible layers inside the region over white, at region size (RGB): what the
    /// artist had there when the generation was planned.
    pub context: std::sync::Arc<Vec<u8>>,
    /// The request's mode with images at the generated size.
    pub request_mode: Mode,
    /// How far inwards the mask's edge was graded, in pixels (0: as painted).
    pub graded_edge: f32,
}

/// How a generation is laid out beyond the mode and strength.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PlanOptions {
    /// Fill every masked pixel with the picture's own texture in what the model is given.
    pub prefill: bool,
    /// Grade the mask's edge inwards over this many pixels (0: as painted), so that with soft
    /// inpainting the model regenerates the edge less strongly than the core.
    pub graded_edge: f32,
}

/// The model facts a plan needs.
#[derive(Clone, Copy, Debug)]
pub struct ModelShape {
    /// Shorter side the model was trained at.
    pub native_resolution: u32,
    /// Sides must be multiples of this.
    pub size_multiple: u32,
    /// Whether it can start from an image.
    pub has_vae_encoder: bool,
}

/// Longest side a generation may have (memory).
pub const MAX_GENERATED_SIDE: u32 = 1536;

/// Lays out a generation. `strength` is used for image to image and inpainting.
pub fn plan(
    document: &Document,
    choice: ModeChoice,
    model: ModelShape,
    strength: f64,
) -> Result<GenerationPlan, String> {
    plan_with(document, choice, model, strength, PlanOptions::default())
}

/// [`plan`], and with `prefill` an inpainting's masked area is first filled with the picture's
/// own texture (content-aware fill) in what the model is given, so that at a strength below 1
/// it starts from plausible pixels rather than from what the mask covers (as InvokeAI's
/// infill). Masked pixels where nothing is painted (outpainting into a grown canvas) are
/// pre-filled whatever `prefill` says. The context kept for colour match stays the artist's
/// pixels. With a graded edge the mask (what the model is given and what the layer shows
/// through) fades from full at that distance inside its edge to nothing at the edge.
pub fn plan_with(
    document: &Document,
    choice: ModeChoice,
    model: ModelShape,
    strength: f64,
    options: PlanOptions,
) -> Result<GenerationPlan, String> {
    let PlanOptions {
        prefill,
        graded_edge,
    } = options;
    let graded_edge = if graded_edge.is_finite() {
        graded_edge.clamp(0.0, crate::document::generative::MAX_FEATHER)
    } else {
        0.0
    };
    let mask_bounds = document.mask().content_bounds(0);
    let mode = match choice {
        ModeChoice::Auto if !mask_bounds.is_empty() => ResolvedMode::Inpaint,
        ModeChoice::Auto if !document.is_blank() => ResolvedMode::ImageToImage,
        ModeChoice::Auto | ModeChoice::TextToImage => ResolvedMode::TextToImage,
        ModeChoice::ImageToImage => ResolvedMode::ImageToImage,
        ModeChoice::Inpaint => {
            if mask_bounds.is_empty() {
                return Err(
                    "Inpainting needs a mask: paint one with the mask brush (M) or draw a \
                     selection (R, L)."
                        .to_owned(),
                );
            }
            ResolvedMode::Inpaint
        }
    };
    if mode != ResolvedMode::TextToImage && !model.has_vae_encoder {
        return Err(
            "This model has no VAE encoder, so it can only generate from text; choose \
             \"Text to image\" or another model."
                .to_owned(),
        );
    }
    let region = match mode {
        ResolvedMode::Inpaint => context_region(document, mask_bounds),
        _ => document.bounds(),
    };
    let generated = generated_size(region, model);
    let region_mask = match mode {
        ResolvedMode::Inpaint if graded_edge > 0.0 => graded(
            &document.mask().read_rect(&region),
            region.width() as usize,
            region.height() as usize,
            graded_edge,
        ),
        ResolvedMode::Inpaint => document.mask().read_rect(&region),
        _ => vec![255; region.width() as usize * region.height() as usize],
    };
    let (premultiplied, _) = document.composite(&region);
    let context = over_color(&premultiplied, [255, 255, 255]);
    // Masked pixels with nothing painted on them (a grown canvas's new area) have no colour
    // of their own to give the model, so they are always pre-filled from the picture; with
    // `prefill`, every masked pixel is.
    let hole: Vec<bool> = region_mask
        .iter()
        .zip(premultiplied.chunks_exact(4))
        .map(|(&masked, pixel)| masked > 0 && (prefill || pixel[3] == 0))
        .collect();
    let given = if mode == ResolvedMode::Inpaint && hole.contains(&true) {
        crate::fill::fill(
            &context,
            region.width() as usize,
            region.height() as usize,
            &hole,
            1,
        )
    } else {
        context.clone()
    };
    let model_image = || RgbImage {
        width: generated.0,
        height: generated.1,
        pixels: resized::<image::Rgb<u8>>(
            given.clone(),
            region.size(),
            generated,
            FilterType::Lanczos3,
        ),
    };
    let request_mode = match mode {
        ResolvedMode::TextToImage => Mode::TextToImage,
        ResolvedMode::ImageToImage => Mode::ImageToImage {
            image: model_image(),
            strength,
        },
        ResolvedMode::Inpaint => Mode::Inpaint {
            image: model_image(),
            mask: resize_mask(&region_mask, region, generated),
            strength,
        },
    };
    Ok(GenerationPlan {
        mode,
        region,
        generated,
        region_mask,
        context: std::sync::Arc::new(context),
        request_mode,
        graded_edge: if mode == ResolvedMode::Inpaint {
            graded_edge
        } else {
            0.0
        },
    })
}

/// `mask` with its edge graded inwards: each pixel is at most the smooth ramp from nothing at
/// the mask's outer edge (where it meets unmasked pixels) to full `width` pixels inside, so
/// the painted softness is kept where it is softer still.
pub fn graded(mask: &[u8], width: usize, height: usize, edge: f32) -> Vec<u8> {
    let unmasked: Vec<bool> = mask.iter().map(|&value| value == 0).collect();
    let squared = crate::document::distance::squared_distance_to(&unmasked, width, height);
    mask.iter()
        .zip(&squared)
        .map(|(&value, &squared)| {
            // From the edge between this pixel's centre and the nearest unmasked one.
            let t = ((squared.sqrt() - 0.5) / edge).clamp(0.0, 1.0);
            let ramp = t * t * (3.0 - 2.0 * t);
            value.min(crate::document::brush::round_byte(ramp * 255.0))
        })
        .collect()
}

/// The mask's bounding box with a context margin of a quarter of its larger side (at least
/// 32 px), clamped to the canvas.
pub fn context_region(document: &Document, mask_bounds: PixelRect) -> PixelRect {
    let margin = (mask_bounds.width().max(mask_bounds.height()) / 4).max(32);
    PixelRect {
        x0: mask_bounds.x0.saturating_sub(margin),
        y0: mask_bounds.y0.saturating_sub(margin),
        x1: (mask_bounds.x1 + margin).min(document.width()),
        y1: (mask_bounds.y1 + margin).min(document.height()),
    }
}

/// The generated size for a region: its shorter side at the native resolution, both sides
/// multiples of the model's size multiple, the longer side at most `MAX_GENERATED_SIDE`.
pub fn generated_size(region: PixelRect, model: ModelShape) -> (u32, u32) {
    let (width, height) = (region.width().max(1) as f32, region.height().max(1) as f32);
    let mut scale = model.native_resolution as f32 / width.min(height);
    let longest = width.max(height) * scale;
    if longest > MAX_GENERATED_SIDE as f32 {
        scale *= MAX_GENERATED_SIDE as f32 / longest;
    }
    let multiple = model.size_multiple.max(8) as f32;
    let snap = |side: f32| (((side * scale) / multiple).round().max(1.0) * multiple) as u32;
    (snap(width), snap(height))
}

/// The visible layers inside a region over white, resized to the generated size.
pub fn flatten_region(document: &Document, region: PixelRect, size: (u32, u32)) -> RgbImage {
    RgbImage {
        width: size.0,
        height: size.1,
        pixels: resized::<image::Rgb<u8>>(
            region_pixels(document, region),
            region.size(),
            size,
            FilterType::Lanczos3,
        ),
    }
}

/// The visible layers inside a region over white, at region size (RGB).
pub fn region_pixels(document: &Document, region: PixelRect) -> Vec<u8> {
    let (premultiplied, _) = document.composite(&region);
    over_color(&premultiplied, [255, 255, 255])
}

/// The mask at the generated size (bilinear, so edges stay soft for latent blending).
pub fn resize_mask(mask: &[u8], region: PixelRect, size: (u32, u32)) -> GrayImage {
    GrayImage {
        width: size.0,
        height: size.1,
        pixels: resized::<image::Luma<u8>>(
            mask.to_vec(),
            region.size(),
            size,
            FilterType::Triangle,
        ),
    }
}

/// A generated image back at region size, as raw RGB.
pub fn to_region(image: &RgbImage, region: PixelRect) -> Vec<u8> {
    resized::<image::Rgb<u8>>(
        image.pixels.clone(),
        (image.width, image.height),
        region.size(),
        FilterType::Lanczos3,
    )
}

/// `pixels` of `from` size resized to `to` with `filter` (as they are when the sizes match).
fn resized<P>(pixels: Vec<u8>, from: (u32, u32), to: (u32, u32), filter: FilterType) -> Vec<u8>
where
    P: image::Pixel<Subpixel = u8> + 'static,
{
    let image = image::ImageBuffer::<P, Vec<u8>>::from_raw(from.0, from.1, pixels)
        .unwrap_or_else(|| image::ImageBuffer::new(from.0, from.1));
    if from == to {
        image.into_raw()
    } else {
        image::imageops::resize(&image, to.0, to.1, filter).into_raw()
    }
}

/// A request for a plan with the panel's settings.
pub fn request_for(plan: &GenerationPlan, base: &GenerationRequest) -> GenerationRequest {
    GenerationRequest {
        width: plan.generated.0,
        height: plan.generated.1,
        mode: plan.request_mode.clone(),
        ..base.clone()
    }
}

/// A content-aware fill laid out on the document: what it fills and from what.
#[derive(Clone, Debug)]
pub struct FillPlan {
    /// The document region searched and filled (the mask's box widened by its larger side, at
    /// least 64 px, on each side).
    pub region: PixelRect,
    /// The visible layers there over white (RGB at region size).
    pub context: std::sync::Arc<Vec<u8>>,
    /// The mask at region size.
    pub region_mask: Vec<u8>,
    /// The seed of the random search.
    pub seed: u32,
}

impl FillPlan {
    /// Lays out a fill of the masked area, or says why there is none to do.
    pub fn new(document: &Document, seed: u32) -> Result<Self, String> {
        let mask_bounds = document.mask().content_bounds(0);
        if mask_bounds.is_empty() {
            return Err(
                "Content-aware fill needs a mask: paint one with the mask brush (M) or draw a \
                 selection (R, L)."
                    .to_owned(),
            );
        }
        let margin = mask_bounds.width().max(mask_bounds.height()).max(64);
        let region = PixelRect {
            x0: mask_bounds.x0.saturating_sub(margin),
            y0: mask_bounds.y0.saturating_sub(margin),
            x1: (mask_bounds.x1 + margin).min(document.width()),
            y1: (mask_bounds.y1 + margin).min(document.height()),
        };
        let region_mask = document.mask().read_rect(&region);
        if region_mask.iter().all(|&value| value > 0) {
            return Err(
                "The mask covers the whole picture, so there is nothing to fill from; make it \
                 smaller."
                    .to_owned(),
            );
        }
        Ok(Self {
            region,
            context: std::sync::Arc::new(region_pixels(document, region)),
            region_mask,
            seed,
        })
    }

    /// The filled region (RGB at region size): the slow part, which needs no document and may
    /// run on any thread.
    pub fn run(&self) -> Vec<u8> {
        let hole: Vec<bool> = self.region_mask.iter().map(|&value| value > 0).collect();
        crate::fill::fill(
            &self.context,
            self.region.width() as usize,
            self.region.height() as usize,
            &hole,
            u64::from(self.seed),
        )
    }

    /// Adds `filled` as a layer of the fill class, logged like a generation (mode `fill`).
    pub fn apply(
        self,
        document: &mut Document,
        filled: Vec<u8>,
    ) -> crate::document::layer::LayerId {
        let region = self.region;
        let record = GenerationRecord {
            id: 0,
            time: crate::document::provenance_log::now_rfc3339(),
            model: FILL_METHOD.to_owned(),
            model_files: Vec::new(),
            prompt: String::new(),
            negative_prompt: String::new(),
            seeds: vec![self.seed],
            scheduler: "patchmatch".to_owned(),
            steps: 0,
            guidance: 0.0,
            strength: None,
            mode: "fill".to_owned(),
            region,
            generated_size: region.size(),
            execution_provider: "cpu".to_owned(),
            app_version: env!("CARGO_PKG_VERSION").to_owned(),
            outcome: "finished".to_owned(),
            accepted: vec![0],
            loras: Vec::new(),
            soft_inpainting: None,
            guidance_cutoff: None,
        };
        let log_id = document.log_generation(record);
        document.add_fill_layer(
            &format!("Fill {log_id}"),
            region,
            filled,
            self.region_mask,
            self.context,
            log_id,
        )
    }
}

/// Fills the masked area with the picture's own texture (content-aware fill, no model) and adds
/// the result as a layer of the fill class, logged like a generation: [`FillPlan`] at once.
pub fn content_aware_fill(
    document: &mut Document,
    seed: u32,
) -> Result<crate::document::layer::LayerId, String> {
    let plan = FillPlan::new(document, seed)?;
    let filled = plan.run();
    Ok(plan.apply(document, filled))
}

/// How the log names content-aware fill (in the place of a model).
pub const FILL_METHOD: &str = "content-aware fill (PatchMatch, no model)";

/// The generation log's entry for a plan and its request, as it is logged when the generation
/// starts, for a model by its name, the sha256 of its files and the execution provider
/// (seeds, outcome and accepted variations are filled in as it runs).
pub fn record_for(
    plan: &GenerationPlan,
    request: &GenerationRequest,
    model: &str,
    model_files: &[(String, String)],
    provider: &str,
) -> GenerationRecord {
    GenerationRecord {
        id: 0,
        time: crate::document::provenance_log::now_rfc3339(),
        model: model.to_owned(),
        model_files: model_files.to_vec(),
        prompt: request.prompt.clone(),
        negative_prompt: request.negative_prompt.clone(),
        seeds: Vec::new(),
        scheduler: request.scheduler.cli_name().to_owned(),
        steps: request.steps,
        guidance: request.guidance,
        strength: match &request.mode {
            Mode::TextToImage => None,
            Mode::ImageToImage { strength, .. } | Mode::Inpaint { strength, .. } => Some(*strength),
        },
        mode: plan.mode.log_name().to_owned(),
        region: plan.region,
        generated_size: plan.generated,
        execution_provider: provider.to_owned(),
        app_version: env!("CARGO_PKG_VERSION").to_owned(),
        outcome: "running".to_owned(),
        accepted: Vec::new(),
        loras: Vec::new(),
        soft_inpainting: (plan.mode == ResolvedMode::Inpaint && request.soft_inpainting)
            .then_some(plan.graded_edge),
        guidance_cutoff: request.guidance_cutoff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SD15: ModelShape = ModelShape {
        native_resolution: 512,
        size_multiple: 64,
        has_vae_encoder: true,
    };

    #[test]
    fn small_regions_are_upscaled_to_the_native_resolution() {
        assert_eq!(
            generated_size(PixelRect::new(0, 0, 128, 96), SD15),
            (704, 512)
        );
        assert_eq!(
            generated_size(PixelRect::new(0, 0, 2048, 2048), SD15),
            (512, 512)
        );
        // Very long regions are capped.
        let (w, h) = generated_size(PixelRect::new(0, 0, 4000, 500), SD15);
        assert!(
            w <= MAX_GENERATED_SIDE && h % 64 == 0 && w % 64 == 0,
            "{w}×{h}"
        );
    }

    /// Red and blue diagonal stripes 8 px wide over `side`², RGBA, with the square `white` (in
    /// both directions) white.
    fn diagonal_stripes(side: u32, white: std::ops::Range<u32>) -> Vec<u8> {
        (0..side * side)
            .flat_map(|i| {
                let (x, y) = (i % side, i / side);
                if white.contains(&x) && white.contains(&y) {
                    [255, 255, 255, 255]
                } else if ((x + y) / 8) % 2 == 0 {
                    [220, 40, 40, 255]
                } else {
                    [40, 40, 220, 255]
                }
            })
            .collect()
    }

    #[test]
    fn prefill_gives_the_model_the_pictures_texture_in_the_mask_and_keeps_the_context() {
        let mut document = Document::new(192, 192).expect("size");
        // Stripes, with a white square the artist wants gone, masked.
        let picture = diagonal_stripes(192, 84..108);
        document.import_layer("picture", 192, 192, &picture, 0, 0);
        document.fill_mask_polygon(
            &[(80.0, 80.0), (112.0, 80.0), (112.0, 112.0), (80.0, 112.0)],
            false,
        );
        let middle_of = |plan: &GenerationPlan| match &plan.request_mode {
            Mode::Inpaint { image, .. } => {
                let (w, h) = (image.width as usize, image.height as usize);
                let at = ((h / 2) * w + w / 2) * 3;
                [image.pixels[at], image.pixels[at + 1], image.pixels[at + 2]]
            }
            other => panic!("not inpainting: {other:?}"),
        };
        let plain = plan_with(
            &document,
            ModeChoice::Auto,
            SD15,
            0.5,
            PlanOptions::default(),
        )
        .expect("plan");
        let prefilled = plan_with(
            &document,
            ModeChoice::Auto,
            SD15,
            0.5,
            PlanOptions {
                prefill: true,
                ..PlanOptions::default()
            },
        )
        .expect("plan");
        assert!(
            plain.context == prefilled.context,
            "colour match sees the artist's pixels"
        );
        assert_eq!(plain.region, prefilled.region);
        assert_eq!(
            middle_of(&plain),
            [255, 255, 255],
            "without, the model sees the square"
        );
        // With it, the middle of the mask is the stripes again (green stays at 40).
        let pixel = middle_of(&prefilled);
        assert!(
            pixel[1] < 80 && (pixel[0] > 150 || pixel[2] > 150),
            "{pixel:?}"
        );
    }

    #[test]
    fn outpainting_gives_the_model_the_pictures_texture_in_the_new_area() {
        let mut document = Document::new(128, 128).expect("size");
        let picture = diagonal_stripes(128, 0..0);
        document.import_layer("picture", 128, 128, &picture, 0, 0);
        document
            .grow_canvas(
                256,
                128,
                crate::document::canvas_size::Anchor { x: 0, y: 1 },
                Some(16),
            )
            .expect("grows to the right");
        let plan = plan(&document, ModeChoice::Auto, SD15, 0.6).expect("plan");
        assert_eq!(plan.mode, ResolvedMode::Inpaint);
        let Mode::Inpaint { image, .. } = &plan.request_mode else {
            panic!("inpainting");
        };
        // The new area (the right of the region) is not the white of an empty canvas: it is
        // the stripes' reds and blues (green stays low everywhere).
        let (w, h) = (image.width as usize, image.height as usize);
        let right: Vec<&[u8]> = (0..h)
            .flat_map(|y| (w * 3 / 4..w).map(move |x| (y * w + x) * 3))
            .map(|at| &image.pixels[at..at + 3])
            .collect();
        let green = right.iter().map(|p| f64::from(p[1])).sum::<f64>() / right.len() as f64;
        assert!(
            green < 90.0,
            "the new area is pre-filled (mean green {green})"
        );
        assert!(
            plan.context[(plan.region.width() as usize - 1) * 3] == 255,
            "what colour match measures against is the artist's (empty, over white)"
        );
    }

    #[test]
    fn a_graded_edge_fades_the_mask_inwards_and_keeps_softer_painting() {
        let side = 64;
        let mut mask = vec![0_u8; side * side];
        for y in 16..48 {
            for x in 16..48 {
                mask[y * side + x] = 255;
            }
        }
        mask[32 * side + 32] = 40; // a softer spot the artist painted inside
        let graded = graded(&mask, side, side, 8.0);
        let row: Vec<u8> = (0..side).map(|x| graded[28 * side + x]).collect();
        assert!(
            row[..16].iter().all(|&v| v == 0),
            "outside stays out: {row:?}"
        );
        assert!(
            row[16] > 0 && row[16] < 40,
            "the edge pixel barely regenerates: {row:?}"
        );
        assert!(
            row[16..25].windows(2).all(|w| w[0] < w[1]),
            "a rising ramp: {row:?}"
        );
        assert_eq!(row[25], 255, "8 px in (centre to edge): the core");
        // A mask painted faintly everywhere keeps its faint level, graded at its edge only.
        let faint: Vec<u8> = mask.iter().map(|&v| v / 3).collect();
        let graded_faint = super::graded(&faint, side, side, 8.0);
        assert_eq!(graded_faint[40 * side + 40], 85);
        assert!(graded_faint[40 * side + 17] < 85);
        assert_eq!(graded[32 * side + 32], 40, "softer painting is kept");
        // The plan grades what the model gets and what the layer shows through.
        let mut document = Document::new(side as u32, side as u32).expect("size");
        document
            .replace_mask((side as u32, side as u32), &mask)
            .expect("mask");
        let plan = plan_with(
            &document,
            ModeChoice::Auto,
            SD15,
            1.0,
            PlanOptions {
                graded_edge: 8.0,
                ..PlanOptions::default()
            },
        )
        .expect("plan");
        assert_eq!(plan.graded_edge, 8.0);
        assert_eq!(plan.region, document.bounds());
        assert_eq!(plan.region_mask, graded);
        let request = request_for(
            &plan,
            &GenerationRequest {
                soft_inpainting: true,
                ..GenerationRequest::text_to_image("")
            },
        );
        let record = record_for(&plan, &request, "m", &[], "cpu");
        assert_eq!(record.soft_inpainting, Some(8.0));
    }

    #[test]
    fn modes_follow_the_canvas() {
        let mut document = Document::new(256, 256).expect("size");
        let blank = plan(&document, ModeChoice::Auto, SD15, 0.75).expect("plan");
        assert_eq!(blank.mode, ResolvedMode::TextToImage);
        assert_eq!(blank.region, document.bounds());
        document.fill_mask_polygon(
            &[
                (100.0, 100.0),
                (140.0, 100.0),
                (140.0, 120.0),
                (100.0, 120.0),
            ],
            false,
        );
        let masked = plan(&document, ModeChoice::Auto, SD15, 1.0).expect("plan");
        assert_eq!(masked.mode, ResolvedMode::Inpaint);
        assert_eq!(masked.region, PixelRect::new(68, 68, 104, 84));
        assert_eq!(masked.generated.1, 512);
        let err = plan(
            &Document::new(64, 64).expect("size"),
            ModeChoice::Inpaint,
            SD15,
            1.0,
        )
        .expect_err("no mask");
        assert!(err.starts_with("Inpainting needs a mask"), "{err}");
    }
}
