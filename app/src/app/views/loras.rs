//! The prompt panel's LoRAs: the chosen ones, each with a switch, its strength, its trigger
//! words (a click adds one to the prompt) and its metadata on hover; and Add, which offers the
//! LoRA folder's files or any file.

use egui::{RichText, Ui};

use crate::app::loras::{LibraryEntry, LoraLibrary};
use crate::app::{Action, FilePurpose};
use crate::settings::{ChosenLora, GenerationSettings};

/// The LoRA list (its state is the settings' list and the app's library).
#[derive(Debug, Default)]
pub struct LoraList;

impl LoraList {
    /// Draws the chosen LoRAs and the Add menu.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        library: &LoraLibrary,
        settings: &mut GenerationSettings,
        actions: &mut Vec<Action>,
    ) {
        if !library.scanned {
            actions.push(Action::RefreshLoras);
        }
        let title = match settings.loras.len() {
            0 => "LoRAs".to_owned(),
            count => format!("LoRAs ({count})"),
        };
        egui::CollapsingHeader::new(title)
            .id_salt("loras")
            .default_open(!settings.loras.is_empty())
            .show(ui, |ui| {
                let mut remove = None;
                let mut add_words = Vec::new();
                for (index, lora) in settings.loras.iter_mut().enumerate() {
                    let entry = library.entry(&lora.path);
                    chosen_row(ui, index, lora, entry, &mut remove, &mut add_words);
                }
                if let Some(index) = remove {
                    settings.loras.remove(index);
                }
                for word in add_words {
                    add_to_prompt(&mut settings.prompt, &word);
                }
                if settings.loras.is_empty() {
                    ui.weak("None: the model as it is. <lora:name:0.8> in the prompt works too.");
                }
                add_menu(ui, library, &mut settings.loras, actions);
            });
    }
}

fn chosen_row(
    ui: &mut Ui,
    index: usize,
    lora: &mut ChosenLora,
    entry: Option<&LibraryEntry>,
    remove: &mut Option<usize>,
    add_words: &mut Vec<String>,
) {
    let name = lora.name();
    let about = entry.map(|entry| &entry.about);
    let missing = !matches!(about, Some(Ok(_))) && entry.is_some();
    let label = ui
        .horizontal(|ui| {
            ui.checkbox(&mut lora.enabled, "")
                .on_hover_text("Use it in the next generations");
            let text = if missing {
                RichText::new(&name).color(ui.visuals().warn_fg_color)
            } else {
                RichText::new(&name).strong()
            };
            let hover = match about {
                Some(Ok(metadata)) => {
                    let mut lines = metadata.summary();
                    if lines.is_empty() {
                        lines.push("The file says nothing about itself.".to_owned());
                    }
                    lines.push(lora.path.display().to_string());
                    lines.join("\n")
                }
                Some(Err(reason)) => reason.clone(),
                None => lora.path.display().to_string(),
            };
            let label = ui.label(text).on_hover_text(hover);
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui
                    .small_button("Remove")
                    .on_hover_text(format!("Take {name} off the list (the file stays)"))
                    .clicked()
                {
                    *remove = Some(index);
                }
            });
            label.id
        })
        .inner;
    ui.add(egui::Slider::new(&mut lora.strength, ChosenLora::RANGE).step_by(0.05))
        .labelled_by(label)
        .on_hover_text("Strength: 1 as trained; below 0 pushes away from it");
    if let Some(Ok(metadata)) = about {
        let words = metadata.trigger_words();
        if !words.is_empty() {
            ui.horizontal_wrapped(|ui| {
                ui.weak("Trigger words:");
                for word in words.into_iter().take(6) {
                    if ui
                        .small_button(&word)
                        .on_hover_text("Add to the prompt")
                        .clicked()
                    {
                        add_words.push(word);
                    }
                }
            });
        }
    }
    ui.add_space(2.0);
}

fn add_menu(
    ui: &mut Ui,
    library: &LoraLibrary,
    chosen: &mut Vec<ChosenLora>,
    actions: &mut Vec<Action>,
) {
    ui.menu_button("Add LoRA", |ui| {
        let offered: Vec<&LibraryEntry> = library
            .entries
            .iter()
            .filter(|entry| !chosen.iter().any(|lora| lora.path == entry.path))
            .collect();
        if offered.is_empty() {
            ui.weak(format!(
                "No other .safetensors files in {}",
                library.folder.display()
            ));
        }
        for entry in offered {
            let hover = match &entry.about {
                Ok(metadata) => metadata.summary().join("\n"),
                Err(reason) => reason.clone(),
            };
            let button = ui.button(&entry.name);
            let button = if hover.is_empty() {
                button
            } else {
                button.on_hover_text(hover)
            };
            if button.clicked() {
                chosen.push(ChosenLora {
                    path: entry.path.clone(),
                    strength: 1.0,
                    enabled: true,
                });
                ui.close();
            }
        }
        ui.separator();
        if ui.button("Choose a file…").clicked() {
            actions.push(Action::AskFile(FilePurpose::AddLora));
            ui.close();
        }
        if ui
            .button("Read the folder again")
            .on_hover_text(library.folder.display().to_string())
            .clicked()
        {
            actions.push(Action::RefreshLoras);
            ui.close();
        }
    });
}

/// Adds `word` to the end of the prompt unless it is there already.
fn add_to_prompt(prompt: &mut String, word: &str) {
    if prompt.contains(word) {
        return;
    }
    let trimmed = prompt.trim_end();
    *prompt = if trimmed.is_empty() {
        word.to_owned()
    } else if trimmed.ends_with(',') {
        format!("{trimmed} {word}")
    } else {
        format!("{trimmed}, {word}")
    };
}
