//! DPM-Solver++ (2M), as diffusers' `DPMSolverMultistepScheduler` with
//! `algorithm_type="dpmsolver++"` and `solver_order=2`, optionally with Karras sigmas.

use crate::rng::NoiseSource;
use crate::scheduler::common::{
    Common, LINEAR_LEADING, Spacing, karras_sigmas, numpy_interp_index, numpy_linspace, sigma_to_t,
};
use crate::scheduler::{Scheduler, SchedulerConfig, SchedulerError, Step};

/// Which second-order update (aka `config.solver_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SolverType {
    Midpoint,
    Heun,
}

/// DPM-Solver++ multistep, second order.
#[derive(Clone, Debug)]
pub struct DpmSolver {
    common: Common,
    solver_type: SolverType,
    /// aka `config.lower_order_final`.
    lower_order_final: bool,
    /// aka `config.euler_at_final`.
    euler_at_final: bool,
    final_sigma_zero: bool,
    timesteps: Vec<f32>,
    sigmas: Vec<f32>,
    /// The data predictions of the last two steps, oldest first.
    model_outputs: [Option<Vec<f32>>; 2],
    lower_order_count: usize,
}

impl DpmSolver {
    /// DPM-Solver++ 2M for `steps` inference steps; `karras` spaces the sigmas as Karras et al.
    pub fn new(
        config: &SchedulerConfig,
        steps: usize,
        karras: bool,
    ) -> Result<Self, SchedulerError> {
        let common = Common::new(config, &LINEAR_LEADING)?;
        let solver_type = match config.solver_type.as_deref().unwrap_or("midpoint") {
            // diffusers maps the DEIS/UniPC names onto midpoint.
            "midpoint" | "logrho" | "bh1" | "bh2" => SolverType::Midpoint,
            "heun" => SolverType::Heun,
            other => {
                return Err(SchedulerError::Unsupported {
                    key: "solver_type",
                    value: other.to_owned(),
                    supported: "midpoint, heun",
                });
            }
        };
        let final_sigma_zero = match config.final_sigmas_type.as_deref().unwrap_or("zero") {
            "zero" => true,
            "sigma_min" => false,
            other => {
                return Err(SchedulerError::Unsupported {
                    key: "final_sigmas_type",
                    value: other.to_owned(),
                    supported: "zero, sigma_min",
                });
            }
        };
        let training_sigmas = common.training_sigmas();
        let train = common.train_steps;

        // lambda_min_clipped trims the high-noise end of the schedule.
        let clip = config.lambda_min_clipped();
        let lambdas: Vec<f32> = common
            .alphas_cumprod
            .iter()
            .map(|&alpha| alpha.sqrt().ln() - (1.0 - alpha).sqrt().ln())
            .collect();
        let clipped = lambdas
            .iter()
            .rev()
            .position(|&lambda| f64::from(lambda) >= clip)
            .unwrap_or(lambdas.len());
        let last_timestep = train - clipped;

        let mut timesteps: Vec<f64> = match common.spacing {
            Spacing::Linspace => {
                let mut values: Vec<f64> =
                    numpy_linspace(0.0, (last_timestep - 1) as f64, steps + 1)
                        .into_iter()
                        .map(f64::round_ties_even)
                        .collect();
                values.reverse();
                values.pop();
                values
            }
            Spacing::Leading => {
                let ratio = (last_timestep / (steps + 1)) as i64;
                (1..=steps as i64)
                    .rev()
                    .map(|index| (index * ratio + common.steps_offset) as f64)
                    .collect()
            }
            Spacing::Trailing => {
                let ratio = train as f64 / steps as f64;
                let count = (last_timestep as f64 / ratio).ceil() as usize;
                (0..count)
                    .map(|index| {
                        (last_timestep as f64 - index as f64 * ratio).round_ties_even() - 1.0
                    })
                    .collect()
            }
        };
        let mut sigmas: Vec<f64> = if karras {
            let log_sigmas: Vec<f32> = training_sigmas.iter().map(|sigma| sigma.ln()).collect();
            let sigma_min = config.sigma_min.unwrap_or(f64::from(training_sigmas[0]));
            let sigma_max = config
                .sigma_max
                .unwrap_or(f64::from(training_sigmas[training_sigmas.len() - 1]));
            let sigmas = karras_sigmas(sigma_min, sigma_max, steps);
            let round = config.beta_schedule.as_deref() != Some("squaredcos_cap_v2");
            timesteps = sigmas
                .iter()
                .map(|&sigma| {
                    let t = sigma_to_t(sigma, &log_sigmas);
                    if round { t.round_ties_even() } else { t }
                })
                .collect();
            sigmas
        } else {
            timesteps
                .iter()
                .map(|&t| numpy_interp_index(t, &training_sigmas))
                .collect()
        };
        let last = if final_sigma_zero {
            0.0
        } else {
            let alpha = common.alphas_cumprod[0];
            f64::from(((1.0 - alpha) / alpha).sqrt())
        };
        sigmas.push(last);
        Ok(Self {
            solver_type,
            lower_order_final: config.lower_order_final.unwrap_or(true),
            euler_at_final: config.euler_at_final.unwrap_or(false),
            final_sigma_zero,
            // diffusers stores these as int64; the UNet sees them as floats.
            timesteps: timesteps.iter().map(|&t| t.trunc() as f32).collect(),
            sigmas: sigmas.into_iter().map(|sigma| sigma as f32).collect(),
            model_outputs: [None, None],
            lower_order_count: 0,
            common,
        })
    }

