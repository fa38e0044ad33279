//! PNDM (Liu et al. 2022), as diffusers' `PNDMScheduler`: Runge-Kutta warm-up steps unless
//! `skip_prk_steps`, then linear multistep (PLMS). Stable Diffusion 1.x's default.

use crate::rng::NoiseSource;
use crate::scheduler::common::{Common, LINEAR_LEADING, Prediction};
use crate::scheduler::ddim::add_noise_alpha;
use crate::scheduler::{Scheduler, SchedulerConfig, SchedulerError, Step};

/// Pseudo numerical methods for diffusion models.
#[derive(Clone, Debug)]
pub struct Pndm {
    common: Common,
    final_alpha: f32,
    /// Number of Runge-Kutta timesteps at the start of `integer_timesteps`.
    prk_count: usize,
    integer_timesteps: Vec<i64>,
    timesteps: Vec<f32>,
    step_gap: i64,
    skip_prk_steps: bool,
    counter: usize,
    /// Past model outputs (aka `ets`).
    history: Vec<Vec<f32>>,
    current_sample: Option<Vec<f32>>,
    current_model_output: Option<Vec<f32>>,
}

impl Pndm {
    /// PNDM for `steps` inference steps.
    pub fn new(config: &SchedulerConfig, steps: usize) -> Result<Self, SchedulerError> {
        let common = Common::new(config, &LINEAR_LEADING)?;
        let final_alpha = common.final_alpha(config.set_alpha_to_one.unwrap_or(false));
        let skip_prk_steps = config.skip_prk_steps.unwrap_or(false);
        // diffusers keeps these ascending (`_timesteps`).
        let mut ascending = common.integer_timesteps(steps);
        ascending.reverse();
        let step_gap = (common.train_steps / steps) as i64;
        let (prk, plms): (Vec<i64>, Vec<i64>) = if skip_prk_steps {
            let n = ascending.len();
            let mut plms: Vec<i64> = ascending[..n.saturating_sub(1)].to_vec();
            if n >= 2 {
                plms.push(ascending[n - 2]);
            }
            plms.extend(&ascending[n.saturating_sub(1)..]);
            plms.reverse();
            (Vec::new(), plms)
        } else {
            if steps < 4 {
                return Err(SchedulerError::Steps {
                    scheduler: crate::scheduler::SchedulerKind::Pndm,
                    steps,
                    reason: "PNDM with Runge-Kutta warm-up needs at least 4 steps".to_owned(),
                });
            }
            let order = 4;
            let half_gap = step_gap / 2;
            let tail = &ascending[ascending.len() - order..];
            let mut prk: Vec<i64> = Vec::new();
            for &t in tail {
                prk.push(t);
                prk.push(t + half_gap);
            }
            // prk_timesteps[:-1].repeat(2)[1:-1][::-1]
            let trimmed = &prk[..prk.len() - 1];
            let doubled: Vec<i64> = trimmed.iter().flat_map(|&t| [t, t]).collect();
            let mut prk: Vec<i64> = doubled[1..doubled.len() - 1].to_vec();
            prk.reverse();
            let mut plms: Vec<i64> = ascending[..ascending.len() - 3].to_vec();
            plms.reverse();
            (prk, plms)
        };
        let prk_count = prk.len();
        let integer_timesteps: Vec<i64> = prk.into_iter().chain(plms).collect();
        let timesteps = integer_timesteps.iter().map(|&t| t as f32).collect();
        Ok(Self {
            common,
            final_alpha,
            prk_count,
            integer_timesteps,
            timesteps,
            step_gap,
            skip_prk_steps,
            counter: 0,
            history: Vec::new(),
            current_sample: None,
            current_model_output: None,
        })
    }

    fn previous_sample(
        &self,
        sample: &[f32],
        timestep: i64,
        previous: i64,
        model_output: &[f32],
    ) -> Vec<f32> {
        let alpha_t = self.common.alpha_at(timestep, self.final_alpha);
        let alpha_prev = self.common.alpha_at(previous, self.final_alpha);
        let beta_t = 1.0 - alpha_t;
        let beta_prev = 1.0 - alpha_prev;
        let epsilon: Vec<f32> = match self.common.prediction {
            Prediction::VPrediction => {
                let (a, b) = (alpha_t.sqrt(), beta_t.sqrt());
                model_output
                    .iter()
                    .zip(sample)
                    .map(|(&v, &x)| a * v + b * x)
                    .collect()
            }
            _ => model_output.to_vec(),
        };
        let sample_coefficient = (alpha_prev / alpha_t).sqrt();
        let denominator = alpha_t * beta_prev.sqrt() + (alpha_t * beta_t * alpha_prev).sqrt();
        let difference = alpha_prev - alpha_t;
        sample
            .iter()
            .zip(&epsilon)
            .map(|(&x, &e)| sample_coefficient * x - difference * e / denominator)
            .collect()
    }

