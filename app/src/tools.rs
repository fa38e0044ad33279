//! The tools an artist picks from the toolbar or with a key.

use crate::document::brush::{BrushSettings, StrokeMode};

/// A canvas tool.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Tool {
    /// Paint on the selected layer (B).
    #[default]
    Brush,
    /// Erase the selected layer (E).
    Eraser,
    /// Paint the inpainting mask (M).
    MaskBrush,
    /// Erase the inpainting mask (Shift+M).
    MaskEraser,
    /// Paint which of a generative layer's variations shows where (G).
    VariationBrush,
    /// Drag a rectangle into the mask (R; Alt subtracts).
    RectangleSelect,
    /// Draw a free shape into the mask (L; Alt subtracts).
    LassoSelect,
    /// Drag the selected paint layer's pixels (V).
    Move,
    /// Pick a colour from the canvas (I).
    Eyedropper,
    /// Move the view (H, or hold Space, or drag with the middle button).
    Pan,
}

impl Tool {
    /// Every tool, in toolbar order.
    pub const ALL: [Self; 10] = [
        Self::Brush,
        Self::Eraser,
        Self::MaskBrush,
        Self::MaskEraser,
        Self::VariationBrush,
        Self::RectangleSelect,
        Self::LassoSelect,
        Self::Move,
        Self::Eyedropper,
        Self::Pan,
    ];

    /// The name shown (and used as the accessible label of its button).
    pub fn label(self) -> &'static str {
        match self {
            Self::Brush => "Brush",
            Self::Eraser => "Eraser",
            Self::MaskBrush => "Mask brush",
            Self::MaskEraser => "Mask eraser",
            Self::VariationBrush => "Variation brush",
            Self::RectangleSelect => "Rectangle selection",
            Self::LassoSelect => "Lasso selection",
            Self::Move => "Move",
            Self::Eyedropper => "Eyedropper",
            Self::Pan => "Pan",
        }
    }

    /// The keyboard shortcut, as shown in tooltips.
    pub fn shortcut(self) -> &'static str {
        match self {
            Self::Brush => "B",
            Self::Eraser => "E",
            Self::MaskBrush => "M",
            Self::MaskEraser => "Shift+M",
            Self::VariationBrush => "G",
            Self::RectangleSelect => "R",
            Self::LassoSelect => "L",
            Self::Move => "V",
            Self::Eyedropper => "I",
            Self::Pan => "H",
        }
    }

    /// Whether it paints with a brush (then it has brush settings and a brush outline).
    pub fn is_brush(self) -> bool {
        matches!(
            self,
            Self::Brush | Self::Eraser | Self::MaskBrush | Self::MaskEraser | Self::VariationBrush
        )
    }

    /// Whether it paints on the mask (then the mask is shown strongly).
    pub fn works_on_mask(self) -> bool {
        matches!(
            self,
            Self::MaskBrush | Self::MaskEraser | Self::RectangleSelect | Self::LassoSelect
        )
    }
}

/// Settings of the tools, kept between sessions.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ToolSettings {
    /// The tool in use.
    pub tool: Tool,
    /// The paint brush.
    pub brush: BrushSettings,
    /// The eraser's size and hardness (its colour is unused).
    pub eraser: BrushSettings,
    /// The mask brush.
    pub mask: BrushSettings,
    /// The variation brush's size and softness (its colour is unused).
    pub variation: BrushSettings,
    /// The variation the variation brush paints (0-based).
    pub paint_variation: u8,
    /// Recently used colours, newest first.
    pub recent_colors: Vec<[u8; 3]>,
}

impl Default for ToolSettings {
    fn default() -> Self {
        Self {
            tool: Tool::Brush,
            brush: BrushSettings::default(),
            eraser: BrushSettings {
                size: 40.0,
                hardness: 0.5,
                ..BrushSettings::default()
            },
            mask: BrushSettings {
                size: 60.0,
                hardness: 0.8,
                ..BrushSettings::default()
            },
            variation: BrushSettings {
                size: 120.0,
                hardness: 0.3,
                ..BrushSettings::default()
            },
            paint_variation: 1,
            recent_colors: Vec::new(),
        }
    }
}

impl ToolSettings {
    /// The stroke the current tool makes, if it is a brush.
    pub fn stroke_mode(&self) -> Option<StrokeMode> {
        match self.tool {
            Tool::Brush => Some(StrokeMode::Paint),
            Tool::Eraser => Some(StrokeMode::Erase),
            Tool::MaskBrush => Some(StrokeMode::MaskAdd),
            Tool::MaskEraser => Some(StrokeMode::MaskErase),
            Tool::VariationBrush => Some(StrokeMode::Variation(self.paint_variation)),
            _ => None,
        }
    }

    /// The brush settings of the current tool (paint brush for non-brush tools).
    pub fn active_brush(&self) -> BrushSettings {
        match self.tool {
            Tool::Eraser => self.eraser,
            Tool::MaskBrush | Tool::MaskEraser => self.mask,
            Tool::VariationBrush => self.variation,
            _ => self.brush,
        }
    }

    /// The brush settings of the current tool, for changing them.
    pub fn active_brush_mut(&mut self) -> &mut BrushSettings {
        match self.tool {
            Tool::Eraser => &mut self.eraser,
            Tool::MaskBrush | Tool::MaskEraser => &mut self.mask,
            Tool::VariationBrush => &mut self.variation,
            _ => &mut self.brush,
        }
    }

    /// Remembers a colour as recently used.
    pub fn remember_color(&mut self, color: [u8; 3]) {
        self.recent_colors.retain(|&existing| existing != color);
        self.recent_colors.insert(0, color);
        self.recent_colors.truncate(12);
    }

    /// Scales the active brush size by `factor` ([ and ]).
    pub fn scale_size(&mut self, factor: f32) {
        let brush = self.active_brush_mut();
        brush.size = (brush.size * factor).clamp(1.0, 1000.0);
    }
}
