//! What the views, the menu and the keyboard ask the app to do, as typed actions, and the one
//! place that carries them out ([`PentimentoApp::apply`]). A view never changes the document,
//! talks to the worker or touches a file itself: it pushes an [`Action`], and the handler here
//! (or the one it hands the action to, in `files.rs`, `model_list.rs`, `generation.rs`) does.

use std::path::PathBuf;

use crate::autosave::Recovery;
use crate::document::generative::GenerativeParams;
use crate::document::layer::{LayerContent, LayerId, LayerProperties};

use super::PentimentoApp;
use crate::document::generations::generative_layer_name;

/// Something a view asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Open the export dialog (with what the picture is made of).
    OpenExport,
    /// Ask for a file or folder, then carry on with it.
    AskFile(FilePurpose),
    /// Save the project (asking where when it has no file yet), then do what follows.
    Save(AfterSave),
    /// Replace the document, asking first when it has unsaved changes.
    Replace(ReplaceWith),
    /// Replace the document without asking.
    ReplaceNow(ReplaceWith),
    /// Open an autosave of a window that did not close cleanly.
    Recover(Recovery),
    /// Keep an autosave aside instead of opening it (and offer the next one).
    DiscardRecovery(Recovery),
    /// Show a modal window or question.
    Show(Modal),
    /// Close the modal window.
    CloseModal,
    /// Close the window (asking first about unsaved changes).
    CloseWindow,
    /// Close the window and drop the unsaved changes.
    QuitWithoutSaving,
    /// Change the document.
    Edit(Edit),
    /// Make a layer the one strokes go to.
    SelectLayer(LayerId),
    /// Fit the canvas into the view.
    FitCanvas,
    /// Show the canvas at 100 %; `recentre` also moves it back to the middle.
    ActualPixels {
        /// Whether the pan is reset too.
        recentre: bool,
    },
    /// Start ONNX Runtime again after it failed.
    RetryRuntime,
    /// Load a model folder now.
    LoadModel(PathBuf),
    /// Ask a remote model's servers whether they and the model are ready.
    CheckServers,
    /// No server is left: load the model's copy on this computer and run the generation
    /// again there (same seeds, so the same result).
    ContinueLocally(PathBuf),
    /// Make a listed model the default one.
    MakeDefaultModel(PathBuf),
    /// Take a model off the list (its files stay).
    RemoveModel(PathBuf),
    /// Download a model from the Hugging Face Hub.
    StartDownload {
        /// What to download.
        source: pentimento_inference::hub::HubSource,
        /// An access token, if one was given.
        token: Option<String>,
    },
    /// Stop the download (what arrived is kept).
    CancelDownload,
    /// Read the LoRA folder again (the files and their metadata).
    RefreshLoras,
    /// Generate with the prompt panel's settings.
    Generate,
    /// Generate again with the next seeds.
    GenerateMore,
    /// Stop the running generation.
    CancelGeneration,
    /// Show staged variation `index` on the canvas.
    SelectVariation(usize),
    /// Show the next (or previous) staged variation.
    CycleVariation(isize),
    /// Accept staged variation `index` as a layer.
    Accept(usize),
    /// Accept the staged variation shown.
    AcceptSelected,
    /// Accept every staged variation, each as its own layer.
    AcceptAll,
    /// Drop the staged variations.
    DiscardStaging,
    /// Use the settings as the settings window left them (history budget, autosave clock) and
    /// save them.
    ApplySettings,
    /// Tell the artist something.
    Notify {
        /// The sentence.
        text: String,
        /// Errors stay until dismissed.
        is_error: bool,
    },
}

