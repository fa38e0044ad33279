//! What a model folder can do, read from its files without starting ONNX Runtime (for the model
//! manager, which lists many models and must stay quick): the family from the text-embedding
//! width, the UNet's input channels, the precision, the optional VAE encoder, size on disk.

use crate::error::ModelError;
use crate::model::folder::{Component, ModelFolder};
use crate::model::onnx_graph::GraphOutline;

/// ONNX element type numbers.
const FLOAT16: i64 = 10;
const FLOAT32: i64 = 1;

/// The model family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Stable Diffusion 1.x (768-wide text embeddings).
    StableDiffusion1,
    /// Stable Diffusion 2.x (1024-wide text embeddings).
    StableDiffusion2,
    /// Something else, with its text-embedding width when known.
    Other(Option<i64>),
}

/// How the model inpaints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inpainting {
    /// With an inpainting UNet (9 input channels).
    InpaintingUnet,
    /// With an ordinary UNet, by latent blending.
    LatentBlend,
    /// Not at all (no VAE encoder).
    Unavailable,
}

/// The UNet's floating-point precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// 32-bit floats.
    Fp32,
    /// 16-bit floats.
    Fp16,
    /// Not a float type this reader knows.
    Unknown,
}

/// What a model can do.
#[derive(Clone, Debug, PartialEq)]
pub struct Capabilities {
    /// SD 1.x, 2.x or other.
    pub family: Family,
    /// Whether it predicts velocity (SD 2.x 768 px models).
    pub v_prediction: bool,
    /// Whether it can start from an image (it has a VAE encoder).
    pub image_to_image: bool,
    /// How it inpaints.
    pub inpainting: Inpainting,
    /// The UNet's precision.
    pub precision: Precision,
    /// Bytes on disk of its components.
    pub size_bytes: u64,
}

impl Capabilities {
    /// Reads them from the folder's graphs and configuration.
    pub fn inspect(folder: &ModelFolder) -> Result<Self, ModelError> {
        let outline = |component: Component| -> Result<Option<GraphOutline>, ModelError> {
            let Some(files) = folder.component(component) else {
                return Ok(None);
            };
            GraphOutline::read(&files.model)
                .map(Some)
                .map_err(|err| ModelError::Session {
                    component: component.folder_name(),
                    reason: err.to_string(),
                    path: files.model.clone(),
                })
        };
        let unet = outline(Component::Unet)?.ok_or_else(|| ModelError::MissingComponent {
            component: "unet",
            path: folder.root.join("unet").join("model.onnx"),
        })?;
        let text_encoder = outline(Component::TextEncoder)?;
        crate::model::roles::check_roles(folder)?;
        let unexpected = |reason: String| ModelError::UnexpectedSignature {
            component: "unet",
            reason,
        };
        let sample = unet
            .input("sample")
            .ok_or_else(|| unexpected("it has no `sample` input".to_owned()))?;
        let channels = match sample.dim(1) {
            Some(channels) => Some(channels),
            None => unet
                .convolution_input_channels("sample")
                .and_then(|channels| i64::try_from(channels).ok()),
        };
        let width = unet
            .input("encoder_hidden_states")
            .and_then(|value| value.dim(2))
            .or_else(|| {
                text_encoder
                    .as_ref()
                    .and_then(|outline| outline.output("last_hidden_state"))
                    .and_then(|value| value.dim(2))
            });
        let family = match width {
            Some(768) => Family::StableDiffusion1,
            Some(1024) => Family::StableDiffusion2,
            other => Family::Other(other),
        };
        let v_prediction = folder
            .scheduler_config
            .as_ref()
            .and_then(|path| crate::scheduler::SchedulerConfig::from_file(path).ok())
            .and_then(|config| config.prediction_type)
            .is_some_and(|prediction| prediction == "v_prediction");
        let image_to_image = folder.component(Component::VaeEncoder).is_some();
        let inpainting = match (image_to_image, channels) {
            (false, _) => Inpainting::Unavailable,
            (true, Some(9)) => Inpainting::InpaintingUnet,
            (true, _) => Inpainting::LatentBlend,
        };
        let precision = match sample.element_type {
            FLOAT32 => Precision::Fp32,
            FLOAT16 => Precision::Fp16,
            _ => Precision::Unknown,
        };
        Ok(Self {
            family,
            v_prediction,
            image_to_image,
            inpainting,
            precision,
            size_bytes: folder.size_bytes(),
        })
    }

    /// One line: "SD 1.x · text to image, image to image, inpainting UNet · fp16 · 2.1 GB".
    pub fn summary(&self) -> String {
        let family = match self.family {
            Family::StableDiffusion1 => "SD 1.x".to_owned(),
            Family::StableDiffusion2 if self.v_prediction => "SD 2.x (v-prediction)".to_owned(),
            Family::StableDiffusion2 => "SD 2.x".to_owned(),
            Family::Other(Some(width)) => format!("other family ({width}-wide text)"),
            Family::Other(None) => "other family".to_owned(),
        };
        let mut tasks = vec!["text to image"];
        if self.image_to_image {
            tasks.push("image to image");
        }
        tasks.push(match self.inpainting {
            Inpainting::InpaintingUnet => "inpainting UNet",
            Inpainting::LatentBlend => "inpainting by latent blending",
            Inpainting::Unavailable => "no inpainting",
        });
        let precision = match self.precision {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
            Precision::Unknown => "unknown precision",
        };
        format!(
            "{family} · {} · {precision} · {}",
            tasks.join(", "),
            human_size(self.size_bytes)
        )
    }
}

/// Bytes as "12.3 MB" or "2.1 GB".
pub fn human_size(bytes: u64) -> String {
    let bytes = bytes as f64;
    if bytes >= 1e9 {
        format!("{:.1} GB", bytes / 1e9)
    } else if bytes >= 1e6 {
        format!("{:.1} MB", bytes / 1e6)
    } else {
        format!("{:.0} kB", bytes / 1e3)
    }
}
