//! What an exported picture's manifest says, taken from the exact provenance map and the
//! generation log: a `c2pa.created` action with the digital source type of the whole picture;
//! for each generative layer that shows, a `c2pa.edited` action (source type
//! trainedAlgorithmicMedia) whose `changes` give the pixels it shows as rectangles, with the
//! model, its sha256, the LoRAs, scheduler, steps, seed and — when the artist allows — the
//! prompt; a `c2pa.drawing` action with the painted regions; and the artist's training choice.
//!
//! Regions are rectangles on an 8-pixel grid: a cell is in a region when any pixel of it is.
//! [`Regions::coverage`] says how close that is (the share of the rectangles' area that is
//! really the region's).

use crate::document::compositor::{Provenance, ProvenanceShares};
use crate::document::layer::LayerContent;
use crate::document::{Document, GenerationRecord};

use super::{ManifestContent, TRAINING_MINING, TrainingUse, source_type, training_assertion};

/// Grid size of the region rectangles, in pixels.
pub const CELL: u32 = 8;

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

/// A region as rectangles `(x, y, width, height)` in pixels, and how many pixels it really has.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Regions {
    /// The rectangles.
    pub rectangles: Vec<(u32, u32, u32, u32)>,
    /// Pixels in the region.
    pub pixels: u64,
}

impl Regions {
    /// The pixels where `inside` holds, as rectangles on the grid: each row of cells is cut
    /// into runs, and a run that continues the one above with the same span extends it.
    pub fn of(width: u32, height: u32, inside: impl Fn(u32, u32) -> bool) -> Self {
        let columns = width.div_ceil(CELL);
        let rows = height.div_ceil(CELL);
        let mut pixels = 0_u64;
        let mut cells = vec![false; (columns * rows) as usize];
        for y in 0..height {
            for x in 0..width {
                if inside(x, y) {
                    pixels += 1;
                    cells[((y / CELL) * columns + x / CELL) as usize] = true;
                }
            }
        }
        // Open rectangles: (first column, columns, first row, rows).
        let mut open: Vec<(u32, u32, u32, u32)> = Vec::new();
        let mut done = Vec::new();
        for row in 0..rows {
            let mut runs = Vec::new();
            let mut column = 0;
            while column < columns {
                if cells[(row * columns + column) as usize] {
                    let start = column;
                    while column < columns && cells[(row * columns + column) as usize] {
                        column += 1;
                    }
                    runs.push((start, column - start));
                } else {
                    column += 1;
                }
            }
            let mut next = Vec::new();
            for (start, span) in runs {
                match open
                    .iter()
                    .position(|&(s, w, _, _)| s == start && w == span)
                {
                    Some(index) => {
                        let mut rect = open.swap_remove(index);
                        rect.3 += 1;
                        next.push(rect);
                    }
                    None => next.push((start, span, row, 1)),
                }
            }
            done.append(&mut open);
            open = next;
        }
        done.append(&mut open);
        let rectangles = done
            .into_iter()
            .map(|(column, span, row, count)| {
                let x = column * CELL;
                let y = row * CELL;
                (
                    x,
                    y,
                    (span * CELL).min(width - x),
                    (count * CELL).min(height - y),
                )
            })
            .collect();
        Self { rectangles, pixels }
    }

    /// The rectangles' total area.
    pub fn area(&self) -> u64 {
        self.rectangles
            .iter()
            .map(|&(_, _, w, h)| u64::from(w) * u64::from(h))
            .sum()
    }

    /// The share of the rectangles' area that is the region's pixels (1: exact).
    pub fn coverage(&self) -> f64 {
        let area = self.area();
        if area == 0 {
            1.0
        } else {
            self.pixels as f64 / area as f64
        }
    }

    /// As C2PA `changes`: one spatial region per rectangle.
    pub fn changes(&self, description: &str) -> serde_json::Value {
        let region: Vec<serde_json::Value> = self
            .rectangles
            .iter()
            .map(|&(x, y, width, height)| {
                serde_json::json!({
                    "type": "spatial",
                    "shape": {
                        "type": "rectangle",
                        "unit": "pixel",
                        "origin": { "x": x, "y": y },
                        "width": width,
                        "height": height,
                    },
                })
            })
            .collect();
        serde_json::json!([{ "region": region, "description": description }])
    }
}

fn software_agent() -> serde_json::Value {
    serde_json::json!({ "name": "Pentimento", "version": env!("CARGO_PKG_VERSION") })
}

