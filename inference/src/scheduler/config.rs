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

/// One value of a scheduler configuration that diffusers' pipelines replace when they load it
/// (see [`SchedulerConfig::as_pipelines_use_it`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineAdjustment {
    /// The configuration key.
    pub key: &'static str,
    /// What the file says (or the class default when it says nothing).
    pub was: String,
    /// What the pipeline runs with.
    pub now: String,
}

impl std::fmt::Display for PipelineAdjustment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} → {}, as diffusers does",
            self.key, self.was, self.now
        )
    }
}

impl SchedulerConfig {
    /// The range the predicted clean sample is clamped to, when `clip_sample` is on
    /// (`clip_sample_range`, 1 by default); `on_by_default` is the scheduler class's default
    /// for a missing `clip_sample` (true for DDIM, false for LCM).
    pub fn clip_range(&self, on_by_default: bool) -> Option<f32> {
        self.clip_sample
            .unwrap_or(on_by_default)
            .then(|| self.clip_sample_range.unwrap_or(1.0) as f32)
    }

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

    /// The configuration as diffusers' Stable Diffusion pipelines run it, and what that changed.
    ///
    /// Every Stable Diffusion pipeline of diffusers (the ONNX ones too) rewrites the scheduler's
    /// configuration when it is built: a `steps_offset` other than 1 becomes 1, and a
    /// `clip_sample` that is true becomes false. Each scheduler class registers both keys with
    /// its defaults, so an absent `steps_offset` (0 by default) is raised to 1 as well, and an
    /// absent `clip_sample` — true by default for DDIM — is turned off. Pentimento builds the
    /// chosen scheduler for the pipeline the same way (as `from_pretrained(…, scheduler=…)` does),
    /// so the rewrite applies to whichever scheduler the artist picks.
    pub fn as_pipelines_use_it(self) -> (Self, Vec<PipelineAdjustment>) {
        let mut config = self;
        let mut adjustments = Vec::new();
        if config.steps_offset != Some(1) {
            adjustments.push(PipelineAdjustment {
                key: "steps_offset",
                was: config
                    .steps_offset
                    .map_or_else(|| "0 (not set)".to_owned(), |value| value.to_string()),
                now: "1".to_owned(),
            });
            config.steps_offset = Some(1);
        }
        if config.clip_sample != Some(false) {
            adjustments.push(PipelineAdjustment {
                key: "clip_sample",
                was: match config.clip_sample {
                    Some(_) => "true".to_owned(),
                    None => "true (not set; DDIM's default)".to_owned(),
                },
                now: "false".to_owned(),
            });
            config.clip_sample = Some(false);
        }
        (config, adjustments)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn adjusted(json: &str) -> (SchedulerConfig, Vec<String>) {
        let (config, adjustments) = SchedulerConfig::from_json(json)
            .expect("parses")
            .as_pipelines_use_it();
        (
            config,
            adjustments.iter().map(ToString::to_string).collect(),
        )
    }

    #[test]
    fn pipelines_raise_steps_offset_to_one_and_turn_clipping_off() {
        let (config, said) = adjusted(r#"{"_class_name": "DDIMScheduler", "steps_offset": 0}"#);
        assert_eq!(config.steps_offset, Some(1));
        assert_eq!(config.clip_sample, Some(false));
        assert_eq!(
            said,
            [
                "steps_offset 0 → 1, as diffusers does",
                "clip_sample true (not set; DDIM's default) → false, as diffusers does",
            ]
        );
        let (config, said) =
            adjusted(r#"{"_class_name": "LCMScheduler", "clip_sample": true, "steps_offset": 1}"#);
        assert_eq!(config.clip_sample, Some(false));
        assert_eq!(said, ["clip_sample true → false, as diffusers does"]);
    }

    #[test]
    fn a_configuration_as_pipelines_want_it_is_left_alone() {
        let sd15 = SchedulerConfig::stable_diffusion_v1();
        let (config, adjustments) = sd15.clone().as_pipelines_use_it();
        assert_eq!(config, sd15);
        assert!(adjustments.is_empty());
        let (config, said) = adjusted(r#"{"_class_name": "EulerDiscreteScheduler"}"#);
        assert_eq!(config.steps_offset, Some(1));
        assert_eq!(said[0], "steps_offset 0 (not set) → 1, as diffusers does");
    }
}
