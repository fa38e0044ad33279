//! Errors of this crate. Every message says what is wrong and where (paths come last) and, where
//! the person can do something about it, what to do.

use std::path::PathBuf;

/// What is wrong with a model folder or one of its components.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The path is not a folder.
    #[error("this is not a folder; choose the folder that holds model_index.json: {}", path.display())]
    NotAFolder {
        /// The path given.
        path: PathBuf,
    },

    /// Nothing is at the path.
    #[error("there is no folder here; check the path, or choose the folder that holds model_index.json: {}", path.display())]
    NoSuchFolder {
        /// The path given.
        path: PathBuf,
    },

    /// A component every generation needs is missing.
    #[error(
        "the model has no {component} (expected {component}/model.onnx); is this a Stable \
         Diffusion model in the diffusers or optimum ONNX layout? {}",
        path.display()
    )]
    MissingComponent {
        /// The component's folder name.
        component: &'static str,
        /// The file that was expected.
        path: PathBuf,
    },

    /// A JSON file is not valid JSON.
    #[error("this file is not valid JSON ({reason}): {}", path.display())]
    InvalidJson {
        /// The parser's explanation.
        reason: String,
        /// The file.
        path: PathBuf,
    },

    /// ONNX Runtime could not load a component.
    #[error("ONNX Runtime could not load the {component} ({reason}); the file may be truncated or not an ONNX model: {}", path.display())]
    Session {
        /// The component's folder name.
        component: &'static str,
        /// ONNX Runtime's explanation.
        reason: String,
        /// The ONNX file.
        path: PathBuf,
    },

    /// A component's inputs or outputs are not what a Stable Diffusion pipeline needs.
    #[error("the {component} does not look like a Stable Diffusion {component}: {reason}")]
    UnexpectedSignature {
        /// The component's folder name.
        component: &'static str,
        /// What is unexpected.
        reason: String,
    },

    /// A component's folder holds another component's graph (copied to the wrong place).
    #[error(
        "the model.onnx in {component}/ is {found}, not a {what}: it {signature}. Put the \
         model's own {component}/model.onnx there (copy it again from the download, or export the \
         model again): {}",
        path.display(),
        what = role_name(component)
    )]
    WrongComponent {
        /// The folder it was found in.
        component: &'static str,
        /// What it looks like ("a VAE encoder").
        found: &'static str,
        /// Its inputs and outputs, in words.
        signature: String,
        /// The file.
        path: PathBuf,
    },

    /// A component's inputs or outputs do not fit its role in the pipeline.
    #[error(
        "the model.onnx in {component}/ cannot be the model's {what}: {reason}. Put the model's \
         own {component}/model.onnx there: {}",
        path.display(),
        what = role_name(component)
    )]
    ComponentRole {
        /// The component's folder name.
        component: &'static str,
        /// What does not fit.
        reason: String,
        /// The file.
        path: PathBuf,
    },

    /// The text encoder's embeddings do not fit the UNet.
    #[error(
        "the text encoder produces {text_encoder}-wide embeddings but the UNet expects \
         {unet}-wide ones; the components come from different models (SD 1.x uses 768, SD 2.x \
         1024) — take all of them from the same export"
    )]
    EmbeddingWidthMismatch {
        /// Width of the text encoder's output.
        text_encoder: u64,
        /// Width the UNet's `encoder_hidden_states` expects.
        unet: u64,
    },

    /// The UNet takes neither 4 nor 9 input channels.
    #[error(
        "the UNet takes {found} input channels; Pentimento runs Stable Diffusion UNets with 4 \
         (ordinary) or 9 (inpainting) — ControlNet-merged or other variants are not supported"
    )]
    UnetChannels {
        /// The channel count found.
        found: u64,
    },

    /// The folder is empty.
    #[error("this folder is empty; choose the folder that holds model_index.json and the unet/, text_encoder/ and vae_decoder/ folders: {}", path.display())]
    EmptyFolder {
        /// The folder.
        path: PathBuf,
    },

    /// A PyTorch pickle checkpoint (refused, never opened).
    #[error(
        "this is a PyTorch pickle checkpoint ({file}); Pentimento never opens pickle files, \
         because loading one can run any code hidden in it. Use an ONNX export of the model \
         instead: a folder with model_index.json and unet/model.onnx: {}",
        path.display()
    )]
    PickleCheckpoint {
        /// The file's name.
        file: String,
        /// The file.
        path: PathBuf,
    },

    /// A single-file `.safetensors` checkpoint (the layout other tools use).
    #[error(
        "this is a single-file checkpoint ({file}); Pentimento runs Stable Diffusion as an ONNX \
         pipeline folder (model_index.json with text_encoder/, unet/, vae_decoder/ each holding a \
         model.onnx). Convert it with diffusers and optimum: \
         `python -c \"from diffusers import StableDiffusionPipeline; \
         StableDiffusionPipeline.from_single_file('{file}').save_pretrained('sd-diffusers')\"`, then \
         `optimum-cli export onnx --model sd-diffusers sd-onnx`, and open sd-onnx: {}",
        path.display()
    )]
    SingleFileCheckpoint {
        /// The file's name.
        file: String,
        /// The file.
        path: PathBuf,
    },

    /// A diffusers folder with PyTorch weights and no ONNX export.
    #[error(
        "this folder holds a diffusers model with PyTorch weights ({file}) but no ONNX export; \
         Pentimento needs the ONNX pipeline: `optimum-cli export onnx --model {} model-onnx` \
         writes one (the PyTorch files are never opened): {}",
        path.display(),
        path.display()
    )]
    PyTorchLayout {
        /// A weights file found.
        file: String,
        /// The folder.
        path: PathBuf,
    },

    /// A single `.onnx` file was chosen instead of the pipeline folder.
    #[error(
        "this is one ONNX file; choose the folder of the whole pipeline instead (the one that \
         holds model_index.json and the unet/, text_encoder/ and vae_decoder/ folders): {}",
        path.display()
    )]
    SingleOnnxFile {
        /// The file.
        path: PathBuf,
    },

    /// A graph keeps its weights in a file that is missing.
    #[error(
        "the {component} keeps its weights in {file}, which is missing beside its model.onnx; \
         copy or download that file too: {}",
        path.display()
    )]
    MissingExternalData {
        /// The component's folder name.
        component: &'static str,
        /// The missing file's name.
        file: String,
        /// Where it was expected.
        path: PathBuf,
    },

    /// `model_index.json` is JSON but does not describe a pipeline.
    #[error(
        "model_index.json does not describe a Stable Diffusion pipeline ({reason}); it should be \
         the JSON object diffusers writes, naming the pipeline class and its components: {}",
        path.display()
    )]
    InvalidModelIndex {
        /// What is wrong.
        reason: String,
        /// The file.
        path: PathBuf,
    },

    /// A file could not be read.
    #[error("could not read this file ({source}): {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// What a component's folder holds, in words ("VAE decoder").
