//! `scheduler/scheduler_config.json`, as diffusers writes it.
//!
//! A model ships the configuration of one scheduler (usually PNDM for SD 1.x). Choosing another
//! scheduler works like diffusers' `OtherScheduler.from_config(config)`: the keys the file has
//! override the chosen scheduler's defaults, the rest keep them. So every field is optional here
//! and each scheduler resolves its own defaults.

use std::path::Path;

use serde::Deserialize;

use crate::scheduler::SchedulerError;

/// The known keys of a diffusers scheduler configuration. Unknown keys are ignored, as diffusers
/// ignores them.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SchedulerConfig {
    /// The scheduler class the file was written for (`_class_name`).
    #[serde(rename = "_class_name")]
    pub class_name: Option<String>,
    /// Number of diffusion steps the model was trained with (aka `num_train_timesteps`).
    pub num_train_timesteps: Option<usize>,
    /// First beta of the noise schedule.
    pub beta_start: Option<f64>,
    /// Last beta of the noise schedule.
    pub beta_end: Option<f64>,
    /// `linear`, `scaled_linear` or `squaredcos_cap_v2`.
    pub beta_schedule: Option<String>,
    /// Explicit betas, overriding the schedule.
    pub trained_betas: Option<Vec<f64>>,
    /// `epsilon`, `v_prediction` or `sample`.
    pub prediction_type: Option<String>,
    /// `leading`, `trailing` or `linspace`.
    pub timestep_spacing: Option<String>,
    /// Added to every timestep with `leading` spacing.
    pub steps_offset: Option<i64>,
    /// Whether the step after the last uses alpha 1 (else alphas_cumprod[0]).
    pub set_alpha_to_one: Option<bool>,
    /// Clip the predicted original sample (DDIM, LCM).
    pub clip_sample: Option<bool>,
    /// Range for `clip_sample`.
    pub clip_sample_range: Option<f64>,
    /// PNDM: skip the Runge-Kutta warm-up steps.
    pub skip_prk_steps: Option<bool>,
    /// Dynamic thresholding (not used by Stable Diffusion; refused when set).
    pub thresholding: Option<bool>,
    /// Rescale betas to zero terminal SNR.
    pub rescale_betas_zero_snr: Option<bool>,
    /// Euler and DPM-Solver: Karras sigma spacing.
    pub use_karras_sigmas: Option<bool>,
    /// Euler: `linear` or `log_linear` sigma interpolation.
    pub interpolation_type: Option<String>,
    /// Euler: `discrete` or `continuous` timesteps.
    pub timestep_type: Option<String>,
    /// Euler and DPM-Solver: `zero` or `sigma_min` as the last sigma.
    pub final_sigmas_type: Option<String>,
    /// Karras: lower bound of the sigmas.
    pub sigma_min: Option<f64>,
    /// Karras: upper bound of the sigmas.
    pub sigma_max: Option<f64>,
    /// DPM-Solver: order of the solver.
    pub solver_order: Option<usize>,
    /// DPM-Solver: `dpmsolver++` or `dpmsolver`.
    pub algorithm_type: Option<String>,
    /// DPM-Solver: `midpoint` or `heun`.
    pub solver_type: Option<String>,
    /// DPM-Solver: lower the order in the last steps of short schedules.
    pub lower_order_final: Option<bool>,
    /// DPM-Solver: use an Euler step last.
    pub euler_at_final: Option<bool>,
    /// DPM-Solver: clip lambda from below (a number, or the string "-inf").
    pub lambda_min_clipped: Option<serde_json::Value>,
    /// LCM: the number of steps the consistency model was distilled on.
    pub original_inference_steps: Option<usize>,
    /// LCM: timestep scaling of the boundary condition.
    pub timestep_scaling: Option<f64>,
}

impl SchedulerConfig {
    /// Reads `scheduler_config.json`.
    pub fn from_file(path: &Path) -> Result<Self, SchedulerError> {
        let text = std::fs::read_to_string(path).map_err(|err| SchedulerError::Config {
            reason: err.to_string(),
            path: path.to_path_buf(),
        })?;
        Self::from_json(&text).map_err(|err| match err {
            SchedulerError::Invalid { reason } => SchedulerError::Config {
                reason,
                path: path.to_path_buf(),
            },
            other => other,
        })
    }

    /// Parses the JSON text of a configuration.
    pub fn from_json(text: &str) -> Result<Self, SchedulerError> {
        // Python writes -inf and NaN as bare words, which are not JSON.
        let text = text
            .replace("-Infinity", "\"-inf\"")
            .replace("Infinity", "\"inf\"")
            .replace("NaN", "null");
        let config: Self = serde_json::from_str(&text).map_err(|err| SchedulerError::Invalid {
            reason: err.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration of Stable Diffusion 1.x (PNDM), used when a model has none.
    pub fn stable_diffusion_v1() -> Self {
        Self {
            class_name: Some("PNDMScheduler".to_owned()),
            num_train_timesteps: Some(1000),
            beta_start: Some(0.00085),
            beta_end: Some(0.012),
            beta_schedule: Some("scaled_linear".to_owned()),
            prediction_type: Some("epsilon".to_owned()),
            timestep_spacing: Some("leading".to_owned()),
            steps_offset: Some(1),
            set_alpha_to_one: Some(false),
            clip_sample: Some(false),
            skip_prk_steps: Some(true),
            ..Self::default()
        }
    }

    fn validate(&self) -> Result<(), SchedulerError> {
        let invalid = |reason: String| Err(SchedulerError::Invalid { reason });
        if let Some(steps) = self.num_train_timesteps
            && !(2..=100_000).contains(&steps)
        {
            return invalid(format!("num_train_timesteps is {steps}"));
        }
        for (name, value) in [("beta_start", self.beta_start), ("beta_end", self.beta_end)] {
            if let Some(value) = value
                && !(value.is_finite() && value > 0.0 && value < 1.0)
            {
                return invalid(format!(
                    "{name} is {value}, expected a number between 0 and 1"
                ));
            }
        }
        if let Some(betas) = &self.trained_betas
            && betas
                .iter()
                .any(|beta| !(beta.is_finite() && *beta > 0.0 && *beta < 1.0))
        {
            return invalid("trained_betas holds values outside (0, 1)".to_owned());
        }
        Ok(())
    }

    /// `lambda_min_clipped` as a number (`-inf` when absent).
    pub fn lambda_min_clipped(&self) -> f64 {
        match &self.lambda_min_clipped {
            Some(serde_json::Value::Number(number)) => number.as_f64().unwrap_or(f64::NEG_INFINITY),
            Some(serde_json::Value::String(text)) => {
                text.parse::<f64>().unwrap_or(f64::NEG_INFINITY)
            }
            _ => f64::NEG_INFINITY,
        }
    }
}
