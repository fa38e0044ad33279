//! Generating on real Triton Inference Servers on loopback (PyPI's `tritonserver`, the
//! repositories `serve-repo` writes served through the Python backend with onnxruntime): the
//! same latents as a local generation, failover when a server is killed mid-generation,
//! concurrent artists batched into shared UNet executions, cancellation, and refused tokens
//! and mismatched models explained in sentences.

mod common;

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::triton::{Server, repository_for};
use common::{finished, fixtures, max_difference, runtime};

use pentimento_inference::image::{GrayImage, RgbImage};
use pentimento_inference::remote::{RemoteConfig, RemoteError, ServerState};
use pentimento_inference::{
    CancelToken, GenerationRequest, InferenceError, LoadOptions, Mode, Outcome, SchedulerKind,
    StableDiffusion,
};

/// The bound for remote against local latents. Both sides run the same fp32 graph on
/// this CPU; what differs is the ONNX Runtime build (the app's library and PyPI's) and, when
/// the batcher joins calls, the batch the kernels see.
const LATENT_BOUND: f32 = 1e-4;

fn load(folder: &Path) -> Result<StableDiffusion, InferenceError> {
    StableDiffusion::load(
        runtime(),
        folder,
        LoadOptions {
            intra_threads: Some(1),
            // The servers run the exported graph; so does the local side it is compared with
            // (the fused attention has its own comparison in tests/fused_attention.rs).
            attention: pentimento_inference::pipeline::AttentionGraph::Exported,
            ..LoadOptions::default()
        },
    )
}

fn request(seed: u32, steps: usize) -> GenerationRequest {
    GenerationRequest {
        prompt: "a lighthouse on a cliff at dusk".to_owned(),
        negative_prompt: "blurry".to_owned(),
        width: 64,
        height: 64,
        steps,
        scheduler: SchedulerKind::EulerAncestral,
        seed,
        count: 1,
        ..GenerationRequest::text_to_image("")
    }
}

fn inpaint_request() -> GenerationRequest {
    let decoded = image::open(fixtures().join("goldens/inputs/init_image.png"))
        .expect("png")
        .to_rgb8();
    let image = RgbImage::new(decoded.width(), decoded.height(), decoded.into_raw()).expect("rgb");
    let mask = GrayImage::new(
        64,
        64,
        (0..64 * 64)
            .map(|index| if index % 64 >= 24 { 255 } else { 0 })
            .collect(),
    )
    .expect("mask");
    GenerationRequest {
        mode: Mode::Inpaint {
            image,
            mask,
            strength: 0.8,
        },
        scheduler: SchedulerKind::DpmPlusPlus2M,
        ..request(7, 4)
    }
}

fn generate(
    model: &mut StableDiffusion,
    request: &GenerationRequest,
) -> Vec<pentimento_inference::Variation> {
    finished(
        model
            .generate(
                request,
                &mut |_| ControlFlow::Continue(()),
                &CancelToken::new(),
            )
            .unwrap_or_else(|err| panic!("generation failed: {err}")),
    )
}

/// Points the client folder at `servers` (and a token) and writes it.
fn configure(client: &Path, servers: &[&Server], token: Option<&str>) {
    edit(client, |config| {
        config.servers = servers.iter().map(|server| server.url.clone()).collect();
        config.token = token.map(str::to_owned);
    });
}

/// Changes the client folder's remote.json.
fn edit(client: &Path, change: impl FnOnce(&mut RemoteConfig)) {
    let mut config = RemoteConfig::read(client).unwrap_or_else(|err| panic!("{err}"));
    config.timeout_seconds = 30.0;
    change(&mut config);
    config.write(client).expect("remote.json");
}

fn local(name: &str) -> StableDiffusion {
    load(&fixtures().join("models").join(name)).unwrap_or_else(|err| panic!("{err}"))
}

/// The tiny model's repository and client folder under `dir`, served as `tiny`.
fn tiny_repository(dir: &Path) -> common::triton::WrittenRepository {
    repository_for(&fixtures().join("models/tiny-sd"), dir, "tiny", 0)
}

/// The tiny model's repository under `dir` served by one server, and its client folder
/// pointed at it.
fn served_tiny(dir: &Path) -> (std::path::PathBuf, Server) {
    let written = tiny_repository(dir);
    let server = Server::start(&dir.join("repository"));
    configure(&written.client, &[&server], None);
    (written.client, server)
}

