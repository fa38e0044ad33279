//! The input and output signatures of a model's ONNX components, read from ONNX Runtime's
//! session metadata, and the conventions they imply.
//!
//! Models in the wild differ: diffusers' conversion script feeds `input_ids` as int32 and the
//! UNet `timestep` as a float32 vector, and its VAE encoder returns sampled latents
//! (`latent_sample`, 4 channels); optimum ≥ 1.23 uses int64 ids, a rank-0 float timestep and a VAE
//! encoder that returns the distribution's parameters (`latent_parameters`, 8 channels: mean and
//! log-variance). Nothing is assumed: every choice is read from the graph.

use ort::session::Session;
use ort::value::{TensorElementType, ValueType};

use std::path::Path;

use crate::error::ModelError;
use crate::model::folder::Component;
use crate::model::onnx_graph::GraphOutline;

/// The element type of a tensor, as far as Pentimento cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElementType {
    /// 32-bit float.
    Float32,
    /// 16-bit float.
    Float16,
    /// 32-bit signed integer.
    Int32,
    /// 64-bit signed integer.
    Int64,
    /// Anything else, by ONNX Runtime's name.
    Other(String),
}

impl From<TensorElementType> for ElementType {
    fn from(value: TensorElementType) -> Self {
        match value {
            TensorElementType::Float32 => Self::Float32,
            TensorElementType::Float16 => Self::Float16,
            TensorElementType::Int32 => Self::Int32,
            TensorElementType::Int64 => Self::Int64,
            other => Self::Other(other.to_string()),
        }
    }
}

impl std::fmt::Display for ElementType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Float32 => f.write_str("float32"),
            Self::Float16 => f.write_str("float16"),
            Self::Int32 => f.write_str("int32"),
            Self::Int64 => f.write_str("int64"),
            Self::Other(name) => f.write_str(name),
        }
    }
}

/// One dimension of a declared shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dimension {
    /// A fixed size.
    Fixed(u64),
    /// Chosen at run time; the graph's symbolic name (may be empty).
    Dynamic(String),
}

impl std::fmt::Display for Dimension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed(size) => write!(f, "{size}"),
            Self::Dynamic(name) if name.is_empty() => f.write_str("?"),
            Self::Dynamic(name) => f.write_str(name),
        }
    }
}

/// A declared input or output tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    /// The tensor's name in the graph.
    pub name: String,
    /// Its element type.
    pub element: ElementType,
    /// Its shape; empty for a scalar.
    pub shape: Vec<Dimension>,
}

impl TensorSpec {
    /// The size of dimension `axis` when fixed.
    pub fn fixed_dim(&self, axis: usize) -> Option<u64> {
        match self.shape.get(axis)? {
            Dimension::Fixed(size) => Some(*size),
            Dimension::Dynamic(_) => None,
        }
    }
}

impl std::fmt::Display for TensorSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}[", self.name, self.element)?;
        for (index, dim) in self.shape.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{dim}")?;
        }
        f.write_str("]")
    }
}

/// The declared inputs and outputs of one component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComponentSignature {
    /// Which component.
    pub component: Component,
    /// Its inputs, in graph order.
    pub inputs: Vec<TensorSpec>,
    /// Its outputs, in graph order.
    pub outputs: Vec<TensorSpec>,
}

