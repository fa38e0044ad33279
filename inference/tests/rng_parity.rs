//! A seed gives the same initial noise as diffusers' ONNX pipelines, which draw it with
//! `np.random.RandomState(seed).randn(...).astype(np.float32)`.

use std::path::PathBuf;

use pentimento_inference::npy;
use pentimento_inference::rng::{NoiseSource as _, NumpyRandom};

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/goldens")
        .join(name)
}

#[test]
fn seed_42_reproduces_the_golden_noise() {
    for name in ["txt2img-ddim", "txt2img-ddim-w96h64", "inpaint-euler"] {
        let expected = npy::read_f32(&golden(name).join("noise.npy")).expect("golden");
        let mut rng = NumpyRandom::new(42);
        let mut noise = vec![0.0_f32; expected.len()];
        rng.fill_standard_normal(&mut noise);
        let expected: Vec<f32> = expected.iter().copied().collect();
        assert_eq!(noise, expected, "{name}: bit-identical noise");
    }
}
