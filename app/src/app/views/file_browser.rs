//! Pentimento's own file dialog, drawn in the window, for desktops that cannot show the system's
//! (see [`crate::dialogs`]) or when the artist prefers it (Settings → File dialogs). It has what
//! a save or open dialog needs: a location field that takes a typed path, the folder's contents
//! with sizes and dates, places (home, the usual folders, recent folders, the file system's
//! root), the request's filters, a file name field with the extension added, hidden files on
//! request, a new-folder button, and a question before a file is replaced.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use egui::RichText;

use crate::dialogs::{DialogKind, FileRequest, with_saved_extension};

/// How the dialog ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrowserOutcome {
    /// This file or folder was chosen.
    Chosen(PathBuf),
    /// Closed without a choice.
    Cancelled,
}

/// A place in the side bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// What it is called.
    pub name: String,
    /// Where it is.
    pub path: PathBuf,
}

/// The places every dialog offers: home, the user folders that exist, then `recent` folders
/// (newest first, those that still exist), then the file system's root.
pub fn places(recent: &[PathBuf]) -> Vec<Place> {
    let mut places = Vec::new();
    if let Some(user) = directories::UserDirs::new() {
        places.push(Place {
            name: "Home".to_owned(),
            path: user.home_dir().to_path_buf(),
        });
        for (name, dir) in [
            ("Desktop", user.desktop_dir()),
            ("Documents", user.document_dir()),
            ("Pictures", user.picture_dir()),
            ("Downloads", user.download_dir()),
        ] {
            if let Some(dir) = dir.filter(|dir| dir.is_dir()) {
                places.push(Place {
                    name: name.to_owned(),
                    path: dir.to_path_buf(),
                });
            }
        }
    }
    for folder in recent.iter().filter(|folder| folder.is_dir()) {
        if places.iter().any(|place| &place.path == folder) {
            continue;
        }
        places.push(Place {
            name: folder
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|| folder.display().to_string()),
            path: folder.clone(),
        });
    }
    places.push(Place {
        name: "Computer".to_owned(),
        path: filesystem_root(),
    });
    places
}

fn filesystem_root() -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|dir| dir.ancestors().last().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// One entry of the listed folder.
#[derive(Clone, Debug, PartialEq)]
struct Entry {
    name: String,
    path: PathBuf,
    is_dir: bool,
    size: u64,
    modified: Option<SystemTime>,
}

/// A question the dialog is asking before it closes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pending {
    /// The file exists: replace it?
    Replace(PathBuf),
    /// The name of a new folder being typed.
    NewFolder(String),
}

/// The in-app file dialog for one request.
#[derive(Debug)]
pub struct FileBrowser {
    request: FileRequest,
    places: Vec<Place>,
    folder: PathBuf,
    entries: Result<Vec<Entry>, String>,
    selected: Option<PathBuf>,
    /// The location field's text (the folder, or a typed path).
    location: String,
    /// The file name field (dialogs that save).
    name: String,
    /// Index into the request's filters; the last index means all files.
    filter: usize,
    show_hidden: bool,
    pending: Option<Pending>,
    /// Why the last action did nothing.
    problem: Option<String>,
}

impl FileBrowser {
    /// A dialog for `request`, starting in its folder (or in `fallback`, or at home).
    pub fn new(request: FileRequest, places: Vec<Place>, fallback: Option<PathBuf>) -> Self {
        let start = request
            .folder
            .clone()
            .filter(|folder| folder.is_dir())
            .or_else(|| fallback.filter(|folder| folder.is_dir()))
            .or_else(|| places.first().map(|place| place.path.clone()))
            .unwrap_or_else(filesystem_root);
        let name = request.suggested_name.clone().unwrap_or_default();
        let mut browser = Self {
            request,
            places,
            folder: PathBuf::new(),
            entries: Ok(Vec::new()),
            selected: None,
            location: String::new(),
            name,
            filter: 0,
            show_hidden: false,
            pending: None,
            problem: None,
        };
        browser.enter(start);
        browser
    }

    /// Which dialog this is.
    pub fn kind(&self) -> DialogKind {
        self.request.kind
    }

