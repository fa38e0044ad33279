//! The WGSL sources in `shaders/`, embedded at compile time.
//!
//! WGSL has no `#include`, so a shader names the shared modules it uses and is compiled as their
//! concatenation. Shared modules hold only declarations, so each is valid WGSL on its own; the
//! tests validate every file in `shaders/` with `naga`, alone or composed.

/// A shared WGSL module from `shaders/shared/`.
#[derive(Clone, Copy, Debug)]
pub struct SharedModule {
    /// Path below `shaders/`.
    pub path: &'static str,
    /// The WGSL source.
    pub source: &'static str,
}

/// An entry-point shader from `shaders/` and the shared modules it uses.
#[derive(Clone, Copy, Debug)]
pub struct Shader {
    /// Path below `shaders/`.
    pub path: &'static str,
    /// The shared modules prepended to it, in order.
    pub imports: &'static [SharedModule],
    /// Its own WGSL source.
    pub source: &'static str,
}

impl Shader {
    /// The complete WGSL source: the shared modules followed by the shader.
    pub fn composed(&self) -> String {
        let mut out = String::new();
        for module in self.imports {
            out.push_str("// ---- ");
            out.push_str(module.path);
            out.push('\n');
            out.push_str(module.source);
            out.push('\n');
        }
        out.push_str("// ---- ");
        out.push_str(self.path);
        out.push('\n');
        out.push_str(self.source);
        out
    }
}

/// `shared/checkerboard.wgsl`: workspace and checkerboard colours, premultiplied "over".
pub const CHECKERBOARD: SharedModule = SharedModule {
    path: "shared/checkerboard.wgsl",
    source: include_str!("../../shaders/shared/checkerboard.wgsl"),
};

/// `shared/fullscreen.wgsl`: the vertex stage of a full-screen pass (one covering triangle).
pub const FULLSCREEN: SharedModule = SharedModule {
    path: "shared/fullscreen.wgsl",
    source: include_str!("../../shaders/shared/fullscreen.wgsl"),
};

/// `canvas.wgsl`: the composite over a checkerboard inside the workspace, with the mask and
/// provenance overlays.
pub const CANVAS: Shader = Shader {
    path: "canvas.wgsl",
    imports: &[CHECKERBOARD, FULLSCREEN],
    source: include_str!("../../shaders/canvas.wgsl"),
};

/// `composite.wgsl`: the layers of one tile into the composite.
pub const COMPOSITE: Shader = Shader {
    path: "composite.wgsl",
    imports: &[FULLSCREEN],
    source: include_str!("../../shaders/composite.wgsl"),
};

/// Every shared module.
pub const SHARED_MODULES: &[SharedModule] = &[CHECKERBOARD, FULLSCREEN];

/// Every entry-point shader.
pub const SHADERS: &[Shader] = &[CANVAS, COMPOSITE];
