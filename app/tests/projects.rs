//! OpenRaster projects as files: the standard parts other painting programs read, a round trip
//! of everything Pentimento keeps (paint and generative layers, mask, generation log), damaged
//! and hostile files refused with a sentence, and `pentimento flatten`.

#[path = "../../inference/tests/common/listing.rs"]
#[allow(dead_code)]
mod listing;
#[path = "../../tests/src/same_document.rs"]
mod same_document;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pentimento::document::Document;
use pentimento::document::brush::{BrushSettings, StrokeMode, StrokePoint};
use pentimento::document::compositor::{Provenance, unpremultiply};
use pentimento::document::generative::GenerativeParams;
use pentimento::document::layer::{BlendMode, LayerContent};
use pentimento::document::tiles::PixelRect;
use pentimento::document::{GenerationRecord, LoraRecord};
use pentimento::io::ora;
use pentimento_inference::lora::LoraCredits;

/// A document with a painted layer, a generative layer with feathered edges, a mask and a log.
fn sample_document() -> Document {
    let mut document = Document::new(300, 200).expect("size");
    let base = document.layers()[0].id;
    let brush = BrushSettings {
        color: [180, 60, 20],
        size: 18.0,
        ..BrushSettings::default()
    };
    let wave = (10..290).step_by(5).map(|x| StrokePoint {
        x: x as f32,
        y: 100.0 + (x as f32 / 20.0).sin() * 30.0,
        pressure: 0.8,
    });
    document
        .paint_stroke(Some(base), StrokeMode::Paint, brush, wave)
        .expect("paintable");
    let line = (100..200)
        .step_by(4)
        .map(|x| StrokePoint::new(x as f32, 90.0));
    document
        .paint_stroke(None, StrokeMode::MaskAdd, BrushSettings::default(), line)
        .expect("mask");

    let region = PixelRect::new(80, 50, 140, 90);
    let pixels = (region.width() * region.height()) as usize;
    let raw: Vec<u8> = (0..pixels * 3)
        .map(|index| (index * 7 % 251) as u8)
        .collect();
    let mask: Vec<u8> = (0..pixels)
        .map(|index| {
            let (x, y) = (index as u32 % region.width(), index as u32 / region.width());
            if (20..120).contains(&x) && (20..70).contains(&y) {
                255
            } else {
                0
            }
        })
        .collect();
    let id = document.log_generation(GenerationRecord {
        id: 0,
        time: "2026-11-25T10:00:00Z".to_owned(),
        model: "tiny-sd-inpaint".to_owned(),
        model_files: vec![("unet/model.onnx".to_owned(), "ab".repeat(32))],
        prompt: "a red flower".to_owned(),
        negative_prompt: "blurry".to_owned(),
        seeds: vec![7, 8],
        scheduler: "euler".to_owned(),
        steps: 20,
        guidance: 7.5,
        strength: Some(0.9),
        mode: "inpaint".to_owned(),
        region,
        generated_size: (512, 328),
        execution_provider: "cpu".to_owned(),
        app_version: "0.1.0".to_owned(),
        outcome: "finished".to_owned(),
        accepted: vec![0],
        loras: vec![LoraRecord {
            name: "inkStyle".to_owned(),
            sha256: "cd".repeat(32),
            strength: -0.35,
            credits: LoraCredits {
                title: Some("Ink style".to_owned()),
                author: Some("A. Painter".to_owned()),
                license: Some("CC-BY-4.0".to_owned()),
                base_model: Some("stable-diffusion-v1/lora".to_owned()),
            },
        }],
        soft_inpainting: Some(12.0),
        guidance_cutoff: Some(0.4),
    });
    let layer = document.add_generative_layer("Generation 1 · seed 7", region, raw, mask, id);
    document
        .set_generative_params(
            layer,
            GenerativeParams {
                grow: 3,
                feather: 6.0,
                ..GenerativeParams::default()
            },
            None,
        )
        .expect("editable");
    let mut properties = document.layer(layer).expect("layer").properties.clone();
    properties.opacity = 0.8;
    properties.blend = BlendMode::Multiply;
    document
        .set_properties(layer, properties, None)
        .expect("editable");
    document
}

fn entry(path: &Path, name: &str) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).expect("open")).expect("zip");
    let mut data = Vec::new();
    zip.by_name(name)
        .expect(name)
        .read_to_end(&mut data)
        .expect("read");
    data
}

