//! The model manager: the models in the list with what each can do, Use now, Make default,
//! Remove, Add folder…, and downloads from the Hugging Face Hub.

use pentimento_inference::remote::REMOTE_FILE;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use egui::{RichText, Ui};
use pentimento_inference::hub::HubSource;

use crate::app::{Action, FilePurpose};
use crate::models::Download;
use crate::settings::Settings;

/// The model manager's download form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadForm {
    /// `owner/name`.
    pub repo: String,
    /// Branch, tag or commit.
    pub revision: String,
    /// The pipeline's folder in the repository.
    pub subfolder: String,
    /// Access token (empty: the usual defaults).
    pub token: String,
}

impl Default for DownloadForm {
    fn default() -> Self {
        Self {
            repo: String::new(),
            revision: "main".to_owned(),
            subfolder: String::new(),
            token: String::new(),
        }
    }
}

impl DownloadForm {
    /// What the form asks for: the model on the Hub, and the token if one was typed.
    fn request(&self) -> (HubSource, Option<String>) {
        let source = HubSource {
            repo: self.repo.trim().to_owned(),
            revision: Some(self.revision.trim())
                .filter(|revision| !revision.is_empty())
                .unwrap_or("main")
                .to_owned(),
            subfolder: Some(self.subfolder.trim().trim_matches('/'))
                .filter(|subfolder| !subfolder.is_empty())
                .map(str::to_owned),
        };
        let token = Some(self.token.trim())
            .filter(|token| !token.is_empty())
            .map(str::to_owned);
        (source, token)
    }
}

/// The model manager and what it remembers between frames.
#[derive(Debug, Default)]
pub struct ModelManager {
    /// The download form.
    form: DownloadForm,
    /// What each listed model can do (or why it cannot be used), by folder.
    summaries: HashMap<PathBuf, Result<String, String>>,
    /// Why the last folder could not be added.
    add_error: Option<String>,
    /// Why the last download failed.
    download_error: Option<String>,
}