    /// The folder shown.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    fn enter(&mut self, folder: PathBuf) {
        self.folder = folder;
        self.location = self.folder.display().to_string();
        self.selected = None;
        self.pending = None;
        self.refresh();
    }

    fn refresh(&mut self) {
        self.entries = list_folder(&self.folder, self.show_hidden);
    }

    /// Whether `entry` passes the chosen filter.
    fn shown(&self, entry: &Entry) -> bool {
        if entry.is_dir {
            return true;
        }
        match self.request.kind.filters().get(self.filter) {
            Some(filter) => filter.matches(&entry.path),
            None => true,
        }
    }

    fn saves(&self) -> bool {
        self.request.kind.saved_extension().is_some()
    }

    /// Draws the dialog; returns how it ended once it has.
    pub fn show(&mut self, ctx: &egui::Context) -> Option<BrowserOutcome> {
        let mut outcome = None;
        let modal = egui::Modal::new(egui::Id::unique("pentimento_file_browser")).show(ctx, |ui| {
            let width = 760.0_f32.min(ctx.content_rect().width() - 48.0).max(320.0);
            ui.set_min_width(width);
            ui.set_max_width(width);
            ui.heading(self.request.kind.title());
            ui.add_space(4.0);
            outcome = self.location_row(ui);
            ui.add_space(4.0);
            // The lists get what the window leaves after the rows above and below them.
            let list_height = (ctx.content_rect().height() - 330.0).clamp(140.0, 420.0);
            ui.allocate_ui(egui::vec2(ui.available_width(), list_height), |ui| {
                ui.horizontal_top(|ui| {
                    self.places_column(ui, list_height);
                    ui.separator();
                    let chosen = self.entries_list(ui, list_height);
                    outcome = outcome.take().or(chosen);
                });
            });
            ui.separator();
            if outcome.is_none() {
                outcome = self.bottom_rows(ui);
            }
        });
        if outcome.is_none()
            && self.pending.is_none()
            && (modal.should_close() || ctx.input(|input| input.key_pressed(egui::Key::Escape)))
        {
            outcome = Some(BrowserOutcome::Cancelled);
        }
        outcome
    }

    fn location_row(&mut self, ui: &mut egui::Ui) -> Option<BrowserOutcome> {
        let mut outcome = None;
        ui.horizontal(|ui| {
            let parent = self.folder.parent().map(Path::to_path_buf);
            if ui
                .add_enabled(parent.is_some(), egui::Button::new("⬆ Up"))
                .on_hover_text("The folder above")
                .clicked()
                && let Some(parent) = parent
            {
                self.enter(parent);
            }
            let label = ui.label("Location");
            let field = ui.add(
                egui::TextEdit::singleline(&mut self.location)
                    .desired_width(ui.available_width() - 48.0)
                    .hint_text("Type a folder or a file and press Enter"),
            );
            let field = field.labelled_by(label.id);
            let submitted =
                field.lost_focus() && ui.input(|input| input.key_pressed(egui::Key::Enter));
            if ui.button("Go").clicked() || submitted {
                outcome = self.go_to_typed_location();
            }
        });
        outcome
    }

    /// Goes where the location field says: into a folder, or to a file (chosen when opening,
    /// its name taken when saving).
    fn go_to_typed_location(&mut self) -> Option<BrowserOutcome> {
        let typed = expand_home(self.location.trim());
        let path = if typed.is_absolute() {
            typed
        } else {
            self.folder.join(typed)
        };
        if path.is_dir() {
            self.problem = None;
            self.enter(path);
        } else if let (Some(parent), Some(name)) = (path.parent(), path.file_name())
            && parent.is_dir()
            && !self.request.kind.picks_folder()
        {
            self.problem = None;
            let name = name.to_string_lossy().into_owned();
            self.enter(parent.to_path_buf());
            if self.saves() {
                self.name = name;
            } else if path.is_file() {
                return self.confirm(path);
            } else {
                self.problem = Some(format!("There is no file called {name} here."));
            }
        } else {
            self.problem = Some(format!("There is no folder {}.", path.display()));
            self.location = self.folder.display().to_string();
        }
        None
    }

    fn places_column(&mut self, ui: &mut egui::Ui, height: f32) {
        let mut go = None;
        ui.vertical(|ui| {
            ui.set_width(150.0);
            ui.weak("Places");
            egui::ScrollArea::vertical()
                .id_salt("file_browser_places")
                .max_height(height)
                .show(ui, |ui| {
                    for place in &self.places {
                        let here = self.folder == place.path;
                        if ui
                            .selectable_label(here, &place.name)
                            .on_hover_text(place.path.display().to_string())
                            .clicked()
                        {
                            go = Some(place.path.clone());
                        }
                    }
                });
        });
        if let Some(path) = go {
            self.problem = None;
            self.enter(path);
        }
    }

    fn entries_list(&mut self, ui: &mut egui::Ui, height: f32) -> Option<BrowserOutcome> {
        let mut enter = None;
        let mut choose = None;
        let mut select = None;
        ui.vertical(|ui| {
            ui.set_min_height(height);
            match &self.entries {
                Err(problem) => {
                    ui.label(RichText::new(problem).color(ui.visuals().warn_fg_color));
                }
                Ok(entries) => {
                    let shown: Vec<&Entry> =
                        entries.iter().filter(|entry| self.shown(entry)).collect();
                    if entries.is_empty() {
                        ui.weak("This folder is empty.");
                    } else if shown.is_empty() {
                        ui.weak(format!(
                            "No {} here ({} other files; Show: All files lists them).",
                            self.request
                                .kind
                                .filters()
                                .get(self.filter)
                                .map_or("files", |filter| filter.name),
                            entries.len()
                        ));
                    }
                    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
                    let picks_folder = self.request.kind.picks_folder();
                    egui::ScrollArea::vertical()
                        .id_salt("file_browser_entries")
                        .max_height(height)
                        .auto_shrink([false, false])
                        .show_rows(ui, row_height, shown.len(), |ui, rows| {
                            let name_width = (ui.available_width() - 200.0).max(120.0);
                            for entry in &shown[rows] {
                                // Files are listed in folder dialogs for orientation only.
                                let usable = entry.is_dir || !picks_folder;
                                let selected = self.selected.as_ref() == Some(&entry.path);
                                let icon = if entry.is_dir { "🗀" } else { "🗋" };
                                let mut text = RichText::new(format!("{icon} {}", entry.name));
                                if !usable {
                                    text = text.weak();
                                }
                                ui.horizontal(|ui| {
                                    // A full-width row with its name on the left.
                                    let response = ui
                                        .allocate_ui_with_layout(
                                            egui::vec2(name_width, row_height),
                                            egui::Layout::top_down_justified(egui::Align::LEFT),
                                            |ui| {
                                                ui.add(
                                                    egui::Button::selectable(selected, text)
                                                        .truncate(),
                                                )
                                            },
                                        )
                                        .inner;
                                    let size = if entry.is_dir {
                                        String::new()
                                    } else {
                                        human_size(entry.size)
                                    };
                                    ui.allocate_ui_with_layout(
                                        egui::vec2(70.0, row_height),
                                        egui::Layout::right_to_left(egui::Align::Center),
                                        |ui| ui.weak(size),
                                    );
                                    ui.add_space(12.0);
                                    ui.weak(entry.modified.map(describe_time).unwrap_or_default());
                                    if response.double_clicked() && usable {
                                        if entry.is_dir {
                                            enter = Some(entry.path.clone());
                                        } else {
                                            choose = Some(entry.path.clone());
                                        }
                                    } else if response.clicked() && usable {
                                        select = Some((entry.path.clone(), entry.is_dir));
                                    }
                                });
                            }
                        });
                }
            }
        });
        if let Some((path, is_dir)) = select {
            if !is_dir && self.saves() {
                self.name = path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default();
            }
            self.selected = Some(path);
        }
        if let Some(folder) = enter {
            self.problem = None;
            self.enter(folder);
        }
        choose.and_then(|path| self.confirm(path))
    }

    fn bottom_rows(&mut self, ui: &mut egui::Ui) -> Option<BrowserOutcome> {
        let mut outcome = None;
        let kind = self.request.kind;
        if self.saves() {
            ui.horizontal(|ui| {
                let label = ui.label("File name");
                let field = ui
                    .add(egui::TextEdit::singleline(&mut self.name).desired_width(320.0))
                    .labelled_by(label.id);
                if field.lost_focus()
                    && ui.input(|input| input.key_pressed(egui::Key::Enter))
                    && self.pending.is_none()
                {
                    outcome = self.save_here();
                }
            });
        }
        ui.horizontal(|ui| {
            let filters = kind.filters();
            if !filters.is_empty() {
                let label = ui.label("Show");
                let all_files = filters.len();
                let describe = |index: usize| match filters.get(index) {
                    Some(filter) => format!(
                        "{} ({})",
                        filter.name,
                        filter
                            .extensions
                            .iter()
                            .map(|extension| format!("*.{extension}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                    None => "All files".to_owned(),
                };
                egui::ComboBox::from_id_salt("file_browser_filter")
                    .selected_text(describe(self.filter))
                    .show_ui(ui, |ui| {
                        for index in 0..=all_files {
                            ui.selectable_value(&mut self.filter, index, describe(index));
                        }
                    })
                    .response
                    .labelled_by(label.id);
            }
            if ui.checkbox(&mut self.show_hidden, "Hidden files").changed() {
                self.refresh();
            }
            if (self.saves() || kind.picks_folder()) && ui.button("New folder…").clicked() {
                self.pending = Some(Pending::NewFolder(String::new()));
            }
        });
        if let Some(problem) = &self.problem {
            ui.label(RichText::new(problem).color(ui.visuals().warn_fg_color));
        }
        match self.pending.clone() {
            Some(Pending::Replace(path)) => {
                ui.label(
                    RichText::new(format!(
                        "{} already exists. Replace it?",
                        path.file_name()
                            .map(|name| name.to_string_lossy().into_owned())
                            .unwrap_or_else(|| path.display().to_string())
                    ))
                    .strong(),
                );
                ui.horizontal(|ui| {
                    if ui.button("Replace").clicked() {
                        outcome = Some(BrowserOutcome::Chosen(path.clone()));
                    }
                    if ui.button("Keep it").clicked() {
                        self.pending = None;
                    }
                });
                return outcome;
            }
            Some(Pending::NewFolder(mut name)) => {
                ui.horizontal(|ui| {
                    let label = ui.label("New folder name");
                    let field = ui
                        .add(egui::TextEdit::singleline(&mut name).desired_width(240.0))
                        .labelled_by(label.id);
                    let submitted =
                        field.lost_focus() && ui.input(|input| input.key_pressed(egui::Key::Enter));
                    if ui.button("Create").clicked() || submitted {
                        self.create_folder(&name);
                    } else if ui.button("Don't create").clicked() {
                        self.pending = None;
                    } else {
                        self.pending = Some(Pending::NewFolder(name));
                    }
                });
                return outcome;
            }
            None => {}
        }
        ui.horizontal(|ui| {
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let action = if kind.picks_folder() {
                    "Choose this folder"
                } else if self.saves() {
                    if matches!(
                        kind,
                        DialogKind::ExportPng | DialogKind::ExportJpeg | DialogKind::ExportWebp
                    ) {
                        "Export"
                    } else {
                        "Save"
                    }
                } else {
                    "Open"
                };
                let enabled = if kind.picks_folder() {
                    true
                } else if self.saves() {
                    !self.name.trim().is_empty()
                } else {
                    self.selected.as_ref().is_some_and(|path| path.is_file())
                };
                if ui.add_enabled(enabled, egui::Button::new(action)).clicked() {
                    outcome = if kind.picks_folder() {
                        let folder = self
                            .selected
                            .clone()
                            .filter(|path| path.is_dir())
                            .unwrap_or_else(|| self.folder.clone());
                        Some(BrowserOutcome::Chosen(folder))
                    } else if self.saves() {
                        self.save_here()
                    } else {
                        self.selected.clone().and_then(|path| self.confirm(path))
                    };
                }
                if ui.button("Cancel").clicked() {
                    outcome = Some(BrowserOutcome::Cancelled);
                }
                if kind.picks_folder() {
                    ui.weak(self.folder.display().to_string());
                }
            });
        });
        outcome
    }

    /// The file name field in the shown folder, with the extension the dialog saves.
    fn save_here(&mut self) -> Option<BrowserOutcome> {
        let name = self.name.trim();
        if name.is_empty() {
            self.problem = Some("Type a file name first.".to_owned());
            return None;
        }
        if name.contains('/') || name.contains(std::path::MAIN_SEPARATOR) {
            // A typed path: go to its folder, then save there under its name.
            self.location = name.to_owned();
            self.go_to_typed_location();
            if self.problem.is_some() || self.name.contains('/') {
                return None;
            }
            return self.save_here();
        }
        let path = self.folder.join(name);
        self.confirm(path)
    }

    /// Finishes with `path`, asking first before an existing file is replaced.
    fn confirm(&mut self, path: PathBuf) -> Option<BrowserOutcome> {
        let kind = self.request.kind;
        if kind.saved_extension().is_some() {
            let path = with_saved_extension(kind, path);
            if path.is_dir() {
                self.problem = Some(format!(
                    "{} is a folder; choose another name.",
                    path.display()
                ));
                return None;
            }
            if path.exists() {
                self.pending = Some(Pending::Replace(path));
                return None;
            }
            return Some(BrowserOutcome::Chosen(path));
        }
        if path.is_file() {
            Some(BrowserOutcome::Chosen(path))
        } else {
            self.problem = Some(format!("{} is not a file.", path.display()));
            None
        }
    }

    fn create_folder(&mut self, name: &str) {
        let name = name.trim();
        if name.is_empty() || name.contains('/') || name.contains(std::path::MAIN_SEPARATOR) {
            self.problem = Some("A folder name cannot be empty or contain a slash.".to_owned());
            return;
        }
        let path = self.folder.join(name);
        match std::fs::create_dir(&path) {
            Ok(()) => {
                self.problem = None;
                self.enter(path);
            }
            Err(err) => {
                self.problem = Some(format!(
                    "Could not create the folder {name} ({err}); choose another place or name."
                ));
            }
        }
    }
}

