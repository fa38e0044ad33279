//! What an exported picture's manifest says, taken from the exact provenance map and the
//! generation log: a `c2pa.created` action with the digital source type of the whole picture;
//! for each generative layer that shows, a `c2pa.edited` action (source type
//! trainedAlgorithmicMedia) whose `changes` give the pixels it shows as polygons, with the
//! model, its sha256, the LoRAs, scheduler, steps, seed and — when the artist allows — the
//! prompt; a `c2pa.drawing` action with the painted regions; and the artist's training choice.
//!
//! Regions are the exact outlines of those pixels, traced into polygons by [`super::regions`];
//! how close each is to its pixels is measured and reported.

use crate::document::compositor::{Provenance, ProvenanceShares};
use crate::document::generative::Origin;
use crate::document::layer::LayerContent;
use crate::document::{Document, GenerationRecord};

use super::regions::{Traced, VERTEX_BUDGET};
use super::{
    ManifestContent, RegionReport, TRAINING_MINING, TrainingUse, source_type, training_assertion,
};

/// What the artist chose for this export.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportChoices {
    /// Whether the prompts may be shown in the manifest.
    pub show_prompt: bool,
    /// The training and data-mining choice.
    pub training: TrainingUse,
}

impl Default for ExportChoices {
    fn default() -> Self {
        Self {
            show_prompt: true,
            training: TrainingUse::NotAllowed,
        }
    }
}

fn software_agent() -> serde_json::Value {
    serde_json::json!({ "name": "Pentimento", "version": env!("CARGO_PKG_VERSION") })
}

/// The digital source type of a whole picture with these shares: any generated pixel makes it
/// (a composite with) trained algorithmic media; else any filled pixel (a composite with)
/// algorithmic media; else a digital creation.
pub fn whole_source_type(shares: &ProvenanceShares) -> &'static str {
    let generated = shares.generated + shares.generated_then_painted;
    let filled = shares.filled + shares.filled_then_painted;
    if generated > 0 {
        if shares.hand + filled == 0 {
            source_type::TRAINED_ALGORITHMIC_MEDIA
        } else {
            source_type::COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
        }
    } else if filled > 0 {
        if shares.hand == 0 {
            source_type::ALGORITHMIC_MEDIA
        } else {
            source_type::COMPOSITE_SYNTHETIC
        }
    } else {
        source_type::DIGITAL_CREATION
    }
}

/// How a logged generation was made, for its action's parameters.
fn generation_parameters(record: &GenerationRecord, choices: &ExportChoices) -> serde_json::Value {
    let unet = record
        .model_files
        .iter()
        .find(|(file, _)| file.starts_with("unet/"))
        .map(|(_, hash)| hash.clone());
    let mut parameters = serde_json::json!({
        "model": record.model,
        "model_sha256": unet,
        "model_files": record.model_files.iter().map(|(file, hash)| serde_json::json!({"file": file, "sha256": hash})).collect::<Vec<_>>(),
        "loras": record.loras.iter().map(|lora| serde_json::json!({
            "name": lora.name,
            "sha256": lora.sha256,
            "strength": lora.strength,
        })).collect::<Vec<_>>(),
        "mode": record.mode,
        "scheduler": record.scheduler,
        "steps": record.steps,
        "guidance": record.guidance,
        "seeds": record.seeds,
    });
    if let Some(edge) = record.soft_inpainting {
        parameters["soft_inpainting"] = serde_json::json!({ "graded_edge_px": edge });
    }
    if let Some(cutoff) = record.guidance_cutoff {
        // Work not done: the last steps ran without the unconditional half.
        parameters["guidance_cutoff"] = serde_json::json!({ "guided_share_of_steps": cutoff });
    }
    if choices.show_prompt {
        parameters["prompt"] = serde_json::json!(record.prompt);
        parameters["negative_prompt"] = serde_json::json!(record.negative_prompt);
    }
    parameters
}

/// The `c2pa.edited` action of a generated layer's variation `variation` showing in `regions`.
fn generated_action(
    record: Option<&GenerationRecord>,
    choices: &ExportChoices,
    variation: usize,
    what: &str,
    regions: &Traced,
) -> serde_json::Value {
    let mut action = serde_json::json!({
        "action": "c2pa.edited",
        "digitalSourceType": source_type::TRAINED_ALGORITHMIC_MEDIA,
        "softwareAgent": software_agent(),
        "description": what,
        "changes": regions.changes(&format!("pixels of the {what}")),
    });
    if let Some(record) = record {
        let mut parameters = generation_parameters(record, choices);
        if let Some(seed) = record.seeds.get(variation) {
            parameters["seed"] = serde_json::json!(seed);
        }
        parameters["variation"] = serde_json::json!(variation + 1);
        action["parameters"] = parameters;
    }
    action
}