#[test]
fn projects_keep_everything_and_stay_openraster() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let path = folder.path().join("project.ora");
    let document = sample_document();
    ora::save(&document, &path).expect("save");

    // What other programs read: the mimetype first and uncompressed, stack.xml, merged image.
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).expect("open")).expect("zip");
    {
        let first = zip.by_index(0).expect("first entry");
        assert_eq!(first.name().expect("name"), "mimetype");
        assert_eq!(first.compression(), zip::CompressionMethod::Stored);
    }
    assert_eq!(entry(&path, "mimetype"), b"image/openraster");
    let stack = String::from_utf8(entry(&path, "stack.xml")).expect("utf-8");
    let xml = roxmltree::Document::parse(&stack).expect("well-formed stack.xml");
    let image = xml.root_element();
    assert_eq!(image.tag_name().name(), "image");
    assert_eq!(
        (image.attribute("w"), image.attribute("h")),
        (Some("300"), Some("200"))
    );
    let layers: Vec<_> = xml
        .descendants()
        .filter(|node| node.has_tag_name("layer"))
        .collect();
    assert_eq!(layers.len(), 2);
    assert_eq!(
        layers[0].attribute("name"),
        Some("Generation 1 · seed 7"),
        "top first"
    );
    assert_eq!(layers[0].attribute("composite-op"), Some("svg:multiply"));
    assert_eq!(layers[0].attribute("opacity"), Some("0.800"));
    for layer in &layers {
        let src = layer.attribute("src").expect("src");
        let png = entry(&path, src);
        let decoded = image::load_from_memory(&png).expect("layer png");
        assert!(decoded.width() <= 300 && decoded.height() <= 200);
    }
    let merged = image::load_from_memory(&entry(&path, "mergedimage.png")).expect("merged");
    let (composite, provenance) = document.composite(&document.bounds());
    assert_eq!(merged.to_rgba8().into_raw(), unpremultiply(&composite));
    image::load_from_memory(&entry(&path, "Thumbnails/thumbnail.png")).expect("thumbnail");

    // Pentimento's own data: the provenance map and the log, beside the standard parts.
    assert_eq!(
        ora::saved_provenance(&path).expect("provenance"),
        provenance
    );
    assert!(provenance.contains(&Provenance::Generated));
    assert!(provenance.contains(&Provenance::Hand));

    let reopened = ora::open(&path).expect("reopen");
    same_document::assert_same_document(&document, &reopened);
    let LayerContent::Generative(generative) = &reopened.layers()[1].content else {
        panic!("the generative layer stays generative");
    };
    assert_eq!(
        generative.params,
        GenerativeParams {
            grow: 3,
            feather: 6.0,
            ..GenerativeParams::default()
        }
    );
    assert!(!reopened.has_unsaved_changes());

    // Saving again over the file replaces it whole; no temporary file is left behind.
    ora::save(&reopened, &path).expect("save again");
    assert_eq!(listing::names(folder.path()), ["project.ora"]);
}

#[test]
fn damaged_and_hostile_projects_are_refused_with_a_sentence() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let good = folder.path().join("good.ora");
    ora::save(&sample_document(), &good).expect("save");
    let bytes = std::fs::read(&good).expect("read");

    let check = |name: &str, data: &[u8], expected: &str| {
        let path = folder.path().join(name);
        std::fs::write(&path, data).expect("write");
        let message = ora::open(&path).expect_err(name).to_string();
        assert!(message.contains(expected), "{name}: {message}");
        assert!(message.contains(name), "{name}: names the file: {message}");
    };
    check(
        "noise.ora",
        b"definitely not a zip archive",
        "not a usable OpenRaster project",
    );
    check(
        "truncated.ora",
        &bytes[..bytes.len() / 2],
        "not a usable OpenRaster project",
    );
    check("empty.ora", b"", "not a usable OpenRaster project");

    // A stack.xml pointing outside the archive, and a layer larger than the canvas.
    let rewrite = |name: &str, stack: &str, extra: Option<(&str, Vec<u8>)>| {
        let path = folder.path().join(name);
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).expect("create"));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        zip.start_file("mimetype", options).expect("entry");
        zip.write_all(b"image/openraster").expect("write");
        zip.start_file("stack.xml", options).expect("entry");
        zip.write_all(stack.as_bytes()).expect("write");
        if let Some((entry, data)) = extra {
            zip.start_file(entry, options).expect("entry");
            zip.write_all(&data).expect("write");
        }
        zip.finish().expect("finish");
        path
    };
    let escape = rewrite(
        "escape.ora",
        r#"<image w="10" h="10"><stack><layer src="../../secret.png" name="x"/></stack></image>"#,
        None,
    );
    let message = ora::open(&escape).expect_err("escape").to_string();
    assert!(message.contains("outside the project"), "{message}");

    let mut big = Vec::new();
    image::RgbaImage::new(64, 64)
        .write_to(&mut std::io::Cursor::new(&mut big), image::ImageFormat::Png)
        .expect("png");
    let oversized = rewrite(
        "oversized.ora",
        r#"<image w="10" h="10"><stack><layer src="data/a.png" name="a"/></stack></image>"#,
        Some(("data/a.png", big)),
    );
    let message = ora::open(&oversized).expect_err("oversized").to_string();
    assert!(
        message.contains("not a usable OpenRaster project"),
        "{message}"
    );

    let bad_size = rewrite(
        "huge.ora",
        r#"<image w="100000" h="10"><stack></stack></image>"#,
        None,
    );
    let message = ora::open(&bad_size).expect_err("huge").to_string();
    assert!(message.contains("100000"), "{message}");
}