/// `~` and `~/…` at the start of a typed path mean the home folder.
fn expand_home(typed: &str) -> PathBuf {
    let home = directories::UserDirs::new().map(|user| user.home_dir().to_path_buf());
    match (typed.strip_prefix('~'), home) {
        (Some(""), Some(home)) => home,
        (Some(rest), Some(home)) if rest.starts_with('/') || rest.starts_with('\\') => {
            home.join(&rest[1..])
        }
        _ => PathBuf::from(typed),
    }
}

/// A folder's entries, folders first, each group by name (ignoring letter case).
fn list_folder(folder: &Path, show_hidden: bool) -> Result<Vec<Entry>, String> {
    let read = std::fs::read_dir(folder).map_err(|err| {
        format!(
            "Could not read this folder ({err}); choose another one: {}",
            folder.display()
        )
    })?;
    let mut entries: Vec<Entry> = read
        .filter_map(Result::ok)
        .filter_map(|item| {
            let name = item.file_name().to_string_lossy().into_owned();
            if !show_hidden && name.starts_with('.') {
                return None;
            }
            let path = item.path();
            // Follows links, so a link to a folder is a folder.
            let metadata = std::fs::metadata(&path).ok()?;
            Some(Entry {
                name,
                is_dir: metadata.is_dir(),
                size: metadata.len(),
                modified: metadata.modified().ok(),
                path,
            })
        })
        .collect();
    entries.sort_by(|a, b| {
        b.is_dir
            .cmp(&a.is_dir)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
    Ok(entries)
}

/// "532 B", "12 kB", "2.1 GB".
fn human_size(bytes: u64) -> String {
    if bytes < 1000 {
        format!("{bytes} B")
    } else {
        pentimento_inference::model::capabilities::human_size(bytes)
    }
}

/// "2026-11-30 14:05" in UTC.
fn describe_time(time: SystemTime) -> String {
    let Ok(since) = time.duration_since(SystemTime::UNIX_EPOCH) else {
        return String::new();
    };
    let seconds = since.as_secs();
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_788), (2026, 12, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn folders_come_first_and_hidden_files_only_on_request() {
        let dir = tempfile::tempdir().expect("folder");
        for name in ["b.ora", "A.png", ".secret"] {
            std::fs::write(dir.path().join(name), b"x").expect("write");
        }
        std::fs::create_dir(dir.path().join("zeta")).expect("folder");
        let names = |hidden| -> Vec<String> {
            list_folder(dir.path(), hidden)
                .expect("listed")
                .into_iter()
                .map(|entry| entry.name)
                .collect()
        };
        assert_eq!(names(false), ["zeta", "A.png", "b.ora"]);
        assert_eq!(names(true), ["zeta", ".secret", "A.png", "b.ora"]);
        let missing = list_folder(&dir.path().join("gone"), false).expect_err("no folder");
        assert!(missing.contains("choose another one"), "{missing}");
    }
}
