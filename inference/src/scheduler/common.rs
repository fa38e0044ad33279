//! What the schedulers share: the training noise schedule, timestep spacing, prediction types,
//! and the exact floating-point steps diffusers takes to compute them.
//!
//! Parity with diffusers to 1e-4 needs more than the right formulas: tensors are float32 (torch)
//! while some schedule arithmetic is float64 (numpy). Each helper says which it follows.

use crate::scheduler::SchedulerError;
use crate::scheduler::config::SchedulerConfig;

/// What the UNet predicts (aka `config.prediction_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prediction {
    /// The noise (SD 1.x, SD 2.x base).
    Epsilon,
    /// The velocity v = alpha·noise − sigma·x0 (SD 2.x 768 px).
    VPrediction,
    /// The clean sample itself.
    Sample,
}

impl Prediction {
    /// The clean sample x₀ the model output stands for, where the noisy sample is
    /// x = a·x₀ + b·ε (a = sqrt(ᾱ_t) and b = sqrt(1 − ᾱ_t) for the ᾱ-indexed schedulers, DPM-Solver's
    /// α_t and σ_t for it), in float32 and in diffusers' order of operations.
    pub fn original(self, a: f32, b: f32, model_output: &[f32], sample: &[f32]) -> Vec<f32> {
        match self {
            Self::Epsilon => sample
                .iter()
                .zip(model_output)
                .map(|(&x, &e)| (x - b * e) / a)
                .collect(),
            Self::VPrediction => sample
                .iter()
                .zip(model_output)
                .map(|(&x, &v)| a * x - b * v)
                .collect(),
            Self::Sample => model_output.to_vec(),
        }
    }

    /// The noise ε the model output stands for, with x = a·x₀ + b·ε as in [`Self::original`].
    pub fn noise(self, a: f32, b: f32, model_output: &[f32], sample: &[f32]) -> Vec<f32> {
        match self {
            Self::Epsilon => model_output.to_vec(),
            Self::VPrediction => sample
                .iter()
                .zip(model_output)
                .map(|(&x, &v)| a * v + b * x)
                .collect(),
            Self::Sample => sample
                .iter()
                .zip(model_output)
                .map(|(&x, &x0)| (x - a * x0) / b)
                .collect(),
        }
    }
}

/// Clamps every value to ±`range` (diffusers' `clip_sample`); no range leaves them.
pub fn clip_to(values: &mut [f32], range: Option<f32>) {
    if let Some(range) = range {
        for value in values {
            *value = value.clamp(-range, range);
        }
    }
}

/// How inference timesteps are spread over the training range (aka `config.timestep_spacing`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spacing {
    /// Multiples of `train_steps / steps` from zero, plus `steps_offset`.
    Leading,
    /// Multiples counted down from the last training step.
    Trailing,
    /// Evenly spread between 0 and the last training step.
    Linspace,
}

/// The resolved settings every scheduler needs.
#[derive(Clone, Debug)]
pub struct Common {
    /// aka `config.num_train_timesteps`.
    pub train_steps: usize,
    /// aka `config.prediction_type`.
    pub prediction: Prediction,
    /// aka `config.timestep_spacing`.
    pub spacing: Spacing,
    /// aka `config.steps_offset`.
    pub steps_offset: i64,
    /// Cumulative products of (1 − beta), float32 as diffusers keeps them.
    pub alphas_cumprod: Vec<f32>,
}

/// Defaults that differ between scheduler classes.
pub struct Defaults {
    /// Default `beta_start`.
    pub beta_start: f64,
    /// Default `beta_end`.
    pub beta_end: f64,
    /// Default `beta_schedule`.
    pub beta_schedule: &'static str,
    /// Default `timestep_spacing`.
    pub spacing: &'static str,
}

/// DDIM's, PNDM's and DPM-Solver's defaults.
pub const LINEAR_LEADING: Defaults = Defaults {
    beta_start: 0.0001,
    beta_end: 0.02,
    beta_schedule: "linear",
    spacing: "leading",
};