/// The manifest of an export of `document` whose composite has this provenance map.
pub fn for_export(
    document: &Document,
    provenance: &[Provenance],
    title: &str,
    choices: &ExportChoices,
) -> ManifestContent {
    let (width, height) = (document.width(), document.height());
    let shares = ProvenanceShares::count(provenance);
    let mut actions = vec![serde_json::json!({
        "action": "c2pa.created",
        "digitalSourceType": whole_source_type(&shares),
        "softwareAgent": software_agent(),
    })];
    let made_at = |origin: Origin, x: u32, y: u32| match origin {
        Origin::Model => matches!(
            provenance[(y * width + x) as usize],
            Provenance::Generated | Provenance::GeneratedThenPainted
        ),
        Origin::Fill => matches!(
            provenance[(y * width + x) as usize],
            Provenance::Filled | Provenance::FilledThenPainted
        ),
    };
    let mut region_reports = Vec::new();
    for layer in document.layers() {
        let LayerContent::Generative(generative) = &layer.content else {
            continue;
        };
        if !layer.properties.visible || layer.properties.opacity <= 0.0 {
            continue;
        }
        let pixels = layer.pixels();
        let origin = generative.origin;
        let regions = Traced::of(
            width,
            height,
            |x, y| made_at(origin, x, y) && pixels.pixel(x, y)[3] > 0,
            VERTEX_BUDGET,
        );
        if regions.pixels == 0 {
            continue;
        }
        if origin == Origin::Fill {
            // An algorithm filled these from the picture's own pixels: no model, no training.
            let record = document.generation_record(generative.generation);
            actions.push(serde_json::json!({
                "action": "c2pa.edited",
                "digitalSourceType": source_type::ALGORITHMIC_MEDIA,
                "softwareAgent": software_agent(),
                "description": format!("content-aware fill \"{}\"", layer.properties.name),
                "changes": regions.changes(&format!(
                    "pixels filled from the picture itself (\"{}\")",
                    layer.properties.name
                )),
                "parameters": {
                    "method": "content-aware fill (PatchMatch, multi-scale, with voting)",
                    "model": null,
                    "seed": record.and_then(|record| record.seeds.first().copied()),
                },
            }));
            continue;
        }
        let record = document.generation_record(generative.generation);
        let shown = generative.variation_shares();
        if shown.len() <= 1 {
            region_reports.push(RegionReport::of(&regions));
            let variation = shown
                .first()
                .map_or(generative.selected, |only| only.variation);
            actions.push(generated_action(
                record,
                choices,
                variation,
                &format!("generated layer \"{}\"", layer.properties.name),
                &regions,
            ));
            continue;
        }
        // Painted with the variation brush: each variation is its own generation result, with
        // its seed and the pixels it shows in (soft edges show in both neighbours' regions).
        for share in shown {
            let variation = share.variation;
            let regions = Traced::of(
                width,
                height,
                |x, y| {
                    made_at(origin, x, y)
                        && pixels.pixel(x, y)[3] > 0
                        && generative.variation_weight(variation, x, y) > 0
                },
                VERTEX_BUDGET,
            );
            if regions.pixels == 0 {
                continue;
            }
            region_reports.push(RegionReport::of(&regions));
            actions.push(generated_action(
                record,
                choices,
                variation,
                &format!(
                    "variation {} of the generated layer \"{}\"",
                    variation + 1,
                    layer.properties.name
                ),
                &regions,
            ));
        }
    }
    // Imported images whose layer shows: an ingredient each, placed where its pixels are.
    let mut ingredients = Vec::new();
    for import in &document.imports {
        let Some(layer) = document
            .layers()
            .iter()
            .find(|layer| layer.id.0 == import.layer)
        else {
            continue;
        };
        if !layer.properties.visible || layer.properties.opacity <= 0.0 {
            continue;
        }
        let pixels = layer.pixels();
        let placed = Traced::of(
            width,
            height,
            |x, y| {
                pixels.pixel(x, y)[3] > 0
                    && provenance[(y * width + x) as usize] != Provenance::Empty
            },
            VERTEX_BUDGET,
        );
        if placed.pixels == 0 {
            continue;
        }
        let description = format!(
            "the image \"{}\" as the layer \"{}\"",
            import.title, layer.properties.name
        );
        actions.push(serde_json::json!({
            "action": "c2pa.placed",
            "softwareAgent": software_agent(),
            "description": format!("placed {description}"),
            "parameters": { "ingredientIds": [super::ingredients::label(import)] },
            "changes": placed.changes(&format!("pixels of {description}")),
        }));
        ingredients.push(super::ingredients::ingredient(
            import,
            &layer.properties.name,
        ));
    }
    let painted = Traced::of(
        width,
        height,
        |x, y| {
            matches!(
                provenance[(y * width + x) as usize],
                Provenance::Hand | Provenance::GeneratedThenPainted | Provenance::FilledThenPainted
            )
        },
        VERTEX_BUDGET,
    );
    if painted.pixels > 0 {
        actions.push(serde_json::json!({
            "action": "c2pa.drawing",
            "digitalSourceType": source_type::DIGITAL_CREATION,
            "softwareAgent": software_agent(),
            "changes": painted.changes(if ingredients.is_empty() {
                "painted by hand"
            } else {
                "painted by hand, or placed from an imported image (see its c2pa.placed action)"
            }),
        }));
    }
    ManifestContent {
        title: title.to_owned(),
        actions,
        assertions: vec![(
            TRAINING_MINING.to_owned(),
            training_assertion(choices.training),
        )],
        regions: region_reports,
        ingredients,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_picture_source_type_follows_the_shares() {
        // (visible, hand, generated, filled) pixels, and the source type of the whole picture.
        for (visible, hand, generated, filled, expected) in [
            (10, 10, 0, 0, source_type::DIGITAL_CREATION),
            (10, 0, 10, 0, source_type::TRAINED_ALGORITHMIC_MEDIA),
            (
                10,
                5,
                5,
                0,
                source_type::COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
            ),
            (10, 0, 0, 10, source_type::ALGORITHMIC_MEDIA),
            (10, 5, 0, 5, source_type::COMPOSITE_SYNTHETIC),
            (
                10,
                0,
                10,
                3,
                source_type::COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
            ),
        ] {
            let shares = ProvenanceShares {
                visible,
                hand,
                generated,
                filled,
                ..ProvenanceShares::default()
            };
            assert_eq!(
                whole_source_type(&shares),
                expected,
                "{hand} hand, {generated} generated, {filled} filled of {visible}"
            );
        }
    }
}