/// A mask of `width × height`, white where `inside(x, y)`, saved at `path`; the path.
fn mask_file(
    path: &Path,
    (width, height): (u32, u32),
    inside: impl Fn(u32, u32) -> bool,
) -> PathBuf {
    image::GrayImage::from_fn(width, height, |x, y| {
        image::Luma([if inside(x, y) { 255 } else { 0 }])
    })
    .save(path)
    .expect("mask");
    path.to_path_buf()
}

/// The sample document, saved as `project.ora` in `folder`.
fn saved_sample(folder: &Path) -> (Document, PathBuf) {
    let document = sample_document();
    let project = folder.join("project.ora");
    ora::save(&document, &project).expect("save");
    (document, project)
}

#[test]
fn flatten_renders_a_project_with_the_same_compositor() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let (document, project) = saved_sample(folder.path());
    let output = folder.path().join("flat.png");

    let run = succeeds(
        Command::new(env!("CARGO_BIN_EXE_pentimento"))
            .arg("flatten")
            .arg(&project)
            .arg(&output),
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("painted by hand") && stdout.contains("generated"),
        "{stdout}"
    );
    let flat = image::open(&output).expect("png").to_rgba8();
    let (composite, _) = document.composite(&document.bounds());
    assert_eq!(flat.dimensions(), (300, 200));
    assert_eq!(flat.into_raw(), unpremultiply(&composite));

    let missing = Command::new(env!("CARGO_BIN_EXE_pentimento"))
        .arg("flatten")
        .arg(folder.path().join("missing.ora"))
        .arg(&output)
        .output()
        .expect("runs");
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("could not open the project") && stderr.contains("missing.ora"),
        "{stderr}"
    );
}