impl Common {
    /// Resolves the shared settings of `config` on top of a class's defaults.
    pub fn new(config: &SchedulerConfig, defaults: &Defaults) -> Result<Self, SchedulerError> {
        let train_steps = config.num_train_timesteps.unwrap_or(1000);
        let prediction = match config.prediction_type.as_deref().unwrap_or("epsilon") {
            "epsilon" => Prediction::Epsilon,
            "v_prediction" => Prediction::VPrediction,
            "sample" => Prediction::Sample,
            other => {
                return Err(SchedulerError::unsupported(
                    "prediction_type",
                    other,
                    "epsilon, v_prediction, sample",
                ));
            }
        };
        let spacing = match config
            .timestep_spacing
            .as_deref()
            .unwrap_or(defaults.spacing)
        {
            "leading" => Spacing::Leading,
            "trailing" => Spacing::Trailing,
            "linspace" => Spacing::Linspace,
            other => {
                return Err(SchedulerError::unsupported(
                    "timestep_spacing",
                    other,
                    "leading, trailing, linspace",
                ));
            }
        };
        if config.thresholding == Some(true) {
            return Err(SchedulerError::unsupported(
                "thresholding",
                "true",
                "false (dynamic thresholding is for pixel-space models)",
            ));
        }
        let mut betas = match &config.trained_betas {
            Some(betas) if betas.len() == train_steps => {
                betas.iter().map(|&beta| beta as f32).collect()
            }
            Some(betas) => {
                return Err(SchedulerError::Invalid {
                    reason: format!(
                        "trained_betas has {} values but num_train_timesteps is {train_steps}",
                        betas.len()
                    ),
                });
            }
            None => {
                let start = config.beta_start.unwrap_or(defaults.beta_start);
                let end = config.beta_end.unwrap_or(defaults.beta_end);
                match config
                    .beta_schedule
                    .as_deref()
                    .unwrap_or(defaults.beta_schedule)
                {
                    "linear" => torch_linspace_f32(start as f32, end as f32, train_steps),
                    "scaled_linear" => {
                        torch_linspace_f32(start.sqrt() as f32, end.sqrt() as f32, train_steps)
                            .into_iter()
                            .map(|root| root * root)
                            .collect()
                    }
                    "squaredcos_cap_v2" => cosine_betas(train_steps),
                    other => {
                        return Err(SchedulerError::unsupported(
                            "beta_schedule",
                            other,
                            "linear, scaled_linear, squaredcos_cap_v2",
                        ));
                    }
                }
            }
        };
        let rescale = config.rescale_betas_zero_snr == Some(true);
        if rescale {
            betas = rescale_zero_terminal_snr(&betas);
        }
        let mut alphas_cumprod = cumulative_product(&betas);
        if rescale && let Some(last) = alphas_cumprod.last_mut() {
            // As diffusers does, so the last sigma stays finite.
            *last = 2.0_f32.powi(-24);
        }
        Ok(Self {
            train_steps,
            prediction,
            spacing,
            steps_offset: config.steps_offset.unwrap_or(0),
            alphas_cumprod,
        })
    }

    /// ᾱ used after the last training step (aka `final_alpha_cumprod`): 1 with
    /// `set_alpha_to_one`, else ᾱ at the first training step.
    pub fn final_alpha(&self, set_alpha_to_one: bool) -> f32 {
        if set_alpha_to_one {
            1.0
        } else {
            self.alphas_cumprod[0]
        }
    }

    /// `alphas_cumprod[timestep]`, or `final_alpha` before the first training step.
    pub fn alpha_at(&self, timestep: i64, final_alpha: f32) -> f32 {
        if timestep >= 0 {
            self.alphas_cumprod[(timestep as usize).min(self.train_steps - 1)]
        } else {
            final_alpha
        }
    }

    /// The integer timesteps of DDIM, PNDM and LCM-style schedulers, highest first, as
    /// `set_timesteps` computes them with numpy.
    pub fn integer_timesteps(&self, steps: usize) -> Vec<i64> {
        let train = self.train_steps;
        match self.spacing {
            Spacing::Linspace => numpy_linspace(0.0, (train - 1) as f64, steps)
                .into_iter()
                .rev()
                .map(|value| value.round_ties_even() as i64)
                .collect(),
            Spacing::Leading => {
                let ratio = (train / steps) as i64;
                (0..steps as i64)
                    .rev()
                    .map(|index| index * ratio + self.steps_offset)
                    .collect()
            }
            Spacing::Trailing => numpy_arange_down(train as f64, 0.0, train as f64 / steps as f64)
                .into_iter()
                .map(|value| value.round_ties_even() as i64 - 1)
                .collect(),
        }
    }