fn role_name(folder: &str) -> &str {
    match folder {
        "text_encoder" => "text encoder",
        "unet" => "UNet",
        "vae_encoder" => "VAE encoder",
        "vae_decoder" => "VAE decoder",
        other => other,
    }
}

/// Why a generation could not run. Cancellation is not an error (see
/// [`crate::pipeline::Outcome`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InferenceError {
    /// ONNX Runtime is unavailable.
    #[error(transparent)]
    Runtime(#[from] crate::onnx_runtime::RuntimeError),
    /// The model folder is unusable.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The tokenizer is unusable.
    #[error(transparent)]
    Tokenizer(#[from] crate::tokenizer::TokenizerError),
    /// The scheduler cannot be set up.
    #[error(transparent)]
    Scheduler(#[from] crate::scheduler::SchedulerError),
    /// A LoRA cannot be used.
    #[error(transparent)]
    Lora(#[from] crate::lora::LoraError),
    /// A supplied `.npy` file is unusable.
    #[error(transparent)]
    Npy(#[from] crate::npy::NpyError),

    /// The inference servers of a remote model.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// A requested execution provider cannot be used.
    #[error(
        "the {provider} execution provider cannot be used ({reason}); choose another provider \
         or Automatic"
    )]
    Provider {
        /// The provider asked for.
        provider: crate::providers::ProviderChoice,
        /// Why it failed.
        reason: String,
    },
    /// The image size does not suit the model.
    #[error(
        "{width}×{height} is not a size this model can generate: width and height must be \
         multiples of {multiple} (for example {suggested_width}×{suggested_height})"
    )]
    Size {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
        /// The multiple the model needs.
        multiple: u32,
        /// The nearest valid width.
        suggested_width: u32,
        /// The nearest valid height.
        suggested_height: u32,
    },
    /// An input image or mask does not have the generation's size.
    #[error(
        "the {what} is {found_width}×{found_height} but the generation is {width}×{height}; resize it to match"
    )]
    InputSize {
        /// "input image" or "mask".
        what: &'static str,
        /// Its width.
        found_width: u32,
        /// Its height.
        found_height: u32,
        /// The generation's width.
        width: u32,
        /// The generation's height.
        height: u32,
    },
    /// A request parameter is out of range.
    #[error("{parameter} is {value}: {expected}")]
    Parameter {
        /// The parameter's name.
        parameter: &'static str,
        /// Its value.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// Supplied initial noise has the wrong shape.
    #[error("the initial noise has shape {found:?} but this generation needs {expected:?}")]
    NoiseShape {
        /// The shape needed.
        expected: Vec<usize>,
        /// The shape given.
        found: Vec<usize>,
    },
    /// The model cannot do what was asked (e.g. img2img without a VAE encoder).
    #[error("this model cannot {task}: {reason}")]
    Unsupported {
        /// What was asked.
        task: &'static str,
        /// Why not.
        reason: String,
    },
    /// ONNX Runtime ran out of memory.
    #[error(
        "ONNX Runtime ran out of memory in the {component} ({reason}); try a smaller size, \
         fewer variations at once, or close other programs"
    )]
    OutOfMemory {
        /// The component that was running.
        component: &'static str,
        /// ONNX Runtime's message.
        reason: String,
    },
    /// A component failed while running.
    #[error("the {component} failed while running ({reason})")]
    Run {
        /// The component that was running.
        component: &'static str,
        /// ONNX Runtime's message.
        reason: String,
    },
}

