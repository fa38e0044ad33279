//! A remote model's servers as the prompt panel and the model manager show them: each one's
//! state as last seen (read without waiting on the network) and a way to ask them again.

use egui::{RichText, Ui};
use pentimento_inference::remote::ServerState;

use crate::app::Action;
use crate::worker::RemoteInfo;

/// One line per server: a coloured dot and state, its address, and calls in flight; then Check servers.
pub fn servers_ui(ui: &mut Ui, remote: &RemoteInfo, actions: &mut Vec<Action>) {
    let last = remote.pool.last_used();
    for server in remote.pool.status() {
        ui.horizontal_wrapped(|ui| {
            let (text, color) = match &server.state {
                ServerState::Ready => ("ready", egui::Color32::from_rgb(90, 170, 90)),
                ServerState::Unknown => ("not asked yet", ui.visuals().weak_text_color()),
                ServerState::Down(_) => ("unavailable", ui.visuals().warn_fg_color),
            };
            let (dot, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
            ui.painter().circle_filled(dot.center(), 4.0, color);
            ui.label(server.url.as_str());
            let mut detail = text.to_owned();
            if server.in_flight > 0 {
                detail.push_str(&format!(", {} in flight", server.in_flight));
            }
            if server.state == ServerState::Ready && last.as_deref() == Some(server.url.as_str()) {
                detail.push_str(", answered last");
            }
            let label = ui.label(RichText::new(detail).color(color).small());
            if let ServerState::Down(reason) = &server.state {
                label.on_hover_text(reason.as_str());
            }
        });
    }
    ui.horizontal(|ui| {
        ui.weak(format!("served as {}", remote.model));
        if ui
            .small_button("Check servers")
            .on_hover_text("Asks each server whether it and the model are ready")
            .clicked()
        {
            actions.push(Action::CheckServers);
        }
    });
}
