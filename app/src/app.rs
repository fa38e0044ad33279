//! The main window: canvas in the middle, prompt panel on the left, layers on the right, status
//! bar at the bottom.

use egui::{Panel, RichText};
use pentimento_inference::LocateOptions;

use crate::canvas::CanvasView;
use crate::canvas::gpu::CanvasGpu;
use crate::runtime_status::RuntimeStatus;

/// The application icon, `assets/icon.png`.
pub const ICON_PNG: &[u8] = include_bytes!("../../assets/icon.png");

/// Size of a new canvas, in pixels.
pub const DEFAULT_DOCUMENT_SIZE: [u32; 2] = [1024, 1024];

/// How the app starts.
#[derive(Clone, Debug)]
pub struct AppOptions {
    /// Where to look for ONNX Runtime; `None` leaves it unloaded (for tests of the bare UI).
    pub runtime: Option<LocateOptions>,
    /// Size of the initial empty canvas.
    pub document_size: [u32; 2],
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            runtime: Some(LocateOptions::default()),
            document_size: DEFAULT_DOCUMENT_SIZE,
        }
    }
}

/// The application state shown in the main window.
pub struct PentimentoApp {
    runtime: RuntimeStatus,
    runtime_options: Option<LocateOptions>,
    view: CanvasView,
    document_size: [u32; 2],
    prompt: String,
    negative_prompt: String,
    gpu_canvas: bool,
}

impl PentimentoApp {
    /// Creates the app with default options.
    pub fn new(cc: &eframe::CreationContext<'_>) -> Self {
        Self::with_options(cc, AppOptions::default())
    }

    /// Creates the app; starts loading ONNX Runtime in the background when asked to.
    pub fn with_options(cc: &eframe::CreationContext<'_>, options: AppOptions) -> Self {
        let gpu_canvas = match cc.wgpu_render_state.as_ref() {
            Some(render_state) => {
                CanvasGpu::install(render_state, options.document_size);
                true
            }
            None => false,
        };
        let runtime = match options.runtime.clone() {
            Some(locate) => {
                let ctx = cc.egui_ctx.clone();
                RuntimeStatus::start(locate, move || ctx.request_repaint())
            }
            None => RuntimeStatus::NotStarted,
        };
        Self {
            runtime,
            runtime_options: options.runtime,
            view: CanvasView::default(),
            document_size: options.document_size,
            prompt: String::new(),
            negative_prompt: String::new(),
            gpu_canvas,
        }
    }

    /// Where ONNX Runtime stands.
    pub fn runtime_status(&self) -> &RuntimeStatus {
        &self.runtime
    }

    /// The canvas view (pan and zoom).
    pub fn view(&self) -> &CanvasView {
        &self.view
    }

    fn menu_bar(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Quit").clicked() {
                    ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("View", |ui| {
                if ui.button("Fit canvas").clicked() {
                    self.view.fit_pending = true;
                }
                if ui.button("Actual pixels (100 %)").clicked() {
                    self.view.zoom = 1.0;
                    self.view.pan = egui::Vec2::ZERO;
                }
            });
        });
    }

    fn status_bar(&self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            match &self.runtime {
                RuntimeStatus::Unavailable(message) => {
                    ui.label(
                        RichText::new("ONNX Runtime unavailable").color(ui.visuals().warn_fg_color),
                    )
                    .on_hover_text(message);
                }
                status => {
                    ui.label(status.summary());
                }
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.label(format!("{:.0} %", self.view.zoom * 100.0));
                ui.separator();
                ui.label(format!(
                    "{} × {} px",
                    self.document_size[0], self.document_size[1]
                ));
            });
        });
    }

    /// The full explanation when ONNX Runtime is unavailable, with a way to try again.
    fn runtime_problem(&mut self, ui: &mut egui::Ui) {
        let RuntimeStatus::Unavailable(message) = &self.runtime else {
            return;
        };
        let mut retry = false;
        egui::Frame::group(ui.style())
            .stroke(egui::Stroke::new(1.0, ui.visuals().warn_fg_color))
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.label(RichText::new("Generation is unavailable").strong());
                ui.label(message.as_str());
                ui.label("You can keep painting meanwhile.");
                retry = ui.button("Try again").clicked();
            });
        ui.add_space(8.0);
        if retry && let Some(options) = self.runtime_options.clone() {
            let ctx = ui.ctx().clone();
            self.runtime = RuntimeStatus::start(options, move || ctx.request_repaint());
        }
    }

    fn prompt_panel(&mut self, ui: &mut egui::Ui) {
        ui.heading("Prompt");
        ui.add_space(4.0);
        self.runtime_problem(ui);
        ui.horizontal(|ui| {
            ui.label("Model:");
            ui.weak("none open");
        });
        ui.add_space(8.0);

        let label = ui.label("Describe what to paint");
        ui.add(
            egui::TextEdit::multiline(&mut self.prompt)
                .hint_text("a red apple on a wooden table, oil painting")
                .desired_rows(4)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
        ui.add_space(6.0);
        let label = ui.label("Negative prompt");
        ui.add(
            egui::TextEdit::multiline(&mut self.negative_prompt)
                .hint_text("what to avoid")
                .desired_rows(2)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
        ui.add_space(10.0);

        let reason = if !self.runtime.is_ready() {
            "ONNX Runtime is not ready; see the status bar."
        } else {
            "Open a model folder first."
        };
        ui.add_enabled(false, egui::Button::new("Generate"))
            .on_disabled_hover_text(reason);
    }

    fn layer_panel(&self, ui: &mut egui::Ui) {
        ui.heading("Layers");
        ui.add_space(4.0);
        ui.weak(format!(
            "Empty canvas, {} × {} px. Layers you paint, import or generate appear here.",
            self.document_size[0], self.document_size[1]
        ));
    }
}

impl eframe::App for PentimentoApp {
    fn logic(&mut self, _ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.runtime.poll();
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        Panel::top("menu_bar").show(ui, |ui| self.menu_bar(ui));
        Panel::bottom("status_bar").show(ui, |ui| self.status_bar(ui));
        Panel::left("prompt_panel")
            .resizable(true)
            .default_size(280.0)
            .show(ui, |ui| self.prompt_panel(ui));
        Panel::right("layer_panel")
            .resizable(true)
            .default_size(240.0)
            .show(ui, |ui| self.layer_panel(ui));
        egui::CentralPanel::no_frame().show(ui, |ui| {
            if self.gpu_canvas {
                self.view.show(ui, self.document_size);
            } else {
                ui.centered_and_justified(|ui| {
                    ui.label("The canvas needs a GPU renderer (wgpu), which is not available.");
                });
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn icon_decodes() {
        let icon = eframe::icon_data::from_png_bytes(super::ICON_PNG).expect("a valid PNG");
        assert_eq!((icon.width, icon.height), (256, 256));
        assert!(
            icon.rgba.chunks(4).any(|pixel| pixel[3] == 0),
            "rounded corners are transparent"
        );
    }
}
