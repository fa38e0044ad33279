//! Files and documents: opening, importing, saving, exporting, replacing the document, asking
//! for a file (the system's dialog or Pentimento's own) and carrying on with the choice, files
//! dropped on the window, and recovering autosaves.

use std::path::{Path, PathBuf};

use super::views::export::ExportForm;
use super::views::file_browser::{BrowserOutcome, FileBrowser};
use super::{AfterSave, FilePurpose, Modal, PentimentoApp, ReplaceWith};
use crate::autosave::{Autosave, Recovery};
use crate::dialogs::{DialogAnswer, FileRequest};
use crate::document::Document;
use crate::io::ora;
use crate::settings::FileDialogChoice;

impl PentimentoApp {
    pub(super) fn replace_document(&mut self, document: Document, path: Option<PathBuf>) {
        // A running generation belongs to the document it was planned on.
        self.generation.cancel();
        self.generation.running = None;
        self.workspace
            .replace(document, path, self.settings.history_budget_mib << 20);
        // Layer ids and revisions start again in another document.
        self.views.layers.forget_document();
        self.generation.discard_staging();
        self.view.reset_document();
    }

    /// Opens a project (`.ora`) or an image as a new document. Errors leave the current
    /// document untouched.
    pub fn open_path(&mut self, path: &Path) -> Option<String> {
        let is_project = path
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("ora"));
        let result = crate::io::open_document(path).map(|mut document| {
            if !is_project {
                crate::credentials::ingredients::record_opened_image(&mut document, path);
            }
            (document, is_project.then(|| path.to_path_buf()))
        });
        match result {
            Ok((document, saved_path)) => {
                self.replace_document(document, saved_path);
                self.settings.remember_file(path);
                if !is_project {
                    self.show_credentials_of(path);
                }
                None
            }
            Err(message) => Some(message),
        }
    }

    /// Shows what an opened image's Content Credentials say, when it has any.
    fn show_credentials_of(&mut self, path: &Path) {
        // An image without a manifest is the usual case, not an error.
        let Ok(read) = crate::credentials::verify_file(path, None) else {
            return;
        };
        if read.json.get("active_manifest").is_none() {
            return;
        }
        self.modal = Some(Modal::Credentials {
            file: path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
            lines: read.describe_lines(),
        });
    }

    /// Adds an image file as a new layer on top.
    pub fn import_layer(&mut self, path: &Path) -> Option<String> {
        match crate::io::read_rgba(path) {
            Ok((width, height, rgba)) => {
                let name = path
                    .file_stem()
                    .map(|stem| stem.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "Image".to_owned());
                let document = &mut self.workspace.document;
                let id = document.import_layer(&name, width, height, &rgba, 0, 0);
                crate::credentials::ingredients::record_import(document, path, id, false);
                self.workspace.active_layer = Some(id);
                None
            }
            Err(err) => Some(crate::messages::sentence(&err.to_string())),
        }
    }

    /// Saves the document to its own file, or asks where first; then does what `then` says.
    pub fn save(&mut self, ctx: &egui::Context, then: AfterSave) {
        match self.workspace.path.clone() {
            Some(path) => self.save_and_continue(ctx, &path, then),
            None => self.ask_file(ctx, FilePurpose::Save(then)),
        }
    }

    pub(super) fn save_and_continue(&mut self, ctx: &egui::Context, path: &Path, then: AfterSave) {
        if let Err(message) = self.save_to(path) {
            self.notify(ctx, message, true);
            return;
        }
        match then {
            AfterSave::Nothing => {}
            AfterSave::Quit => {
                self.quit_cleanly();
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
            AfterSave::Replace(with) => {
                if let Some(message) = self.do_replace(with) {
                    self.notify(ctx, message, true);
                }
            }
        }
    }

    /// Saves the document to `path`. Returns an error sentence.
    pub fn save_to(&mut self, path: &Path) -> Result<(), String> {
        let path = path.to_path_buf();
        let workspace = &mut self.workspace;
        ora::save(&workspace.document, &path)
            .map_err(|err| crate::messages::sentence(&err.to_string()))?;
        workspace.document.mark_saved();
        workspace.path = Some(path.clone());
        workspace.autosave.clear();
        self.settings.remember_file(&path);
        Ok(())
    }

    /// Exports the flattened image as PNG, with the provenance summary in its text chunks.
    /// Signs from now on with the artist's own chain and key; says what happened.
    fn import_identity(&mut self, chain: &Path, key: &Path) -> String {
        let signer = if self.settings.artist_name.trim().is_empty() {
            "your certificate".to_owned()
        } else {
            self.settings.artist_name.trim().to_owned()
        };
        match crate::credentials::SigningIdentity::import(chain, key, &signer)
            .and_then(|identity| identity.save(&self.folders.identity_dir()))
        {
            Ok(()) => "Exports are signed with your own certificate from now on.".to_owned(),
            Err(err) => format!("Could not use that certificate: {err}."),
        }
    }

    /// Writes the local identity's root certificate (making the identity first if need be).
    fn export_root(&mut self, path: &Path) -> Option<String> {
        let identity = match crate::credentials::SigningIdentity::load_or_make(
            &self.folders.identity_dir(),
            &self.settings.artist_name,
        ) {
            Ok(identity) => identity,
            Err(err) => return Some(crate::messages::sentence(&err.to_string())),
        };
        let Some(root) = identity.root_pem else {
            return Some(
                "Your signing identity is your own imported certificate chain; it has no local \
                 root to export."
                    .to_owned(),
            );
        };
        crate::io::write_atomically(path, root.as_bytes())
            .err()
            .map(|err| format!("Could not write {}: {err}.", path.display()))
    }

    /// Opens the export dialog with Settings' choices and what the picture is made of.
    pub(super) fn open_export_dialog(&mut self) {
        let document = &self.workspace.document;
        let (_, provenance) = document.composite(&document.bounds());
        let shares = crate::document::compositor::ProvenanceShares::count(&provenance);
        let made_of = shares.describe();
        let ingredients = document
            .imports
            .iter()
            .filter(|import| {
                document
                    .layers()
                    .iter()
                    .any(|layer| layer.id.0 == import.layer && layer.properties.visible)
            })
            .map(|import| match &import.credentials {
                Some(said) => format!(
                    "{}, with its own Content Credentials ({said})",
                    import.title
                ),
                None => import.title.clone(),
            })
            .collect();
        self.modal = Some(Modal::Export(Box::new(ExportForm::from_settings(
            &self.settings,
            made_of,
            ingredients,
        ))));
    }

    /// Exports the flattened document as the export dialog chose: its format (the file gets
    /// the format's extension unless it has one of it), signed Content Credentials unless
    /// turned off (the local identity is made at the first export). The returned notice says
    /// what was written; when no identity can be had, the image is written without
    /// credentials and the notice says why.
    pub fn export_image(
        &mut self,
        path: &Path,
        form: &ExportForm,
    ) -> Result<Option<String>, String> {
        use crate::credentials::SigningIdentity;
        use crate::credentials::export::ExportFormat;
        use crate::credentials::manifest::ExportChoices;
        self.settings.export = crate::settings::ExportSettings {
            kind: form.kind,
            jpeg_quality: form.jpeg_quality,
        };
        let matches = ExportFormat::for_path(path, form.jpeg_quality).is_some_and(|format| {
            std::mem::discriminant(&format) == std::mem::discriminant(&format_of(form))
        });
        let path = if matches {
            path.to_path_buf()
        } else {
            let mut name = path.as_os_str().to_owned();
            name.push(".");
            name.push(form.kind.extension());
            PathBuf::from(name)
        };
        let choices = ExportChoices {
            show_prompt: form.show_prompt,
            training: form.training,
        };
        let (identity, notice) = if form.sign {
            match SigningIdentity::load_or_make(
                &self.folders.identity_dir(),
                &self.settings.artist_name,
            ) {
                Ok(identity) => (Some(identity), None),
                Err(err) => (
                    None,
                    Some(crate::messages::sentence(&format!(
                        "exported without Content Credentials: {err}"
                    ))),
                ),
            }
        } else {
            (None, None)
        };
        crate::credentials::export::export(
            &self.workspace.document,
            &path,
            format_of(form),
            identity.as_ref(),
            &choices,
        )
        .map(|_| {
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            Some(match (notice, &identity) {
                (Some(notice), _) => notice,
                (None, Some(identity)) => {
                    format!("Exported {name}, signed as {}.", identity.signer)
                }
                (None, None) => format!("Exported {name} without Content Credentials."),
            })
        })
        .map_err(|err| crate::messages::sentence(&err.to_string()))
    }

    pub(super) fn request_replace(&mut self, with: ReplaceWith) {
        if self.workspace.document.has_unsaved_changes() {
            self.modal = Some(Modal::ConfirmReplace(with));
        } else {
            self.do_replace(with);
        }
    }

    pub(super) fn do_replace(&mut self, with: ReplaceWith) -> Option<String> {
        match with {
            ReplaceWith::New(width, height) => match Document::new(width, height) {
                Ok(document) => {
                    self.replace_document(document, None);
                    None
                }
                Err(err) => Some(crate::messages::sentence(&err.to_string())),
            },
            ReplaceWith::Open(path) => self.open_path(&path),
        }
    }

    /// Asks for a file or folder for `purpose` and carries on with it once chosen: at once with
    /// the system's dialog, or when Pentimento's own dialog (shown where the system's cannot
    /// be) closes.
    pub fn ask_file(&mut self, ctx: &egui::Context, purpose: FilePurpose) {
        if self.file_browser.is_some() {
            return;
        }
        let request = self.file_request(&purpose);
        let answer = match self.settings.file_dialogs {
            FileDialogChoice::Pentimento => DialogAnswer::Unavailable,
            FileDialogChoice::System => self.dialogs.ask(&request),
        };
        match answer {
            DialogAnswer::Chosen(path) => self.file_chosen(ctx, purpose, path),
            DialogAnswer::Cancelled => self.file_not_chosen(ctx, &purpose),
            DialogAnswer::Unavailable => {
                let places = super::views::file_browser::places(&self.settings.recent_folders);
                let fallback = self.settings.recent_folders.first().cloned();
                self.file_browser = Some((FileBrowser::new(request, places, fallback), purpose));
            }
        }
    }

    /// The dialog's question: the suggested name, and the folder to start in (the document's
    /// for saving and exporting, else the last one a file was chosen in).
    fn file_request(&self, purpose: &FilePurpose) -> FileRequest {
        let document_folder = self.workspace.folder().map(Path::to_path_buf);
        let stem = self
            .workspace
            .path
            .as_ref()
            .and_then(|path| path.file_stem())
            .map(|stem| stem.to_string_lossy().into_owned());
        let suggested_name = match purpose {
            FilePurpose::Save(_) => Some(format!("{}.ora", stem.as_deref().unwrap_or("untitled"))),
            FilePurpose::Export(form) => Some(format!(
                "{}.{}",
                stem.as_deref().unwrap_or("export"),
                form.kind.extension()
            )),
            FilePurpose::ExportRoot => Some("pentimento-local-root.pem".to_owned()),
            _ => None,
        };
        let kind = purpose.dialog();
        let folder = match purpose {
            FilePurpose::Save(_) | FilePurpose::Export(_) => document_folder,
            _ => None,
        }
        .or_else(|| self.settings.dialog_folders.get(kind.key()).cloned())
        .or_else(|| self.settings.recent_folders.first().cloned());
        FileRequest {
            kind,
            suggested_name,
            folder,
        }
    }

    fn file_chosen(&mut self, ctx: &egui::Context, purpose: FilePurpose, path: PathBuf) {
        // The folder it is in (for a model folder, the folder that holds the models).
        if let Some(folder) = path
            .parent()
            .filter(|folder| !folder.as_os_str().is_empty())
        {
            self.settings
                .remember_folder(purpose.dialog().key(), folder);
        }
        match purpose {
            FilePurpose::LoadModel => self.load_model(path),
            FilePurpose::AddModel => self.add_model_folder(&path),
            FilePurpose::RuntimeLibrary => self.settings.onnx_runtime_library = Some(path),
            FilePurpose::AddLora => self.add_lora(path),
            FilePurpose::ImportChain => self.ask_file(ctx, FilePurpose::ImportKey(path)),
            FilePurpose::ImportKey(chain) => {
                let message = self.import_identity(&chain, &path);
                let is_error = message.starts_with("Could not");
                self.notify(ctx, message, is_error);
            }
            FilePurpose::ExportRoot => {
                if let Some(message) = self.export_root(&path) {
                    self.notify(ctx, message, true);
                }
            }
            FilePurpose::LoraFolder => {
                self.settings.lora_folder = Some(path);
                self.refresh_loras();
            }
            FilePurpose::Open => self.request_replace(ReplaceWith::Open(path)),
            FilePurpose::ImportLayer => {
                if let Some(message) = self.import_layer(&path) {
                    self.notify(ctx, message, true);
                }
            }
            FilePurpose::Save(then) => self.save_and_continue(ctx, &path, then),
            FilePurpose::Export(form) => match self.export_image(&path, &form) {
                Ok(None) => {}
                Ok(Some(notice)) => self.notify(ctx, notice, false),
                Err(message) => self.notify(ctx, message, true),
            },
        }
    }

    fn file_not_chosen(&mut self, ctx: &egui::Context, purpose: &FilePurpose) {
        if let FilePurpose::Save(_) = purpose {
            self.notify(ctx, "Not saved: no file was chosen.", true);
        }
    }

    /// Draws Pentimento's own file dialog while it is open and carries on once it closes.
    pub(super) fn file_browser_ui(&mut self, ctx: &egui::Context) {
        let Some((browser, _)) = &mut self.file_browser else {
            return;
        };
        let Some(outcome) = browser.show(ctx) else {
            return;
        };
        let Some((_, purpose)) = self.file_browser.take() else {
            return;
        };
        match outcome {
            BrowserOutcome::Chosen(path) => self.file_chosen(ctx, purpose, path),
            BrowserOutcome::Cancelled => self.file_not_chosen(ctx, &purpose),
        }
    }

    // ---- Frame -------------------------------------------------------------------------------

    /// Files dropped on the window: a project (or any file on a blank canvas) replaces the
    /// document, an image over work is added as a layer.
    pub(super) fn handle_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|input| {
            input
                .raw
                .dropped_files
                .iter()
                .map(|file| file.path().to_path_buf())
                .filter(|path| !path.as_os_str().is_empty())
                .collect()
        });
        for path in dropped {
            let is_project = path
                .extension()
                .is_some_and(|extension| extension.eq_ignore_ascii_case("ora"));
            let message = if is_project || self.workspace.document.is_blank() {
                self.request_replace(ReplaceWith::Open(path));
                None
            } else {
                self.import_layer(&path)
            };
            if let Some(message) = message {
                self.notify(ctx, message, true);
            }
        }
    }

    /// Opens an autosave left by a window that did not close cleanly and makes its slot this
    /// window's own; a damaged one is kept aside and explained.
    pub(super) fn recover(&mut self, ctx: &egui::Context, recovery: &Recovery) {
        let mut document = match ora::open(&recovery.path) {
            Ok(document) => document,
            Err(err) => {
                let aside = Autosave::set_aside(&self.folders.autosave_dir(), recovery);
                let kept = aside
                    .map(|path| format!(" The file was kept as {}.", path.display()))
                    .unwrap_or_default();
                self.notify(
                    ctx,
                    format!("The autosave could not be opened: {err}.{kept}"),
                    true,
                );
                return;
            }
        };
        if let Err(message) = self.workspace.autosave.adopt(recovery) {
            self.notify(ctx, message, true);
            return;
        }
        document.mark_modified();
        self.replace_document(document, recovery.original.clone());
        // The recovered work stays on disk until it is saved.
        self.workspace
            .autosave
            .tick(&self.workspace.document, recovery.original.as_deref(), true);
        if !self.workspace.more_recoveries.is_empty() {
            let count = self.workspace.more_recoveries.len();
            self.notify(
                ctx,
                format!(
                    "{count} more autosave{} of windows that did not close cleanly {} kept in {}; \
                     {} offered the next time Pentimento starts.",
                    if count == 1 { "" } else { "s" },
                    if count == 1 { "is" } else { "are" },
                    self.folders.autosave_dir().display(),
                    if count == 1 { "it is" } else { "they are" },
                ),
                true,
            );
        }
    }

    /// Keeps an autosave aside instead of opening it, and offers the next one: the canvas is
    /// still untouched.
    pub(super) fn discard_recovery(&mut self, ctx: &egui::Context, recovery: &Recovery) {
        let root = self.folders.autosave_dir();
        if let Some(path) = Autosave::set_aside(&root, recovery) {
            self.notify(
                ctx,
                format!("The autosave was kept as {}.", path.display()),
                false,
            );
        }
        if !self.workspace.more_recoveries.is_empty() {
            self.modal = Some(Modal::Recover(self.workspace.more_recoveries.remove(0)));
        }
    }
}

/// The file format an export form asks for.
fn format_of(form: &ExportForm) -> crate::credentials::export::ExportFormat {
    use crate::credentials::export::ExportFormat;
    match form.kind {
        crate::settings::ExportKind::Png => ExportFormat::Png,
        crate::settings::ExportKind::Jpeg => ExportFormat::Jpeg {
            quality: form.jpeg_quality.clamp(1, 100),
        },
        crate::settings::ExportKind::Webp => ExportFormat::Webp,
    }
}
