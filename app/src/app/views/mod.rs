//! The views: each panel and window of the main window is a struct in its own file that holds
//! its own UI state and draws itself. A view reads the shared state it is handed, edits only the
//! plain values its `ui` method takes mutably (the brush settings for the tools panel, the
//! prompt form for the prompt panel, the overlay switches), and asks for everything else — the
//! document, the worker, files, the model list, other windows — with an
//! [`Action`](crate::app::Action), which the app carries out in one place.

pub mod export;
pub mod file_browser;
pub mod generation_log;
pub mod layers;
pub mod loras;
pub mod menu;
pub mod modals;
pub mod model_manager;
pub mod prompt;
pub mod servers;
pub mod settings_window;
pub mod staging;
pub mod status_bar;
pub mod thumbnails;
pub mod tools;

/// Every view of the main window.
#[derive(Default)]
pub struct Views {
    /// File, Edit, View.
    pub menu: menu::MenuBar,
    /// Under everything.
    pub status_bar: status_bar::StatusBar,
    /// The tool buttons and brush settings.
    pub tools: tools::ToolsPanel,
    /// The model, the prompt and Generate.
    pub prompt: prompt::PromptPanel,
    /// The layer stack and the selected layer.
    pub layers: layers::LayerPanel,
    /// The staged variations.
    pub staging: staging::StagingStrip,
    /// The model manager window.
    pub model_manager: model_manager::ModelManager,
    /// The generation log window.
    pub generation_log: generation_log::GenerationLogWindow,
    /// The settings window.
    pub settings: settings_window::SettingsWindow,
    /// The modal questions.
    pub questions: modals::Questions,
    /// The export dialog.
    pub export: export::ExportDialog,
}
