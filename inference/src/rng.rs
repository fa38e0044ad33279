//! The seeded random numbers behind every generation.
//!
//! Pentimento draws its Gaussian noise exactly as NumPy's legacy `RandomState` does: the
//! MT19937 generator seeded with `init_genrand(seed)`, uniform doubles from two 32-bit draws, and
//! normal deviates from the Marsaglia polar method, cached in pairs. diffusers' ONNX pipelines
//! draw their initial latents with `np.random.RandomState(seed).randn(...)`, so a seed here gives
//! the same starting noise — and, with a deterministic scheduler, the same image — as a seed there.
//! The values are drawn as `f64` and rounded to `f32`, like `randn(...).astype(np.float32)`.

/// A source of standard-normal noise for schedulers that inject noise inside a step (Euler
/// ancestral, DDIM with eta > 0, LCM).
pub trait NoiseSource {
    /// Fills `out` with independent standard-normal values.
    fn fill_standard_normal(&mut self, out: &mut [f32]);
}

const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// NumPy's legacy `RandomState`: MT19937 with the polar Gaussian method.
#[derive(Clone, derive_more::Debug)]
pub struct NumpyRandom {
    #[debug(skip)]
    state: [u32; N],
    index: usize,
    #[debug(skip)]
    cached_gauss: Option<f64>,
}

impl NumpyRandom {
    /// The generator `np.random.RandomState(seed)` creates.
    pub fn new(seed: u32) -> Self {
        let mut state = [0_u32; N];
        state[0] = seed;
        for i in 1..N {
            state[i] = 1_812_433_253_u32
                .wrapping_mul(state[i - 1] ^ (state[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        Self {
            state,
            index: N,
            cached_gauss: None,
        }
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.generate();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    fn generate(&mut self) {
        let twist = |upper: u32, lower: u32, far: u32| {
            let y = (upper & UPPER_MASK) | (lower & LOWER_MASK);
            far ^ (y >> 1) ^ if y & 1 == 1 { MATRIX_A } else { 0 }
        };
        for k in 0..N - M {
            self.state[k] = twist(self.state[k], self.state[k + 1], self.state[k + M]);
        }
        for k in N - M..N - 1 {
            self.state[k] = twist(self.state[k], self.state[k + 1], self.state[k + M - N]);
        }
        self.state[N - 1] = twist(self.state[N - 1], self.state[0], self.state[M - 1]);
        self.index = 0;
    }

    /// A uniform double in [0, 1) with 53 random bits (`random_sample`).
    pub fn next_f64(&mut self) -> f64 {
        let a = f64::from(self.next_u32() >> 5);
        let b = f64::from(self.next_u32() >> 6);
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// A standard-normal double (`standard_normal` / `randn`).
    pub fn next_gaussian(&mut self) -> f64 {
        if let Some(cached) = self.cached_gauss.take() {
            return cached;
        }
        loop {
            let x1 = 2.0 * self.next_f64() - 1.0;
            let x2 = 2.0 * self.next_f64() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                let f = (-2.0 * r2.ln() / r2).sqrt();
                self.cached_gauss = Some(f * x1);
                return f * x2;
            }
        }
    }
}

impl NoiseSource for NumpyRandom {
    fn fill_standard_normal(&mut self, out: &mut [f32]) {
        for value in out {
            *value = self.next_gaussian() as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_mt19937_outputs() {
        // The first outputs of init_genrand(5489), the reference implementation's default seed.
        let mut rng = NumpyRandom::new(5489);
        let first: Vec<u32> = (0..3).map(|_| rng.next_u32()).collect();
        assert_eq!(first, [3_499_211_612, 581_869_302, 3_890_346_734]);
    }

    #[test]
    fn uniform_values_stay_in_range() {
        let mut rng = NumpyRandom::new(7);
        for _ in 0..10_000 {
            let value = rng.next_f64();
            assert!((0.0..1.0).contains(&value));
        }
    }
}
