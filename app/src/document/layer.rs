//! Layers: paint layers the artist draws on, and generative layers that hold a generation's raw
//! result with live parameters.

use std::sync::Arc;

use crate::document::generative::GenerativeLayer;
use crate::document::tiles::RgbaTiles;

/// A layer's identity, stable across reordering, undo and saving.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct LayerId(pub u64);

/// How a layer combines with what is below it.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum BlendMode {
    /// Paint over.
    #[default]
    Normal,
    /// Darken by multiplying.
    Multiply,
    /// Lighten by screening.
    Screen,
}

impl BlendMode {
    /// Every mode, in menu order.
    pub const ALL: [Self; 3] = [Self::Normal, Self::Multiply, Self::Screen];

    /// The name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Multiply => "Multiply",
            Self::Screen => "Screen",
        }
    }

    /// The OpenRaster `composite-op` name.
    pub fn openraster(self) -> &'static str {
        match self {
            Self::Normal => "svg:src-over",
            Self::Multiply => "svg:multiply",
            Self::Screen => "svg:screen",
        }
    }

    /// The mode of an OpenRaster `composite-op` (unknown ones paint normally).
    pub fn from_openraster(name: &str) -> Self {
        match name {
            "svg:multiply" => Self::Multiply,
            "svg:screen" => Self::Screen,
            _ => Self::Normal,
        }
    }

    /// Index used by the GPU compositor.
    pub fn shader_index(self) -> u32 {
        match self {
            Self::Normal => 0,
            Self::Multiply => 1,
            Self::Screen => 2,
        }
    }
}

/// What every layer has.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerProperties {
    /// Shown in the layer panel.
    pub name: String,
    /// Hidden layers do not composite.
    pub visible: bool,
    /// 0..1.
    pub opacity: f32,
    /// How it combines with what is below.
    pub blend: BlendMode,
    /// Locked layers cannot be painted on or changed.
    pub locked: bool,
}

impl LayerProperties {
    /// Visible, opaque, normal, unlocked.
    pub fn named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            visible: true,
            opacity: 1.0,
            blend: BlendMode::Normal,
            locked: false,
        }
    }
}

/// What a layer holds.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerContent {
    /// Pixels painted or imported by the artist.
    Paint(RgbaTiles),
    /// A generation's result with live parameters.
    Generative(Arc<GenerativeLayer>),
}

/// One layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Identity.
    pub id: LayerId,
    /// Name, visibility, opacity, blend, lock.
    pub properties: LayerProperties,
    /// Pixels or generation.
    pub content: LayerContent,
}

impl Layer {
    /// Whether it is a generative layer.
    pub fn is_generative(&self) -> bool {
        matches!(self.content, LayerContent::Generative(_))
    }

    /// Where a generative layer's pixels came from (`None` for a paint layer).
    pub fn generative_origin(&self) -> Option<crate::document::generative::Origin> {
        match &self.content {
            LayerContent::Generative(generative) => Some(generative.origin),
            LayerContent::Paint(_) => None,
        }
    }

    /// Where document tile `index` lies (without making a generative layer's pixels).
    pub fn tile_rect(&self, index: usize) -> crate::document::tiles::PixelRect {
        match &self.content {
            LayerContent::Paint(tiles) => tiles.tile_rect(index),
            LayerContent::Generative(generative) => generative.tile_rect(index),
        }
    }

    /// The layer's pixels as the compositor sees them (a generative layer's rendered result).
    pub fn pixels(&self) -> &RgbaTiles {
        match &self.content {
            LayerContent::Paint(tiles) => tiles,
            LayerContent::Generative(generative) => generative.rendered(),
        }
    }

    /// Bytes of pixel data it holds.
    pub fn memory_bytes(&self) -> usize {
        match &self.content {
            LayerContent::Paint(tiles) => tiles.memory_bytes(),
            LayerContent::Generative(generative) => generative.memory_bytes(),
        }
    }
}