    /// The float timesteps of the Euler schedulers (float32, as diffusers keeps them).
    pub fn float_timesteps(&self, steps: usize) -> Vec<f32> {
        let train = self.train_steps;
        match self.spacing {
            Spacing::Linspace => {
                // np.linspace(..., dtype=np.float32): computed in float64, rounded once.
                numpy_linspace(0.0, (train - 1) as f64, steps)
                    .into_iter()
                    .rev()
                    .map(|value| value as f32)
                    .collect()
            }
            Spacing::Leading => {
                let ratio = (train / steps) as i64;
                (0..steps as i64)
                    .rev()
                    .map(|index| (index * ratio) as f32 + self.steps_offset as f32)
                    .collect()
            }
            Spacing::Trailing => numpy_arange_down(train as f64, 0.0, train as f64 / steps as f64)
                .into_iter()
                .map(|value| value.round_ties_even() as f32 - 1.0)
                .collect(),
        }
    }

    /// sigma(t) = sqrt((1 − ᾱ) / ᾱ) for every training step, float32 as torch computes it.
    pub fn training_sigmas(&self) -> Vec<f32> {
        self.alphas_cumprod
            .iter()
            .map(|&alpha| ((1.0 - alpha) / alpha).sqrt())
            .collect()
    }
}

/// `torch.linspace(start, end, steps, dtype=torch.float32)` on the CPU, bit for bit: float32
/// arithmetic with fused multiply-adds, counted from the start for the first half and from the
/// end for the second.
pub fn torch_linspace_f32(start: f32, end: f32, steps: usize) -> Vec<f32> {
    if steps == 1 {
        return vec![start];
    }
    let step = (end - start) / (steps - 1) as f32;
    let halfway = steps / 2;
    (0..steps)
        .map(|index| {
            if index < halfway {
                step.mul_add(index as f32, start)
            } else {
                (-step).mul_add((steps - index - 1) as f32, end)
            }
        })
        .collect()
}

/// `torch.cumprod` of (1 − beta) in float32, which torch accumulates in float64.
pub fn cumulative_product(betas: &[f32]) -> Vec<f32> {
    let mut accumulator = 1.0_f64;
    betas
        .iter()
        .map(|&beta| {
            accumulator *= f64::from(1.0 - beta);
            accumulator as f32
        })
        .collect()
}

/// diffusers' `betas_for_alpha_bar` with the cosine transform (`squaredcos_cap_v2`).
fn cosine_betas(steps: usize) -> Vec<f32> {
    let alpha_bar = |t: f64| {
        ((t + 0.008) / 1.008 * std::f64::consts::PI / 2.0)
            .cos()
            .powi(2)
    };
    (0..steps)
        .map(|index| {
            let t1 = index as f64 / steps as f64;
            let t2 = (index + 1) as f64 / steps as f64;
            (1.0 - alpha_bar(t2) / alpha_bar(t1)).min(0.999) as f32
        })
        .collect()
}

/// diffusers' `rescale_zero_terminal_snr`, in float32.
fn rescale_zero_terminal_snr(betas: &[f32]) -> Vec<f32> {
    let cumprod = cumulative_product(betas);
    let mut roots: Vec<f32> = cumprod.iter().map(|value| value.sqrt()).collect();
    let first = roots[0];
    let last = roots[roots.len() - 1];
    let scale = first / (first - last);
    for root in &mut roots {
        *root -= last;
        *root *= scale;
    }
    let bars: Vec<f32> = roots.iter().map(|root| root * root).collect();
    let mut alphas = Vec::with_capacity(bars.len());
    alphas.push(bars[0]);
    for window in bars.windows(2) {
        alphas.push(window[1] / window[0]);
    }
    alphas.into_iter().map(|alpha| 1.0 - alpha).collect()
}

