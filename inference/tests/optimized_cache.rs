//! The optimized-graph cache: the first load writes nothing and leaves the entries to
//! `CacheWork`, which stores ONNX Runtime's optimized graphs; the next loads use them, the results
//! do not change, and a damaged entry is discarded and rebuilt — never loaded.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pentimento_inference::pipeline::{CacheUse, CacheWrite};
use pentimento_inference::{
    CancelToken, Component, GenerationRequest, LoadOptions, LocateOptions, OnnxRuntime,
    SchedulerKind, StableDiffusion,
};

fn model_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/models/tiny-sd")
}

fn load(cache: &Path) -> StableDiffusion {
    load_with(cache, CacheWrite::Deferred)
}

fn load_with(cache: &Path, cache_write: CacheWrite) -> StableDiffusion {
    let runtime: Arc<OnnxRuntime> =
        OnnxRuntime::initialize(&LocateOptions::default()).unwrap_or_else(|err| panic!("{err}"));
    StableDiffusion::load(
        runtime,
        &model_dir(),
        LoadOptions {
            intra_threads: Some(1),
            optimized_cache: Some(cache.to_path_buf()),
            cache_write,
            ..LoadOptions::default()
        },
    )
    .unwrap_or_else(|err| panic!("{err}"))
}

fn uses(model: &StableDiffusion) -> Vec<(Component, CacheUse)> {
    model.cache_uses().to_vec()
}

/// Every component's session was created with the cache used as `expected`.
fn assert_every_use(model: &StableDiffusion, expected: &CacheUse) {
    assert!(
        uses(model).iter().all(|(_, used)| used == expected),
        "{:?}",
        uses(model)
    );
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
    common::first_latents(model, &request)
}

#[test]
fn stores_then_hits_with_identical_results() {
    let cache = tempfile::tempdir().expect("temporary folder");
    let mut first = load(cache.path());
    assert_every_use(&first, &CacheUse::Deferred);
    assert_eq!(
        std::fs::read_dir(cache.path()).map_or(0, |entries| entries.count()),
        0,
        "the load wrote nothing"
    );
    let expected = latents(&mut first);
    let work = first.take_cache_work().expect("entries to write");
    assert_eq!(
        work.components(),
        [
            Component::Unet,
            Component::TextEncoder,
            Component::VaeDecoder
        ]
    );
    assert!(first.take_cache_work().is_none(), "handed out once");
    let written = work.run(&CancelToken::new());
    assert!(
        written.iter().all(|(_, used)| *used == CacheUse::Stored),
        "{written:?}"
    );
    // The model in use is unaffected by the write.
    assert_eq!(latents(&mut first), expected);
    drop(first);

    let mut second = load(cache.path());
    assert_every_use(&second, &CacheUse::Hit);
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
    drop(load_with(cache.path(), CacheWrite::DuringLoad));
    let unet_entry = common::listing::starting_with(cache.path(), "unet-")
        .into_iter()
        .next()
        .expect("a UNet entry");
    let weights = unet_entry.join("model.onnx_data");
    let bytes = std::fs::read(&weights).expect("read");
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).expect("truncate");

    let mut reloaded = load(cache.path());
    let unet_use = uses(&reloaded)
        .into_iter()
        .find(|(component, _)| *component == Component::Unet)
        .map(|(_, used)| used);
    assert_eq!(unet_use, Some(CacheUse::Deferred), "rebuilt, not loaded");
    let written = reloaded
        .take_cache_work()
        .expect("the UNet to write")
        .run(&CancelToken::new());
    assert_eq!(written, [(Component::Unet, CacheUse::Stored)]);
    assert_eq!(
        std::fs::metadata(&weights).expect("rebuilt").len(),
        bytes.len() as u64
    );
    latents(&mut reloaded);
}

#[test]
fn a_cancelled_write_stops_before_the_next_component_and_leaves_no_entry_behind() {
    let cache = tempfile::tempdir().expect("temporary folder");
    let mut model = load(cache.path());
    let work = model.take_cache_work().expect("entries to write");
    let cancel = CancelToken::new();
    cancel.cancel();
    assert!(work.run(&cancel).is_empty());
    assert_eq!(
        std::fs::read_dir(cache.path()).map_or(0, |entries| entries.count()),
        0
    );
    // Not handed out again: the next load writes them.
    assert!(model.take_cache_work().is_none());
    let again = load(cache.path());
    assert_every_use(&again, &CacheUse::Deferred);
}

#[test]
fn writing_during_the_load_stores_at_once() {
    let cache = tempfile::tempdir().expect("temporary folder");
    let mut model = load_with(cache.path(), CacheWrite::DuringLoad);
    assert_every_use(&model, &CacheUse::Stored);
    assert!(model.take_cache_work().is_none());
    latents(&mut model);
}
