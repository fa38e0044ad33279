//! Generations in the document: the generation log, and generative layers with their live
//! edges and variations.

use std::sync::Arc;

use super::generative::{GenerativeLayer, GenerativeParams};
use super::history::Change;
use super::layer::{Layer, LayerContent, LayerId, LayerProperties};
use super::tiles::PixelRect;
use super::{Document, DocumentError, GenerationRecord};

impl Document {
    /// Appends a generation to the log (accepted or not); returns its id.
    pub fn log_generation(&mut self, mut record: GenerationRecord) -> u64 {
        record.id = self.generation_log.last().map_or(1, |last| last.id + 1);
        let id = record.id;
        self.generation_log.push(record);
        self.changed();
        id
    }

    /// Records an image brought into the document (its id is set here); returns the id.
    pub fn record_import(&mut self, mut record: super::ImportRecord) -> u64 {
        record.id = self.imports.last().map_or(1, |last| last.id + 1);
        let id = record.id;
        self.imports.push(record);
        self.changed();
        id
    }

    /// The generation log's entry `id`.
    pub fn generation_record(&self, id: u64) -> Option<&GenerationRecord> {
        self.generation_log.iter().find(|record| record.id == id)
    }

    /// A generation log entry, for completing it (seeds, outcome, accepted variations). The log
    /// only grows: entries are completed, never removed.
    pub fn generation_record_mut(&mut self, id: u64) -> Option<&mut GenerationRecord> {
        let record = self
            .generation_log
            .iter_mut()
            .find(|record| record.id == id)?;
        self.revision += 1;
        Some(record)
    }

    /// Adds a generative layer on top; returns its id.
    pub fn add_generative_layer(
        &mut self,
        name: &str,
        region: PixelRect,
        variation: Vec<u8>,
        mask: Vec<u8>,
        generation: u64,
    ) -> LayerId {
        self.add_generative_layer_with_variations(
            name,
            region,
            vec![Arc::new(variation)],
            0,
            mask,
            generation,
        )
    }

    /// Adds a generative layer on top that keeps every variation of its generation (raw RGB at
    /// region size, shared, not copied) and shows `selected`; the artist can switch later
    /// without generating again.
    pub fn add_generative_layer_with_variations(
        &mut self,
        name: &str,
        region: PixelRect,
        variations: Vec<Arc<Vec<u8>>>,
        selected: usize,
        mask: Vec<u8>,
        generation: u64,
    ) -> LayerId {
        let id = self.allocate_id();
        let mut layer = GenerativeLayer::new(
            (self.width, self.height),
            region,
            variations,
            Arc::new(mask),
            GenerativeParams::default(),
            generation,
        );
        if selected != layer.selected {
            layer = layer.with_selected(selected);
        }
        self.layers.push(Layer {
            id,
            properties: LayerProperties::named(name),
            content: LayerContent::Generative(Arc::new(layer)),
        });
        self.mark_rect(&region);
        self.record(
            "Accept generation",
            vec![Change::Remove { layer: id }],
            None,
        );
        id
    }

    /// Accepts variation `index` of generation `log_id` (the one made with `seed`) as a
    /// generative layer on top that keeps all of `variations` and the artist's pixels it was
    /// generated over (`context`, RGB at region size, for colour match), and records in the log
    /// that it was accepted. The window and `pentimento project inpaint` both accept here.
    #[allow(clippy::too_many_arguments)]
    pub fn accept_variation(
        &mut self,
        log_id: u64,
        region: PixelRect,
        variations: Vec<Arc<Vec<u8>>>,
        index: usize,
        mask: Vec<u8>,
        context: Option<Arc<Vec<u8>>>,
        seed: u32,
    ) -> LayerId {
        let name = generative_layer_name(log_id, seed);
        let id = self
            .add_generative_layer_with_variations(&name, region, variations, index, mask, log_id);
        if let Some(context) = context
            && let Some(layer_index) = self.layer_index(id)
            && let LayerContent::Generative(generative) = &self.layers[layer_index].content
        {
            let with_context = (**generative).clone().with_context(context);
            self.layers[layer_index].content = LayerContent::Generative(Arc::new(with_context));
        }
        if let Some(record) = self.generation_record_mut(log_id)
            && let Some(position) = record.seeds.iter().position(|&s| s == seed)
        {
            record.accepted.push(position);
        }
        id
    }

    /// Adds a content-aware fill's result as a generative layer of the fill class on top
    /// (`filled` RGB and `mask` at region size, `context` the pixels it was filled from); its
    /// pixels count as filled, not generated, in the provenance map.
    pub fn add_fill_layer(
        &mut self,
        name: &str,
        region: PixelRect,
        filled: Vec<u8>,
        mask: Vec<u8>,
        context: Arc<Vec<u8>>,
        log_id: u64,
    ) -> LayerId {
        let id = self.add_generative_layer(name, region, filled, mask, log_id);
        if let Some(layer_index) = self.layer_index(id)
            && let LayerContent::Generative(generative) = &self.layers[layer_index].content
        {
            let fill = (**generative)
                .clone()
                .with_origin(super::generative::Origin::Fill)
                .with_context(context);
            self.layers[layer_index].content = LayerContent::Generative(Arc::new(fill));
        }
        id
    }

