#!/usr/bin/env python3
"""Build a Stable-Diffusion-1.5-SHAPED ONNX pipeline with seeded RANDOM weights, for benchmarking.

    /work/fixture-venv/bin/python bench/make_sd15_random.py                     # -> /work/sd15-random
    /work/fixture-venv/bin/python bench/make_sd15_random.py --out DIR --inpainting --verify

The component configs are SD 1.5's published ones (text encoder = CLIP ViT-L/14 text tower, UNet, VAE,
PNDM scheduler), so every tensor shape, operator and FLOP count is that of the real model; only the weight
values are random (torch default / transformers init after torch.manual_seed). Images it produces are noise.
Nothing is downloaded: the tokenizer is the real SD-1.x CLIP tokenizer from tests/fixtures/clip-tokenizer/.

The output is the layout that diffusers' scripts/convert_stable_diffusion_checkpoint_to_onnx.py writes
(loadable with OnnxStableDiffusionPipeline.from_pretrained), with these deliberate differences:

* vae_encoder exports latent_dist.mode() (the mean) instead of .sample(), so it is deterministic;
  its output is still called `latent_sample` (4 channels).
* The UNet's weights (3.4 GB in fp32) go to ONE external file `unet/model.onnx_data` (the conversion script
  names it `weights.pb`; the optimum exporter uses `model.onnx_data`). ONNX Runtime finds it through the
  relative `location` recorded in unet/model.onnx, so the folder can be moved as a whole.
* --inpainting writes `OnnxStableDiffusionInpaintPipeline` as the class in model_index.json (the conversion
  script always writes OnnxStableDiffusionPipeline); the UNet then has 9 input channels.

Export details as in the conversion script: opset 14, TorchScript exporter (dynamo=False), constant folding;
text_encoder: input_ids int32 [batch, sequence] -> last_hidden_state, pooler_output;
unet: sample [batch, C, h, w], timestep float32 [batch], encoder_hidden_states [batch, sequence, 768]
-> out_sample; vae_encoder: sample [batch, 3, H, W] -> latent_sample; vae_decoder: latent_sample -> sample.

Memory: each component is built directly in fp32, exported, then freed before the next one. The UNet export
is the peak (torch model + traced graph + constant folding, see bench/README.md for the measured figure).
The UNet's raw export (one file per tensor) is merged into model.onnx_data tensor by tensor, so the 3.4 GB of
weights are never held in memory by onnx. The build happens in DIR.partial/ and is renamed to DIR at the end.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "fixtures"))
from sd_export import OFFLINE_ENV, SD15_SCHEDULER_CONFIG, export_text_encoder, export_unet  # noqa: E402
from sd_export import component_configs, export_vae_decoder, export_vae_encoder  # noqa: E402

# Offline and quiet; these are read when the libraries are imported.
for _k, _v in OFFLINE_ENV.items():
    os.environ.setdefault(_k, _v)

import argparse  # noqa: E402
import gc  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from onnx.external_data_helper import ExternalDataInfo, uses_external_data  # noqa: E402

import diffusers  # noqa: E402
import transformers  # noqa: E402
from diffusers import (  # noqa: E402
    AutoencoderKL,
    OnnxRuntimeModel,
    OnnxStableDiffusionInpaintPipeline,
    OnnxStableDiffusionPipeline,
    PNDMScheduler,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer  # noqa: E402

warnings.filterwarnings("ignore")  # TracerWarnings from the TorchScript exporter
diffusers.utils.logging.set_verbosity_error()
diffusers.utils.logging.disable_progress_bar()
transformers.utils.logging.set_verbosity_error()

REPO = Path(__file__).resolve().parent.parent
TOKENIZER_SRC = REPO / "tests" / "fixtures" / "clip-tokenizer"
TOKENIZER_FILES = ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json")
DEFAULT_OUT = Path("/work/sd15-random")

UNET_EXTERNAL_DATA = "model.onnx_data"

SEED_TEXT_ENCODER = 1501
SEED_VAE = 1502
SEED_UNET = 1503
SEED_UNET_INPAINT = 1504
SEED_EXPORT_DUMMIES = 1505

# ---- SD 1.5 component configs (runwayml/stable-diffusion-v1-5, */config.json) ----------------------------
# bench/sd15_configs.json holds them as the constructors take them.
# text_encoder: the text tower of openai/clip-vit-large-patch14. bos/eos/pad 0/2/1 are the legacy values that
# SD 1.5's config.json carries; with eos_token_id == 2 transformers pools at argmax(input_ids) (= the
# <|endoftext|> token 49407), exactly as for the real model. The pooled output is not used by SD anyway.
# unet: in_channels is 4, or 9 with --inpainting (4 latents + 1 mask + 4 masked-image latents);
# attention_head_dim is diffusers' historical misnomer: 8 = the number of heads in SD 1.x.
_CONFIGS = component_configs(Path(__file__).resolve().parent / "sd15_configs.json")
TEXT_ENCODER_CONFIG = _CONFIGS["text_encoder"]
UNET_CONFIG = _CONFIGS["unet"]
VAE_CONFIG = _CONFIGS["vae"]

# --------------------------------------------------------------------------------------------------------------
def log(*a):
    print(*a, file=sys.stderr, flush=True)


def rss_bytes() -> int:
    """Current resident set size (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def peak_rss_bytes() -> int:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024  # Linux reports KiB, macOS bytes


def gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def release_memory():
    """Drop Python garbage and hand freed heap pages back to the OS (glibc keeps them otherwise)."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class Stages:
    """Wall time and memory per build stage."""

    def __init__(self):
        self.rows = []

    def run(self, name, fn, *a, **kw):
        t0 = time.perf_counter()
        log(f"--- {name} ...")
        out = fn(*a, **kw)
        release_memory()
        row = dict(stage=name, seconds=round(time.perf_counter() - t0, 1),
                   peak_rss_so_far_bytes=peak_rss_bytes(), rss_after_bytes=rss_bytes())
        self.rows.append(row)
        log(f"    {name}: {row['seconds']} s, peak RSS so far {gib(row['peak_rss_so_far_bytes'])}, "
            f"RSS now {gib(row['rss_after_bytes'])}")
        return out


# --------------------------------------------------------------------------------------------------------------
def tokenizer() -> CLIPTokenizer:
    return CLIPTokenizer.from_pretrained(str(TOKENIZER_SRC))


@torch.no_grad()
def export_text_encoder_of_sd15(stage: Path):
    torch.manual_seed(SEED_TEXT_ENCODER)
    te = CLIPTextModel(CLIPTextConfig(**TEXT_ENCODER_CONFIG)).eval()
    log(f"    text encoder params: {sum(p.numel() for p in te.parameters()):,}")
    export_text_encoder(te, tokenizer(), stage / "text_encoder" / "model.onnx")
    del te


@torch.no_grad()
def export_vae_of_sd15(stage: Path):
    torch.manual_seed(SEED_VAE)
    vae = AutoencoderKL(**VAE_CONFIG).eval()
    log(f"    VAE params: {sum(p.numel() for p in vae.parameters()):,}")
    torch.manual_seed(SEED_EXPORT_DUMMIES)
    export_vae_encoder(vae, stage / "vae_encoder" / "model.onnx")
    export_vae_decoder(vae, vae.config.sample_size // 8, stage / "vae_decoder" / "model.onnx")
    del vae


@torch.no_grad()
def export_unet_raw(raw_dir: Path, inpainting: bool):
    """Export the UNet. At > 2 GB the TorchScript exporter writes one external file per tensor next to
    model.onnx; merge_external_data() collates them afterwards."""
    torch.manual_seed(SEED_UNET_INPAINT if inpainting else SEED_UNET)
    unet = UNet2DConditionModel(**{**UNET_CONFIG, "in_channels": 9 if inpainting else 4}).eval()
    log(f"    UNet params: {sum(p.numel() for p in unet.parameters()):,}")
    torch.manual_seed(SEED_EXPORT_DUMMIES)
    sequence, hidden = TEXT_ENCODER_CONFIG["max_position_embeddings"], TEXT_ENCODER_CONFIG["hidden_size"]
    export_unet(unet, sequence, hidden, raw_dir / "model.onnx")
    del unet


def merge_external_data(raw_dir: Path, dst_dir: Path, data_name: str = UNET_EXTERNAL_DATA):
    """Collate all external tensors of raw_dir/model.onnx into ONE file dst_dir/data_name, streaming tensor by
    tensor (what onnx.save_model(..., all_tensors_to_one_file=True) does, without loading 3.4 GB into memory).
    Tensors are appended back to back in graph-initializer order, without alignment padding, which is the
    file onnx.save_model writes (and so what real converted SD 1.5 UNets look like)."""
    model = onnx.load(str(raw_dir / "model.onnx"), load_external_data=False)
    dst_dir.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(dst_dir / data_name, "wb") as out:
        for t in model.graph.initializer:
            if not uses_external_data(t):
                continue
            info = ExternalDataInfo(t)
            with open(raw_dir / info.location, "rb") as fh:
                fh.seek(info.offset or 0)
                data = fh.read(info.length) if info.length else fh.read()
            offset = out.tell()
            out.write(data)
            del t.external_data[:]
            for k, v in (("location", data_name), ("offset", str(offset)), ("length", str(len(data)))):
                e = t.external_data.add()
                e.key, e.value = k, v
            n += 1
    onnx.save_model(model, str(dst_dir / "model.onnx"))
    log(f"    merged {n} external tensors into {dst_dir / data_name}")


def write_pipeline_files(stage: Path, inpainting: bool):
    """model_index.json, scheduler/ and tokenizer/ as DiffusionPipeline.save_pretrained writes them.
    The ONNX components are stand-ins without a session (model=None) pointing at the already exported
    folders: save_pretrained copies model.onnx onto itself (SameFileError is ignored by diffusers), so no
    multi-GB ONNX Runtime session is created just to write the json files."""
    comps = {k: OnnxRuntimeModel(model=None, model_save_dir=stage / k)
             for k in ("vae_encoder", "vae_decoder", "text_encoder", "unet")}
    cls = OnnxStableDiffusionInpaintPipeline if inpainting else OnnxStableDiffusionPipeline
    pipe = cls(**comps, tokenizer=tokenizer(), scheduler=PNDMScheduler.from_config(SD15_SCHEDULER_CONFIG),
               safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(stage)
    # the tokenizer: byte-identical copies of the real SD-1.x CLIP tokenizer files
    tok_dir = stage / "tokenizer"
    shutil.rmtree(tok_dir)
    tok_dir.mkdir()
    for f in TOKENIZER_FILES:
        shutil.copyfile(TOKENIZER_SRC / f, tok_dir / f)
    ids = CLIPTokenizer.from_pretrained(str(tok_dir))("a photo of a cat").input_ids
    assert ids == [49406, 320, 1125, 539, 320, 2368, 49407], ids


def check_models(stage: Path):
    """onnx.checker on every model (by path, which handles external data) + a signature summary."""
    for comp in ("text_encoder", "unet", "vae_encoder", "vae_decoder"):
        path = stage / comp / "model.onnx"
        onnx.checker.check_model(str(path))
        m = onnx.load(str(path), load_external_data=False)
        sig = lambda vs: ", ".join(  # noqa: E731
            f"{v.name}:{onnx.TensorProto.DataType.Name(v.type.tensor_type.elem_type).lower()}"
            f"[{','.join(d.dim_param or str(d.dim_value) for d in v.type.tensor_type.shape.dim)}]" for v in vs)
        log(f"    {comp}: in ({sig(m.graph.input)}) out ({sig(m.graph.output)})")


def verify(out: Path, inpainting: bool):
    """Load with diffusers' ONNX pipeline and run one 512x512, 1-step generation (guidance 7.5)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    cls = OnnxStableDiffusionInpaintPipeline if inpainting else OnnxStableDiffusionPipeline
    t0 = time.perf_counter()
    pipe = cls.from_pretrained(str(out), provider="CPUExecutionProvider", provider_options={}, sess_options=so)
    pipe.set_progress_bar_config(disable=True)
    t_load = time.perf_counter() - t0
    latents = np.random.RandomState(0).randn(1, 4, 64, 64).astype(np.float32)
    kw = dict(prompt="a red apple on a wooden table, oil painting", num_inference_steps=1, height=512, width=512,
              guidance_scale=7.5, latents=latents, output_type="np")
    if inpainting:
        import PIL.Image

        kw.update(image=PIL.Image.new("RGB", (512, 512), (128, 64, 32)),
                  mask_image=PIL.Image.new("L", (512, 512), 255))
    t0 = time.perf_counter()
    img = pipe(**kw).images
    t_run = time.perf_counter() - t0
    assert img.shape == (1, 512, 512, 3), img.shape
    log(f"    verify: {cls.__name__} loaded in {t_load:.1f} s, 1-step 512x512 in {t_run:.1f} s, image "
        f"{img.shape} finite={bool(np.isfinite(img).all())} mean={float(img.mean()):.4f} std={float(img.std()):.4f}")
    return dict(load_s=round(t_load, 2), run_s=round(t_run, 2), image_mean=float(img.mean()),
                image_finite=bool(np.isfinite(img).all()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    ap.add_argument("--inpainting", action="store_true", help="9-channel inpainting UNet")
    ap.add_argument("--force", action="store_true", help="replace --out if it exists")
    ap.add_argument("--verify", action="store_true",
                    help="afterwards, load with diffusers' ONNX pipeline and run one 512x512 1-step generation")
    args = ap.parse_args()

    out = args.out.resolve()
    if out.exists() and not args.force:
        sys.exit(f"{out} exists; pass --force to replace it")
    if REPO in out.parents or out == REPO:
        sys.exit(f"refusing to write several GB into the repository ({out})")
    stage = out.with_name(out.name + ".partial")
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    raw = stage / "_unet_raw"

    log(f"torch {torch.__version__}, diffusers {diffusers.__version__}, transformers {transformers.__version__}, "
        f"onnx {onnx.__version__}; torch threads {torch.get_num_threads()}")
    t_start = time.perf_counter()
    st = Stages()
    st.run("text_encoder", export_text_encoder_of_sd15, stage)
    st.run("vae_encoder+vae_decoder", export_vae_of_sd15, stage)
    st.run("unet export", export_unet_raw, raw, args.inpainting)
    st.run("unet merge external data", merge_external_data, raw, stage / "unet")
    shutil.rmtree(raw)
    st.run("model_index/scheduler/tokenizer", write_pipeline_files, stage, args.inpainting)
    st.run("onnx.checker", check_models, stage)
    build_peak = peak_rss_bytes()
    build_s = time.perf_counter() - t_start

    if out.exists():
        shutil.rmtree(out)
    stage.rename(out)
    files = {str(p.relative_to(out)): p.stat().st_size for p in sorted(out.rglob("*")) if p.is_file()}
    summary = dict(out=str(out), inpainting=args.inpainting, build_s=round(build_s, 1),
                   build_peak_rss_bytes=build_peak, size_bytes=dir_size(out), stages=st.rows, files=files)
    if args.verify:
        summary["verify"] = st.run("verify", verify, out, args.inpainting)
        summary["peak_rss_with_verify_bytes"] = peak_rss_bytes()
    log(f"done: {out}, {gib(summary['size_bytes'])} on disk, build {build_s:.0f} s, build peak RSS {gib(build_peak)}")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