    /// (alpha_t, sigma_t) of a sigma: 1/sqrt(sigma² + 1) and sigma·alpha_t.
    fn alpha_sigma(sigma: f32) -> (f32, f32) {
        let alpha = 1.0 / (sigma * sigma + 1.0).sqrt();
        (alpha, sigma * alpha)
    }

    fn lambda(sigma: f32) -> (f32, f32, f32) {
        let (alpha, sigma) = Self::alpha_sigma(sigma);
        (alpha, sigma, alpha.ln() - sigma.ln())
    }

    fn first_order(&self, index: usize, data: &[f32], sample: &[f32]) -> Vec<f32> {
        let (alpha_t, sigma_t, lambda_t) = Self::lambda(self.sigmas[index + 1]);
        let (_, sigma_s, lambda_s) = Self::lambda(self.sigmas[index]);
        let h = lambda_t - lambda_s;
        let ratio = sigma_t / sigma_s;
        let coefficient = alpha_t * ((-h).exp() - 1.0);
        sample
            .iter()
            .zip(data)
            .map(|(&x, &d)| ratio * x - coefficient * d)
            .collect()
    }

    fn second_order(&self, index: usize, sample: &[f32]) -> Vec<f32> {
        let (Some(m1), Some(m0)) = (&self.model_outputs[0], &self.model_outputs[1]) else {
            return Vec::new();
        };
        let (alpha_t, sigma_t, lambda_t) = Self::lambda(self.sigmas[index + 1]);
        let (_, sigma_s0, lambda_s0) = Self::lambda(self.sigmas[index]);
        let (_, _, lambda_s1) = Self::lambda(self.sigmas[index - 1]);
        let h = lambda_t - lambda_s0;
        let h_0 = lambda_s0 - lambda_s1;
        let r0 = h_0 / h;
        let inverse_r0 = 1.0 / r0;
        let ratio = sigma_t / sigma_s0;
        let exp_term = (-h).exp() - 1.0;
        let coefficient = alpha_t * exp_term;
        match self.solver_type {
            SolverType::Midpoint => {
                let half = 0.5 * (alpha_t * exp_term);
                sample
                    .iter()
                    .zip(m0.iter().zip(m1))
                    .map(|(&x, (&d0, &d_prev))| {
                        let d1 = inverse_r0 * (d0 - d_prev);
                        ratio * x - coefficient * d0 - half * d1
                    })
                    .collect()
            }
            SolverType::Heun => {
                let heun = alpha_t * (exp_term / h + 1.0);
                sample
                    .iter()
                    .zip(m0.iter().zip(m1))
                    .map(|(&x, (&d0, &d_prev))| {
                        let d1 = inverse_r0 * (d0 - d_prev);
                        ratio * x - coefficient * d0 + heun * d1
                    })
                    .collect()
            }
        }
    }
}

impl Scheduler for DpmSolver {
    fn timesteps(&self) -> &[f32] {
        &self.timesteps
    }

    fn step(&mut self, step: Step<'_>, _noise: &mut dyn NoiseSource) -> Vec<f32> {
        let (index, sample, model_output) = (step.index, step.sample, step.model_output);
        let count = self.timesteps.len();
        let short = count < 15;
        let lower_order_final = index == count - 1
            && (self.euler_at_final || (self.lower_order_final && short) || self.final_sigma_zero);

        // Convert the prediction to a prediction of the clean sample (data prediction).
        let (alpha_t, sigma_t) = Self::alpha_sigma(self.sigmas[index]);
        let data = (self.common.prediction).original(alpha_t, sigma_t, model_output, sample);
        self.model_outputs[0] = self.model_outputs[1].take();
        self.model_outputs[1] = Some(data);

        // Second order needs the previous step's prediction; the first step and (in short
        // schedules) the last use first order.
        let first_order =
            self.lower_order_count < 1 || lower_order_final || self.model_outputs[0].is_none();
        let result = match (&self.model_outputs[1], first_order) {
            (Some(data), true) => self.first_order(index, data, sample),
            _ => self.second_order(index, sample),
        };
        if self.lower_order_count < 2 {
            self.lower_order_count += 1;
        }
        result
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], index: usize) -> Vec<f32> {
        let (alpha, sigma) = Self::alpha_sigma(self.sigmas[index]);
        original
            .iter()
            .zip(noise)
            .map(|(&x, &n)| alpha * x + sigma * n)
            .collect()
    }
}