impl ComponentSignature {
    /// Reads the signature of a loaded session.
    pub fn of_session(component: Component, session: &Session) -> Result<Self, ModelError> {
        let convert = |name: &str, dtype: &ValueType| match dtype {
            ValueType::Tensor {
                ty,
                shape,
                dimension_symbols,
            } => Ok(TensorSpec {
                name: name.to_owned(),
                element: ElementType::from(*ty),
                shape: shape
                    .iter()
                    .enumerate()
                    .map(|(axis, &size)| match u64::try_from(size) {
                        Ok(size) => Dimension::Fixed(size),
                        Err(_) => Dimension::Dynamic(
                            dimension_symbols
                                .get(axis)
                                .map(ToString::to_string)
                                .unwrap_or_default(),
                        ),
                    })
                    .collect(),
            }),
            other => Err(ModelError::UnexpectedSignature {
                component: component.folder_name(),
                reason: format!("`{name}` is a {other}, not a tensor"),
            }),
        };
        Ok(Self {
            component,
            inputs: session
                .inputs()
                .iter()
                .map(|outlet| convert(outlet.name(), outlet.dtype()))
                .collect::<Result<_, _>>()?,
            outputs: session
                .outputs()
                .iter()
                .map(|outlet| convert(outlet.name(), outlet.dtype()))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The input called `name`.
    pub fn input(&self, name: &str) -> Option<&TensorSpec> {
        self.inputs.iter().find(|spec| spec.name == name)
    }

    /// The output called `name`.
    pub fn output(&self, name: &str) -> Option<&TensorSpec> {
        self.outputs.iter().find(|spec| spec.name == name)
    }

    fn require_input(&self, name: &str) -> Result<&TensorSpec, ModelError> {
        self.input(name)
            .ok_or_else(|| self.unexpected(format!("it has no input called `{name}`")))
    }

    fn unexpected(&self, reason: String) -> ModelError {
        ModelError::UnexpectedSignature {
            component: self.component.folder_name(),
            reason,
        }
    }
}

/// How the UNet takes its timestep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestepInput {
    /// float32 of shape `[batch]` (diffusers' conversion script).
    Float32Batch,
    /// float32 scalar of rank 0 (optimum ≥ 1.23).
    Float32Scalar,
    /// int64 of shape `[batch]` (optimum 1.21–1.22).
    Int64Batch,
    /// int64 scalar of rank 0.
    Int64Scalar,
    /// float16 of shape `[batch]` (fp16 exports).
    Float16Batch,
    /// float16 scalar of rank 0.
    Float16Scalar,
}

impl std::fmt::Display for TimestepInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Float32Batch => "float32 [batch]",
            Self::Float32Scalar => "float32 scalar",
            Self::Int64Batch => "int64 [batch]",
            Self::Int64Scalar => "int64 scalar",
            Self::Float16Batch => "float16 [batch]",
            Self::Float16Scalar => "float16 scalar",
        })
    }
}

/// What the VAE encoder returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VaeEncoderOutput {
    /// `latent_sample`: 4-channel latents, already sampled or the mean.
    LatentSample,
    /// `latent_parameters`: 8 channels, mean then log-variance; Pentimento takes the mean.
    LatentParameters,
}

impl std::fmt::Display for VaeEncoderOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::LatentSample => "latent_sample (4 channels)",
            Self::LatentParameters => "latent_parameters (8 channels: mean, log-variance)",
        })
    }
}

/// Everything a pipeline needs to know about a model's ONNX conventions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conventions {
    /// Element type of the text encoder's `input_ids`.
    pub input_ids: ElementType,
    /// Width of the text embeddings (768 for SD 1.x, 1024 for SD 2.x), when declared.
    pub text_embedding_width: Option<u64>,
    /// The UNet's input channels: 4 for ordinary models, 9 for inpainting models.
    pub unet_in_channels: u64,
    /// How the UNet takes its timestep.
    pub timestep: TimestepInput,
    /// Element type of the UNet's latents (float16 for fp16 exports).
    pub latent_element: ElementType,
    /// The UNet's output name (`out_sample` in both known conventions).
    pub unet_output: String,
    /// What the VAE encoder returns, when the model has one.
    pub vae_encoder_output: Option<VaeEncoderOutput>,
}

