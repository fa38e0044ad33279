//! Matching LoRA pairs to a model's layers and merging them into its weights:
//! `W' = W + Σ strength · scale · up · down`, in float32, cast back to the weight's type.
//!
//! The scale of a pair is `alpha / rank` with the pair's own `alpha`, or 1 when the file stores
//! none for it, as kohya-ss defines it and A1111, ComfyUI and diffusers apply it. A PEFT header
//! (`lora_adapter_metadata`, diffusers' `save_lora_weights`) gives `lora_alpha` and per-module
//! `alpha_pattern` instead, and `use_rslora` divides by `√rank`. (diffusers 0.39 applies the most
//! common alpha, not the pair's own, to the transformer attention layers of a kohya file: the
//! alpha names it derives for them match no module. Files trained with one alpha, the usual
//! case, read the same either way.)

use std::collections::{BTreeMap, HashMap};

use ndarray::{ArrayView2, ArrayViewMut2};

use super::file::{LoraComponent, LoraFile, LoraPair, ModuleName};
use super::onnx::{FLOAT, FLOAT16, Layer, ModelWeights};
use super::{LoraChoice, LoraError};

/// A merged weight, ready to give to ONNX Runtime.
#[derive(Clone, Debug)]
pub struct MergedTensor {
    /// The initializer it replaces.
    pub name: String,
    /// Its dimensions.
    pub dims: Vec<i64>,
    /// The values, in the weight's own type.
    pub values: MergedValues,
}

/// A merged weight's values.
#[derive(Clone, Debug)]
pub enum MergedValues {
    /// float32.
    Float(Vec<f32>),
    /// float16.
    Float16(Vec<half::f16>),
}

impl MergedTensor {
    /// ONNX element type.
    pub fn data_type(&self) -> i32 {
        match self.values {
            MergedValues::Float(_) => FLOAT,
            MergedValues::Float16(_) => FLOAT16,
        }
    }

    /// The values as float32 (float16 ones widened).
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.values {
            MergedValues::Float(values) => values.clone(),
            MergedValues::Float16(values) => values.iter().map(|v| v.to_f32()).collect(),
        }
    }

    /// The values as little-endian bytes, as an ONNX file stores them.
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match &self.values {
            MergedValues::Float(values) => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            MergedValues::Float16(values) => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }
}

/// How one LoRA met one component of the model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ComponentMatch {
    /// Pairs merged.
    pub matched: usize,
    /// Key prefixes of pairs that name no layer of this model.
    pub unmatched: Vec<String>,
}

/// Every LoRA of a set merged into one component.
#[derive(Debug, Default)]
pub struct Merged {
    /// The changed weights.
    pub tensors: Vec<MergedTensor>,
    /// Per LoRA of the set (same order), how its pairs matched.
    pub matches: Vec<ComponentMatch>,
}

/// Pairs to add to one layer: each with its factor (strength × scale) and its LoRA's index.
type Additions<'a> = Vec<(&'a LoraPair, f32, usize)>;

/// Which layer each pair of `choices` for `component` goes to, with its shape checked.
fn plan<'a>(
    weights: &'a ModelWeights,
    component: LoraComponent,
    choices: &'a [LoraChoice],
) -> Result<(BTreeMap<&'a str, Additions<'a>>, Vec<ComponentMatch>), LoraError> {
    let stems: HashMap<String, &str> = weights
        .layers
        .keys()
        .map(|path| (path.replace('.', "_"), path.as_str()))
        .collect();
    let layers_per_block = layers_per_block(weights);
    let mut planned: BTreeMap<&str, Additions<'a>> = BTreeMap::new();
    let mut matches = Vec::new();
    for (index, choice) in choices.iter().enumerate() {
        let lora = &choice.lora;
        let mut found = ComponentMatch::default();
        let pairs: Vec<&LoraPair> = lora
            .pairs
            .iter()
            .filter(|pair| pair.component == component)
            .collect();
        if !pairs.is_empty()
            && let Some(operator) = &weights.fused_operator
        {
            return Err(LoraError::FusedGraph {
                component: component.name(),
                operator: operator.clone(),
            });
        }
        let scales = scales(lora, component, &pairs);
        for (pair, scale) in pairs.iter().zip(scales) {
            let stem = match &pair.module {
                ModuleName::Stem(stem) => {
                    ldm_to_diffusers(stem, layers_per_block).unwrap_or_else(|| stem.clone())
                }
                ModuleName::Path(path) => path.replace('.', "_"),
            };
            let Some(path) = stems.get(&stem) else {
                found.unmatched.push(pair.key.clone());
                continue;
            };
            check_shape(weights, path, pair, lora)?;
            found.matched += 1;
            planned
                .entry(path)
                .or_default()
                .push((pair, choice.strength * scale, index));
        }
        matches.push(found);
    }
    Ok((planned, matches))
}

