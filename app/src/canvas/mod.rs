//! The canvas area: the view transform (pan and zoom, which belong to the UI, not the
//! document), tool input turned into document operations, and the GPU drawing of the document.

pub mod compositor_gpu;
pub mod gpu;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use egui::{Pos2, Rect, Sense, Vec2, vec2};

use crate::document::Document;
use crate::document::brush::StrokePoint;
use crate::document::layer::LayerId;
use crate::document::tiles::{PixelRect, TILE};
use crate::tools::{Tool, ToolSettings};
use compositor_gpu::TileJob;

/// Smallest and largest zoom factors.
pub const ZOOM_RANGE: std::ops::RangeInclusive<f32> = 0.02..=64.0;

/// Something drawn over a document region (a generation's live preview or a staged variation).
#[derive(Clone, Debug)]
pub struct RegionOverlay {
    /// Where, in document pixels.
    pub region: PixelRect,
    /// The image to show there (stretched over the region).
    pub texture: Option<egui::TextureId>,
    /// A caption ("Step 4 of 20").
    pub caption: String,
}

/// What the canvas shows besides the document.
#[derive(Clone, Debug, Default)]
pub struct Overlays {
    /// Tint the mask.
    pub mask: bool,
    /// Tint generated / hand-painted areas.
    pub provenance: bool,
    /// A preview over a region.
    pub region: Option<RegionOverlay>,
}

/// What happened on the canvas this frame that the app must know.
#[derive(Clone, Debug, PartialEq)]
pub enum CanvasEvent {
    /// The eyedropper picked a colour.
    ColorPicked([u8; 3]),
    /// An operation was refused (a locked layer…); the sentence says why.
    Refused(String),
    /// Something the artist should know about what just happened.
    Told(String),
}

/// The canvas's view state and its link to the GPU copy of the document.
#[derive(Debug)]
pub struct CanvasView {
    /// Screen points per document pixel.
    pub zoom: f32,
    /// Offset of the document's centre from the canvas area's centre, in points.
    pub pan: Vec2,
    /// Fit the document into the area on the next frame (set for new documents).
    pub fit_pending: bool,
    /// The area size the document was last fitted to, while the artist has not zoomed or
    /// panned since: the view then follows the area (panels opening and closing).
    fitted_to: Option<Vec2>,
    needs_full_upload: Arc<AtomicBool>,
    /// The changes sent with the last frame and whether its rendering took them; frames that
    /// were never rendered (a hidden window) hand their changes to the next one.
    sent: Option<(Arc<AtomicBool>, crate::document::Dirty)>,
    provenance_uploaded: bool,
    selection: Vec<(f32, f32)>,
    selecting: bool,
    /// Where a move of the layer began, in document pixels.
    move_origin: Option<(f32, f32)>,
    /// The last pointer position over the canvas, in document pixels.
    pub hover: Option<(f32, f32)>,
    /// The document size the canvas last showed (a change — Canvas size, or undoing it —
    /// uploads and fits it again).
    shown_size: [u32; 2],
}