impl Conventions {
    /// Derives the conventions from the components' signatures.
    ///
    /// `unet_graph` is read only when the UNet's metadata leaves its channel count dynamic (as
    /// diffusers' conversion script does); the count then comes from the weights of the
    /// convolution that reads `sample`.
    pub fn detect(
        text_encoder: &ComponentSignature,
        unet: &ComponentSignature,
        vae_encoder: Option<&ComponentSignature>,
        unet_graph: &Path,
    ) -> Result<Self, ModelError> {
        let input_ids = text_encoder.require_input("input_ids")?.element.clone();
        if !matches!(input_ids, ElementType::Int32 | ElementType::Int64) {
            return Err(text_encoder.unexpected(format!(
                "`input_ids` is {input_ids}, expected int32 or int64"
            )));
        }
        let text_output_width = text_encoder
            .output("last_hidden_state")
            .or_else(|| text_encoder.outputs.first())
            .and_then(|spec| spec.fixed_dim(2));
        let unet_context_width = unet.require_input("encoder_hidden_states")?.fixed_dim(2);
        let text_embedding_width = match (text_output_width, unet_context_width) {
            (Some(text), Some(context)) if text != context => {
                return Err(ModelError::EmbeddingWidthMismatch {
                    text_encoder: text,
                    unet: context,
                });
            }
            (text, context) => text.or(context),
        };

        let sample = unet.require_input("sample")?;
        if sample.shape.len() != 4 {
            return Err(unet.unexpected(format!(
                "`sample` has rank {}, expected 4 (batch, channels, height, width)",
                sample.shape.len()
            )));
        }
        let unet_in_channels = match sample.fixed_dim(1) {
            Some(channels) => channels,
            None => GraphOutline::read(unet_graph)
                .map_err(|err| unet.unexpected(format!("its graph could not be read ({err})")))?
                .convolution_input_channels("sample")
                .ok_or_else(|| {
                    unet.unexpected(
                        "its number of input channels is neither declared nor visible in the \
                         convolution that reads `sample`"
                            .to_owned(),
                    )
                })?,
        };
        if !matches!(unet_in_channels, 4 | 9) {
            return Err(ModelError::UnetChannels {
                found: unet_in_channels,
            });
        }
        let latent_element = sample.element.clone();
        if !matches!(latent_element, ElementType::Float32 | ElementType::Float16) {
            return Err(unet.unexpected(format!(
                "`sample` is {latent_element}, expected float32 or float16"
            )));
        }
        let context = unet.require_input("encoder_hidden_states")?;
        if !matches!(context.element, ElementType::Float32 | ElementType::Float16) {
            return Err(unet.unexpected(format!(
                "`encoder_hidden_states` is {}, expected float32 or float16",
                context.element
            )));
        }
        let timestep_spec = unet.require_input("timestep")?;
        let timestep = match (&timestep_spec.element, timestep_spec.shape.len()) {
            (ElementType::Float32, 1) => TimestepInput::Float32Batch,
            (ElementType::Float32, 0) => TimestepInput::Float32Scalar,
            (ElementType::Int64, 1) => TimestepInput::Int64Batch,
            (ElementType::Int64, 0) => TimestepInput::Int64Scalar,
            (ElementType::Float16, 1) => TimestepInput::Float16Batch,
            (ElementType::Float16, 0) => TimestepInput::Float16Scalar,
            (element, rank) => {
                return Err(unet.unexpected(format!(
                    "`timestep` is {element} of rank {rank}; expected float32, float16 or int64 \
                     of rank 0 or 1"
                )));
            }
        };
        let unet_output = unet
            .outputs
            .first()
            .map(|spec| spec.name.clone())
            .ok_or_else(|| unet.unexpected("it has no outputs".to_owned()))?;

        let vae_encoder_output = match vae_encoder {
            None => None,
            Some(signature) => Some(if signature.output("latent_parameters").is_some() {
                VaeEncoderOutput::LatentParameters
            } else if signature.output("latent_sample").is_some() {
                VaeEncoderOutput::LatentSample
            } else {
                return Err(signature.unexpected(
                    "it has neither a `latent_sample` nor a `latent_parameters` output".to_owned(),
                ));
            }),
        };

        Ok(Self {
            input_ids,
            text_embedding_width,
            unet_in_channels,
            timestep,
            latent_element,
            unet_output,
            vae_encoder_output,
        })
    }

    /// Whether the UNet is an inpainting UNet (latents + mask + masked-image latents).
    pub fn is_inpainting_unet(&self) -> bool {
        self.unet_in_channels == 9
    }
}