/// What went wrong talking to the servers. Every message is a sentence that says what to do.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum RemoteError {
    /// No server of the pool could run the call.
    #[error(
        "no inference server could run the {component}: {}; check that the servers are running \
         and reachable, or continue on this computer",
        tried.iter().map(|(url, reason)| format!("{url} {reason}")).collect::<Vec<_>>().join("; ")
    )]
    NoServerLeft {
        /// The component's folder name.
        component: &'static str,
        /// Each server and why it could not.
        tried: Vec<(String, String)>,
    },

    /// A server refused the bearer token.
    #[error(
        "{url} refused the access token ({reason}); ask the studio for a valid token and put it \
         in remote.json (\"token\" or \"token_file\")"
    )]
    TokenRefused {
        /// The server.
        url: String,
        /// What it said.
        reason: String,
    },

    /// The server does not serve the model under the expected name.
    #[error(
        "{url} does not have the model {model} loaded ({reason}); load it there (pentimento \
         serve-repo writes the repository) or remove the server from remote.json"
    )]
    ModelNotLoaded {
        /// The server.
        url: String,
        /// The model name on the server.
        model: String,
        /// What it said.
        reason: String,
    },

    /// The model on the server is not the model the client folder was written for.
    #[error(
        "the model {model} on {url} does not match this client folder: {reason}; write the \
         repository and the client folder again from the same model folder (pentimento \
         serve-repo)"
    )]
    SignatureMismatch {
        /// The server.
        url: String,
        /// The model name on the server.
        model: String,
        /// What differs.
        reason: String,
    },

    /// The server rejected the request itself (retrying elsewhere would not help).
    #[error("{url} rejected the {component} call: {reason}")]
    Rejected {
        /// The server.
        url: String,
        /// The component's folder name.
        component: &'static str,
        /// What it said.
        reason: String,
    },

    /// `remote.json` is missing something or cannot be read.
    #[error("the remote model's remote.json cannot be used: {reason}; {path}")]
    Config {
        /// What is wrong.
        reason: String,
        /// The file.
        path: String,
    },
}
