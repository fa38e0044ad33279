//! The malformed-input corpus: broken model folders, images and projects, each with the words
//! its error must contain. Each case is built in a scratch folder from the tiny fixture models
//! and the files of `tests/fixtures/malformed/` (see its `generate.py`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::{fixture_model, fixtures_dir};

/// One malformed input.
pub struct Case {
    /// What is wrong, as a test name.
    pub name: &'static str,
    /// Builds the input inside the given scratch folder and returns its path.
    pub build: fn(&Path) -> PathBuf,
    /// Words the error message must contain.
    pub expected: &'static [&'static str],
}

fn malformed(name: &str) -> PathBuf {
    fixtures_dir().join("malformed").join(name)
}

/// Copies a folder tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for entry in std::fs::read_dir(from).expect("read folder") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A copy of the tiny text-to-image model to break.
fn tiny(scratch: &Path) -> PathBuf {
    let model = scratch.join("model");
    copy_tree(&fixture_model("tiny-sd"), &model);
    model
}

fn write(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create folder");
    }
    std::fs::write(path, bytes).expect("write");
}

fn truncate(path: &Path, keep: f64) {
    let bytes = std::fs::read(path).expect("read");
    let length = (bytes.len() as f64 * keep) as usize;
    std::fs::write(path, &bytes[..length]).expect("write");
}

fn replace_component(model: &Path, component: &str, with: &str) {
    let dir = model.join(component);
    std::fs::remove_dir_all(&dir).expect("remove component");
    copy_tree(&malformed(with), &dir);
}

/// Copies one component's `model.onnx` over another's.
fn copy_graph(model: &Path, from: &str, to: &str) {
    std::fs::copy(
        model.join(from).join("model.onnx"),
        model.join(to).join("model.onnx"),
    )
    .expect("copy graph");
}

/// A pickle stream's first bytes (protocol 2), as `torch.save` files begin.
const PICKLE: &[u8] = b"\x80\x02}q\x00(X\x05\x00\x00\x00stateq\x01.";

