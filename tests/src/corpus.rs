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
    /// How it is made.
    build: Build,
    /// Words the error message must contain.
    pub expected: &'static [&'static str],
}

/// How a case's input is made inside a scratch folder.
enum Build {
    /// By a function that returns the input's path.
    Custom(fn(&Path) -> PathBuf),
    /// A copy of the tiny text-to-image model, broken in place by the function.
    TinyModel(fn(&Path)),
    /// A copy of the tiny text-to-image model without this file or folder.
    TinyModelWithout(&'static str),
    /// A file of this name, written by the function.
    File(&'static str, fn(&Path)),
}

impl Case {
    fn custom(name: &'static str, build: fn(&Path) -> PathBuf, expected: &'static [&str]) -> Self {
        Self {
            name,
            build: Build::Custom(build),
            expected,
        }
    }

    fn tiny_model(name: &'static str, break_it: fn(&Path), expected: &'static [&str]) -> Self {
        Self {
            name,
            build: Build::TinyModel(break_it),
            expected,
        }
    }

    fn without(name: &'static str, part: &'static str, expected: &'static [&str]) -> Self {
        Self {
            name,
            build: Build::TinyModelWithout(part),
            expected,
        }
    }

    fn file(
        name: &'static str,
        file: &'static str,
        write: fn(&Path),
        expected: &'static [&str],
    ) -> Self {
        Self {
            name,
            build: Build::File(file, write),
            expected,
        }
    }

    /// Builds the input inside `scratch` and returns its path.
    pub fn build(&self, scratch: &Path) -> PathBuf {
        match self.build {
            Build::Custom(build) => build(scratch),
            Build::TinyModel(break_it) => {
                let model = tiny_model_in(scratch);
                break_it(&model);
                model
            }
            Build::TinyModelWithout(part) => {
                let model = tiny_model_in(scratch);
                remove(&model, part);
                model
            }
            Build::File(name, write) => {
                let path = scratch.join(name);
                write(&path);
                path
            }
        }
    }
}

/// A copy of the tiny text-to-image model in `scratch`.
fn tiny_model_in(scratch: &Path) -> PathBuf {
    let model = scratch.join("model");
    copy_tree(&fixture_model("tiny-sd"), &model);
    model
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

/// Removes a file or folder of the model.
fn remove(model: &Path, part: &str) {
    let path = model.join(part);
    if path.is_dir() {
        std::fs::remove_dir_all(&path).expect("remove");
    } else {
        std::fs::remove_file(&path).expect("remove");
    }
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

/// The start of a `.safetensors` file: an 8-byte header length and an empty header.
const SAFETENSORS: &[u8] = b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ";

/// What every broken image and project file's message must say.
const NOT_AN_IMAGE: &str = "not a readable PNG, JPEG or WebP image";
const NOT_A_PROJECT: &str = "not a usable OpenRaster project";

/// Model folders that must be refused.
pub fn model_cases() -> Vec<Case> {
    vec![
        Case::custom(
            "empty folder",
            |scratch| {
                let dir = scratch.join("empty");
                std::fs::create_dir_all(&dir).expect("create");
                dir
            },
            &["folder is empty", "model_index.json"],
        ),
        Case::file(
            "a text file instead of a folder",
            "notes.txt",
            |file| write(file, b"not a model"),
            &["not a folder"],
        ),
        Case::file(
            "pickle checkpoint file",
            "v1-5-pruned.ckpt",
            |file| write(file, PICKLE),
            &["pickle", "never opens", "v1-5-pruned.ckpt"],
        ),
        Case::file(
            "pickle .bin in a PyTorch diffusers folder",
            "sd-pytorch",
            |dir| {
                write(
                    &dir.join("model_index.json"),
                    b"{\"_class_name\": \"StableDiffusionPipeline\"}",
                );
                write(&dir.join("unet/diffusion_pytorch_model.bin"), PICKLE);
                write(&dir.join("unet/config.json"), b"{}");
            },
            &[
                "PyTorch weights",
                "unet/diffusion_pytorch_model.bin",
                "optimum-cli export onnx",
            ],
        ),
        Case::file(
            "loose pickle in a folder",
            "downloads",
            |dir| write(&dir.join("model.pt"), PICKLE),
            &["pickle", "model.pt"],
        ),
        Case::file(
            "single-file safetensors checkpoint",
            "dreamshaper_8.safetensors",
            |file| write(file, SAFETENSORS),
            &[
                "single-file checkpoint",
                "from_single_file",
                "optimum-cli export onnx",
            ],
        ),
        Case::file(
            "folder with a single safetensors checkpoint",
            "checkpoints",
            |dir| write(&dir.join("sd15.safetensors"), SAFETENSORS),
            &["single-file checkpoint", "sd15.safetensors"],
        ),
        Case::custom(
            "one onnx file instead of the pipeline folder",
            |scratch| tiny_model_in(scratch).join("unet").join("model.onnx"),
            &["one ONNX file", "folder of the whole pipeline"],
        ),
        Case::without("unet missing", "unet", &["no unet", "unet/model.onnx"]),
        Case::without("text encoder missing", "text_encoder", &["no text_encoder"]),
        Case::without(
            "vae decoder missing",
            "vae_decoder/model.onnx",
            &["no vae_decoder"],
        ),
        Case::without("tokenizer folder missing", "tokenizer", &["tokenizer"]),
        Case::without(
            "tokenizer vocab.json missing",
            "tokenizer/vocab.json",
            &["vocab.json"],
        ),
        Case::without(
            "tokenizer merges.txt missing",
            "tokenizer/merges.txt",
            &["merges.txt"],
        ),
        Case::tiny_model(
            "truncated unet",
            |model| truncate(&model.join("unet/model.onnx"), 0.6),
            &["could not load the unet", "truncated or not an ONNX model"],
        ),
        Case::tiny_model(
            "random bytes as the vae decoder",
            |model| {
                let noise: Vec<u8> = (0..4096_u32)
                    .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                    .collect();
                write(&model.join("vae_decoder/model.onnx"), &noise);
            },
            &["could not load the vae_decoder"],
        ),
        Case::tiny_model(
            "empty text encoder file",
            |model| write(&model.join("text_encoder/model.onnx"), b""),
            &["could not load the text_encoder"],
        ),
        Case::tiny_model(
            "model.onnx_data missing",
            |model| {
                replace_component(model, "text_encoder", "text-encoder-external");
                remove(model, "text_encoder/model.onnx_data");
            },
            &["keeps its weights in model.onnx_data", "missing"],
        ),
        Case::tiny_model(
            "unet with 5 input channels",
            |model| replace_component(model, "unet", "unet-5-channels"),
            &["5 input channels", "4", "9"],
        ),
        Case::tiny_model(
            "text embeddings wider than the unet takes",
            |model| replace_component(model, "text_encoder", "text-encoder-48-wide"),
            &["48-wide", "32-wide", "same export"],
        ),
        Case::tiny_model(
            "unet sample of the wrong type",
            |model| replace_component(model, "unet", "unet-int-sample"),
            &["unet", "sample"],
        ),
        Case::tiny_model(
            "text encoder ids of the wrong type",
            |model| replace_component(model, "text_encoder", "text-encoder-float-ids"),
            &["text_encoder", "input_ids"],
        ),
        Case::tiny_model(
            "the VAE encoder copied over the decoder",
            |model| copy_graph(model, "vae_encoder", "vae_decoder"),
            &[
                "model.onnx in vae_decoder/ is a VAE encoder, not a VAE decoder",
                "`sample` (3 channels)",
                "`latent_sample`",
            ],
        ),
        Case::tiny_model(
            "the VAE decoder copied over the encoder",
            |model| copy_graph(model, "vae_decoder", "vae_encoder"),
            &["model.onnx in vae_encoder/ is a VAE decoder, not a VAE encoder"],
        ),
        Case::tiny_model(
            "the VAE decoder copied over the UNet",
            |model| copy_graph(model, "vae_decoder", "unet"),
            &["model.onnx in unet/ is a VAE decoder, not a UNet"],
        ),
        Case::tiny_model(
            "the UNet copied over the VAE decoder",
            |model| copy_graph(model, "unet", "vae_decoder"),
            &["model.onnx in vae_decoder/ is a UNet, not a VAE decoder"],
        ),
        Case::tiny_model(
            "scheduler_config.json not JSON",
            |model| {
                write(
                    &model.join("scheduler/scheduler_config.json"),
                    b"{ \"beta_start\": 0.00085,",
                );
            },
            &["scheduler_config.json"],
        ),
        Case::tiny_model(
            "scheduler_config.json with nonsense values",
            |model| {
                write(
                    &model.join("scheduler/scheduler_config.json"),
                    br#"{"_class_name": "PNDMScheduler", "beta_start": -3, "beta_end": "high", "num_train_timesteps": 0, "prediction_type": "banana"}"#,
                );
            },
            &["scheduler_config.json"],
        ),
        Case::tiny_model(
            "model_index.json not JSON",
            |model| {
                write(
                    &model.join("model_index.json"),
                    b"<html>404 Not Found</html>",
                );
            },
            &["not valid JSON", "model_index.json"],
        ),
        Case::tiny_model(
            "model_index.json of the wrong shape",
            |model| write(&model.join("model_index.json"), b"[1, 2, 3]"),
            &["model_index.json"],
        ),
    ]
}

/// Writes a 64 × 64 gradient image (the format follows the file's extension).
fn gradient(path: &Path, step: u8, blue: u8) {
    image::RgbaImage::from_fn(64, 64, |x, y| {
        image::Rgba([x as u8 * step, y as u8 * step, blue, 255])
    })
    .save(path)
    .expect("image");
}

/// Images that must be refused.
pub fn image_cases() -> Vec<Case> {
    vec![
        Case::file(
            "truncated PNG",
            "truncated.png",
            |path| {
                gradient(path, 4, 90);
                truncate(path, 0.5);
            },
            &[NOT_AN_IMAGE, "truncated.png"],
        ),
        Case::file(
            "PNG with a damaged body",
            "damaged.png",
            |path| {
                gradient(path, 1, 7);
                let mut bytes = std::fs::read(path).expect("read");
                let length = bytes.len();
                for byte in &mut bytes[60..length - 20] {
                    *byte ^= 0x5a;
                }
                std::fs::write(path, bytes).expect("write");
            },
            &[NOT_AN_IMAGE, "damaged.png"],
        ),
        Case::file(
            "truncated JPEG",
            "truncated.jpg",
            |path| {
                let image = image::RgbImage::from_fn(64, 64, |x, y| {
                    image::Rgb([x as u8 * 3, y as u8 * 3, 120])
                });
                image.save(path).expect("jpeg");
                truncate(path, 0.3);
            },
            &[NOT_AN_IMAGE, "truncated.jpg"],
        ),
        Case::file(
            "JPEG that is not one",
            "photo.jpg",
            |path| {
                write(
                    path,
                    b"\xff\xd8\xff\xe0 this is where a photo would have been",
                );
            },
            &[NOT_AN_IMAGE, "photo.jpg"],
        ),
        Case::file(
            "PNG header claiming 100000 x 100000",
            "huge.png",
            |path| {
                std::fs::copy(malformed("huge-header.png"), path).expect("copy");
            },
            &["100000×100000"],
        ),
        Case::file(
            "empty file",
            "empty.png",
            |path| write(path, b""),
            &[NOT_AN_IMAGE, "empty.png"],
        ),
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

/// An OpenRaster archive with a mimetype and this `stack.xml`, and an 8 × 8 PNG as `data/a.png`
/// when `with_layer`.
fn ora_with_stack(path: &Path, stack: &[u8], with_layer: bool) {
    let png = small_png();
    let mut entries: Vec<(&str, &[u8])> =
        vec![("mimetype", b"image/openraster"), ("stack.xml", stack)];
    if with_layer {
        entries.push(("data/a.png", &png));
    }
    ora(path, &entries);
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
        Case::file(
            "project with a ../ path",
            "escape.ora",
            |path| {
                ora_with_stack(
                    path,
                    br#"<image w="8" h="8"><stack><layer src="../../../etc/layer.png" name="a"/></stack></image>"#,
                    true,
                );
            },
            &["outside the project", "escape.ora"],
        ),
        Case::file(
            "project with an absolute path",
            "absolute.ora",
            |path| {
                ora_with_stack(
                    path,
                    br#"<image w="8" h="8"><stack><layer src="/home/someone/layer.png" name="a"/></stack></image>"#,
                    false,
                );
            },
            &["outside the project", "absolute.ora"],
        ),
        Case::file(
            "project zip bomb",
            "bomb.ora",
            |path| {
                std::fs::copy(malformed("zip-bomb.ora"), path).expect("copy");
            },
            &["larger than a project file may be", "bomb.ora"],
        ),
        Case::file(
            "project whose stack.xml names a missing layer",
            "missing-layer.ora",
            |path| {
                ora_with_stack(
                    path,
                    br#"<image w="8" h="8"><stack><layer src="data/gone.png" name="gone"/></stack></image>"#,
                    false,
                );
            },
            &["data/gone.png", "missing"],
        ),
        Case::file(
            "project whose stack.xml is not XML",
            "bad-stack.ora",
            |path| ora_with_stack(path, b"<image w=\"8\" h=\"8\"><stack>", false),
            &[NOT_A_PROJECT, "bad-stack.ora"],
        ),
        Case::file(
            "project without stack.xml",
            "no-stack.ora",
            |path| ora(path, &[("mimetype", b"image/openraster")]),
            &["stack.xml", "no-stack.ora"],
        ),
        Case::file(
            "project that is not a zip archive",
            "text.ora",
            |path| write(path, b"just some text"),
            &[NOT_A_PROJECT, "text.ora"],
        ),
        Case::file(
            "truncated project",
            "cut.ora",
            |path| {
                ora_with_stack(
                    path,
                    br#"<image w="8" h="8"><stack><layer src="data/a.png" name="a"/></stack></image>"#,
                    true,
                );
                truncate(path, 0.7);
            },
            &[NOT_A_PROJECT, "cut.ora"],
        ),
    ]
}
