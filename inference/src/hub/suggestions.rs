//! A few Stable Diffusion ONNX exports on the Hub known to be in the diffusers/optimum layout.

/// A model worth offering for download.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suggestion {
    /// Short name to show.
    pub name: &'static str,
    /// The repository, `owner/name`.
    pub repo: &'static str,
    /// Branch, tag or commit.
    pub revision: &'static str,
    /// Folder of the pipeline inside the repository, when not at the top.
    pub subfolder: Option<&'static str>,
    /// What it is, in a sentence or two.
    pub note: &'static str,
}

impl Suggestion {
    /// The source to pass to [`super::download_model`].
    pub fn source(&self) -> super::HubSource {
        super::HubSource {
            repo: self.repo.to_owned(),
            revision: self.revision.to_owned(),
            subfolder: self.subfolder.map(str::to_owned),
        }
    }
}

/// Known ONNX exports of Stable Diffusion pipelines, in the diffusers/optimum layout.
pub const SUGGESTIONS: &[Suggestion] = &[
    Suggestion {
        name: "Stable Diffusion 1.5 (ONNX)",
        repo: "onnx-community/stable-diffusion-v1-5-ONNX",
        revision: "main",
        subfolder: None,
        note: "Stable Diffusion 1.5 exported to ONNX in float32 by the ONNX Community: the \
               general-purpose model for text to image and image to image at 512×512; about \
               4.3 GB to download.",
    },
    Suggestion {
        name: "Stable Diffusion 1.5 Inpainting (ONNX)",
        repo: "jdp8/sd-1-5-inpainting-noFusion-opset20-fp16",
        revision: "main",
        subfolder: None,
        note: "The inpainting variant of Stable Diffusion 1.5 (9-channel UNet, from \
               runwayml/stable-diffusion-inpainting), a community ONNX export in float16: \
               repaints masked areas so they blend with the rest; about 2 GB to download.",
    },
    Suggestion {
        name: "SD-Turbo (ONNX)",
        repo: "onnxruntime/sd-turbo",
        revision: "main",
        subfolder: None,
        note: "Stability AI's SD-Turbo, optimized with Olive and published by the ONNX Runtime \
               team in float16: good images in 1 to 4 steps at 512×512 with guidance off; \
               non-commercial community license; about 2.6 GB to download.",
    },
];