/// The digital source type of a whole picture with these shares.
pub fn whole_source_type(shares: &ProvenanceShares) -> &'static str {
    let generated = shares.generated + shares.generated_then_painted;
    if generated == 0 {
        source_type::DIGITAL_CREATION
    } else if shares.hand == 0 {
        source_type::TRAINED_ALGORITHMIC_MEDIA
    } else {
        source_type::COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
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
    if choices.show_prompt {
        parameters["prompt"] = serde_json::json!(record.prompt);
        parameters["negative_prompt"] = serde_json::json!(record.negative_prompt);
    }
    parameters
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
    let generated_at = |x: u32, y: u32| {
        matches!(
            provenance[(y * width + x) as usize],
            Provenance::Generated | Provenance::GeneratedThenPainted
        )
    };
    let mut region_coverage = Vec::new();
    for layer in document.layers() {
        let LayerContent::Generative(generative) = &layer.content else {
            continue;
        };
        if !layer.properties.visible || layer.properties.opacity <= 0.0 {
            continue;
        }
        let pixels = layer.pixels();
        let regions = Regions::of(width, height, |x, y| {
            generated_at(x, y) && pixels.pixel(x, y)[3] > 0
        });
        if regions.pixels == 0 {
            continue;
        }
        region_coverage.push((regions.rectangles.len(), regions.coverage()));
        let record = document
            .generation_log
            .iter()
            .find(|record| record.id == generative.generation);
        let mut action = serde_json::json!({
            "action": "c2pa.edited",
            "digitalSourceType": source_type::TRAINED_ALGORITHMIC_MEDIA,
            "softwareAgent": software_agent(),
            "description": format!("generated layer \"{}\"", layer.properties.name),
            "changes": regions.changes(&format!("pixels of the generated layer \"{}\"", layer.properties.name)),
        });
        if let Some(record) = record {
            let mut parameters = generation_parameters(record, choices);
            if let Some(seed) = record.seeds.get(generative.selected) {
                parameters["seed"] = serde_json::json!(seed);
            }
            action["parameters"] = parameters;
        }
        actions.push(action);
    }
    let painted = Regions::of(width, height, |x, y| {
        matches!(
            provenance[(y * width + x) as usize],
            Provenance::Hand | Provenance::GeneratedThenPainted
        )
    });
    if painted.pixels > 0 {
        actions.push(serde_json::json!({
            "action": "c2pa.drawing",
            "digitalSourceType": source_type::DIGITAL_CREATION,
            "softwareAgent": software_agent(),
            "changes": painted.changes("painted by hand"),
        }));
    }
    ManifestContent {
        title: title.to_owned(),
        actions,
        assertions: vec![(
            TRAINING_MINING.to_owned(),
            training_assertion(choices.training),
        )],
        region_coverage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_grid_rectangles_that_cover_every_pixel() {
        // A disc of radius 20 at (30, 25) in a 64 × 48 picture.
        let inside = |x: u32, y: u32| {
            let (dx, dy) = (x as f64 - 30.0, y as f64 - 25.0);
            dx * dx + dy * dy <= 400.0
        };
        let regions = Regions::of(64, 48, inside);
        for y in 0..48 {
            for x in 0..64 {
                if inside(x, y) {
                    assert!(
                        regions
                            .rectangles
                            .iter()
                            .any(|&(rx, ry, w, h)| x >= rx && x < rx + w && y >= ry && y < ry + h),
                        "({x}, {y}) is covered"
                    );
                }
            }
        }
        // πr² = 1257 pixels against a grid of 8 px cells: most of the area is the disc's.
        assert!(regions.coverage() > 0.6, "{}", regions.coverage());
        let square = Regions::of(64, 48, |x, y| (8..40).contains(&x) && (16..32).contains(&y));
        assert_eq!(square.rectangles, [(8, 16, 32, 16)]);
        assert_eq!(square.coverage(), 1.0);
        assert!(Regions::of(10, 10, |_, _| false).rectangles.is_empty());
    }

    #[test]
    fn the_whole_picture_source_type_follows_the_shares() {
        let shares = |hand, generated| ProvenanceShares {
            visible: hand + generated,
            hand,
            generated,
            generated_then_painted: 0,
        };
        assert_eq!(
            whole_source_type(&shares(10, 0)),
            source_type::DIGITAL_CREATION
        );
        assert_eq!(
            whole_source_type(&shares(0, 10)),
            source_type::TRAINED_ALGORITHMIC_MEDIA
        );
        assert_eq!(
            whole_source_type(&shares(5, 5)),
            source_type::COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
        );
    }
}