impl Default for CanvasView {
    fn default() -> Self {
        Self {
            zoom: 1.0,
            pan: Vec2::ZERO,
            fit_pending: true,
            fitted_to: None,
            needs_full_upload: Arc::new(AtomicBool::new(true)),
            sent: None,
            provenance_uploaded: false,
            selection: Vec::new(),
            selecting: false,
            move_origin: None,
            hover: None,
            shown_size: [0, 0],
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
        self.fitted_to = Some(area.size());
    }

    /// Multiplies the zoom by `factor`, keeping the document point under `anchor` in place.
    pub fn zoom_around(&mut self, area: Rect, anchor: Pos2, factor: f32) {
        let new_zoom = (self.zoom * factor).clamp(*ZOOM_RANGE.start(), *ZOOM_RANGE.end());
        let applied = new_zoom / self.zoom;
        let centre = area.center() + self.pan;
        let new_centre = anchor + (centre - anchor) * applied;
        self.pan = new_centre - area.center();
        self.zoom = new_zoom;
        self.fitted_to = None;
    }

    /// Asks for every tile to be uploaded again (a new or reopened document).
    pub fn reset_document(&mut self) {
        self.needs_full_upload.store(true, Ordering::SeqCst);
        self.fit_pending = true;
        self.provenance_uploaded = false;
    }

    /// Document pixel under a screen position.
    fn to_document(&self, area: Rect, document_size: [u32; 2], position: Pos2) -> (f32, f32) {
        let rect = self.document_rect(area, document_size);
        let local = (position - rect.min) / self.zoom;
        (local.x, local.y)
    }

    /// Screen position of a document pixel.
    pub fn to_screen(&self, area: Rect, document_size: [u32; 2], x: f32, y: f32) -> Pos2 {
        let rect = self.document_rect(area, document_size);
        rect.min + vec2(x, y) * self.zoom
    }

    /// Shows the canvas in `ui`, filling the available space: handles pan, zoom and the current
    /// tool, and draws the document through the GPU.
    #[allow(clippy::too_many_arguments)]
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        document: &mut Document,
        tools: &mut ToolSettings,
        active_layer: Option<LayerId>,
        overlays: &Overlays,
        interactive: bool,
    ) -> (egui::Response, Vec<CanvasEvent>) {
        let size = [document.width(), document.height()];
        if size != self.shown_size {
            self.shown_size = size;
            self.reset_document();
        }
        let (area, response) = ui.allocate_exact_size(ui.available_size(), Sense::click_and_drag());
        response.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::Canvas, ui.is_enabled(), "Canvas")
        });
        let area_changed = self
            .fitted_to
            .is_some_and(|fitted| (fitted - area.size()).length() > 0.5);
        if (self.fit_pending || area_changed) && area.width() > 1.0 && area.height() > 1.0 {
            self.fit(area, size);
        }
        let mut events = Vec::new();
        if response.is_pointer_button_down_on() {
            // Working on the canvas ends typing in the prompt, so tool keys reach the tools.
            ui.memory_mut(egui::Memory::stop_text_input);
        }
        if interactive {
            self.handle_input(
                ui,
                &response,
                area,
                document,
                tools,
                active_layer,
                &mut events,
            );
        }
        self.paint(ui, area, document, overlays, tools);
        (response, events)
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_input(
        &mut self,
        ui: &egui::Ui,
        response: &egui::Response,
        area: Rect,
        document: &mut Document,
        tools: &mut ToolSettings,
        active_layer: Option<LayerId>,
        events: &mut Vec<CanvasEvent>,
    ) {
        let size = [document.width(), document.height()];
        let (space_held, alt_held, pointer_events, zoom_delta, scroll, hover, force) =
            ui.input(|input| {
                let moves: Vec<Pos2> = input
                    .events
                    .iter()
                    .filter_map(|event| match event {
                        egui::Event::PointerMoved(position) => Some(*position),
                        _ => None,
                    })
                    .collect();
                let force = input.events.iter().rev().find_map(|event| match event {
                    egui::Event::Touch { force, .. } => *force,
                    _ => None,
                });
                (
                    input.key_down(egui::Key::Space),
                    input.modifiers.alt,
                    moves,
                    input.zoom_delta(),
                    input.smooth_scroll_delta.y,
                    input.pointer.hover_pos(),
                    force,
                )
            });
        self.hover = hover
            .filter(|position| area.contains(*position))
            .map(|position| self.to_document(area, size, position));

        // Pan: middle drag, Space + drag, or the pan tool.
        let panning = response.dragged_by(egui::PointerButton::Middle)
            || ((space_held || tools.tool == Tool::Pan)
                && response.dragged_by(egui::PointerButton::Primary));
        if panning {
            self.pan += response.drag_delta();
            self.fitted_to = None;
            return;
        }
        if response.hovered() {
            // About 1.25× per wheel notch (egui reports 50 points per notch).
            let factor = zoom_delta * (scroll / 225.0).exp();
            if let Some(pointer) = hover
                && (factor - 1.0).abs() > f32::EPSILON
            {
                self.zoom_around(area, pointer, factor);
            }
        }

        let pressure = force.unwrap_or(1.0).clamp(0.0, 1.0);
        let primary_down = ui.input(|input| input.pointer.primary_down());
        match tools.tool {
            tool if tool.is_brush() => {
                let Some(mode) = tools.stroke_mode() else {
                    return;
                };
                if response.drag_started_by(egui::PointerButton::Primary)
                    || (response.clicked_by(egui::PointerButton::Primary)
                        && !document.is_stroking())
                {
                    let layer = if tool.works_on_mask() {
                        None
                    } else {
                        active_layer
                    };
                    match document.begin_stroke(layer, mode, tools.active_brush()) {
                        Ok(()) => {
                            if let Some(origin) = response.interact_pointer_pos() {
                                let (x, y) = self.to_document(area, size, origin);
                                document.stroke_to(StrokePoint { x, y, pressure });
                            }
                        }
                        Err(err) => events.push(CanvasEvent::Refused(err.to_string())),
                    }
                }
                if document.is_stroking() {
                    for position in &pointer_events {
                        let (x, y) = self.to_document(area, size, *position);
                        document.stroke_to(StrokePoint { x, y, pressure });
                    }
                    if !primary_down {
                        document.end_stroke();
                        if mode == crate::document::brush::StrokeMode::Paint {
                            tools.remember_color(tools.brush.color);
                        }
                    }
                }
            }
            Tool::RectangleSelect | Tool::LassoSelect => {
                if response.drag_started_by(egui::PointerButton::Primary) {
                    self.selecting = true;
                    self.selection.clear();
                    if let Some(origin) = response.interact_pointer_pos() {
                        self.selection.push(self.to_document(area, size, origin));
                    }
                }
                if self.selecting {
                    for position in &pointer_events {
                        let point = self.to_document(area, size, *position);
                        if tools.tool == Tool::LassoSelect || self.selection.len() < 2 {
                            self.selection.push(point);
                        } else {
                            self.selection[1] = point;
                        }
                    }
                    if !primary_down {
                        self.selecting = false;
                        let polygon = if tools.tool == Tool::RectangleSelect {
                            match (self.selection.first(), self.selection.last()) {
                                (Some(&(x0, y0)), Some(&(x1, y1))) => {
                                    vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
                                }
                                _ => Vec::new(),
                            }
                        } else {
                            std::mem::take(&mut self.selection)
                        };
                        document.fill_mask_polygon(&polygon, alt_held);
                        self.selection.clear();
                    }
                }
            }
            Tool::Move => {
                if response.hovered() || document.is_moving() {
                    ui.ctx().set_cursor_icon(if document.is_moving() {
                        egui::CursorIcon::Grabbing
                    } else {
                        egui::CursorIcon::Move
                    });
                }
                if response.drag_started_by(egui::PointerButton::Primary) {
                    self.move_origin = None;
                    if let Some(id) = active_layer {
                        match document.begin_move(id) {
                            Ok(()) => {
                                // From where the button went down, not where the drag was
                                // recognised, so the pixels stay under the pointer.
                                let pressed_at = ui.input(|input| input.pointer.press_origin());
                                self.move_origin = pressed_at
                                    .or_else(|| response.interact_pointer_pos())
                                    .map(|origin| self.to_document(area, size, origin));
                            }
                            Err(err) => events.push(CanvasEvent::Refused(err.to_string())),
                        }
                    }
                }
                if document.is_moving() {
                    if let (Some((x0, y0)), Some(position)) =
                        (self.move_origin, pointer_events.last())
                    {
                        let (x, y) = self.to_document(area, size, *position);
                        document.move_by((x - x0).round() as i64, (y - y0).round() as i64);
                    }
                    if !primary_down {
                        if document.end_move() {
                            events.push(CanvasEvent::Told(
                                "Part of the layer went past the canvas edge and was cut off; \
                                 Ctrl+Z brings it back."
                                    .to_owned(),
                            ));
                        }
                        self.move_origin = None;
                    }
                }
            }
            Tool::Eyedropper => {
                if (response.clicked_by(egui::PointerButton::Primary)
                    || response.dragged_by(egui::PointerButton::Primary))
                    && let Some(position) = response.interact_pointer_pos()
                {
                    let (x, y) = self.to_document(area, size, position);
                    if x >= 0.0 && y >= 0.0 && (x as u32) < size[0] && (y as u32) < size[1] {
                        let (pixel, _) =
                            document.composite(&PixelRect::new(x as u32, y as u32, 1, 1));
                        let color = crate::document::compositor::unpremultiply(&pixel);
                        if color[3] > 0 {
                            let picked = [color[0], color[1], color[2]];
                            tools.brush.color = picked;
                            events.push(CanvasEvent::ColorPicked(picked));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn paint(
        &mut self,
        ui: &egui::Ui,
        area: Rect,
        document: &mut Document,
        overlays: &Overlays,
        tools: &ToolSettings,
    ) {
        let size = [document.width(), document.height()];
        let pixels_per_point = ui.ctx().pixels_per_point();
        let document_rect = self.document_rect(area, size);
        let work = self.frame_work(document, overlays.provenance);
        let uniforms = gpu::CanvasUniforms {
            origin: [
                document_rect.min.x * pixels_per_point,
                document_rect.min.y * pixels_per_point,
            ],
            scale: self.zoom * pixels_per_point,
            checker_size: (8.0 * pixels_per_point).round().max(1.0),
            document_size: [size[0] as f32, size[1] as f32],
            nearest: if self.zoom >= 1.0 { 1.0 } else { 0.0 },
            mask_opacity: if overlays.mask {
                if tools.tool.works_on_mask() {
                    0.55
                } else {
                    0.35
                }
            } else {
                0.0
            },
            provenance_opacity: if overlays.provenance { 0.45 } else { 0.0 },
            padding: [0.0; 7],
        };
        ui.painter().add(egui_wgpu::Callback::new_paint_callback(
            area,
            gpu::CanvasCallback {
                uniforms,
                document_size: size,
                work: Arc::new(work),
                needs_full_upload: Arc::clone(&self.needs_full_upload),
            },
        ));
        let painter = ui.painter_at(area);
        painter.rect_stroke(
            document_rect.expand(0.5),
            0.0,
            egui::Stroke::new(1.0, egui::Color32::from_black_alpha(140)),
            egui::StrokeKind::Outside,
        );
        if let Some(region) = &overlays.region {
            let r = region.region;
            let rect = Rect::from_min_max(
                self.to_screen(area, size, r.x0 as f32, r.y0 as f32),
                self.to_screen(area, size, r.x1 as f32, r.y1 as f32),
            );
            if let Some(texture) = region.texture {
                painter.image(
                    texture,
                    rect,
                    Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                    egui::Color32::WHITE,
                );
            }
            painter.rect_stroke(
                rect,
                0.0,
                egui::Stroke::new(1.5, egui::Color32::from_rgb(120, 180, 255)),
                egui::StrokeKind::Outside,
            );
            if !region.caption.is_empty() {
                let galley = painter.layout_no_wrap(
                    region.caption.clone(),
                    egui::FontId::proportional(13.0),
                    egui::Color32::WHITE,
                );
                let at = rect.left_top() + vec2(0.0, -galley.size().y - 8.0);
                let background = Rect::from_min_size(at, galley.size() + vec2(10.0, 6.0));
                painter.rect_filled(background, 3.0, egui::Color32::from_black_alpha(190));
                painter.galley(at + vec2(5.0, 3.0), galley, egui::Color32::WHITE);
            }
        }
        if self.selecting && self.selection.len() >= 2 {
            let points: Vec<Pos2> = if tools.tool == Tool::RectangleSelect {
                let (x0, y0) = self.selection[0];
                let (x1, y1) = self.selection[self.selection.len() - 1];
                [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
                    .iter()
                    .map(|&(x, y)| self.to_screen(area, size, x, y))
                    .collect()
            } else {
                self.selection
                    .iter()
                    .map(|&(x, y)| self.to_screen(area, size, x, y))
                    .collect()
            };
            painter.add(egui::Shape::line(
                points,
                egui::Stroke::new(1.5, egui::Color32::from_rgb(255, 90, 150)),
            ));
        }
        // Brush outline under the pointer.
        if let (Some((x, y)), Some(_)) = (self.hover, tools.stroke_mode()) {
            let centre = self.to_screen(area, size, x, y);
            let radius = tools.active_brush().size * self.zoom / 2.0;
            painter.circle_stroke(
                centre,
                radius.max(1.0),
                egui::Stroke::new(1.0, egui::Color32::from_white_alpha(180)),
            );
            painter.circle_stroke(
                centre,
                radius.max(1.0) + 1.0,
                egui::Stroke::new(1.0, egui::Color32::from_black_alpha(120)),
            );
        }
    }

    /// The tiles to upload this frame.
    fn frame_work(&mut self, document: &mut Document, provenance: bool) -> gpu::FrameWork {
        let mut dirty = document.take_dirty();
        if let Some((consumed, previous)) = self.sent.take()
            && !consumed.load(Ordering::SeqCst)
        {
            dirty.tiles.extend(previous.tiles);
            dirty.mask_tiles.extend(previous.mask_tiles);
            dirty.all |= previous.all;
            self.provenance_uploaded = false;
        }
        let full = self.needs_full_upload.swap(false, Ordering::SeqCst) || dirty.all;
        let consumed = Arc::new(AtomicBool::new(false));
        self.sent = Some((
            Arc::clone(&consumed),
            crate::document::Dirty {
                all: full,
                ..dirty.clone()
            },
        ));
        let (columns, rows) = document.tile_grid();
        let count = (columns * rows) as usize;
        let tiles: Vec<usize> = if full {
            (0..count).collect()
        } else {
            dirty.tiles.iter().copied().collect()
        };
        let mask_tiles: Vec<usize> = if full {
            (0..count).collect()
        } else {
            dirty.mask_tiles.iter().copied().collect()
        };
        let mut work = gpu::FrameWork {
            consumed,
            ..gpu::FrameWork::default()
        };
        for &index in &tiles {
            if let Some(job) = TileJob::for_tile(document.layers(), index) {
                work.jobs.push(job);
            }
        }
        let mask = document.mask();
        for index in mask_tiles {
            work.mask_tiles
                .push((mask.tile_rect(index), mask.tile(index).cloned()));
        }
        if provenance {
            let provenance_tiles: Vec<usize> = if self.provenance_uploaded && !full {
                tiles
            } else {
                (0..count).collect()
            };
            self.provenance_uploaded = true;
            for index in provenance_tiles {
                let rect = mask.tile_rect(index);
                let (_, categories) = document.composite(&rect);
                let mut tile = vec![0_u8; (TILE * TILE) as usize];
                for y in 0..rect.height() {
                    for x in 0..rect.width() {
                        tile[(y * TILE + x) as usize] =
                            categories[(y * rect.width() + x) as usize] as u8;
                    }
                }
                work.provenance_tiles.push((rect, tile));
            }
        } else {
            self.provenance_uploaded = false;
        }
        work
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
        assert!(
            (rect.width() - 952.0).abs() < 1e-3,
            "fills the limiting side"
        );
    }

    #[test]
    fn zoom_keeps_the_anchor_still() {
        let area = Rect::from_min_size(pos2(0.0, 0.0), vec2(800.0, 800.0));
        let mut view = CanvasView {
            fit_pending: false,
            fitted_to: None,
            ..CanvasView::default()
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