/// Every action of a manifest's action assertions.
fn actions_of(manifest: &serde_json::Value) -> Vec<serde_json::Value> {
    manifest["assertions"]
        .as_array()
        .expect("assertions")
        .iter()
        .filter(|assertion| {
            assertion["label"]
                .as_str()
                .is_some_and(|label| label.starts_with("c2pa.actions"))
        })
        .flat_map(|assertion| {
            assertion["data"]["actions"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

/// An action's region shapes as closed outlines (rectangles as four corners).
fn rings_of(action: &serde_json::Value) -> Vec<Vec<(f64, f64)>> {
    action["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .flat_map(|change| change["region"].as_array().cloned().unwrap_or_default())
        .map(|range| {
            let shape = &range["shape"];
            let number = |value: &serde_json::Value| value.as_f64().expect("number");
            let (x, y) = (number(&shape["origin"]["x"]), number(&shape["origin"]["y"]));
            match shape["type"].as_str() {
                Some("rectangle") => {
                    let (w, h) = (number(&shape["width"]), number(&shape["height"]));
                    vec![(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
                }
                Some("polygon") => shape["vertices"]
                    .as_array()
                    .expect("vertices")
                    .iter()
                    .map(|vertex| (number(&vertex["x"]), number(&vertex["y"])))
                    .collect(),
                other => panic!("unexpected shape {other:?}"),
            }
        })
        .collect()
}

/// `pentimento` with its settings, data and identity in `home`.
fn pentimento_at(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pentimento"));
    command
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"));
    command
}

/// Runs `command`, which must succeed; what it wrote, with its stderr shown when it failed.
fn succeeds(command: &mut Command) -> Output {
    let output = command.output().expect("the binary runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs `command`, which must fail, and returns what it said on stderr.
fn refused(command: &mut Command) -> String {
    let output = command.output().expect("the binary runs");
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs `command` with `--out out`; it must fail, write nothing there, and say `says`.
fn refused_writing_nothing(command: &mut Command, out: &Path, says: &str) {
    let message = refused(command.arg("--out").arg(out));
    assert!(!out.exists(), "nothing is written: {message}");
    assert!(message.contains(says), "{message}");
}

#[test]
fn export_signs_content_credentials_that_verify_and_show_tampering() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let (document, project) = saved_sample(folder.path());
    let output = folder.path().join("signed.png");

    succeeds(
        pentimento_at(folder.path())
            .args(["export"])
            .arg(&project)
            .arg(&output),
    );
    let root = folder
        .path()
        .join("config/pentimento/identity/local-root.pem");
    assert!(
        root.is_file(),
        "the local identity was made at the first export"
    );

    // What it says, read back by the SDK's reader.
    let bytes = std::fs::read(&output).expect("signed file");
    let read = pentimento::credentials::verify(&bytes, "image/png", None).expect("reads");
    assert_eq!(read.state, "Valid", "{:?}", read.statuses);
    assert_eq!(
        read.digital_source_type.as_deref(),
        Some(pentimento::credentials::source_type::COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA)
    );
    assert!(
        read.training
            .iter()
            .all(|(_, choice)| choice == "notAllowed")
    );
    let manifest = &read.json["manifests"][read.json["active_manifest"].as_str().expect("active")];
    let edited = actions_of(manifest)
        .into_iter()
        .find(|action| action["action"] == "c2pa.edited")
        .expect("the generated layer has its action");
    assert_eq!(edited["parameters"]["model"], "tiny-sd-inpaint");
    assert_eq!(edited["parameters"]["seed"], 7);
    assert_eq!(edited["parameters"]["prompt"], "a red flower");
    assert_eq!(edited["parameters"]["loras"][0]["name"], "inkStyle");
    // The action's shapes, read back from the file, are exactly the generated pixels.
    let rings = rings_of(&edited);
    let filled = pentimento::credentials::regions::rasterize(300, 200, &rings);
    let (_, provenance) = document.composite(&document.bounds());
    for (index, value) in provenance.iter().enumerate() {
        let generated = matches!(
            value,
            Provenance::Generated | Provenance::GeneratedThenPainted
        );
        assert_eq!(
            filled[index],
            generated,
            "pixel ({}, {}) is in the shapes exactly when it is generated",
            index % 300,
            index / 300
        );
    }

    // The command line says the same; with the local root trusted it is Trusted.
    let verify = |file: &Path, trust: Option<&Path>| {
        let mut command = pentimento_at(folder.path());
        command.arg("verify").arg(file);
        if let Some(root) = trust {
            command.arg("--trust").arg(root);
        }
        command.output().expect("runs")
    };
    let plain = verify(&output, None);
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(plain.status.success(), "{text}");
    assert!(text.contains("Valid, signer not on a trust list"), "{text}");
    assert!(
        text.contains("compositeWithTrainedAlgorithmicMedia"),
        "{text}"
    );
    assert!(text.contains("ai_training notAllowed"), "{text}");
    let trusted = verify(&output, Some(&root));
    assert!(
        String::from_utf8_lossy(&trusted.stdout).contains("Trusted"),
        "{}",
        String::from_utf8_lossy(&trusted.stdout)
    );

    // One changed byte of the pixels: reported, exit code 1.
    let mut changed = bytes.clone();
    let idat = changed
        .windows(4)
        .position(|w| w == b"IDAT")
        .expect("pixels");
    changed[idat + 16] ^= 0x55;
    let tampered = folder.path().join("tampered.png");
    std::fs::write(&tampered, &changed).expect("write");
    let run = verify(&tampered, None);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("Invalid: the file was changed"),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );

    // The A1111 text chunk for image browsers, written before signing.
    let chunks = {
        let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
        let reader = decoder.read_info().expect("png");
        reader.info().utf8_text.clone()
    };
    let parameters = chunks
        .iter()
        .find(|chunk| chunk.keyword == "parameters")
        .expect("parameters chunk")
        .get_text()
        .expect("text");
    assert!(
        parameters.starts_with("a red flower <lora:inkStyle:-0.35>\nNegative prompt: blurry\nSteps: 20, Sampler: Euler, CFG scale: 7.5, Seed: 7, Size: 512x328"),
        "{parameters}"
    );

    // Hidden prompt: neither the credentials nor the text chunks have it.
    let hidden = folder.path().join("hidden.png");
    succeeds(
        pentimento_at(folder.path())
            .args(["export", "--hide-prompt", "--training", "allowed"])
            .arg(&project)
            .arg(&hidden),
    );
    let hidden_bytes = std::fs::read(&hidden).expect("file");
    assert!(
        !hidden_bytes.windows(12).any(|w| w == b"a red flower"),
        "the prompt appears nowhere in the file"
    );
    let read = pentimento::credentials::verify(&hidden_bytes, "image/png", None).expect("reads");
    assert!(read.training.iter().all(|(_, choice)| choice == "allowed"));
}

fn tiny_inpaint_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/models/tiny-sd-inpaint")
}

/// `pentimento project inpaint PROJECT [--mask MASK] --model tiny-sd-inpaint`, at home in `home`.
fn project_inpaint(home: &Path, project: &Path, mask: Option<&Path>) -> Command {
    let mut command = pentimento_at(home);
    command.args(["project", "inpaint"]).arg(project);
    if let Some(mask) = mask {
        command.arg("--mask").arg(mask);
    }
    command.arg("--model").arg(tiny_inpaint_model());
    command
}

/// Every pixel of `document` where `generated(x, y)` shows a generation; every other one shows
/// `sketch`'s pixel, untouched.
fn assert_generated_only_where(
    document: &Document,
    sketch: &image::RgbImage,
    generated: impl Fn(u32, u32) -> bool,
) {
    let (composite, provenance) = document.composite(&document.bounds());
    let straight = unpremultiply(&composite);
    let width = document.width();
    for y in 0..document.height() {
        for x in 0..width {
            let index = (y * width + x) as usize;
            if generated(x, y) {
                assert_eq!(provenance[index], Provenance::Generated, "({x}, {y})");
            } else {
                assert_eq!(provenance[index], Provenance::Hand, "({x}, {y})");
                assert_eq!(
                    &straight[index * 4..index * 4 + 3],
                    &sketch.get_pixel(x, y).0,
                    "({x}, {y})"
                );
            }
        }
    }
}

#[test]
fn project_inpaint_accepts_a_variation_as_a_generative_layer_and_logs_it() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let (width, height) = (96_u32, 80_u32);
    let sketch = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 3) as u8, 120])
    });
    let sketch_path = folder.path().join("sketch.png");
    sketch.save(&sketch_path).expect("sketch");
    let inside = |x: u32, y: u32| (30..62).contains(&x) && (20..52).contains(&y);
    let mask_path = mask_file(&folder.path().join("mask.png"), (width, height), inside);
    let out = folder.path().join("inpainted.ora");
    succeeds(
        project_inpaint(folder.path(), &sketch_path, Some(&mask_path))
            .args(["--prompt", "a red door", "--seed", "5", "--steps", "2"])
            .args(["--count", "2", "--accept", "1", "--out"])
            .arg(&out),
    );

    let document = ora::open(&out).expect("the written project opens");
    assert_eq!((document.width(), document.height()), (width, height));
    let layers = document.layers();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0].properties.name, "sketch");
    let LayerContent::Generative(generative) = &layers[1].content else {
        panic!("the accepted variation is a generative layer");
    };
    assert_eq!(layers[1].properties.name, "Gen 1 · seed 6");
    assert_eq!((generative.variations.len(), generative.selected), (2, 1));
    assert_ne!(generative.variations[0], generative.variations[1]);
    let [record] = document.generation_log.as_slice() else {
        panic!("one generation in the log");
    };
    assert_eq!(record.mode, "inpaint");
    assert_eq!(record.prompt, "a red door");
    assert_eq!(record.seeds, [5, 6]);
    assert_eq!(record.accepted, [1]);
    assert_eq!(record.outcome, "finished");
    assert_eq!(record.model, "tiny-sd-inpaint");
    assert_eq!(record.steps, 2);
    assert!(
        record
            .model_files
            .iter()
            .any(|(file, _)| file.starts_with("unet/"))
    );
    // The region is the mask's box with its context margin (32 px), clamped to the canvas.
    assert_eq!(record.region, PixelRect::new(0, 0, 94, 80));
    assert_eq!(generative.region, record.region);
    // The artist's pixels outside the mask are untouched; inside, the generation shows.
    assert_generated_only_where(&document, &sketch, inside);
    // The layer kept the artist's pixels it was generated over: colour match works on it, and
    // the project keeps both (a reopened project shows the same pixels).
    assert!(generative.can_match_colour());
    assert_eq!(
        generative.context.as_ref().map(|context| context.len()),
        Some((record.region.width() * record.region.height() * 3) as usize)
    );
    let mut matched = document.snapshot();
    let layer = matched.layers()[1].id;
    matched
        .set_generative_params(
            layer,
            GenerativeParams {
                color: pentimento::document::color_match::ColorMatch {
                    mode: pentimento::document::color_match::ColorMatchMode::Local,
                    strength: 0.7,
                },
                ..GenerativeParams::default()
            },
            None,
        )
        .expect("colour match");
    let resaved = folder.path().join("matched.ora");
    ora::save(&matched, &resaved).expect("save");
    let reopened = ora::open(&resaved).expect("open");
    let LayerContent::Generative(again) = &reopened.layers()[1].content else {
        panic!("generative");
    };
    assert_eq!(again.params.color.strength, 0.7);
    assert_eq!(again.context, generative.context);
    assert_eq!(
        reopened.composite(&reopened.bounds()),
        matched.composite(&matched.bounds())
    );

    // `project show` reads it back the same way.
    let shown = pentimento_at(folder.path())
        .args(["project", "show"])
        .arg(&out)
        .output()
        .expect("run");
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("generative, generation 1, variation 2 of 2"),
        "{shown}"
    );
    assert!(
        shown.contains("seeds [5, 6], accepted [1], finished"),
        "{shown}"
    );
}

