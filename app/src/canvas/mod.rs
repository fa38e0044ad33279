//! The canvas area: the view transform (pan and zoom, which belong to the UI, not the
//! document) and the widget that draws the document through the GPU.

pub mod gpu;

use egui::{Rect, Sense, Vec2, vec2};

/// Smallest and largest zoom factors.
pub const ZOOM_RANGE: std::ops::RangeInclusive<f32> = 0.02..=64.0;

/// How the document is placed in the canvas area.
#[derive(Clone, Debug, PartialEq)]
pub struct CanvasView {
    /// Screen points per document pixel.
    pub zoom: f32,
    /// Offset of the document's centre from the canvas area's centre, in points.
    pub pan: Vec2,
    /// Fit the document into the area on the next frame (set for new documents).
    pub fit_pending: bool,
}

impl Default for CanvasView {
    fn default() -> Self {
        Self {
            zoom: 1.0,
            pan: Vec2::ZERO,
            fit_pending: true,
        }
    }
}

impl CanvasView {
    /// Where the document lies on screen, in points, inside `area`.
    pub fn document_rect(&self, area: Rect, document_size: [u32; 2]) -> Rect {
        let size = vec2(document_size[0] as f32, document_size[1] as f32) * self.zoom;
        Rect::from_center_size(area.center() + self.pan, size)
    }

    /// Zooms so the whole document fits inside `area` with a margin, centred; never above 100 %.
    pub fn fit(&mut self, area: Rect, document_size: [u32; 2]) {
        let margin = 24.0;
        let available = (area.size() - Vec2::splat(2.0 * margin)).max(Vec2::splat(1.0));
        let zoom_x = available.x / document_size[0].max(1) as f32;
        let zoom_y = available.y / document_size[1].max(1) as f32;
        self.zoom = zoom_x
            .min(zoom_y)
            .min(1.0)
            .clamp(*ZOOM_RANGE.start(), *ZOOM_RANGE.end());
        self.pan = Vec2::ZERO;
        self.fit_pending = false;
    }

    /// Multiplies the zoom by `factor`, keeping the document point under `anchor` in place.
    pub fn zoom_around(&mut self, area: Rect, anchor: egui::Pos2, factor: f32) {
        let new_zoom = (self.zoom * factor).clamp(*ZOOM_RANGE.start(), *ZOOM_RANGE.end());
        let applied = new_zoom / self.zoom;
        let centre = area.center() + self.pan;
        let new_centre = anchor + (centre - anchor) * applied;
        self.pan = new_centre - area.center();
        self.zoom = new_zoom;
    }

    /// Shows the canvas in `ui`, filling the available space, and handles pan and zoom input:
    /// the wheel zooms around the pointer, a middle-button drag pans, and so does a primary
    /// drag while Space is held.
    pub fn show(&mut self, ui: &mut egui::Ui, document_size: [u32; 2]) -> egui::Response {
        let (area, response) = ui.allocate_exact_size(ui.available_size(), Sense::click_and_drag());
        response.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::Canvas, ui.is_enabled(), "Canvas")
        });
        if self.fit_pending && area.width() > 1.0 && area.height() > 1.0 {
            self.fit(area, document_size);
        }

        let space_held = ui.input(|input| input.key_down(egui::Key::Space));
        let panning = response.dragged_by(egui::PointerButton::Middle)
            || (space_held && response.dragged_by(egui::PointerButton::Primary));
        if panning {
            self.pan += response.drag_delta();
        }
        if response.hovered() {
            let (scroll, zoom_delta, pointer) = ui.input(|input| {
                (
                    input.smooth_scroll_delta.y,
                    input.zoom_delta(),
                    input.pointer.hover_pos(),
                )
            });
            // About 1.25× per wheel notch (egui reports 50 points per notch).
            let factor = zoom_delta * (scroll / 225.0).exp();
            if let Some(pointer) = pointer
                && (factor - 1.0).abs() > f32::EPSILON
            {
                self.zoom_around(area, pointer, factor);
            }
        }

        let pixels_per_point = ui.ctx().pixels_per_point();
        let document = self.document_rect(area, document_size);
        let uniforms = gpu::CanvasUniforms {
            origin: [
                document.min.x * pixels_per_point,
                document.min.y * pixels_per_point,
            ],
            scale: self.zoom * pixels_per_point,
            checker_size: (8.0 * pixels_per_point).round().max(1.0),
            document_size: [document_size[0] as f32, document_size[1] as f32],
            nearest: if self.zoom >= 1.0 { 1.0 } else { 0.0 },
            padding: 0.0,
        };
        ui.painter().add(egui_wgpu::Callback::new_paint_callback(
            area,
            gpu::CanvasCallback {
                uniforms,
                document_size,
            },
        ));
        // A thin outline so the canvas edge reads against the workspace.
        ui.painter().rect_stroke(
            document.intersect(area).expand(0.5),
            0.0,
            egui::Stroke::new(1.0, egui::Color32::from_black_alpha(140)),
            egui::StrokeKind::Outside,
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui::pos2;

    #[test]
    fn fit_centres_and_never_magnifies() {
        let area = Rect::from_min_size(pos2(0.0, 0.0), vec2(1000.0, 600.0));
        let mut view = CanvasView::default();
        view.fit(area, [100, 100]);
        assert_eq!(view.zoom, 1.0);
        assert_eq!(view.document_rect(area, [100, 100]).center(), area.center());

        view.fit(area, [4000, 2000]);
        let rect = view.document_rect(area, [4000, 2000]);
        assert!(rect.width() <= 1000.0 - 48.0 + 1e-3);
        assert!(rect.height() <= 600.0 - 48.0 + 1e-3);
        assert!(
            (rect.width() - 952.0).abs() < 1e-3,
            "fills the limiting side"
        );
    }

    #[test]
    fn zoom_keeps_the_anchor_still() {
        let area = Rect::from_min_size(pos2(0.0, 0.0), vec2(800.0, 800.0));
        let mut view = CanvasView {
            zoom: 1.0,
            pan: Vec2::ZERO,
            fit_pending: false,
        };
        let anchor = pos2(500.0, 300.0);
        let before = view.document_rect(area, [400, 400]);
        let document_point = (anchor - before.min) / view.zoom;
        view.zoom_around(area, anchor, 2.0);
        let after = view.document_rect(area, [400, 400]);
        let anchor_after = after.min + document_point * view.zoom;
        assert!((anchor_after - anchor).length() < 1e-3);
        assert_eq!(view.zoom, 2.0);
    }
}