/// Fails unless `theirs` are the latents the local `model` makes for `request`, within the
/// bound.
fn assert_matches_local(local: &mut StableDiffusion, request: &GenerationRequest, theirs: &[f32]) {
    let ours = generate(local, request);
    let difference = max_difference(&ours[0].latents, theirs);
    assert!(
        difference <= LATENT_BOUND,
        "remote latents differ from local by {difference}"
    );
}

/// `error` is the remote failure `is_expected` picks, and its sentence says each of `says`.
fn assert_remote_error(
    error: InferenceError,
    is_expected: impl FnOnce(&RemoteError) -> bool,
    says: &[&str],
) -> String {
    common::assert_error(
        error,
        |e| match e {
            InferenceError::Remote(remote) => is_expected(remote),
            _ => false,
        },
        says,
    )
}

#[test]
fn remote_generation_equals_local_generation_for_the_same_seed() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (model, requests) in [
        ("tiny-sd", vec![request(3, 4)]),
        ("tiny-sd-inpaint", vec![request(5, 3), inpaint_request()]),
    ] {
        let written = repository_for(
            &fixtures().join("models").join(model),
            &dir.path().join(model),
            model,
            0,
        );
        let server = Server::start(&dir.path().join(model).join("repository"));
        configure(&written.client, &[&server], None);
        let mut remote = load(&written.client).unwrap_or_else(|err| panic!("{err}"));
        assert!(remote.remote().is_some());
        let mut local = local(model);
        for request in &requests {
            let ours = generate(&mut local, request);
            let theirs = generate(&mut remote, request);
            let difference = max_difference(&ours[0].latents, &theirs[0].latents);
            assert!(
                difference <= LATENT_BOUND,
                "{model}: remote latents differ from local by {difference}"
            );
            let pixels = ours[0]
                .image
                .pixels
                .iter()
                .zip(&theirs[0].image.pixels)
                .map(|(a, b)| a.abs_diff(*b))
                .max()
                .unwrap_or(0);
            assert!(pixels <= 1, "{model}: pixels differ by {pixels} levels");
        }
        let pool = &remote.remote().expect("remote").pool;
        assert_eq!(pool.last_used().as_deref(), Some(server.url.as_str()));
        assert_eq!(pool.status()[0].state, ServerState::Ready);
    }
}

#[test]
fn a_server_killed_mid_generation_leaves_the_rest_of_the_steps_to_the_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let written = tiny_repository(dir.path());
    let repository = dir.path().join("repository");
    let first = Arc::new(Mutex::new(Server::start(&repository)));
    let second = Server::start(&repository);
    let first_url = first.lock().expect("server").url.clone();
    configure(
        &written.client,
        &[&first.lock().expect("server"), &second],
        None,
    );
    let mut remote = load(&written.client).unwrap_or_else(|err| panic!("{err}"));
    let request = request(11, 8);
    // Both idle: the first in remote.json takes the calls until it dies at step 3.
    let mut killed_at = None;
    let outcome = remote
        .generate(
            &request,
            &mut |progress| {
                if progress.step == 3 && killed_at.is_none() {
                    first.lock().expect("server").kill();
                    killed_at = Some(progress.step);
                }
                ControlFlow::Continue(())
            },
            &CancelToken::new(),
        )
        .unwrap_or_else(|err| panic!("the generation did not survive the kill: {err}"));
    assert_eq!(killed_at, Some(3));
    let theirs = finished(outcome);
    let pool = &remote.remote().expect("remote").pool;
    assert_eq!(pool.last_used().as_deref(), Some(second.url.as_str()));
    let status = pool.status();
    assert!(
        matches!(&status[0].state, ServerState::Down(_)),
        "{first_url}: {:?}",
        status[0].state
    );
    assert!(status[0].completed >= 3, "{status:?}");
    assert!(status[1].completed >= 1, "{status:?}");
    assert_matches_local(&mut local("tiny-sd"), &request, &theirs[0].latents);

    // With the other one gone too, the next generation says so in a sentence.
    drop(second);
    let error = remote
        .generate(
            &request,
            &mut |_| ControlFlow::Continue(()),
            &CancelToken::new(),
        )
        .expect_err("no server is left");
    assert_remote_error(
        error,
        |e| matches!(e, RemoteError::NoServerLeft { .. }),
        &["continue on this computer"],
    );
}