/// A change to the document, carried out with its history.
#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    /// Undo the last step.
    Undo,
    /// Redo the step undone last.
    Redo,
    /// Clear the mask.
    ClearMask,
    /// Fill the masked area with the picture's own texture (no model) as a new layer.
    ContentAwareFill,
    /// Put back the pixels of a move in progress.
    CancelMove,
    /// Add a paint layer above `above` (on top when `None`) and select it.
    AddLayer {
        /// The layer to add it above.
        above: Option<LayerId>,
    },
    /// Delete a layer (undo brings it back) and select the one below.
    DeleteLayer(LayerId),
    /// Move a layer to another place in the stack.
    MoveLayer {
        /// The layer.
        id: LayerId,
        /// Its new index (0 is the bottom).
        to: usize,
    },
    /// Change a layer's name, visibility, lock, opacity or blend.
    SetProperties {
        /// The layer.
        id: LayerId,
        /// Its properties after the change.
        properties: LayerProperties,
        /// Changes with the same label merge into one undo step (a slider drag).
        coalesce: Option<&'static str>,
    },
    /// Change a generative layer's live edges.
    SetGenerativeParams {
        /// The layer.
        id: LayerId,
        /// Its edges after the change.
        params: GenerativeParams,
    },
    /// Show another variation of a generative layer's generation.
    ShowVariation {
        /// The layer.
        id: LayerId,
        /// The variation.
        selected: usize,
    },
    /// End the undo step being merged (a slider was let go).
    SealHistory,
    /// Grow the canvas as the Canvas size dialog says.
    GrowCanvas(CanvasSizeForm),
}

/// The Canvas size dialog's choices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CanvasSizeForm {
    /// The canvas's size now.
    pub from: (u32, u32),
    /// The new width.
    pub width: u32,
    /// The new height.
    pub height: u32,
    /// Where the picture sits.
    pub anchor: crate::document::canvas_size::Anchor,
    /// Mask the new area so the next generation paints it (outpainting).
    pub outpaint: bool,
    /// How far into the picture the mask reaches, in pixels (the generation blends there).
    pub overlap: u32,
}

impl CanvasSizeForm {
    /// The dialog for a canvas of `width × height`: the same size, centred, outpainting on.
    pub fn for_canvas(width: u32, height: u32) -> Self {
        Self {
            from: (width, height),
            width,
            height,
            anchor: crate::document::canvas_size::Anchor::CENTRE,
            outpaint: true,
            overlap: 32,
        }
    }
}

/// What a file or folder being chosen is for: the step that follows the choice, whichever
/// dialog (the system's or Pentimento's own) makes it.
#[derive(Clone, Debug, PartialEq)]
pub enum FilePurpose {
    /// Load this model folder now (the prompt panel's Open model folder…).
    LoadModel,
    /// Add this model folder to the list (the model manager's Add folder…).
    AddModel,
    /// Use this ONNX Runtime library from the next start (Settings).
    RuntimeLibrary,
    /// Open this project or image as the document.
    Open,
    /// Add this image as a layer.
    ImportLayer,
    /// Save the project here, then do what follows.
    Save(AfterSave),
    /// Export the flattened image here, as the export dialog chose.
    Export(Box<super::views::export::ExportForm>),
    /// Add this LoRA to the prompt panel's list.
    AddLora,
    /// Look for LoRAs in this folder (Settings).
    LoraFolder,
    /// Write the local signing identity's root certificate here (Settings).
    ExportRoot,
    /// Sign with the certificate chain (PEM, end entity first) here; its key is asked next.
    ImportChain,
    /// The private key (PKCS#8 PEM) of the chain chosen before.
    ImportKey(PathBuf),
}

impl FilePurpose {
    /// The dialog that asks for it.
    pub fn dialog(&self) -> crate::dialogs::DialogKind {
        use crate::dialogs::DialogKind;
        match self {
            Self::LoadModel | Self::AddModel => DialogKind::ModelFolder,
            Self::RuntimeLibrary => DialogKind::RuntimeLibrary,
            Self::Open => DialogKind::OpenFile,
            Self::ImportLayer => DialogKind::OpenImage,
            Self::Save(_) => DialogKind::SaveProject,
            Self::Export(form) => match form.kind {
                crate::settings::ExportKind::Png => DialogKind::ExportPng,
                crate::settings::ExportKind::Jpeg => DialogKind::ExportJpeg,
                crate::settings::ExportKind::Webp => DialogKind::ExportWebp,
            },
            Self::AddLora => DialogKind::LoraFile,
            Self::LoraFolder => DialogKind::LoraFolder,
            Self::ExportRoot => DialogKind::ExportCertificate,
            Self::ImportChain => DialogKind::OpenCertificate,
            Self::ImportKey(_) => DialogKind::OpenKey,
        }
    }
}