impl ModelManager {
    /// The models in the list whose capabilities are not known yet (the app reads them).
    pub fn unchecked<'a>(&'a self, settings: &'a Settings) -> impl Iterator<Item = &'a Path> + 'a {
        settings
            .models
            .iter()
            .map(|entry| entry.path.as_path())
            .filter(|path| !self.summaries.contains_key(*path))
    }

    /// What a model can do, or why it cannot be used.
    pub fn set_summary(&mut self, path: PathBuf, summary: Result<String, String>) {
        self.summaries.insert(path, summary);
    }

    /// Reads every model's capabilities again (the list changed).
    pub fn forget_summaries(&mut self) {
        self.summaries.clear();
    }

    /// Shows why a folder could not be added (`None`: it was added).
    pub fn set_add_error(&mut self, error: Option<String>) {
        self.add_error = error;
    }

    /// Shows why a download failed (`None`: clears it).
    pub fn set_download_error(&mut self, error: Option<String>) {
        self.download_error = error;
    }

    /// The models, their buttons, Add folder… and the download form.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        settings: &Settings,
        generation_running: bool,
        download: Option<&Download>,
        loaded: Option<&crate::worker::ModelInfo>,
        actions: &mut Vec<Action>,
    ) {
        ui.heading("Models");
        ui.weak("The default model loads when a generation first needs it.");
        ui.add_space(6.0);
        let entries = &settings.models;
        if entries.is_empty() {
            ui.label("No models yet: add a folder or download one below.");
        }
        let mut action: Option<(EntryAction, PathBuf)> = None;
        egui::ScrollArea::vertical()
            .max_height(260.0)
            .id_salt("model list")
            .show(ui, |ui| {
                for entry in entries {
                    let summary = self
                        .summaries
                        .get(&entry.path)
                        .cloned()
                        .unwrap_or_else(|| Err("Not checked yet.".to_owned()));
                    let is_default = settings.model_folder.as_deref() == Some(entry.path.as_path());
                    egui::Frame::group(ui.style()).show(ui, |ui| {
                        ui.set_width(ui.available_width());
                        ui.horizontal(|ui| {
                            ui.label(RichText::new(entry.name()).strong());
                            if is_default {
                                ui.label(
                                    RichText::new("default")
                                        .small()
                                        .color(ui.visuals().selection.bg_fill),
                                );
                            }
                        });
                        ui.weak(entry.path.display().to_string());
                        match &summary {
                            Ok(text) => {
                                ui.label(text.as_str());
                                let remote = loaded
                                    .filter(|info| {
                                        std::fs::canonicalize(&info.path)
                                            .is_ok_and(|path| path == entry.path)
                                            || info.path == entry.path
                                    })
                                    .and_then(|info| info.remote.as_ref());
                                if let Some(remote) = remote {
                                    super::servers::servers_ui(ui, remote, actions);
                                } else if entry.path.join(REMOTE_FILE).is_file() {
                                    ui.weak("Its servers are asked when it loads.");
                                }
                            }
                            Err(message) => {
                                ui.label(
                                    RichText::new(message.as_str())
                                        .color(ui.visuals().warn_fg_color),
                                );
                            }
                        }
                        ui.horizontal(|ui| {
                            let usable = summary.is_ok() && !generation_running;
                            if ui
                                .add_enabled(usable, egui::Button::new("Use now"))
                                .clicked()
                            {
                                action = Some((EntryAction::Use, entry.path.clone()));
                            }
                            if ui
                                .add_enabled(!is_default, egui::Button::new("Make default"))
                                .clicked()
                            {
                                action = Some((EntryAction::MakeDefault, entry.path.clone()));
                            }
                            if ui
                                .button("Remove")
                                .on_hover_text("Removes it from this list; the files stay on disk")
                                .clicked()
                            {
                                action = Some((EntryAction::Remove, entry.path.clone()));
                            }
                        });
                    });
                }
            });
        match action {
            Some((EntryAction::Use, path)) => {
                actions.push(Action::LoadModel(path));
                self.close(actions);
                return;
            }
            Some((EntryAction::MakeDefault, path)) => {
                actions.push(Action::MakeDefaultModel(path));
            }
            Some((EntryAction::Remove, path)) => {
                self.summaries.remove(&path);
                actions.push(Action::RemoveModel(path));
            }
            None => {}
        }
        if ui.button("Add folder…").clicked() {
            actions.push(Action::AskFile(FilePurpose::AddModel));
        }
        if let Some(message) = &self.add_error {
            ui.label(RichText::new(message.as_str()).color(ui.visuals().warn_fg_color));
        }

        ui.separator();
        ui.label(RichText::new("Download from the Hugging Face Hub").strong());
        ui.horizontal_wrapped(|ui| {
            ui.weak("Suggestions:");
            for suggestion in pentimento_inference::hub::SUGGESTIONS {
                if ui
                    .small_button(suggestion.name)
                    .on_hover_text(suggestion.note)
                    .clicked()
                {
                    self.form = DownloadForm {
                        repo: suggestion.repo.to_owned(),
                        revision: suggestion.revision.to_owned(),
                        subfolder: suggestion.subfolder.unwrap_or_default().to_owned(),
                        token: self.form.token.clone(),
                    };
                }
            }
        });
        let downloading = download.is_some();
        egui::Grid::new("download form")
            .num_columns(2)
            .show(ui, |ui| {
                let form = &mut self.form;
                for (label, value, hint, password) in [
                    ("Repository", &mut form.repo, "owner/name", false),
                    ("Revision", &mut form.revision, "main", false),
                    ("Subfolder", &mut form.subfolder, "optional", false),
                    (
                        "Access token",
                        &mut form.token,
                        "optional: HF_TOKEN or hf auth login",
                        true,
                    ),
                ] {
                    let label = ui.label(label);
                    ui.add_enabled(
                        !downloading,
                        egui::TextEdit::singleline(value)
                            .hint_text(hint)
                            .password(password)
                            .desired_width(320.0),
                    )
                    .labelled_by(label.id);
                    ui.end_row();
                }
            });
        if let Some(download) = download {
            let progress = download.progress.clone().unwrap_or_default();
            let fraction = if progress.bytes_total > 0 {
                progress.bytes_done as f32 / progress.bytes_total as f32
            } else {
                0.0
            };
            ui.add(
                egui::ProgressBar::new(fraction)
                    .text(crate::models::describe_progress(&progress))
                    .animate(true),
            );
            if !progress.file.is_empty() {
                ui.weak(format!(
                    "{} ({} of {} files)",
                    progress.file,
                    (progress.files_done + 1).min(progress.files_total),
                    progress.files_total
                ));
            }
            if ui
                .button("Cancel download")
                .on_hover_text("The finished part is kept; downloading again resumes it")
                .clicked()
            {
                actions.push(Action::CancelDownload);
            }
        } else {
            let ready = !self.form.repo.trim().is_empty();
            if ui
                .add_enabled(ready, egui::Button::new("Download"))
                .clicked()
            {
                let (source, token) = self.form.request();
                actions.push(Action::StartDownload { source, token });
            }
        }
        if let Some(message) = &self.download_error {
            ui.label(RichText::new(message.as_str()).color(ui.visuals().warn_fg_color));
        }
        ui.add_space(8.0);
        if ui.button("Close").clicked() {
            self.close(actions);
        }
    }

    /// Closes the window; its messages are about what was done while it was open.
    fn close(&mut self, actions: &mut Vec<Action>) {
        self.add_error = None;
        self.download_error = None;
        actions.push(Action::CloseModal);
    }
}

/// What a button of a model in the model manager asks for.
#[derive(Clone, Copy)]
enum EntryAction {
    Use,
    MakeDefault,
    Remove,
}