#[test]
fn four_artists_at_once_all_finish_and_share_batched_unet_executions() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A 20 ms queue window lets the batcher gather the four artists' calls on this CPU.
    let written = repository_for(
        &fixtures().join("models/tiny-sd"),
        dir.path(),
        "tiny",
        20_000,
    );
    let server = Server::start(&dir.path().join("repository"));
    configure(&written.client, &[&server], None);
    let steps = 6;
    let barrier = Arc::new(std::sync::Barrier::new(4));
    let artists: Vec<_> = (0..4u32)
        .map(|artist| {
            let client = written.client.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut model = load(&client).unwrap_or_else(|err| panic!("{err}"));
                barrier.wait();
                (artist, generate(&mut model, &request(100 + artist, steps)))
            })
        })
        .collect();
    let results: Vec<_> = artists
        .into_iter()
        .map(|artist| artist.join().expect("artist"))
        .collect();
    assert_eq!(results.len(), 4);
    let stats = server.pool().statistics("tiny-unet");
    let (_, unet) = stats.first().expect("statistics of tiny-unet");
    // Every guided step is one request with a batch of 2.
    let requests = 4 * steps as u64;
    assert_eq!(unet.inference_count, 2 * requests, "{unet:?}");
    assert!(
        unet.execution_count < requests,
        "no call was batched: {} executions for {requests} requests",
        unet.execution_count
    );
    assert!(
        unet.batch_stats.iter().any(|batch| batch.batch_size > 2),
        "{:?}",
        unet.batch_stats
    );
    // Batched or not, each artist got their own seed's result.
    let mut local = local("tiny-sd");
    for (artist, theirs) in results {
        assert_matches_local(
            &mut local,
            &request(100 + artist, steps),
            &theirs[0].latents,
        );
    }
}

#[test]
fn cancelling_stops_a_remote_generation_within_a_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (client, _server) = served_tiny(dir.path());
    let mut remote = load(&client).unwrap_or_else(|err| panic!("{err}"));
    let cancel = CancelToken::new();
    let mut steps = 0;
    let started = Instant::now();
    let outcome = remote
        .generate(
            &request(1, 20),
            &mut |_| {
                steps += 1;
                if steps == 2 {
                    cancel.cancel();
                }
                ControlFlow::Continue(())
            },
            &cancel,
        )
        .expect("cancellation is an outcome");
    assert_eq!(
        outcome,
        Outcome::Cancelled {
            completed: Vec::new()
        }
    );
    assert_eq!(steps, 2);
    assert!(started.elapsed() < Duration::from_secs(30));
    // The model is still usable.
    assert_eq!(generate(&mut remote, &request(1, 2)).len(), 1);
}

#[test]
fn a_refused_token_and_a_different_model_are_explained() {
    let dir = tempfile::tempdir().expect("tempdir");
    let written = tiny_repository(dir.path());
    let server = Server::start_with(&dir.path().join("repository"), Some("studio-secret"));
    configure(&written.client, &[&server], Some("not-the-secret"));
    let error = load(&written.client).expect_err("the token is wrong");
    assert_remote_error(
        error,
        |e| matches!(e, RemoteError::TokenRefused { .. }),
        &["refused the access token", "remote.json"],
    );
    configure(&written.client, &[&server], Some("studio-secret"));
    let mut remote = load(&written.client).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(generate(&mut remote, &request(2, 2)).len(), 1);

    // A client folder written for a float16 export, pointed at a server of the float32 model
    // under the same name.
    let other = repository_for(
        &fixtures().join("models/tiny-sd-inpaint-fp16"),
        &dir.path().join("other"),
        "tiny",
        0,
    );
    configure(&other.client, &[&server], Some("studio-secret"));
    let error = load(&other.client).expect_err("another model");
    assert_remote_error(
        error,
        |e| matches!(e, RemoteError::SignatureMismatch { .. }),
        &["does not match this client folder"],
    );
}

#[test]
fn a_server_that_stops_answering_times_out_and_the_step_goes_to_the_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let written = tiny_repository(dir.path());
    let repository = dir.path().join("repository");
    let first = Server::start(&repository);
    let second = Server::start(&repository);
    configure(&written.client, &[&first, &second], None);
    // A hung machine keeps its connection open: only the timeout notices.
    edit(&written.client, |config| config.timeout_seconds = 3.0);
    let mut remote = load(&written.client).unwrap_or_else(|err| panic!("{err}"));
    let request = request(21, 5);
    let started = Instant::now();
    let theirs = finished(
        remote
            .generate(
                &request,
                &mut |progress| {
                    if progress.step == 2 {
                        first.freeze();
                    }
                    ControlFlow::Continue(())
                },
                &CancelToken::new(),
            )
            .unwrap_or_else(|err| panic!("the generation did not survive the hang: {err}")),
    );
    let elapsed = started.elapsed();
    let pool = &remote.remote().expect("remote").pool;
    let status = pool.status();
    match &status[0].state {
        ServerState::Down(reason) => assert!(reason.contains("timed out"), "{reason}"),
        other => panic!("the frozen server is {other:?}"),
    }
    assert_eq!(pool.last_used().as_deref(), Some(second.url.as_str()));
    // One timeout, not one per remaining step: the frozen server is passed over afterwards.
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    assert_matches_local(&mut local("tiny-sd"), &request, &theirs[0].latents);
}