/// How each LoRA of `choices` would meet `component`, with every shape checked, without
/// merging anything.
pub fn check(
    weights: &ModelWeights,
    component: LoraComponent,
    choices: &[LoraChoice],
) -> Result<Vec<ComponentMatch>, LoraError> {
    Ok(plan(weights, component, choices)?.1)
}

/// Merges the pairs of `choices` that belong to `component` into `weights`.
pub fn merge(
    weights: &ModelWeights,
    component: LoraComponent,
    choices: &[LoraChoice],
) -> Result<Merged, LoraError> {
    let (planned, matches) = plan(weights, component, choices)?;
    let mut tensors = Vec::new();
    for (path, additions) in planned {
        let layer = &weights.layers[path];
        tensors.push(merge_layer(weights, path, layer, &additions)?);
    }
    Ok(Merged { tensors, matches })
}

/// The layer's weight as PyTorch sees it, `[out, in × kernel]`.
fn torch_shape(weights: &ModelWeights, layer: &Layer) -> Option<(usize, usize)> {
    let initializer = weights.initializers.get(&layer.initializer)?;
    let dims: Vec<usize> = initializer
        .dims
        .iter()
        .map(|&d| d.max(0) as usize)
        .collect();
    if layer.op.transposed() {
        match dims.as_slice() {
            [inputs, outputs] => Some((*outputs, *inputs)),
            _ => None,
        }
    } else {
        Some((dims.first().copied()?, dims.iter().skip(1).product()))
    }
}

fn check_shape(
    weights: &ModelWeights,
    path: &str,
    pair: &LoraPair,
    lora: &LoraFile,
) -> Result<(), LoraError> {
    let layer = &weights.layers[path];
    let (out, inner) = torch_shape(weights, layer).unwrap_or((0, 0));
    if pair.out_features() == out && pair.in_elements() == inner && out > 0 {
        return Ok(());
    }
    Err(LoraError::ShapeMismatch {
        lora: lora.name(),
        key: pair.key.clone(),
        lora_shape: format!("{} × {}", pair.out_features(), pair.in_elements()),
        model_shape: format!("{out} × {inner}"),
        made_for: lora.metadata.base_model().map(str::to_owned),
    })
}

/// Adds every pair planned for one layer to its weight (shapes checked by [`plan`]).
fn merge_layer(
    weights: &ModelWeights,
    path: &str,
    layer: &Layer,
    additions: &[(&LoraPair, f32, usize)],
) -> Result<MergedTensor, LoraError> {
    let (mut values, initializer) = weights.weight(layer).map_err(|reason| LoraError::Model {
        reason: format!("{path}: {reason}"),
    })?;
    let (out, inner) = torch_shape(weights, layer).unwrap_or((0, 0));
    for &(pair, factor, _) in additions {
        let rank = pair.rank();
        let up = ArrayView2::from_shape((out, rank), &pair.up).map_err(|err| internal(&err))?;
        let down =
            ArrayView2::from_shape((rank, inner), &pair.down).map_err(|err| internal(&err))?;
        if layer.op.transposed() {
            let mut weight = ArrayViewMut2::from_shape((inner, out), &mut values)
                .map_err(|err| internal(&err))?;
            let mut as_torch = weight.view_mut().reversed_axes();
            ndarray::linalg::general_mat_mul(factor, &up, &down, 1.0, &mut as_torch);
        } else {
            let mut weight = ArrayViewMut2::from_shape((out, inner), &mut values)
                .map_err(|err| internal(&err))?;
            ndarray::linalg::general_mat_mul(factor, &up, &down, 1.0, &mut weight);
        }
    }
    // `ModelWeights::weight` reads float32 and float16 weights only.
    let values = if initializer.data_type == FLOAT16 {
        MergedValues::Float16(values.into_iter().map(half::f16::from_f32).collect())
    } else {
        MergedValues::Float(values)
    };
    Ok(MergedTensor {
        name: layer.initializer.clone(),
        dims: initializer.dims.clone(),
        values,
    })
}