/// What happens once the project is saved.
#[derive(Clone, Debug, PartialEq)]
pub enum AfterSave {
    /// Nothing more.
    Nothing,
    /// Close the window.
    Quit,
    /// Replace the document.
    Replace(ReplaceWith),
}

/// What replaces the current document once the artist confirms.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplaceWith {
    /// A new canvas.
    New(u32, u32),
    /// A file.
    Open(PathBuf),
}

/// A modal question or window.
#[derive(Clone, Debug, PartialEq)]
pub enum Modal {
    /// Offer to recover an autosave.
    Recover(Recovery),
    /// Unsaved changes before closing the window.
    ConfirmQuit,
    /// Unsaved changes before replacing the document.
    ConfirmReplace(ReplaceWith),
    /// Choose a size for a new canvas.
    NewCanvas {
        /// Width being edited.
        width: u32,
        /// Height being edited.
        height: u32,
    },
    /// The settings window.
    Settings,
    /// The model manager.
    Models,
    /// Every generation in the document's log.
    GenerationLog,
    /// The export dialog.
    Export(Box<super::views::export::ExportForm>),
    /// Grow the canvas (and mask the new area for outpainting).
    CanvasSize(CanvasSizeForm),
    /// What an opened image's Content Credentials say.
    Credentials {
        /// The image's file name.
        file: String,
        /// The verification, line by line.
        lines: Vec<String>,
    },
}