    fn step_prk(&mut self, step: Step<'_>) -> Vec<f32> {
        let (index, sample, model_output) = (step.index, step.sample, step.model_output);
        let timestep = self.integer_timesteps[index];
        let difference = if self.counter % 2 == 1 {
            0
        } else {
            self.step_gap / 2
        };
        let previous = timestep - difference;
        let timestep = self.integer_timesteps[self.counter / 4 * 4];
        let accumulate = |current: Option<Vec<f32>>, factor: f32| -> Vec<f32> {
            match current {
                Some(mut current) => {
                    for (c, &m) in current.iter_mut().zip(model_output) {
                        *c += factor * m;
                    }
                    current
                }
                None => model_output.iter().map(|&m| factor * m).collect(),
            }
        };
        let mut output = model_output.to_vec();
        match self.counter % 4 {
            0 => {
                self.current_model_output =
                    Some(accumulate(self.current_model_output.take(), 1.0 / 6.0));
                self.history.push(model_output.to_vec());
                self.current_sample = Some(sample.to_vec());
            }
            1 | 2 => {
                self.current_model_output =
                    Some(accumulate(self.current_model_output.take(), 1.0 / 3.0));
            }
            _ => {
                let current = self.current_model_output.take();
                output = match current {
                    Some(current) => current
                        .iter()
                        .zip(model_output)
                        .map(|(&c, &m)| c + 1.0 / 6.0 * m)
                        .collect(),
                    None => model_output.iter().map(|&m| 1.0 / 6.0 * m).collect(),
                };
            }
        }
        let base = self
            .current_sample
            .clone()
            .unwrap_or_else(|| sample.to_vec());
        let result = self.previous_sample(&base, timestep, previous, &output);
        self.counter += 1;
        result
    }

    fn step_plms(&mut self, step: Step<'_>) -> Vec<f32> {
        let (index, sample, model_output) = (step.index, step.sample, step.model_output);
        let mut timestep = self.integer_timesteps[index];
        let mut previous = timestep - self.step_gap;
        if self.counter == 1 {
            previous = timestep;
            timestep += self.step_gap;
        } else {
            if self.history.len() > 3 {
                self.history.drain(..self.history.len() - 3);
            }
            self.history.push(model_output.to_vec());
        }
        let mut sample = sample.to_vec();
        let h = &self.history;
        let n = h.len();
        let combined: Vec<f32> = if n == 1 && self.counter == 0 {
            self.current_sample = Some(sample.clone());
            model_output.to_vec()
        } else if n == 1 && self.counter == 1 {
            if let Some(saved) = self.current_sample.take() {
                sample = saved;
            }
            model_output
                .iter()
                .zip(&h[n - 1])
                .map(|(&m, &e)| (m + e) / 2.0)
                .collect()
        } else if n == 2 {
            (0..model_output.len())
                .map(|i| (3.0 * h[1][i] - h[0][i]) / 2.0)
                .collect()
        } else if n == 3 {
            (0..model_output.len())
                .map(|i| (23.0 * h[2][i] - 16.0 * h[1][i] + 5.0 * h[0][i]) / 12.0)
                .collect()
        } else {
            (0..model_output.len())
                .map(|i| {
                    (1.0 / 24.0)
                        * (55.0 * h[n - 1][i] - 59.0 * h[n - 2][i] + 37.0 * h[n - 3][i]
                            - 9.0 * h[n - 4][i])
                })
                .collect()
        };
        let result = self.previous_sample(&sample, timestep, previous, &combined);
        self.counter += 1;
        result
    }
}

impl Scheduler for Pndm {
    fn timesteps(&self) -> &[f32] {
        &self.timesteps
    }

    fn step(&mut self, step: Step<'_>, _noise: &mut dyn NoiseSource) -> Vec<f32> {
        if self.counter < self.prk_count && !self.skip_prk_steps {
            self.step_prk(step)
        } else {
            self.step_plms(step)
        }
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], index: usize) -> Vec<f32> {
        add_noise_alpha(&self.common, original, noise, self.integer_timesteps[index])
    }
}