fn internal(err: &ndarray::ShapeError) -> LoraError {
    LoraError::Model {
        reason: format!("a weight has an unexpected size ({err})"),
    }
}

/// `alpha / rank` for each pair (see the module documentation).
fn scales(lora: &LoraFile, component: LoraComponent, pairs: &[&LoraPair]) -> Vec<f32> {
    let config = lora.peft_config.get(&component);
    pairs
        .iter()
        .map(|pair| {
            let rank = pair.rank().max(1) as f32;
            let Some(config) = config else {
                return pair.alpha.unwrap_or(rank) / rank;
            };
            let module = match &pair.module {
                ModuleName::Path(path) | ModuleName::Stem(path) => path.as_str(),
            };
            let alpha = config
                .alpha_pattern
                .iter()
                .find(|(pattern, _)| module == pattern || module.ends_with(&format!(".{pattern}")))
                .map(|(_, alpha)| *alpha)
                .or(config.lora_alpha)
                .or(pair.alpha)
                .unwrap_or(rank);
            if config.use_rslora {
                alpha / rank.sqrt()
            } else {
                alpha / rank
            }
        })
        .collect()
}

/// Resnets per down block, read from the layer names (the LDM numbering depends on it).
fn layers_per_block(weights: &ModelWeights) -> usize {
    let resnets: std::collections::BTreeSet<&str> = weights
        .layers
        .keys()
        .filter_map(|path| {
            let rest = path.strip_prefix("down_blocks.0.resnets.")?;
            rest.split('.').next()
        })
        .collect();
    resnets.len().max(1)
}

