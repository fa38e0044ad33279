//! The model manager's quick capability reading (graphs only, no ONNX Runtime) agrees with what
//! ONNX Runtime's sessions say about every fixture model.

mod common;

use common::{fixtures, runtime};
use pentimento_inference::model::ElementType;
use pentimento_inference::model::capabilities::{Family, Inpainting, Precision};
use pentimento_inference::{Capabilities, ModelFolder, ModelReport};

#[test]
fn capabilities_from_the_graphs_match_the_sessions() {
    for (name, inpainting_unet, precision) in [
        ("tiny-sd", false, Precision::Fp32),
        ("tiny-sd-inpaint", true, Precision::Fp32),
        ("tiny-sd-optimum", false, Precision::Fp32),
        ("tiny-sd-inpaint-optimum", true, Precision::Fp32),
        ("tiny-sd-inpaint-fp16", true, Precision::Fp16),
    ] {
        let folder = ModelFolder::open(&fixtures().join("models").join(name)).expect("opens");
        let quick = Capabilities::inspect(&folder).expect("capabilities");
        let report = ModelReport::inspect(&runtime(), folder.clone()).expect("report");
        assert_eq!(
            quick.inpainting == Inpainting::InpaintingUnet,
            inpainting_unet,
            "{name}: {quick:?}"
        );
        assert_eq!(
            quick.inpainting == Inpainting::InpaintingUnet,
            report.conventions.is_inpainting_unet(),
            "{name}"
        );
        assert!(
            quick.image_to_image,
            "{name}: the fixtures have a VAE encoder"
        );
        assert_eq!(quick.precision, precision, "{name}");
        assert_eq!(
            report.conventions.latent_element == ElementType::Float16,
            precision == Precision::Fp16,
            "{name}: the sessions agree on the precision"
        );
        assert_eq!(
            quick.family,
            Family::Other(Some(32)),
            "{name}: tiny models are 32 wide"
        );
        assert_eq!(
            quick.family,
            Family::Other(report.conventions.text_embedding_width.map(|w| w as i64)),
            "{name}"
        );
        assert_eq!(quick.size_bytes, folder.size_bytes());
        let summary = quick.summary();
        assert!(
            summary.contains("text to image, image to image"),
            "{summary}"
        );
        assert!(
            summary.contains(if inpainting_unet {
                "inpainting UNet"
            } else {
                "inpainting by latent blending"
            }),
            "{summary}"
        );
        let precision_word = if precision == Precision::Fp16 {
            " · fp16 · "
        } else {
            " · fp32 · "
        };
        assert!(summary.contains(precision_word), "{summary}");
    }
}