#[test]
fn project_grow_then_inpaint_outpaints_the_new_area_from_the_pictures_context() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let sketch = image::RgbImage::from_fn(64, 64, |x, y| {
        image::Rgb([200, (x * 3) as u8, (y * 3) as u8])
    });
    let sketch_path = folder.path().join("sketch.png");
    sketch.save(&sketch_path).expect("sketch");
    let grown = folder.path().join("grown.ora");
    let output = succeeds(
        pentimento_at(folder.path())
            .args(["project", "grow"])
            .arg(&sketch_path)
            .args(["--width", "96", "--height", "64", "--anchor", "left"])
            .args(["--overlap", "8", "--out"])
            .arg(&grown),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("the picture at 0,0–64,64; 2560 px masked"),
        "32 + 8 columns of 64: {stdout}"
    );
    let document = ora::open(&grown).expect("opens");
    assert_eq!((document.width(), document.height()), (96, 64));
    assert_eq!(document.mask().pixel(95, 10)[0], 255);
    assert_eq!(
        document.mask().pixel(56, 10)[0],
        255,
        "8 px into the picture"
    );
    assert_eq!(document.mask().pixel(55, 10)[0], 0);

    // Inpainting with the project's own mask paints the new area.
    let out = folder.path().join("outpainted.ora");
    succeeds(
        project_inpaint(folder.path(), &grown, None)
            .args(["--prompt", "more of the same", "--steps", "2", "--out"])
            .arg(&out),
    );
    let document = ora::open(&out).expect("opens");
    assert_eq!((document.width(), document.height()), (96, 64));
    assert_generated_only_where(&document, &sketch, |x, _| x >= 56);
    let (composite, _) = document.composite(&document.bounds());
    let straight = unpremultiply(&composite);
    for y in 0..64 {
        for x in 56..96 {
            let index = (y * 96 + x) as usize;
            assert_eq!(straight[index * 4 + 3], 255, "opaque ({x}, {y})");
        }
    }
    // A project with no mask and no --mask is refused with what to do.
    refused_writing_nothing(
        project_inpaint(folder.path(), &sketch_path, None).args(["--prompt", "x"]),
        &folder.path().join("never.ora"),
        "has no mask; give one with --mask",
    );
}

