//! `pentimento generate` as a user runs it, on the tiny fixture models: numbered outputs,
//! `--save-latents`, `--init-noise` reproducing diffusers' golden image, provenance in the PNG,
//! Ctrl-C leaving only whole images, and clear errors for bad input.

#[path = "../../inference/tests/common/listing.rs"]
#[allow(dead_code)]
mod listing;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn pentimento() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pentimento"));
    command.env_remove("ORT_DYLIB_PATH");
    command
}

fn generate(args: &[&str]) -> Output {
    pentimento()
        .arg("generate")
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn model(name: &str) -> String {
    fixtures()
        .join("models")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// The largest difference of any channel of any pixel between two images of one size.
fn worst_difference(ours: &image::RgbImage, theirs: &image::RgbImage) -> u8 {
    ours.as_raw()
        .iter()
        .zip(theirs.as_raw())
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .expect("pixels")
}

fn png_text_chunks(path: &Path) -> Vec<(String, String)> {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("open"),
    ));
    let reader = decoder.read_info().expect("png");
    reader
        .info()
        .utf8_text
        .iter()
        .map(|chunk| (chunk.keyword.clone(), chunk.get_text().expect("utf-8 text")))
        .collect()
}

#[test]
fn count_numbers_the_outputs_and_latents_are_saved() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let out = dir.path().join("apple.png");
    let latents = dir.path().join("latents.npy");
    let output = generate(&[
        "--model",
        &model("tiny-sd"),
        "--prompt",
        "a red apple",
        "--width",
        "96",
        "--height",
        "64",
        "--steps",
        "3",
        "--scheduler",
        "euler-a",
        "--seed",
        "10",
        "--count",
        "3",
        "--save-latents",
        latents.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    for (index, seed) in [(1, 10), (2, 11), (3, 12)] {
        let path = dir.path().join(format!("apple-{index}.png"));
        assert!(
            stdout.contains(&format!("{} (seed {seed})", path.display())),
            "{stdout}"
        );
        let image = image::open(&path).expect("a whole PNG").to_rgb8();
        assert_eq!(image.dimensions(), (96, 64));
        let chunks = png_text_chunks(&path);
        let generation = chunks
            .iter()
            .find(|(key, _)| key == "pentimento:generation")
            .map(|(_, value)| value.clone())
            .expect("generation parameters are recorded");
        let parameters: serde_json::Value = serde_json::from_str(&generation).expect("json");
        assert_eq!(parameters["seed"], seed);
        assert_eq!(parameters["prompt"], "a red apple");
        assert_eq!(parameters["scheduler"], "euler-a");
    }
    assert!(!out.exists(), "with --count 3 the bare name is not used");
    let saved = pentimento_inference::npy::read_f32(&latents).expect("npy");
    assert_eq!(saved.shape(), [3, 4, 8, 12]);
}

#[test]
fn init_noise_reproduces_the_diffusers_golden() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let out = dir.path().join("golden.png");
    let golden = fixtures().join("goldens/txt2img-ddim");
    let output = golden_run(
        "tiny-sd-optimum",
        &golden,
        "a red apple on a wooden table",
        "ddim",
        &out,
        &["--guidance", "7.5", "--seed", "1234"],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let ours = image::open(&out).expect("png").to_rgb8();
    let theirs = image::open(golden.join("image.png"))
        .expect("png")
        .to_rgb8();
    let worst = worst_difference(&ours, &theirs);
    assert!(worst <= 1, "differs from diffusers by {worst}/255");
}

#[test]
fn ctrl_c_stops_cleanly_and_keeps_only_whole_images() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let out = dir.path().join("long.png");
    let mut child = pentimento()
        .args([
            "generate",
            "--model",
            &model("tiny-sd"),
            "--prompt",
            "a long run",
            "--width",
            "256",
            "--height",
            "256",
            "--steps",
            "80",
            "--scheduler",
            "euler",
            "--count",
            "3",
            "--out",
            out.to_str().expect("utf-8"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait until the first image is written, then interrupt the second.
    let first = dir.path().join("long-1.png");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !first.exists() {
        assert!(Instant::now() < deadline, "the first image never appeared");
        assert!(
            child.try_wait().expect("status").is_none(),
            "the run ended early"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let interrupted_at = Instant::now();
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let output = child.wait_with_output().expect("wait");
    assert!(
        interrupted_at.elapsed() < Duration::from_secs(30),
        "stopping took {:?}",
        interrupted_at.elapsed()
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("cancelled: 1 of 3 image(s) finished and written"),
        "{stderr}"
    );
    image::open(&first).expect("the finished image is whole");
    assert_eq!(
        listing::names(dir.path()),
        ["long-1.png"],
        "no partial or later images"
    );
}

#[test]
fn bad_input_is_explained() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let out = dir.path().join("x.png");
    let out = out.to_str().expect("utf-8");
    let init = fixtures().join("goldens/inputs/init_image.png");
    let init = init.to_str().expect("utf-8");
    let corrupt_npy = dir.path().join("corrupt.npy");
    std::fs::write(&corrupt_npy, b"\x93NUMPY garbage").expect("write");
    let small_mask = dir.path().join("small-mask.png");
    image::GrayImage::new(32, 32)
        .save(&small_mask)
        .expect("save");
    let truncated_png = dir.path().join("truncated.png");
    let bytes = std::fs::read(init).expect("read");
    std::fs::write(&truncated_png, &bytes[..bytes.len() / 2]).expect("write");

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--mask", init], "error: --mask needs --init-image"),
        (
            vec!["--width", "70", "--height", "64"],
            "error: 70×64 is not a size this model can generate: width and height must be multiples of 16 (for example 64×64)",
        ),
        (
            vec![
                "--width",
                "64",
                "--height",
                "64",
                "--init-noise",
                corrupt_npy.to_str().expect("utf-8"),
            ],
            "error: this is not a usable .npy array (",
        ),
        (
            vec![
                "--init-image",
                init,
                "--mask",
                small_mask.to_str().expect("utf-8"),
            ],
            "error: the mask is 32×32 but the generation is 64×64; resize it to match",
        ),
        (
            vec!["--init-image", truncated_png.to_str().expect("utf-8")],
            "error: this file is not a readable PNG, JPEG or WebP image (",
        ),
        (
            vec!["--scheduler", "heun"],
            "unknown scheduler \"heun\"; choose one of ddim, pndm, euler, euler-a, dpmpp-2m, dpmpp-2m-karras, lcm",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec![
            "--model".to_owned(),
            model("tiny-sd"),
            "--prompt".to_owned(),
            "x".to_owned(),
            "--steps".to_owned(),
            "2".to_owned(),
            "--out".to_owned(),
            out.to_owned(),
        ];
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = generate(&args);
        let stderr = text(&output.stderr);
        assert_ne!(output.status.code(), Some(0), "{expected}");
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let missing = generate(&[
        "--model",
        dir.path().to_str().expect("utf-8"),
        "--prompt",
        "x",
        "--out",
        out,
    ]);
    assert!(
        text(&missing.stderr).contains("the model has no text_encoder"),
        "{}",
        text(&missing.stderr)
    );
}

fn loras(name: &str) -> String {
    fixtures()
        .join("loras")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// A golden's 64×64, five-step request on the fixture `model_name`, starting from the golden's
/// noise, with `extra` arguments.
fn golden_run(
    model_name: &str,
    golden: &Path,
    prompt: &str,
    scheduler: &str,
    out: &Path,
    extra: &[&str],
) -> Output {
    let noise = golden.join("noise.npy");
    let model = model(model_name);
    let mut args = vec![
        "--model",
        &model,
        "--prompt",
        prompt,
        "--width",
        "64",
        "--height",
        "64",
        "--steps",
        "5",
        "--scheduler",
        scheduler,
        "--init-noise",
        noise.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    generate(&args)
}

/// The kohya golden's request, with `extra` arguments for the LoRA.
fn lora_golden_run(out: &Path, prompt: &str, extra: &[&str]) -> Output {
    let golden = fixtures().join("goldens/txt2img-euler-lora-kohya");
    golden_run("tiny-sd", &golden, prompt, "euler", out, extra)
}

#[test]
fn a_lora_from_the_flag_or_the_prompt_reproduces_diffusers_fused_golden() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let flag = dir.path().join("flag.png");
    let kohya = format!("{}:0.8", loras("kohya.safetensors"));
    let output = lora_golden_run(&flag, "a red apple on a wooden table", &["--lora", &kohya]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("LoRA kohya at strength 0.8: 60 layers changed"),
        "{}",
        text(&output.stderr)
    );
    let ours = image::open(&flag).expect("png").to_rgb8();
    let golden = fixtures().join("goldens/txt2img-euler-lora-kohya/image.png");
    let theirs = image::open(golden).expect("png").to_rgb8();
    let worst = worst_difference(&ours, &theirs);
    assert!(worst <= 2, "differs from diffusers by {worst}/255");

    // The same LoRA named in the prompt, found in --lora-dir: the same picture.
    let tag = dir.path().join("tag.png");
    let folder = fixtures().join("loras");
    let output = lora_golden_run(
        &tag,
        "a red apple on a wooden table <lora:kohya:0.8>",
        &["--lora-dir", folder.to_str().expect("utf-8")],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        image::open(&tag).expect("png").to_rgb8().as_raw(),
        ours.as_raw()
    );
    let chunks = png_text_chunks(&tag);
    let generation = &chunks
        .iter()
        .find(|(key, _)| key == "pentimento:generation")
        .expect("recorded")
        .1;
    let parameters: serde_json::Value = serde_json::from_str(generation).expect("json");
    assert_eq!(parameters["prompt"], "a red apple on a wooden table");
    let recorded = &parameters["loras"][0];
    assert_eq!(recorded["name"], "kohya");
    assert_eq!(recorded["strength"], 0.8_f32 as f64);
    assert_eq!(recorded["title"], "Tiny ink");
    assert_eq!(recorded["author"], "Pentimento fixtures");
    let sha = pentimento_inference::sha256::of_file(&fixtures().join("loras/kohya.safetensors"))
        .expect("hash");
    assert_eq!(recorded["sha256"], sha.as_str());
}

#[test]
fn lora_mistakes_are_explained() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let out = dir.path().join("x.png");
    let missing = lora_golden_run(
        &out,
        "an apple",
        &["--lora", "/nowhere/ink.safetensors:0.5"],
    );
    assert!(!missing.status.success());
    let message = text(&missing.stderr);
    assert!(
        message.contains("cannot read the LoRA /nowhere/ink.safetensors"),
        "{message}"
    );
    let folder = fixtures().join("loras");
    let untagged = lora_golden_run(
        &out,
        "an apple <lora:nothing:1>",
        &["--lora-dir", folder.to_str().expect("utf-8")],
    );
    let message = text(&untagged.stderr);
    assert!(
        message
            .contains("the prompt asks for <lora:nothing>, but there is no nothing.safetensors in"),
        "{message}"
    );
    let loha = lora_golden_run(&out, "an apple", &["--lora", &loras("loha.safetensors")]);
    let message = text(&loha.stderr);
    assert!(message.contains("LoHa"), "{message}");
    assert!(!out.exists(), "nothing is written after an error");
}

#[test]
fn lora_info_describes_the_file_and_its_fit() {
    let output = pentimento()
        .args([
            "lora",
            "info",
            &loras("kohya.safetensors"),
            "--model",
            &model("tiny-sd"),
        ])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report = text(&output.stdout);
    for expected in [
        "layout        kohya-ss",
        "changes       UNet (48 layers), text encoder (12 layers)",
        "rank          4\n",
        "made for      stable-diffusion-v1/lora (Stable Diffusion 1.x)",
        "title         Tiny ink",
        "author        Pentimento fixtures",
        "license       CC0-1.0",
        "trigger words ink sketch, crosshatching, portrait",
        "  text encoder: 12 layers changed",
        "  UNet: 48 layers changed",
    ] {
        assert!(report.contains(expected), "{expected:?} in\n{report}");
    }
    let wrong = pentimento()
        .args([
            "lora",
            "info",
            &loras("sd2-shapes.safetensors"),
            "--model",
            &model("tiny-sd"),
        ])
        .output()
        .expect("runs");
    assert!(!wrong.status.success());
    let message = text(&wrong.stderr);
    assert!(message.contains("does not fit this model"), "{message}");
    assert!(message.contains("sd_v2"), "{message}");
}
