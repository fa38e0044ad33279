//! Pentimento: a painting assistant with a layered canvas and local Stable Diffusion that adds
//! layers and never paints over the artist's work.
//!
//! This library holds the whole application — UI, canvas, command line — so that tests drive
//! the same code the `pentimento` binary runs.

pub mod app;
pub mod canvas;
pub mod cli;
pub mod document;
pub mod io;
pub mod runtime_status;
pub mod shaders;

pub use app::{AppOptions, PentimentoApp};