#[test]
fn project_inpaint_refuses_a_mask_of_another_size_or_an_empty_one_and_writes_nothing() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let sketch_path = folder.path().join("sketch.png");
    image::RgbImage::new(64, 64)
        .save(&sketch_path)
        .expect("sketch");
    let run = |mask: &image::GrayImage, says: &str| {
        let mask_path = folder.path().join("mask.png");
        mask.save(&mask_path).expect("mask");
        let out = folder.path().join("out.ora");
        refused_writing_nothing(
            project_inpaint(folder.path(), &sketch_path, Some(&mask_path)).args(["--prompt", "x"]),
            &out,
            says,
        );
    };
    run(
        &image::GrayImage::from_pixel(32, 64, image::Luma([255])),
        "the mask is 32×64 pixels but the picture is 64×64",
    );
    run(&image::GrayImage::new(64, 64), "black everywhere");
}

/// Exports `document` as a PNG at `path`, signed by a local identity in `signer`'s name, with
/// the default choices.
fn signed_by(document: &Document, path: &Path, signer: &str) {
    let identity = pentimento::credentials::SigningIdentity::make_local(signer).expect("identity");
    pentimento::credentials::export::export_png(
        document,
        path,
        Some(&identity),
        &pentimento::credentials::manifest::ExportChoices::default(),
    )
    .expect("exported");
}