/// Model folders that must be refused with an explanation.
pub fn model_cases() -> Vec<Case> {
    vec![
        Case {
            name: "empty folder",
            build: |scratch| {
                let dir = scratch.join("empty");
                std::fs::create_dir_all(&dir).expect("create");
                dir
            },
            expected: &["folder is empty", "model_index.json"],
        },
        Case {
            name: "a text file instead of a folder",
            build: |scratch| {
                let file = scratch.join("notes.txt");
                write(&file, b"not a model");
                file
            },
            expected: &["not a folder"],
        },
        Case {
            name: "pickle checkpoint file",
            build: |scratch| {
                let file = scratch.join("v1-5-pruned.ckpt");
                write(&file, PICKLE);
                file
            },
            expected: &["pickle", "never opens", "v1-5-pruned.ckpt"],
        },
        Case {
            name: "pickle .bin in a PyTorch diffusers folder",
            build: |scratch| {
                let dir = scratch.join("sd-pytorch");
                write(
                    &dir.join("model_index.json"),
                    b"{\"_class_name\": \"StableDiffusionPipeline\"}",
                );
                write(
                    &dir.join("unet").join("diffusion_pytorch_model.bin"),
                    PICKLE,
                );
                write(&dir.join("unet").join("config.json"), b"{}");
                dir
            },
            expected: &[
                "PyTorch weights",
                "unet/diffusion_pytorch_model.bin",
                "optimum-cli export onnx",
            ],
        },
        Case {
            name: "loose pickle in a folder",
            build: |scratch| {
                let dir = scratch.join("downloads");
                write(&dir.join("model.pt"), PICKLE);
                dir
            },
            expected: &["pickle", "model.pt"],
        },
        Case {
            name: "single-file safetensors checkpoint",
            build: |scratch| {
                let file = scratch.join("dreamshaper_8.safetensors");
                write(&file, b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ");
                file
            },
            expected: &[
                "single-file checkpoint",
                "from_single_file",
                "optimum-cli export onnx",
            ],
        },
        Case {
            name: "folder with a single safetensors checkpoint",
            build: |scratch| {
                let dir = scratch.join("checkpoints");
                write(
                    &dir.join("sd15.safetensors"),
                    b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ",
                );
                dir
            },
            expected: &["single-file checkpoint", "sd15.safetensors"],
        },
        Case {
            name: "one onnx file instead of the pipeline folder",
            build: |scratch| {
                let model = tiny(scratch);
                model.join("unet").join("model.onnx")
            },
            expected: &["one ONNX file", "folder of the whole pipeline"],
        },
        Case {
            name: "unet missing",
            build: |scratch| {
                let model = tiny(scratch);
                std::fs::remove_dir_all(model.join("unet")).expect("remove");
                model
            },
            expected: &["no unet", "unet/model.onnx"],
        },
        Case {
            name: "text encoder missing",
            build: |scratch| {
                let model = tiny(scratch);
                std::fs::remove_dir_all(model.join("text_encoder")).expect("remove");
                model
            },
            expected: &["no text_encoder"],
        },
        Case {
            name: "vae decoder missing",
            build: |scratch| {
                let model = tiny(scratch);
                std::fs::remove_file(model.join("vae_decoder").join("model.onnx")).expect("remove");
                model
            },
            expected: &["no vae_decoder"],
        },
        Case {
            name: "tokenizer folder missing",
            build: |scratch| {
                let model = tiny(scratch);
                std::fs::remove_dir_all(model.join("tokenizer")).expect("remove");
                model
            },
            expected: &["tokenizer"],
        },
        Case {
            name: "tokenizer vocab.json missing",
            build: |scratch| {
                let model = tiny(scratch);
                std::fs::remove_file(model.join("tokenizer").join("vocab.json")).expect("remove");
                model
            },
            expected: &["vocab.json"],
        },
        Case {
            name: "tokenizer merges.txt missing",
            build: |scratch| {
                let model = tiny(scratch);
                std::fs::remove_file(model.join("tokenizer").join("merges.txt")).expect("remove");
                model
            },
            expected: &["merges.txt"],
        },
        Case {
            name: "truncated unet",
            build: |scratch| {
                let model = tiny(scratch);
                truncate(&model.join("unet").join("model.onnx"), 0.6);
                model
            },
            expected: &["could not load the unet", "truncated or not an ONNX model"],
        },
        Case {
            name: "random bytes as the vae decoder",
            build: |scratch| {
                let model = tiny(scratch);
                let noise: Vec<u8> = (0..4096_u32)
                    .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                    .collect();
                write(&model.join("vae_decoder").join("model.onnx"), &noise);
                model
            },
            expected: &["could not load the vae_decoder"],
        },
        Case {
            name: "empty text encoder file",
            build: |scratch| {
                let model = tiny(scratch);
                write(&model.join("text_encoder").join("model.onnx"), b"");
                model
            },
            expected: &["could not load the text_encoder"],
        },
        Case {
            name: "model.onnx_data missing",
            build: |scratch| {
                let model = tiny(scratch);
                replace_component(&model, "text_encoder", "text-encoder-external");
                std::fs::remove_file(model.join("text_encoder").join("model.onnx_data"))
                    .expect("remove");
                model
            },
            expected: &["keeps its weights in model.onnx_data", "missing"],
        },
        Case {
            name: "unet with 5 input channels",
            build: |scratch| {
                let model = tiny(scratch);
                replace_component(&model, "unet", "unet-5-channels");
                model
            },
            expected: &["5 input channels", "4", "9"],
        },
        Case {
            name: "text embeddings wider than the unet takes",
            build: |scratch| {
                let model = tiny(scratch);
                replace_component(&model, "text_encoder", "text-encoder-48-wide");
                model
            },
            expected: &["48-wide", "32-wide", "same export"],
        },
        Case {
            name: "unet sample of the wrong type",
            build: |scratch| {
                let model = tiny(scratch);
                replace_component(&model, "unet", "unet-int-sample");
                model
            },
            expected: &["unet", "sample"],
        },
        Case {
            name: "text encoder ids of the wrong type",
            build: |scratch| {
                let model = tiny(scratch);
                replace_component(&model, "text_encoder", "text-encoder-float-ids");
                model
            },
            expected: &["text_encoder", "input_ids"],
        },
        Case {
            name: "the VAE encoder copied over the decoder",
            build: |scratch| {
                let model = tiny(scratch);
                copy_graph(&model, "vae_encoder", "vae_decoder");
                model
            },
            expected: &[
                "model.onnx in vae_decoder/ is a VAE encoder, not a VAE decoder",
                "`sample` (3 channels)",
                "`latent_sample`",
            ],
        },
        Case {
            name: "the VAE decoder copied over the encoder",
            build: |scratch| {
                let model = tiny(scratch);
                copy_graph(&model, "vae_decoder", "vae_encoder");
                model
            },
            expected: &["model.onnx in vae_encoder/ is a VAE decoder, not a VAE encoder"],
        },
        Case {
            name: "the VAE decoder copied over the UNet",
            build: |scratch| {
                let model = tiny(scratch);
                copy_graph(&model, "vae_decoder", "unet");
                model
            },
            expected: &["model.onnx in unet/ is a VAE decoder, not a UNet"],
        },
        Case {
            name: "the UNet copied over the VAE decoder",
            build: |scratch| {
                let model = tiny(scratch);
                copy_graph(&model, "unet", "vae_decoder");
                model
            },
            expected: &["model.onnx in vae_decoder/ is a UNet, not a VAE decoder"],
        },
        Case {
            name: "scheduler_config.json not JSON",
            build: |scratch| {
                let model = tiny(scratch);
                write(
                    &model.join("scheduler").join("scheduler_config.json"),
                    b"{ \"beta_start\": 0.00085,",
                );
                model
            },
            expected: &["scheduler_config.json"],
        },
        Case {
            name: "scheduler_config.json with nonsense values",
            build: |scratch| {
                let model = tiny(scratch);
                write(
                    &model.join("scheduler").join("scheduler_config.json"),
                    br#"{"_class_name": "PNDMScheduler", "beta_start": -3, "beta_end": "high", "num_train_timesteps": 0, "prediction_type": "banana"}"#,
                );
                model
            },
            expected: &["scheduler_config.json"],
        },
        Case {
            name: "model_index.json not JSON",
            build: |scratch| {
                let model = tiny(scratch);
                write(
                    &model.join("model_index.json"),
                    b"<html>404 Not Found</html>",
                );
                model
            },
            expected: &["not valid JSON", "model_index.json"],
        },
        Case {
            name: "model_index.json of the wrong shape",
            build: |scratch| {
                let model = tiny(scratch);
                write(&model.join("model_index.json"), b"[1, 2, 3]");
                model
            },
            expected: &["model_index.json"],
        },
    ]
}

/// Images that must be refused.
pub fn image_cases() -> Vec<Case> {
    vec![
        Case {
            name: "truncated PNG",
            build: |scratch| {
                let path = scratch.join("truncated.png");
                let image = image::RgbaImage::from_fn(64, 64, |x, y| {
                    image::Rgba([x as u8 * 4, y as u8 * 4, 90, 255])
                });
                image.save(&path).expect("png");
                truncate(&path, 0.5);
                path
            },
            expected: &["not a readable PNG, JPEG or WebP image", "truncated.png"],
        },
        Case {
            name: "PNG with a damaged body",
            build: |scratch| {
                let path = scratch.join("damaged.png");
                let image = image::RgbaImage::from_fn(64, 64, |x, y| {
                    image::Rgba([x as u8, y as u8, 7, 255])
                });
                image.save(&path).expect("png");
                let mut bytes = std::fs::read(&path).expect("read");
                let length = bytes.len();
                for byte in &mut bytes[60..length - 20] {
                    *byte ^= 0x5a;
                }
                std::fs::write(&path, bytes).expect("write");
                path
            },
            expected: &["not a readable PNG, JPEG or WebP image", "damaged.png"],
        },
        Case {
            name: "truncated JPEG",
            build: |scratch| {
                let path = scratch.join("truncated.jpg");
                let image = image::RgbImage::from_fn(64, 64, |x, y| {
                    image::Rgb([x as u8 * 3, y as u8 * 3, 120])
                });
                image.save(&path).expect("jpeg");
                truncate(&path, 0.3);
                path
            },
            expected: &["not a readable PNG, JPEG or WebP image", "truncated.jpg"],
        },
        Case {
            name: "JPEG that is not one",
            build: |scratch| {
                let path = scratch.join("photo.jpg");
                write(
                    &path,
                    b"\xff\xd8\xff\xe0 this is where a photo would have been",
                );
                path
            },
            expected: &["not a readable PNG, JPEG or WebP image", "photo.jpg"],
        },
        Case {
            name: "PNG header claiming 100000 x 100000",
            build: |scratch| {
                let path = scratch.join("huge.png");
                std::fs::copy(malformed("huge-header.png"), &path).expect("copy");
                path
            },
            expected: &["100000×100000"],
        },
        Case {
            name: "empty file",
            build: |scratch| {
                let path = scratch.join("empty.png");
                write(&path, b"");
                path
            },
            expected: &["not a readable PNG, JPEG or WebP image", "empty.png"],
        },
    ]
}

/// An OpenRaster archive with the given entries (stored), in the order given.
fn ora(path: &Path, entries: &[(&str, &[u8])]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).expect("create"));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in entries {
        zip.start_file(*name, options).expect("entry");
        zip.write_all(data).expect("write");
    }
    zip.finish().expect("finish");
}

