//! Model folders, their components, and what ONNX Runtime says about them.

pub mod capabilities;
pub mod folder;
pub mod onnx_graph;
pub mod roles;
pub mod signature;

use std::fmt::Write as _;

use ort::session::Session;

pub use capabilities::Capabilities;
pub use folder::{Component, ComponentFiles, ModelFolder};
pub use signature::{ComponentSignature, Conventions, ElementType, TensorSpec};

use crate::error::ModelError;
use crate::onnx_runtime::OnnxRuntime;

/// Creates an ONNX Runtime session for one component.
pub fn load_session(
    runtime: &OnnxRuntime,
    files: &ComponentFiles,
    intra_threads: Option<usize>,
) -> Result<Session, ModelError> {
    let session_error = |reason: String| ModelError::Session {
        component: files.component.folder_name(),
        reason,
        path: files.model.clone(),
    };
    let mut builder =
        Session::builder(runtime.environment()).map_err(|err| session_error(err.to_string()))?;
    if let Some(threads) = intra_threads {
        builder = builder
            .with_intra_threads(threads)
            .map_err(|err| session_error(err.to_string()))?;
    }
    builder
        .commit_from_file(&files.model)
        .map_err(|err| session_error(err.to_string()))
}

/// What `pentimento info` prints: the folder's layout, every component's signature and the
/// capabilities they imply.
#[derive(Clone, Debug)]
pub struct ModelReport {
    /// The folder as found on disk.
    pub folder: ModelFolder,
    /// Each present component's declared inputs and outputs.
    pub signatures: Vec<ComponentSignature>,
    /// The conventions the signatures imply.
    pub conventions: Conventions,
    /// The scheduler configuration (`None` when the folder has none or it is unreadable, with
    /// the reason).
    pub scheduler: Result<crate::scheduler::SchedulerConfig, String>,
    /// Width and height must be multiples of this.
    pub size_multiple: u32,
}

impl ModelReport {
    /// Loads every component of `folder` in ONNX Runtime and reads its signature; checks the
    /// tokenizer and the scheduler configuration as loading the model does.
    pub fn inspect(
        runtime: &OnnxRuntime,
        folder: ModelFolder,
    ) -> Result<Self, crate::InferenceError> {
        roles::check_roles(&folder)?;
        let mut signatures = Vec::new();
        for files in &folder.components {
            let session = load_session(runtime, files, Some(1))?;
            signatures.push(ComponentSignature::of_session(files.component, &session)?);
        }
        let find = |component| signatures.iter().find(|sig| sig.component == component);
        let missing = |component: Component| ModelError::MissingComponent {
            component: component.folder_name(),
            path: folder.root.join(component.folder_name()).join("model.onnx"),
        };
        let text_encoder =
            find(Component::TextEncoder).ok_or_else(|| missing(Component::TextEncoder))?;
        let unet = find(Component::Unet).ok_or_else(|| missing(Component::Unet))?;
        let unet_files = folder
            .component(Component::Unet)
            .ok_or_else(|| missing(Component::Unet))?;
        let conventions = Conventions::detect(
            text_encoder,
            unet,
            find(Component::VaeEncoder),
            &unet_files.model,
        )?;
        let size_multiple = onnx_graph::GraphOutline::read(&unet_files.model)
            .map(|outline| 8 << outline.downsampling_convolutions().min(6))
            .unwrap_or(64);
        let scheduler = match &folder.scheduler_config {
            Some(path) => Ok(crate::scheduler::SchedulerConfig::from_file(path)?),
            None => Err("no scheduler/scheduler_config.json; SD 1.x defaults are used".to_owned()),
        };
        // The tokenizer is checked as loading the model checks it.
        crate::tokenizer::ClipTokenizer::from_folder(folder.required_tokenizer()?)?;
        Ok(Self {
            folder,
            signatures,
            conventions,
            scheduler,
            size_multiple,
        })
    }

    /// Human-readable capabilities, one per line.
    pub fn capabilities(&self) -> Vec<String> {
        let c = &self.conventions;
        let prediction = self
            .scheduler
            .as_ref()
            .ok()
            .and_then(|config| config.prediction_type.clone())
            .unwrap_or_else(|| "epsilon".to_owned());
        let family = match c.text_embedding_width {
            Some(768) => "Stable Diffusion 1.x".to_owned(),
            Some(1024) if prediction == "v_prediction" => {
                "Stable Diffusion 2.x (768 px, v-prediction)".to_owned()
            }
            Some(1024) => "Stable Diffusion 2.x (512 px base)".to_owned(),
            Some(width) => format!("unrecognised family (text embeddings {width} wide)"),
            None => "unrecognised family".to_owned(),
        };
        let mut lines = vec![family, "text to image".to_owned()];
        if c.vae_encoder_output.is_some() {
            lines.push("image to image".to_owned());
            lines.push(if c.is_inpainting_unet() {
                "inpainting with an inpainting UNet (9 channels)".to_owned()
            } else {
                "inpainting by latent blending (4-channel UNet)".to_owned()
            });
        }
        lines.push(match c.latent_element {
            ElementType::Float16 => "precision: fp16".to_owned(),
            _ => "precision: fp32".to_owned(),
        });
        if let Some(width) = c.text_embedding_width {
            lines.push(format!("text embedding width: {width}"));
        }
        lines.push(format!("prediction type: {prediction}"));
        lines.push(format!("sizes: multiples of {} px", self.size_multiple));
        match &self.scheduler {
            Ok(config) => {
                for adjustment in config.clone().as_pipelines_use_it().1 {
                    lines.push(format!("scheduler configuration: {adjustment}"));
                }
            }
            Err(reason) => lines.push(format!("scheduler configuration: {reason}")),
        }
        lines.push(format!("input_ids: {}", c.input_ids));
        lines.push(format!("timestep: {}", c.timestep));
        if let Some(output) = c.vae_encoder_output {
            lines.push(format!("VAE encoder output: {output}"));
        }
        lines
    }
}

impl std::fmt::Display for ModelReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = String::new();
        let _ = writeln!(out, "Model: {}", self.folder.root.display());
        if let Some(class) = self.folder.pipeline_class() {
            let _ = writeln!(out, "Pipeline: {class}");
        }
        let _ = writeln!(
            out,
            "Size on disk: {:.1} MB",
            self.folder.size_bytes() as f64 / 1e6
        );
        let _ = writeln!(out, "Capabilities:");
        for line in self.capabilities() {
            let _ = writeln!(out, "  - {line}");
        }
        for signature in &self.signatures {
            let _ = writeln!(out, "{}:", signature.component);
            for input in &signature.inputs {
                let _ = writeln!(out, "  in  {input}");
            }
            for output in &signature.outputs {
                let _ = writeln!(out, "  out {output}");
            }
        }
        f.write_str(&out)
    }
}