#[test]
fn imported_images_are_ingredients_that_keep_their_own_credentials() {
    use pentimento::credentials::ingredients;
    let folder = tempfile::tempdir().expect("temporary folder");
    // An image another artist signed.
    let theirs = folder.path().join("theirs.png");
    let mut original = Document::new(64, 48).expect("size");
    let pixels: Vec<u8> = (0..64 * 48)
        .flat_map(|i| [(i % 251) as u8, 90, 40, 255])
        .collect();
    original.import_layer("sketch", 64, 48, &pixels, 0, 0);
    signed_by(&original, &theirs, "Ada Painter");
    // And a plain one.
    let plain = folder.path().join("plain.png");
    image::RgbaImage::from_pixel(16, 16, image::Rgba([0, 0, 200, 255]))
        .save(&plain)
        .expect("plain");

    // Opened, then the plain one added as a layer, as the window does.
    let mut document = pentimento::io::open_document(&theirs).expect("opens");
    ingredients::record_opened_image(&mut document, &theirs);
    assert!(!document.has_unsaved_changes(), "opening is not a change");
    let rgba = image::open(&plain).expect("plain").to_rgba8().into_raw();
    let layer = document.import_layer("plain", 16, 16, &rgba, 0, 0);
    ingredients::record_import(&mut document, &plain, layer, false);
    assert_eq!(document.imports.len(), 2);
    assert!(document.imports[0].opened);
    assert!(document.imports[0].manifest_store.is_some());
    assert!(
        document.imports[0]
            .credentials
            .as_deref()
            .is_some_and(|said| said.starts_with("Valid, signed by Ada Painter")),
        "{:?}",
        document.imports[0].credentials
    );
    assert!(document.imports[1].manifest_store.is_none());

    // The project keeps both records and the signed image's manifest store.
    let project = folder.path().join("with-imports.ora");
    ora::save(&document, &project).expect("save");
    let reopened = ora::open(&project).expect("open");
    assert_eq!(reopened.imports, document.imports);
    assert_eq!(
        reopened.imports[0].manifest_store,
        document.imports[0].manifest_store
    );

    let exported = folder.path().join("mine.png");
    signed_by(&reopened, &exported, "Bo Inker");
    let read = pentimento::credentials::verify_file(&exported, None).expect("credentials");
    assert_eq!(read.state, "Valid", "{:?}", read.statuses);
    assert_eq!(read.signer.as_deref(), Some("Bo Inker"));
    let manifests = &read.json["manifests"];
    let active = &manifests[read.json["active_manifest"].as_str().expect("active")];
    let found = active["ingredients"].as_array().expect("ingredients");
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0]["title"], "theirs.png");
    assert_eq!(found[0]["relationship"], "componentOf");
    // Its own manifest came along, signed by the other artist.
    let label = found[0]["active_manifest"]
        .as_str()
        .unwrap_or_else(|| panic!("its manifest: {:#}", found[0]));
    assert_eq!(
        manifests[label]["signature_info"]["common_name"],
        "Ada Painter"
    );
    assert!(found[1].get("active_manifest").is_none());
    let lines = read.describe_lines();
    assert!(
        lines.contains(
            &"ingredient    theirs.png (componentOf), with its own Content Credentials, signed by Ada Painter"
                .to_owned()
        ),
        "{lines:?}"
    );
    // A c2pa.placed action per ingredient, linked to it.
    let placed: Vec<serde_json::Value> = actions_of(active)
        .into_iter()
        .filter(|action| action["action"] == "c2pa.placed")
        .collect();
    assert_eq!(placed.len(), 2, "{placed:?}");
    assert!(
        placed
            .iter()
            .all(|action| action["parameters"]["ingredients"]
                .as_array()
                .is_some_and(|list| list.len() == 1)),
        "{placed:?}"
    );
}

#[test]
fn fill_continues_a_texture_with_no_model_and_refuses_a_wrong_mask() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let side = 128_u32;
    let truth = image::RgbImage::from_fn(side, side, |x, y| {
        if ((x + 2 * y) / 9) % 2 == 0 {
            image::Rgb([200, 60, 40])
        } else {
            image::Rgb([30, 90, 180])
        }
    });
    let inside = |x: u32, y: u32| (40..80).contains(&x) && (48..88).contains(&y);
    let mut damaged = truth.clone();
    for (x, y, pixel) in damaged.enumerate_pixels_mut() {
        if inside(x, y) {
            *pixel = image::Rgb([255, 255, 255]);
        }
    }
    let picture = folder.path().join("damaged.png");
    damaged.save(&picture).expect("picture");
    let mask_path = mask_file(&folder.path().join("hole.png"), (side, side), inside);
    let out = folder.path().join("filled.png");
    // No model anywhere: HOME is an empty folder.
    succeeds(
        pentimento_at(folder.path())
            .arg("fill")
            .arg(&picture)
            .arg("--mask")
            .arg(&mask_path)
            .arg("--out")
            .arg(&out),
    );
    let filled = image::open(&out).expect("written").to_rgb8();
    let (mut continued, mut holes) = (0, 0);
    for (x, y, pixel) in filled.enumerate_pixels() {
        if inside(x, y) {
            holes += 1;
            let truth = truth.get_pixel(x, y);
            continued += usize::from((0..3).all(|k| pixel[k].abs_diff(truth[k]) <= 24));
        } else {
            assert_eq!(
                pixel,
                damaged.get_pixel(x, y),
                "({x}, {y}) outside the hole"
            );
        }
    }
    assert!(
        continued * 10 >= holes * 8,
        "{continued} of {holes} hole pixels continue the stripes"
    );

    let small = folder.path().join("small.png");
    image::GrayImage::new(64, 64).save(&small).expect("small");
    refused_writing_nothing(
        pentimento_at(folder.path())
            .arg("fill")
            .arg(&picture)
            .arg("--mask")
            .arg(&small),
        &folder.path().join("never.png"),
        "the mask is 64×64 pixels but the picture is 128×128",
    );
}