    /// An unlocked generative layer and its generation.
    fn editable_generative(
        &self,
        id: LayerId,
    ) -> Result<(&Layer, &Arc<GenerativeLayer>), DocumentError> {
        let layer = self.editable(id)?;
        match &layer.content {
            LayerContent::Generative(generative) => Ok((layer, generative)),
            LayerContent::Paint(_) => Err(DocumentError::NoLayer),
        }
    }

    /// Changes a generative layer's grow and feather (re-rendered from its raw result).
    pub fn set_generative_params(
        &mut self,
        id: LayerId,
        params: GenerativeParams,
        coalesce: Option<&str>,
    ) -> Result<(), DocumentError> {
        let (_, generative) = self.editable_generative(id)?;
        if generative.params == params {
            return Ok(());
        }
        let (updated, changed) = generative.with_params(params);
        let index = self.layer_index(id).ok_or(DocumentError::NoLayer)?;
        let previous = std::mem::replace(
            &mut self.layers[index].content,
            LayerContent::Generative(Arc::new(updated)),
        );
        self.dirty.tiles.extend(changed);
        let change = Change::Content {
            layer: id,
            content: previous,
        };
        self.record_on_layer("Generative layer settings", id, change, coalesce);
        Ok(())
    }

    /// Shows another of a generative layer's variations (and renames the layer to `name` when
    /// given), as one undo step.
    pub fn set_generative_variation(
        &mut self,
        id: LayerId,
        selected: usize,
        name: Option<&str>,
    ) -> Result<(), DocumentError> {
        let (layer, generative) = self.editable_generative(id)?;
        if generative.selected == selected || selected >= generative.variations.len() {
            return Ok(());
        }
        let mut changes = vec![Change::Content {
            layer: id,
            content: LayerContent::Generative(Arc::new(generative.with_selected(selected))),
        }];
        if let Some(name) = name {
            let mut properties = layer.properties.clone();
            properties.name = name.to_owned();
            changes.push(Change::Properties {
                layer: id,
                properties,
            });
        }
        // Applied as undo applies a step, which gives the changes that put it back.
        let undo = changes
            .into_iter()
            .filter_map(|change| self.apply_change(change))
            .collect();
        self.record("Show another variation", undo, None);
        Ok(())
    }
}

/// Which variations of its generation a generative layer shows, and where.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ShownVariations {
    /// The layer.
    pub layer: u64,
    /// Its name.
    pub name: String,
    /// The generation log entry it came from.
    pub generation: u64,
    /// Each variation that shows: its index, seed, share of the layer's visible pixels
    /// (alpha-weighted) and where it shows.
    pub variations: Vec<ShownVariation>,
}

/// One variation a generative layer shows.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ShownVariation {
    /// Index into the generation's seeds (0-based).
    pub variation: usize,
    /// Its seed, when the log has it.
    pub seed: Option<u32>,
    /// Its share of what the layer shows (0..1).
    pub share: f64,
    /// The document pixels where it shows at all.
    pub bounds: PixelRect,
}

impl Document {
    /// Which variation each generative layer shows where (bottom layer first).
    pub fn shown_variations(&self) -> Vec<ShownVariations> {
        self.layers
            .iter()
            .filter_map(|layer| {
                let LayerContent::Generative(generative) = &layer.content else {
                    return None;
                };
                let seeds = self
                    .generation_record(generative.generation)
                    .map(|record| record.seeds.as_slice())
                    .unwrap_or_default();
                Some(ShownVariations {
                    layer: layer.id.0,
                    name: layer.properties.name.clone(),
                    generation: generative.generation,
                    variations: generative
                        .variation_shares()
                        .into_iter()
                        .map(|share| ShownVariation {
                            variation: share.variation,
                            seed: seeds.get(share.variation).copied(),
                            share: share.share,
                            bounds: share.bounds,
                        })
                        .collect(),
                })
            })
            .collect()
    }
}

impl ShownVariations {
    /// "variation 2 (seed 7) on 60 % at 10,20–200,180; variation 1 (seed 3) on 40 % …".
    pub fn describe(&self) -> String {
        if self.variations.is_empty() {
            return "shows nothing".to_owned();
        }
        self.variations
            .iter()
            .map(|shown| {
                let seed = shown
                    .seed
                    .map_or_else(String::new, |seed| format!(" (seed {seed})"));
                let b = shown.bounds;
                format!(
                    "variation {}{seed} on {:.1} % within {},{}–{},{}",
                    shown.variation + 1,
                    shown.share * 100.0,
                    b.x0,
                    b.y0,
                    b.x1,
                    b.y1
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The name an accepted generation's layer gets.
pub fn generative_layer_name(generation: u64, seed: u32) -> String {
    format!("Gen {generation} · seed {seed}")
}