fn small_png() -> Vec<u8> {
    let mut bytes = Vec::new();
    image::RgbaImage::from_pixel(8, 8, image::Rgba([10, 20, 30, 255]))
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .expect("png");
    bytes
}

/// Projects that must be refused.
pub fn project_cases() -> Vec<Case> {
    vec![
        Case {
            name: "project with a ../ path",
            build: |scratch| {
                let path = scratch.join("escape.ora");
                let png = small_png();
                ora(
                    &path,
                    &[
                        ("mimetype", b"image/openraster"),
                        ("stack.xml", br#"<image w="8" h="8"><stack><layer src="../../../etc/layer.png" name="a"/></stack></image>"#),
                        ("data/a.png", &png),
                    ],
                );
                path
            },
            expected: &["outside the project", "escape.ora"],
        },
        Case {
            name: "project with an absolute path",
            build: |scratch| {
                let path = scratch.join("absolute.ora");
                ora(
                    &path,
                    &[
                        ("mimetype", b"image/openraster"),
                        ("stack.xml", br#"<image w="8" h="8"><stack><layer src="/home/someone/layer.png" name="a"/></stack></image>"#),
                    ],
                );
                path
            },
            expected: &["outside the project", "absolute.ora"],
        },
        Case {
            name: "project zip bomb",
            build: |scratch| {
                let path = scratch.join("bomb.ora");
                std::fs::copy(malformed("zip-bomb.ora"), &path).expect("copy");
                path
            },
            expected: &["larger than a project file may be", "bomb.ora"],
        },
        Case {
            name: "project whose stack.xml names a missing layer",
            build: |scratch| {
                let path = scratch.join("missing-layer.ora");
                ora(
                    &path,
                    &[
                        ("mimetype", b"image/openraster"),
                        ("stack.xml", br#"<image w="8" h="8"><stack><layer src="data/gone.png" name="gone"/></stack></image>"#),
                    ],
                );
                path
            },
            expected: &["data/gone.png", "missing"],
        },
        Case {
            name: "project whose stack.xml is not XML",
            build: |scratch| {
                let path = scratch.join("bad-stack.ora");
                ora(
                    &path,
                    &[
                        ("mimetype", b"image/openraster"),
                        ("stack.xml", b"<image w=\"8\" h=\"8\"><stack>"),
                    ],
                );
                path
            },
            expected: &["not a usable OpenRaster project", "bad-stack.ora"],
        },
        Case {
            name: "project without stack.xml",
            build: |scratch| {
                let path = scratch.join("no-stack.ora");
                ora(&path, &[("mimetype", b"image/openraster")]);
                path
            },
            expected: &["stack.xml", "no-stack.ora"],
        },
        Case {
            name: "project that is not a zip archive",
            build: |scratch| {
                let path = scratch.join("text.ora");
                write(&path, b"just some text");
                path
            },
            expected: &["not a usable OpenRaster project", "text.ora"],
        },
        Case {
            name: "truncated project",
            build: |scratch| {
                let path = scratch.join("cut.ora");
                let png = small_png();
                ora(
                    &path,
                    &[
                        ("mimetype", b"image/openraster"),
                        ("stack.xml", br#"<image w="8" h="8"><stack><layer src="data/a.png" name="a"/></stack></image>"#),
                        ("data/a.png", &png),
                    ],
                );
                truncate(&path, 0.7);
                path
            },
            expected: &["not a usable OpenRaster project", "cut.ora"],
        },
    ]
}
