//! The optimized-graph cache: the first load stores ONNX Runtime's optimized graphs, the next
//! loads use them, the results do not change, and a damaged entry is discarded and rebuilt —
//! never loaded.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pentimento_inference::pipeline::CacheUse;
use pentimento_inference::{
    CancelToken, Component, GenerationRequest, LoadOptions, LocateOptions, OnnxRuntime, Outcome,
    SchedulerKind, StableDiffusion,
};

fn model_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/models/tiny-sd")
}

fn load(cache: &Path) -> StableDiffusion {
    let runtime: Arc<OnnxRuntime> =
        OnnxRuntime::initialize(&LocateOptions::default()).unwrap_or_else(|err| panic!("{err}"));
    StableDiffusion::load(
        runtime,
        &model_dir(),
        LoadOptions {
            intra_threads: Some(1),
            optimized_cache: Some(cache.to_path_buf()),
            ..LoadOptions::default()
        },
    )
    .unwrap_or_else(|err| panic!("{err}"))
}

fn uses(model: &StableDiffusion) -> Vec<(Component, CacheUse)> {
    model.cache_uses().to_vec()
}

fn latents(model: &mut StableDiffusion) -> Vec<f32> {
    let request = GenerationRequest {
        prompt: "a red apple".to_owned(),
        width: 64,
        height: 64,
        steps: 4,
        scheduler: SchedulerKind::DpmPlusPlus2M,
        seed: 3,
        ..GenerationRequest::text_to_image("")
    };
    match model
        .generate(
            &request,
            &mut |_| ControlFlow::Continue(()),
            &CancelToken::new(),
        )
        .expect("generates")
    {
        Outcome::Finished(variations) => variations[0].latents.clone(),
        Outcome::Cancelled { .. } => panic!("cancelled"),
    }
}

#[test]
fn stores_then_hits_with_identical_results() {
    let cache = tempfile::tempdir().expect("temporary folder");
    let mut first = load(cache.path());
    assert!(
        uses(&first)
            .iter()
            .all(|(_, used)| *used == CacheUse::Stored),
        "{:?}",
        uses(&first)
    );
    let expected = latents(&mut first);
    drop(first);

    let mut second = load(cache.path());
    assert!(
        uses(&second).iter().all(|(_, used)| *used == CacheUse::Hit),
        "{:?}",
        uses(&second)
    );
    assert_eq!(latents(&mut second), expected);

    // Without the cache the result is the same as well.
    let runtime =
        OnnxRuntime::initialize(&LocateOptions::default()).unwrap_or_else(|err| panic!("{err}"));
    let mut uncached = StableDiffusion::load(
        runtime,
        &model_dir(),
        LoadOptions {
            intra_threads: Some(1),
            ..LoadOptions::default()
        },
    )
    .expect("loads");
    assert_eq!(latents(&mut uncached), expected);
}

#[test]
fn a_truncated_entry_is_discarded_and_rebuilt() {
    let cache = tempfile::tempdir().expect("temporary folder");
    drop(load(cache.path()));
    let unet_entry = std::fs::read_dir(cache.path())
        .expect("cache")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("unet-"))
        })
        .expect("a UNet entry");
    let weights = unet_entry.join("model.onnx_data");
    let bytes = std::fs::read(&weights).expect("read");
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).expect("truncate");

    let mut reloaded = load(cache.path());
    let unet_use = uses(&reloaded)
        .into_iter()
        .find(|(component, _)| *component == Component::Unet)
        .map(|(_, used)| used);
    assert_eq!(unet_use, Some(CacheUse::Stored), "rebuilt, not loaded");
    assert_eq!(
        std::fs::metadata(&weights).expect("rebuilt").len(),
        bytes.len() as u64
    );
    latents(&mut reloaded);
}
