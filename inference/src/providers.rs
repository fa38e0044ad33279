//! Execution providers: where ONNX Runtime runs the model (CPU, CUDA, TensorRT, DirectML,
//! CoreML). A requested GPU provider that cannot be used is reported as an error, never
//! silently replaced by the CPU; `Auto` tries the GPU providers this platform can have, in
//! order, and reports the one it got.

use ort::ep::ExecutionProvider as _;
use ort::session::builder::SessionBuilder;

/// The execution provider a person asks for.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ProviderChoice {
    /// The best available: a GPU provider when one works, the CPU otherwise.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// NVIDIA CUDA.
    Cuda,
    /// NVIDIA TensorRT (falls back to CUDA and CPU for unsupported operators).
    TensorRt,
    /// DirectML (Windows, any DirectX 12 GPU).
    DirectMl,
    /// CoreML (macOS).
    CoreMl,
}

impl ProviderChoice {
    /// Every choice, in menu order.
    pub const ALL: [Self; 6] = [
        Self::Auto,
        Self::Cpu,
        Self::Cuda,
        Self::TensorRt,
        Self::DirectMl,
        Self::CoreMl,
    ];

    /// The command-line name.
    pub fn cli_name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::TensorRt => "tensorrt",
            Self::DirectMl => "directml",
            Self::CoreMl => "coreml",
        }
    }

    /// The name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Auto => "Automatic",
            Self::Cpu => "CPU",
            Self::Cuda => "CUDA",
            Self::TensorRt => "TensorRT",
            Self::DirectMl => "DirectML",
            Self::CoreMl => "CoreML",
        }
    }

    /// GPU providers `Auto` tries on this platform, in order of preference.
    fn auto_candidates() -> &'static [Self] {
        if cfg!(target_os = "macos") {
            &[Self::CoreMl]
        } else if cfg!(windows) {
            &[Self::Cuda, Self::DirectMl]
        } else {
            &[Self::Cuda]
        }
    }
}

crate::choice_text!(ProviderChoice, "execution provider");

/// The provider that actually runs, and why others were passed over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderReport {
    /// What was asked for.
    pub requested: ProviderChoice,
    /// What runs.
    pub active: ProviderChoice,
    /// Providers `Auto` tried and could not use, with the reason.
    pub skipped: Vec<(ProviderChoice, String)>,
}

impl std::fmt::Display for ProviderReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.active)?;
        if self.requested == ProviderChoice::Auto {
            f.write_str(" (automatic")?;
            for (choice, reason) in &self.skipped {
                write!(f, "; {choice} unavailable: {reason}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// Registers `choice` on a session builder. Returns the reason when it cannot be used.
fn register(choice: ProviderChoice, builder: &mut SessionBuilder) -> Result<(), String> {
    match choice {
        ProviderChoice::Auto | ProviderChoice::Cpu => Ok(()),
        ProviderChoice::Cuda => available_then(ort::ep::CUDA::is_available(), || {
            ort::ep::CUDA::default().register(builder)
        }),
        ProviderChoice::TensorRt => available_then(ort::ep::TensorRT::is_available(), || {
            ort::ep::TensorRT::default().register(builder)?;
            ort::ep::CUDA::default().register(builder)
        }),
        ProviderChoice::DirectMl => available_then(ort::ep::DirectML::is_available(), || {
            ort::ep::DirectML::default().register(builder)
        }),
        ProviderChoice::CoreMl => available_then(ort::ep::CoreML::is_available(), || {
            ort::ep::CoreML::default().register(builder)
        }),
    }
}

fn available_then(
    available: ort::Result<bool>,
    register: impl FnOnce() -> ort::Result<()>,
) -> Result<(), String> {
    match available {
        Ok(true) => register().map_err(|err| err.to_string()),
        Ok(false) => Err(
            "this ONNX Runtime build does not include it (the bundled library is the CPU build; \
             set ORT_DYLIB_PATH to a GPU build of ONNX Runtime)"
                .to_owned(),
        ),
        Err(err) => Err(err.to_string()),
    }
}

/// Registers the requested provider (or, for `Auto`, the first that works) and reports what
/// runs. An explicitly requested provider that fails is an error.
pub fn apply(
    requested: ProviderChoice,
    builder: &mut SessionBuilder,
) -> Result<ProviderReport, (ProviderChoice, String)> {
    match requested {
        ProviderChoice::Auto => {
            let mut skipped = Vec::new();
            for &candidate in ProviderChoice::auto_candidates() {
                match register(candidate, builder) {
                    Ok(()) => {
                        return Ok(ProviderReport {
                            requested,
                            active: candidate,
                            skipped,
                        });
                    }
                    Err(reason) => skipped.push((candidate, reason)),
                }
            }
            Ok(ProviderReport {
                requested,
                active: ProviderChoice::Cpu,
                skipped,
            })
        }
        choice => register(choice, builder)
            .map(|()| ProviderReport {
                requested,
                active: choice,
                skipped: Vec::new(),
            })
            .map_err(|reason| (choice, reason)),
    }
}
