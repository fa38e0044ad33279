//! Pentimento: a painting assistant with a layered canvas and local Stable Diffusion that adds
//! layers and never paints over the artist's work.
//!
//! This library holds the whole application — UI, canvas, command line — so that tests drive
//! the same code the `pentimento` binary runs.

pub mod app;
pub mod autosave;
pub mod canvas;
pub mod cli;
pub mod credentials;
pub mod dialogs;
pub mod document;
pub mod fill;
pub mod fingerprint;
pub mod io;
pub mod messages;
pub mod models;
pub mod region;
pub mod runtime_status;
pub mod settings;
pub mod shaders;
pub mod tools;
pub mod worker;

pub use app::{AppOptions, PentimentoApp};