/// A kohya stem in the original LDM layout, in diffusers' layout (`_` for `.` both times), or
/// `None` when it is not in the LDM layout.
///
/// `input_blocks.0` is `conv_in`; `input_blocks.n` for n ≥ 1 is down block `(n−1) / (L+1)`,
/// position `(n−1) % (L+1)` (L resnets per block): `.0` its resnet, `.1` its attention, and the
/// last position of a block its downsampler (`.0.op`). `middle_block.0/1/2` are the mid block's
/// resnet 0, attention and resnet 1. `output_blocks.n` is up block `n / (L+1)`, position
/// `n % (L+1)`: `.0` a resnet, `.1` an attention (or the upsampler, in a block without
/// attentions), `.2` the upsampler. Inside a resnet, `in_layers.2`, `out_layers.3`,
/// `emb_layers.1` and `skip_connection` are `conv1`, `conv2`, `time_emb_proj` and
/// `conv_shortcut`.
pub fn ldm_to_diffusers(stem: &str, layers_per_block: usize) -> Option<String> {
    let per = layers_per_block + 1;
    let numbers = |rest: &str| -> Option<(usize, usize, String)> {
        let mut parts = rest.splitn(3, '_');
        let first = parts.next()?.parse().ok()?;
        let second = parts.next()?.parse().ok()?;
        Some((first, second, parts.next().unwrap_or_default().to_owned()))
    };
    if let Some(rest) = stem.strip_prefix("input_blocks_") {
        let (n, inner, rest) = numbers(rest)?;
        if n == 0 {
            return Some("conv_in".to_owned());
        }
        let (block, position) = ((n - 1) / per, (n - 1) % per);
        return Some(if position == layers_per_block || rest == "op" {
            format!("down_blocks_{block}_downsamplers_0_conv")
        } else if inner == 0 {
            format!(
                "down_blocks_{block}_resnets_{position}_{}",
                resnet_part(&rest)
            )
        } else {
            format!("down_blocks_{block}_attentions_{position}_{rest}")
        });
    }
    if let Some(rest) = stem.strip_prefix("middle_block_") {
        let (inner, rest) = rest.split_once('_')?;
        return Some(match inner {
            "0" => format!("mid_block_resnets_0_{}", resnet_part(rest)),
            "1" => format!("mid_block_attentions_0_{rest}"),
            "2" => format!("mid_block_resnets_1_{}", resnet_part(rest)),
            _ => return None,
        });
    }
    if let Some(rest) = stem.strip_prefix("output_blocks_") {
        let (n, inner, rest) = numbers(rest)?;
        let (block, position) = (n / per, n % per);
        return Some(match inner {
            0 => format!(
                "up_blocks_{block}_resnets_{position}_{}",
                resnet_part(&rest)
            ),
            1 if rest == "conv" => format!("up_blocks_{block}_upsamplers_0_conv"),
            1 => format!("up_blocks_{block}_attentions_{position}_{rest}"),
            _ => format!("up_blocks_{block}_upsamplers_0_conv"),
        });
    }
    match stem {
        "time_embed_0" => Some("time_embedding_linear_1".to_owned()),
        "time_embed_2" => Some("time_embedding_linear_2".to_owned()),
        "out_2" => Some("conv_out".to_owned()),
        _ => None,
    }
}

/// A resnet's inner layer name in diffusers' layout.
fn resnet_part(rest: &str) -> String {
    for (ldm, diffusers) in [
        ("in_layers_2", "conv1"),
        ("out_layers_3", "conv2"),
        ("emb_layers_1", "time_emb_proj"),
        ("skip_connection", "conv_shortcut"),
    ] {
        if rest == ldm {
            return diffusers.to_owned();
        }
    }
    rest.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldm_names_map_to_diffusers_for_sd15() {
        let cases = [
            (
                "input_blocks_1_1_transformer_blocks_0_attn1_to_q",
                "down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q",
            ),
            (
                "input_blocks_2_1_proj_in",
                "down_blocks_0_attentions_1_proj_in",
            ),
            (
                "input_blocks_4_0_in_layers_2",
                "down_blocks_1_resnets_0_conv1",
            ),
            (
                "input_blocks_5_0_emb_layers_1",
                "down_blocks_1_resnets_1_time_emb_proj",
            ),
            ("input_blocks_3_0_op", "down_blocks_0_downsamplers_0_conv"),
            (
                "input_blocks_11_0_out_layers_3",
                "down_blocks_3_resnets_1_conv2",
            ),
            (
                "middle_block_1_transformer_blocks_0_ff_net_2",
                "mid_block_attentions_0_transformer_blocks_0_ff_net_2",
            ),
            (
                "middle_block_2_skip_connection",
                "mid_block_resnets_1_conv_shortcut",
            ),
            ("output_blocks_2_1_conv", "up_blocks_0_upsamplers_0_conv"),
            (
                "output_blocks_3_1_transformer_blocks_0_attn2_to_k",
                "up_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k",
            ),
            ("output_blocks_5_2_conv", "up_blocks_1_upsamplers_0_conv"),
            (
                "output_blocks_11_1_proj_out",
                "up_blocks_3_attentions_2_proj_out",
            ),
            ("input_blocks_0_0", "conv_in"),
            ("time_embed_2", "time_embedding_linear_2"),
        ];
        for (ldm, diffusers) in cases {
            assert_eq!(
                ldm_to_diffusers(ldm, 2).as_deref(),
                Some(diffusers),
                "{ldm}"
            );
        }
        assert_eq!(
            ldm_to_diffusers("down_blocks_0_attentions_0_proj_in", 2),
            None
        );
    }
}