impl PentimentoApp {
    /// Carries out one action.
    pub(super) fn apply(&mut self, ctx: &egui::Context, action: Action) {
        match action {
            Action::AskFile(purpose) => self.ask_file(ctx, purpose),
            Action::Save(then) => self.save(ctx, then),
            Action::Replace(with) => self.request_replace(with),
            Action::ReplaceNow(with) => {
                if let Some(message) = self.do_replace(with) {
                    self.notify(ctx, message, true);
                }
            }
            Action::Recover(recovery) => self.recover(ctx, &recovery),
            Action::DiscardRecovery(recovery) => self.discard_recovery(ctx, &recovery),
            Action::Show(modal) => self.modal = Some(modal),
            Action::OpenExport => self.open_export_dialog(),
            Action::CloseModal => self.modal = None,
            Action::CloseWindow => ctx.send_viewport_cmd(egui::ViewportCommand::Close),
            Action::QuitWithoutSaving => {
                self.quit_cleanly();
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
            Action::Edit(edit) => self.edit(ctx, edit),
            Action::SelectLayer(id) => self.workspace.active_layer = Some(id),
            Action::FitCanvas => self.view.fit_pending = true,
            Action::ActualPixels { recentre } => {
                self.view.zoom = 1.0;
                if recentre {
                    self.view.pan = egui::Vec2::ZERO;
                }
            }
            Action::RetryRuntime => self.retry_runtime(ctx),
            Action::LoadModel(path) => self.load_model(path),
            Action::CheckServers => self.check_servers(ctx),
            Action::ContinueLocally(path) => self.continue_locally(path),
            Action::MakeDefaultModel(path) => self.make_default_model(&path),
            Action::RemoveModel(path) => self.remove_model(&path),
            Action::StartDownload { source, token } => self.start_download(ctx, source, token),
            Action::CancelDownload => {
                if let Some(download) = &self.download {
                    download.cancel.cancel();
                }
            }
            Action::RefreshLoras => self.refresh_loras(),
            Action::Generate => self.start_generation(ctx),
            Action::GenerateMore => self.generate_more(ctx),
            Action::CancelGeneration => self.generation.cancel(),
            Action::SelectVariation(index) => {
                if let Some(staging) = &mut self.generation.staging {
                    staging.selected = index;
                }
            }
            Action::CycleVariation(by) => self.generation.cycle(by),
            Action::Accept(index) => self.accept(ctx, index),
            Action::AcceptSelected => self.accept_selected(ctx),
            Action::AcceptAll => self.accept_all(ctx),
            Action::DiscardStaging => self.generation.discard_staging(),
            Action::ApplySettings => {
                let workspace = &mut self.workspace;
                workspace
                    .document
                    .set_history_budget(self.settings.history_budget_mib << 20);
                workspace
                    .autosave
                    .set_interval(std::time::Duration::from_secs(
                        self.settings.autosave_seconds.max(5),
                    ));
                self.save_settings();
            }
            Action::Notify { text, is_error } => self.notify(ctx, text, is_error),
        }
    }

    /// Carries out one change of the document; a change the document refuses is explained.
    fn edit(&mut self, ctx: &egui::Context, edit: Edit) {
        let workspace = &mut self.workspace;
        let document = &mut workspace.document;
        let refused = match edit {
            Edit::Undo | Edit::Redo => {
                let before = workspace.layer_ids();
                if matches!(edit, Edit::Undo) {
                    workspace.document.undo();
                } else {
                    workspace.document.redo();
                }
                workspace.follow_history(&before);
                None
            }
            Edit::ClearMask => {
                document.clear_mask();
                None
            }
            Edit::ContentAwareFill => {
                self.start_fill(ctx);
                None
            }
            Edit::CancelMove => {
                document.cancel_move();
                None
            }
            Edit::AddLayer { above } => {
                let above = above.and_then(|id| document.layer_index(id));
                let name = format!("Layer {}", document.layers().len() + 1);
                workspace.active_layer = Some(document.add_paint_layer(&name, above));
                None
            }
            Edit::DeleteLayer(id) => {
                let index = document.layer_index(id).unwrap_or(0);
                match document.remove_layer(id) {
                    Err(err) => Some(err.to_string()),
                    Ok(_) => {
                        let layers = document.layers();
                        workspace.active_layer = layers
                            .get(index.saturating_sub(1).min(layers.len().saturating_sub(1)))
                            .map(|layer| layer.id);
                        None
                    }
                }
            }
            Edit::MoveLayer { id, to } => {
                let _ = document.move_layer(id, to);
                None
            }
            Edit::SetProperties {
                id,
                properties,
                coalesce,
            } => document
                .set_properties(id, properties, coalesce)
                .err()
                .map(|err| err.to_string()),
            Edit::SetGenerativeParams { id, params } => document
                .set_generative_params(id, params, Some("edges"))
                .err()
                .map(|err| err.to_string()),
            Edit::ShowVariation { id, selected } => self.show_variation(id, selected),
            Edit::SealHistory => {
                document.seal_history();
                None
            }
            Edit::GrowCanvas(form) => {
                let outpaint = form.outpaint.then_some(form.overlap);
                match document.grow_canvas(form.width, form.height, form.anchor, outpaint) {
                    Ok(grown) => {
                        self.view.reset_document();
                        let text = if grown.masked > 0 {
                            format!(
                                "The canvas is {}×{} now, and the new area is masked: describe \
                                 what to paint there and Generate (undo puts everything back).",
                                form.width, form.height
                            )
                        } else {
                            format!("The canvas is {}×{} now.", form.width, form.height)
                        };
                        self.notify(ctx, text, false);
                        None
                    }
                    Err(err) => Some(err.to_string()),
                }
            }
        };
        if let Some(message) = refused {
            self.notify(ctx, crate::messages::sentence(&message), true);
        }
    }

    /// Shows another variation of a generative layer's generation. A name Pentimento gave the
    /// layer follows the seed shown; a name the artist chose stays. The generation log notes
    /// that the variation was taken into the document. Returns why it could not be shown.
    fn show_variation(&mut self, id: LayerId, selected: usize) -> Option<String> {
        let document = &mut self.workspace.document;
        let layer = document.layer(id)?;
        let LayerContent::Generative(generative) = &layer.content else {
            return None;
        };
        let generation = generative.generation;
        let seeds = document
            .generation_record(generation)
            .map(|record| record.seeds.clone())
            .unwrap_or_default();
        let rename = match (seeds.get(generative.selected), seeds.get(selected)) {
            (Some(&shown), Some(&next))
                if layer.properties.name == generative_layer_name(generation, shown) =>
            {
                Some(generative_layer_name(generation, next))
            }
            _ => None,
        };
        match document.set_generative_variation(id, selected, rename.as_deref()) {
            Ok(()) => {
                if let Some(record) = document.generation_record_mut(generation)
                    && !record.accepted.contains(&selected)
                {
                    record.accepted.push(selected);
                }
                None
            }
            Err(err) => Some(err.to_string()),
        }
    }
}