#[test]
fn an_export_names_each_variation_the_variation_brush_shows_with_its_seed_and_pixels() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let mut document = sample_document();
    let mut record = document.generation_log[0].clone();
    record.seeds = vec![11, 12];
    record.accepted = vec![0];
    let log_id = document.log_generation(record);
    let region = PixelRect::new(20, 20, 120, 100);
    let pixels = (region.width() * region.height()) as usize;
    let variations = vec![
        std::sync::Arc::new(vec![40_u8; pixels * 3]),
        std::sync::Arc::new(vec![220_u8; pixels * 3]),
    ];
    let layer = document.add_generative_layer_with_variations(
        "Gen 2 · seed 11",
        region,
        variations,
        0,
        vec![255; pixels],
        log_id,
    );
    document
        .paint_stroke(
            Some(layer),
            StrokeMode::Variation(1),
            BrushSettings {
                size: 30.0,
                hardness: 0.5,
                ..BrushSettings::default()
            },
            (0..=8).map(|i| StrokePoint::new(30.0 + i as f32 * 12.0, 60.0)),
        )
        .expect("the variation brush paints");
    let project = folder.path().join("brushed.ora");
    ora::save(&document, &project).expect("save");
    let output = folder.path().join("brushed.png");
    succeeds(
        pentimento_at(folder.path())
            .arg("export")
            .arg(&project)
            .arg(&output),
    );

    let bytes = std::fs::read(&output).expect("signed file");
    let read = pentimento::credentials::verify(&bytes, "image/png", None).expect("reads");
    assert_eq!(read.state, "Valid", "{:?}", read.statuses);
    let manifest = &read.json["manifests"][read.json["active_manifest"].as_str().expect("active")];
    let actions: Vec<serde_json::Value> = actions_of(manifest)
        .into_iter()
        .filter(|action| {
            action["description"]
                .as_str()
                .is_some_and(|text| text.contains("\"Gen 2 · seed 11\""))
        })
        .collect();
    assert_eq!(
        actions.len(),
        2,
        "one action per variation shown: {actions:?}"
    );
    let (width, height) = (document.width(), document.height());
    let LayerContent::Generative(generative) = &document.layer(layer).expect("layer").content
    else {
        panic!("generative");
    };
    let (_, provenance) = document.composite(&document.bounds());
    let mut union = vec![false; (width * height) as usize];
    for (variation, seed) in [(0_usize, 11), (1, 12)] {
        let action = actions
            .iter()
            .find(|action| action["parameters"]["variation"] == variation + 1)
            .expect("the variation's action");
        assert_eq!(action["parameters"]["seed"], seed);
        let rings = rings_of(action);
        let filled = pentimento::credentials::regions::rasterize(width, height, &rings);
        for y in 0..height {
            for x in 0..width {
                let index = (y * width + x) as usize;
                let shows = generative.rendered().pixel(x, y)[3] > 0
                    && provenance[index] == Provenance::Generated
                    && generative.variation_weight(variation, x, y) > 0;
                assert_eq!(
                    filled[index],
                    shows,
                    "variation {} at ({x}, {y}): in its region exactly where it shows",
                    variation + 1
                );
                union[index] |= filled[index];
            }
        }
    }
    // Together they are the layer's generated pixels, and the text chunk says the shares.
    for (index, value) in provenance.iter().enumerate() {
        let (x, y) = (index as u32 % width, index as u32 / width);
        if region.contains(x, y) {
            assert_eq!(union[index], *value == Provenance::Generated, "({x}, {y})");
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("pentimento:layers"),
        "the layers chunk is written"
    );
}

#[test]
fn a_project_keeps_where_each_variation_shows() {
    let mut document = Document::new(400, 400).expect("size");
    let region = PixelRect::new(40, 30, 320, 300);
    let pixels = (region.width() * region.height()) as usize;
    let flat = |value: u8| std::sync::Arc::new(vec![value; pixels * 3]);
    let id = document.add_generative_layer_with_variations(
        "Gen 1 · seed 1",
        region,
        vec![flat(20), flat(120), flat(230)],
        0,
        vec![255; pixels],
        1,
    );
    for (variation, y) in [(1, 150.0), (2, 250.0)] {
        document
            .paint_stroke(
                Some(id),
                StrokeMode::Variation(variation),
                BrushSettings {
                    size: 60.0,
                    hardness: 0.4,
                    ..BrushSettings::default()
                },
                [StrokePoint::new(100.0, y), StrokePoint::new(300.0, y)],
            )
            .expect("paints");
    }
    let folder = tempfile::tempdir().expect("temporary folder");
    let path = folder.path().join("brushed.ora");
    ora::save(&document, &path).expect("save");
    let loaded = ora::open(&path).expect("reads back");
    assert_eq!(
        loaded.composite(&loaded.bounds()),
        document.composite(&document.bounds()),
        "every pixel as it was"
    );
    let shares = |document: &Document| match &document.layer(id).expect("layer").content {
        LayerContent::Generative(generative) => generative.variation_shares(),
        LayerContent::Paint(_) => panic!("generative"),
    };
    assert_eq!(shares(&loaded), shares(&document));
    assert_eq!(shares(&loaded).len(), 3, "all three show somewhere");
}