/// `np.linspace(start, stop, num)` in float64: `start + index·step`, the last value exactly
/// `stop`.
pub fn numpy_linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    match num {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let step = (stop - start) / (num - 1) as f64;
            let mut values: Vec<f64> = (0..num).map(|index| index as f64 * step + start).collect();
            values[num - 1] = stop;
            values
        }
    }
}

/// `np.arange(start, stop, -step)` for a positive `step`, counting down.
fn numpy_arange_down(start: f64, stop: f64, step: f64) -> Vec<f64> {
    let count = ((start - stop) / step).ceil().max(0.0) as usize;
    (0..count)
        .map(|index| start + index as f64 * -step)
        .collect()
}

/// `np.interp(x, [0, 1, …, len−1], values)` in float64.
pub fn numpy_interp_index(x: f64, values: &[f32]) -> f64 {
    let last = values.len() - 1;
    if x <= 0.0 {
        return f64::from(values[0]);
    }
    if x >= last as f64 {
        return f64::from(values[last]);
    }
    let low = x.floor() as usize;
    if low as f64 == x {
        return f64::from(values[low]);
    }
    let (y0, y1) = (f64::from(values[low]), f64::from(values[low + 1]));
    let slope = y1 - y0;
    slope * (x - low as f64) + y0
}

/// diffusers' `_sigma_to_t`: the (fractional) training timestep of a sigma, by linear
/// interpolation in log-sigma.
pub fn sigma_to_t(sigma: f64, log_sigmas: &[f32]) -> f64 {
    let log_sigma = sigma.max(1e-10).ln();
    // The last index whose log-sigma is at most log_sigma, clipped to leave a right neighbour.
    let count = log_sigmas
        .iter()
        .filter(|&&value| log_sigma - f64::from(value) >= 0.0)
        .count();
    // argmax of the cumulative sum finds the first index where the count peaks.
    let mut running = 0;
    let mut low_index = 0;
    for (index, &value) in log_sigmas.iter().enumerate() {
        if log_sigma - f64::from(value) >= 0.0 {
            running += 1;
        }
        if running == count {
            low_index = index;
            break;
        }
    }
    let low_index = low_index.min(log_sigmas.len() - 2);
    let low = f64::from(log_sigmas[low_index]);
    let high = f64::from(log_sigmas[low_index + 1]);
    let w = ((low - log_sigma) / (low - high)).clamp(0.0, 1.0);
    (1.0 - w) * low_index as f64 + w * (low_index + 1) as f64
}

/// Karras et al. sigmas, as diffusers' `_convert_to_karras` computes them in float64.
pub fn karras_sigmas(sigma_min: f64, sigma_max: f64, steps: usize) -> Vec<f64> {
    let rho = 7.0;
    let min_inv_rho = sigma_min.powf(1.0 / rho);
    let max_inv_rho = sigma_max.powf(1.0 / rho);
    numpy_linspace(0.0, 1.0, steps)
        .into_iter()
        .map(|ramp| (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)).powf(rho))
        .collect()
}

/// Guided noise prediction, as the pipelines compute it in float32:
/// `uncond + guidance · (text − uncond)`.
pub fn apply_guidance(uncond: &[f32], text: &[f32], guidance: f32) -> Vec<f32> {
    uncond
        .iter()
        .zip(text)
        .map(|(&u, &t)| u + guidance * (t - u))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_ends_exactly() {
        let values = torch_linspace_f32(0.1, 0.9, 7);
        assert_eq!(values[0], 0.1);
        assert_eq!(values[6], 0.9);
        assert_eq!(
            numpy_linspace(0.0, 999.0, 5),
            [0.0, 249.75, 499.5, 749.25, 999.0]
        );
    }

    #[test]
    fn interp_hits_the_table_at_integers() {
        let table = [1.0_f32, 3.0, 7.0];
        assert_eq!(numpy_interp_index(1.0, &table), 3.0);
        assert_eq!(numpy_interp_index(1.5, &table), 5.0);
        assert_eq!(numpy_interp_index(5.0, &table), 7.0);
    }
}