#[test]
fn a_server_without_the_model_is_explained() {
    let dir = tempfile::tempdir().expect("tempdir");
    let written = tiny_repository(dir.path());
    let repository = dir.path().join("repository");
    std::fs::remove_dir_all(repository.join("tiny-vae_decoder")).expect("remove a model");
    let server = Server::start(&repository);
    configure(&written.client, &[&server], None);
    let error = load(&written.client).expect_err("the decoder is not served");
    assert_remote_error(
        error,
        |e| matches!(e, RemoteError::ModelNotLoaded { .. }),
        &["does not have the model tiny-vae_decoder loaded"],
    );
}

/// A studio's own certificate authority and a server certificate for 127.0.0.1 it signed.
fn studio_certificates(dir: &Path) -> common::triton::Tls {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut authority = CertificateParams::new(Vec::<String>::new()).expect("params");
    authority.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    authority
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Studio render farm CA");
    let authority =
        CertifiedIssuer::self_signed(authority, KeyPair::generate().expect("key")).expect("CA");
    let params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("params");
    let key = KeyPair::generate().expect("key");
    let certificate = params.signed_by(&key, &authority).expect("certificate");
    let tls = common::triton::Tls {
        certificate: dir.join("server.pem"),
        key: dir.join("server.key"),
        authority_pem: authority.pem().into_bytes(),
    };
    std::fs::write(&tls.certificate, certificate.pem()).expect("write");
    std::fs::write(&tls.key, key.serialize_pem()).expect("write");
    tls
}

#[test]
fn tls_with_the_studios_own_certificate_authority() {
    let dir = tempfile::tempdir().expect("tempdir");
    let written = tiny_repository(dir.path());
    let tls = studio_certificates(dir.path());
    let server = Server::start_tls(&dir.path().join("repository"), &tls);
    assert!(server.url.starts_with("https://"), "{}", server.url);
    std::fs::write(written.client.join("studio-ca.pem"), &tls.authority_pem).expect("write");
    configure(&written.client, &[&server], None);

    // Without the studio's authority the certificate is not trusted.
    let error = load(&written.client).expect_err("unknown authority");
    assert_remote_error(
        error,
        |e| matches!(e, RemoteError::NoServerLeft { .. }),
        &[],
    );

    edit(&written.client, |config| {
        config.ca_certificate = Some("studio-ca.pem".into());
    });
    let mut remote = load(&written.client).unwrap_or_else(|err| panic!("{err}"));
    let request = request(4, 3);
    let theirs = generate(&mut remote, &request);
    assert_matches_local(&mut local("tiny-sd"), &request, &theirs[0].latents);
}

#[test]
fn a_1024_pixel_image_comes_back_whole_past_grpcs_default_message_limit() {
    use pentimento_inference::Component;
    use pentimento_inference::model::ElementType;
    use pentimento_inference::pipeline::SessionTimes;
    use pentimento_inference::pipeline::tensor::{RunResult, float_tensor};

    let dir = tempfile::tempdir().expect("tempdir");
    let (client, _server) = served_tiny(dir.path());
    let remote = load(&client).unwrap_or_else(|err| panic!("{err}"));
    let mut decoder = remote
        .remote()
        .expect("remote")
        .component(Component::VaeDecoder)
        .unwrap_or_else(|err| panic!("{err}"));
    // 1024² pixels are 12 MiB of float32, three times gRPC's usual 4 MiB limit.
    let latents: Vec<f32> = (0..4 * 128 * 128)
        .map(|index| ((index % 97) as f32 / 97.0) - 0.5)
        .collect();
    let output = decoder
        .run(
            vec![(
                "latent_sample".to_owned(),
                float_tensor(&latents, &[1, 4, 128, 128], &ElementType::Float32),
            )],
            "sample",
            true,
            &CancelToken::new(),
            &mut SessionTimes::default(),
        )
        .unwrap_or_else(|err| panic!("{err}"));
    match output {
        RunResult::Output(data, shape) => {
            assert_eq!(shape, vec![1, 3, 1024, 1024]);
            assert_eq!(data.len(), 3 * 1024 * 1024);
            assert!(data.iter().all(|value| value.is_finite()));
        }
        RunResult::Cancelled => panic!("not cancelled"),
    }
}
