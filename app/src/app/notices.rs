//! The messages shown to the artist, floating over the bottom right of the canvas: information
//! fades after a few seconds, errors stay until dismissed. One owner; anything may post one
//! (through the app, or a view through `Action::Notify`).

/// A message shown to the artist.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    /// The sentence.
    pub text: String,
    /// Errors stay until dismissed; information fades.
    pub is_error: bool,
    /// When it was posted (seconds of app time).
    pub posted: f64,
}

/// The messages on screen, oldest first.
#[derive(Debug, Default)]
pub struct Notices {
    list: Vec<Notice>,
}

impl Notices {
    /// Starts with these (problems found before the window opened).
    pub fn from_errors(texts: impl IntoIterator<Item = String>) -> Self {
        Self {
            list: texts
                .into_iter()
                .map(|text| Notice {
                    text,
                    is_error: true,
                    posted: 0.0,
                })
                .collect(),
        }
    }

    /// The messages, oldest first.
    pub fn list(&self) -> &[Notice] {
        &self.list
    }

    /// Posts a message at app time `now`; the same text posted again moves to the end. The
    /// newest six stay.
    pub fn post(&mut self, text: String, is_error: bool, now: f64) {
        self.list.retain(|notice| notice.text != text);
        self.list.push(Notice {
            text,
            is_error,
            posted: now,
        });
        let excess = self.list.len().saturating_sub(6);
        self.list.drain(..excess);
    }

    /// Draws them over the bottom right of `area`, newest at the bottom.
    pub fn ui(&mut self, ctx: &egui::Context, area: egui::Rect) {
        let now = ctx.input(|input| input.time);
        self.list
            .retain(|notice| notice.is_error || now - notice.posted < 6.0);
        if self.list.is_empty() {
            return;
        }
        let mut dismiss = None;
        egui::Area::new(egui::Id::unique("notices"))
            .order(egui::Order::Foreground)
            .pivot(egui::Align2::RIGHT_BOTTOM)
            .fixed_pos(area.right_bottom() - egui::vec2(12.0, 12.0))
            .show(ctx, |ui| {
                ui.set_max_width(420.0_f32.min(area.width() - 24.0).max(160.0));
                for (index, notice) in self.list.iter().enumerate() {
                    let color = if notice.is_error {
                        ui.visuals().warn_fg_color
                    } else {
                        ui.visuals().text_color()
                    };
                    egui::Frame::popup(ui.style())
                        .stroke(egui::Stroke::new(1.0, color))
                        .show(ui, |ui| {
                            ui.label(egui::RichText::new(&notice.text).color(color));
                            if notice.is_error && ui.small_button("Dismiss").clicked() {
                                dismiss = Some(index);
                            }
                        });
                    ui.add_space(4.0);
                }
            });
        if let Some(index) = dismiss {
            self.list.remove(index);
        }
    }
}
