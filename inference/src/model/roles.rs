//! Whether each component's graph does what its folder says: a VAE decoder turns 4 latent
//! channels into 3 colour channels, a VAE encoder the other way round (to 4 latents, or to 8
//! distribution parameters). A file copied into the wrong folder loads in ONNX Runtime and shows
//! plausible signatures, and would only fail when a generation reaches it; this reads the roles
//! from the graphs (without their weights) before anything runs. A text encoder or UNet in the
//! wrong folder is named here too.

use std::path::Path;

use crate::error::ModelError;
use crate::model::folder::{Component, ModelFolder};
use crate::model::onnx_graph::{GraphOutline, ValueOutline};

/// The number of latent channels of Stable Diffusion 1.x and 2.x.
const LATENT_CHANNELS: u64 = 4;
/// Colour channels.
const IMAGE_CHANNELS: u64 = 3;

/// Checks that each component of `folder` is what its folder says, and that the VAE decoder
/// and encoder have the channels their roles need.
pub fn check_roles(folder: &ModelFolder) -> Result<(), ModelError> {
    for component in Component::ALL {
        let Some(files) = folder.component(component) else {
            continue;
        };
        let outline = GraphOutline::read(&files.model).map_err(|err| ModelError::Session {
            component: component.folder_name(),
            reason: err.to_string(),
            path: files.model.clone(),
        })?;
        check_role(component, &outline, &files.model)?;
    }
    Ok(())
}

/// What a graph's inputs and outputs say it is, when it is one of the pipeline's components.
pub fn apparent_component(outline: &GraphOutline) -> Option<Component> {
    let takes = |name: &str| outline.input(name).is_some();
    let gives = |name: &str| outline.output(name).is_some();
    if takes("input_ids") {
        Some(Component::TextEncoder)
    } else if takes("timestep") && takes("encoder_hidden_states") {
        Some(Component::Unet)
    } else if takes("sample") && (gives("latent_sample") || gives("latent_parameters")) {
        Some(Component::VaeEncoder)
    } else if takes("latent_sample") && gives("sample") {
        Some(Component::VaeDecoder)
    } else {
        None
    }
}

fn check_role(component: Component, outline: &GraphOutline, path: &Path) -> Result<(), ModelError> {
    if let Some(apparent) = apparent_component(outline)
        && apparent != component
    {
        return Err(ModelError::WrongComponent {
            component: component.folder_name(),
            found: describe(apparent),
            signature: signature(outline),
            path: path.to_path_buf(),
        });
    }
    let wrong = |reason: String| ModelError::ComponentRole {
        component: component.folder_name(),
        reason,
        path: path.to_path_buf(),
    };
    let (input, allowed_in, outputs, allowed_out): (&str, &[u64], &[&str], &[u64]) = match component
    {
        Component::VaeDecoder => (
            "latent_sample",
            &[LATENT_CHANNELS],
            &["sample"],
            &[IMAGE_CHANNELS],
        ),
        Component::VaeEncoder => (
            "sample",
            &[IMAGE_CHANNELS],
            &["latent_sample", "latent_parameters"],
            &[LATENT_CHANNELS, 2 * LATENT_CHANNELS],
        ),
        Component::TextEncoder | Component::Unet => return Ok(()),
    };
    let Some(value) = outline.input(input) else {
        return Err(wrong(format!(
            "it has no `{input}` input (it takes {})",
            names(&outline.inputs)
        )));
    };
    let channels = value
        .dim(1)
        .and_then(|channels| u64::try_from(channels).ok())
        .or_else(|| outline.convolution_input_channels(input));
    if let Some(channels) = channels
        && !allowed_in.contains(&channels)
    {
        return Err(wrong(format!(
            "its `{input}` input has {channels} channels, expected {}",
            list(allowed_in)
        )));
    }
    let Some(output) = outputs.iter().find_map(|name| outline.output(name)) else {
        return Err(wrong(format!(
            "it gives no {} output (it gives {})",
            outputs
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(" or "),
            names(&outline.outputs)
        )));
    };
    let channels = output
        .dim(1)
        .and_then(|channels| u64::try_from(channels).ok())
        .or_else(|| outline.convolution_output_channels(&output.name));
    if let Some(channels) = channels
        && !allowed_out.contains(&channels)
    {
        return Err(wrong(format!(
            "its `{}` output has {channels} channels, expected {}",
            output.name,
            list(allowed_out)
        )));
    }
    Ok(())
}

fn describe(component: Component) -> &'static str {
    match component {
        Component::TextEncoder => "a text encoder",
        Component::Unet => "a UNet",
        Component::VaeEncoder => "a VAE encoder",
        Component::VaeDecoder => "a VAE decoder",
    }
}

/// "takes `sample` (3 channels) and gives `latent_sample`".
fn signature(outline: &GraphOutline) -> String {
    let with_channels = |values: &[ValueOutline], input: bool| {
        values
            .iter()
            .map(|value| {
                let channels = value
                    .dim(1)
                    .and_then(|c| u64::try_from(c).ok())
                    .or_else(|| {
                        if input {
                            outline.convolution_input_channels(&value.name)
                        } else {
                            outline.convolution_output_channels(&value.name)
                        }
                    });
                match channels {
                    Some(channels) if value.dims.len() == 4 => {
                        format!("`{}` ({channels} channels)", value.name)
                    }
                    _ => format!("`{}`", value.name),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "takes {} and gives {}",
        with_channels(&outline.inputs, true),
        with_channels(&outline.outputs, false)
    )
}

fn names(values: &[ValueOutline]) -> String {
    if values.is_empty() {
        return "nothing".to_owned();
    }
    values
        .iter()
        .map(|value| format!("`{}`", value.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn list(channels: &[u64]) -> String {
    channels
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
}
