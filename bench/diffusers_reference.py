#!/usr/bin/env python3
"""Reference side of Pentimento's benchmark: time diffusers' ONNX Stable Diffusion pipelines on ONNX Runtime.

A Rust bench binary spawns this script and parses the ONE JSON object it prints on stdout; everything else
(library warnings, progress, errors) goes to stderr. Example:

    /work/fixture-venv/bin/python bench/diffusers_reference.py --model tests/fixtures/models/tiny-sd \\
        --mode txt2img --width 256 --height 256 --steps 20 --guidance 7.5 --scheduler ddim \\
        --seed 42 --runs 3 --threads 2

What is measured (all wall-clock, time.perf_counter):
  import_s       importing numpy/torch/onnxruntime/diffusers (Python-only overhead, reported separately)
  load_s         from nothing to a ready pipeline: <Pipeline>.from_pretrained(...) creating all four ONNX Runtime
                 sessions (text_encoder, unet, vae_encoder, vae_decoder) + tokenizer + scheduler, and swapping in
                 the requested scheduler. load_components: the seconds each InferenceSession took to create.
  runs[i].run_s  one full pipeline call (tokenize, text encoder, denoising loop, VAE decode, to float image)
  runs[i].ort_s  time spent inside InferenceSession.run, summed over all calls of the run
  runs[i].components[name] = {"total_s", "calls", "call_s": [seconds of each call]} for text_encoder, unet,
                 vae_encoder, vae_decoder (always all four keys; calls 0 for a component the mode does not use)
  runs[i].other_s = run_s - ort_s (Python: scheduler, guidance arithmetic, image pre/post-processing)
  runs[i].cpu_s  user+system CPU seconds of the whole process during the run; cpu_s / run_s well below T
                 means the cores were shared with something else (see also machine.loadavg_at_*)
  rss_*_bytes    resident memory after imports, after loading, after each run (runs[i].rss_after_bytes);
                 peak_rss_bytes = getrusage ru_maxrss at the end (whole process, imports included)

ONNX Runtime sessions get intra_op_num_threads=T, inter_op_num_threads=1, sequential execution, every other
option at its default (graph optimisation ORT_ENABLE_ALL, thread spinning on), CPUExecutionProvider.
torch (which diffusers' schedulers use) is limited to T threads too.

Determinism: txt2img and inpaint get explicit initial latents np.random.RandomState(seed).randn(1, 4, H/8, W/8)
as float32 (the pipeline multiplies them by init_noise_sigma); img2img gets generator=RandomState(seed) (its only
draw is the noise added to the init latents); torch.manual_seed(seed) before each run covers the in-step noise
of ancestral/LCM schedulers. Every run therefore produces the same image; runs[i].image_sha256 shows it.
Negative prompt: none. Prompt: "a red apple on a wooden table, oil painting" (override with --prompt).

Known diffusers 0.39 quirks handled here: provider_options={} must be passed (else a KeyError); Euler and
Euler-ancestral crash in txt2img/inpaint (numpy latents * torch init_noise_sigma) unless init_noise_sigma is a
Python float, so those scheduler classes are subclassed with a float init_noise_sigma (value unchanged).
img2img: the ONNX pipeline crops the init image to multiples of 64, so W and H must be multiples of 64; the init
image is resized to W x H (Lanczos) when its size differs. inpaint: the pipeline itself resizes image and mask
to W x H; it has no strength parameter (always denoises from pure noise), so --strength is ignored there.
"""

from __future__ import annotations

import time

T_PROCESS = time.perf_counter()

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402

# ---- stdout carries exactly one JSON object -------------------------------------------------------------------
# Keep a private handle on the real stdout, then point file descriptor 1 (and sys.stdout) at stderr, so that
# nothing printed by Python or by native libraries while working can end up in the JSON stream.
_JSON_OUT = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "fixtures"))
from sd_export import OFFLINE_ENV, float_sigma_class  # noqa: E402

for _k, _v in OFFLINE_ENV.items():
    os.environ.setdefault(_k, _v)

LOADAVG_AT_START = None  # set in __main__

PROMPT = "a red apple on a wooden table, oil painting"
COMPONENTS = ("text_encoder", "unet", "vae_encoder", "vae_decoder")
SCHEDULER_NAMES = ("ddim", "pndm", "euler", "euler-a", "dpmpp-2m", "dpmpp-2m-karras", "lcm")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def rss_bytes() -> int | None:
    """Current resident set size: /proc on Linux, psutil (if installed) elsewhere."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        pass
    try:
        import psutil

        return psutil.Process().memory_info().rss
    except ImportError:
        return None


def peak_rss_bytes() -> int | None:
    """Peak resident set size of this process (getrusage; Linux reports KiB, macOS bytes)."""
    try:
        import resource

        r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return r if sys.platform == "darwin" else r * 1024
    except ImportError:  # Windows
        try:
            import psutil

            return psutil.Process().memory_info().peak_wset
        except ImportError:
            return None


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads."""
    t = os.times()
    return t.user + t.system


def loadavg() -> list[float] | None:
    """1/5/15-minute system load averages: a busy machine makes the timings meaningless."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


class _ArgumentParser(argparse.ArgumentParser):
    """Usage errors are also reported as {"error": ...} on stdout (exit status 2), like runtime errors."""

    def error(self, message):
        emit({"error": f"usage: {message}"})
        super().error(message)


def parse_args(argv=None):
    ap = _ArgumentParser(description="Time diffusers' ONNX SD pipeline; prints one JSON object on stdout.")
    ap.add_argument("--model", required=True, help="diffusers ONNX pipeline folder (model_index.json, unet/, ...)")
    ap.add_argument("--mode", required=True, choices=("txt2img", "img2img", "inpaint"))
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--height", type=int, required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--guidance", type=float, required=True)
    ap.add_argument("--scheduler", required=True, choices=SCHEDULER_NAMES)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--threads", type=int, required=True, help="ONNX Runtime intra-op threads (and torch threads)")
    ap.add_argument("--init-image", help="PNG, required for img2img and inpaint")
    ap.add_argument("--strength", type=float, default=0.75, help="img2img strength (default 0.75)")
    ap.add_argument("--mask", help="PNG mask for inpaint (white = repaint)")
    ap.add_argument("--prompt", default=PROMPT, help=f"default: {PROMPT!r}")
    ap.add_argument("--save-image", help="write the first run's image to this PNG (outside the timed region)")
    a = ap.parse_args(argv)
    if a.runs < 1 or a.steps < 1 or a.threads < 1:
        ap.error("--runs, --steps and --threads must be >= 1")
    if a.width % 8 or a.height % 8:
        ap.error("--width and --height must be multiples of 8")
    if a.mode == "img2img" and (a.width % 64 or a.height % 64):
        ap.error("img2img: diffusers' ONNX pipeline crops to multiples of 64; use a multiple of 64 for W and H")
    if a.mode in ("img2img", "inpaint") and not a.init_image:
        ap.error(f"{a.mode} needs --init-image")
    if not os.path.isfile(os.path.join(a.model, "model_index.json")):
        ap.error(f"--model {a.model!r} is not a diffusers pipeline folder (no model_index.json)")
    for f in (a.init_image, a.mask):
        if f and not os.path.isfile(f):
            ap.error(f"no such file: {f}")
    if a.mode == "inpaint" and not a.mask:
        ap.error("inpaint needs --mask")
    if a.mode == "img2img" and not 0.0 < a.strength <= 1.0:
        ap.error("--strength must be in (0, 1]")
    return a


def main(args) -> dict:
    t_imports = time.perf_counter()
    import numpy as np
    import onnxruntime as ort
    import PIL.Image
    import torch

    import diffusers
    from diffusers import OnnxRuntimeModel

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    ort.set_default_logger_severity(3)
    torch.set_num_threads(args.threads)
    import_s = time.perf_counter() - t_imports

    schedulers = {  # name -> (class, config overrides)
        "ddim": (diffusers.DDIMScheduler, {}),
        "pndm": (diffusers.PNDMScheduler, {}),
        "euler": (diffusers.EulerDiscreteScheduler, {}),
        "euler-a": (diffusers.EulerAncestralDiscreteScheduler, {}),
        "dpmpp-2m": (diffusers.DPMSolverMultistepScheduler, {}),
        "dpmpp-2m-karras": (diffusers.DPMSolverMultistepScheduler, {"use_karras_sigmas": True}),
        "lcm": (diffusers.LCMScheduler, {}),
    }
    pipeline_cls = {"txt2img": diffusers.OnnxStableDiffusionPipeline,
                    "img2img": diffusers.OnnxStableDiffusionImg2ImgPipeline,
                    "inpaint": diffusers.OnnxStableDiffusionInpaintPipeline}[args.mode]

    # Inputs are read before the load timer starts (they are not part of loading a model).
    init_image = mask = None
    if args.init_image:
        init_image = PIL.Image.open(args.init_image).convert("RGB")
        if args.mode == "img2img" and init_image.size != (args.width, args.height):
            log(f"resizing init image {init_image.size} -> {(args.width, args.height)} (Lanczos)")
            init_image = init_image.resize((args.width, args.height), PIL.Image.LANCZOS)
    if args.mask:
        mask = PIL.Image.open(args.mask).convert("L")

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3

    # time each InferenceSession creation (diffusers creates them through this static method)
    load_components = {}
    orig_load_model = OnnxRuntimeModel.load_model

    def timed_load_model(path, *a, **kw):
        t = time.perf_counter()
        sess = orig_load_model(path, *a, **kw)
        load_components[os.path.basename(os.path.dirname(os.path.abspath(path)))] = time.perf_counter() - t
        return sess

    rss_before_load = rss_bytes()
    OnnxRuntimeModel.load_model = staticmethod(timed_load_model)
    try:
        t0 = time.perf_counter()
        pipe = pipeline_cls.from_pretrained(args.model, provider="CPUExecutionProvider", provider_options={},
                                            sess_options=so)
        cls, overrides = schedulers[args.scheduler]
        float_sigma_patched = args.mode != "img2img" and cls in (diffusers.EulerDiscreteScheduler,
                                                                  diffusers.EulerAncestralDiscreteScheduler)
        if float_sigma_patched:
            cls = float_sigma_class(cls)
        pipe.scheduler = cls.from_config(pipe.scheduler.config, **overrides)
        pipe.set_progress_bar_config(disable=True)
        load_s = time.perf_counter() - t0
    finally:
        OnnxRuntimeModel.load_model = orig_load_model
    rss_after_load = rss_bytes()
    missing = [c for c in COMPONENTS if getattr(pipe, c, None) is None]
    if missing:
        raise RuntimeError(f"pipeline lacks components {missing}")
    log(f"loaded {pipeline_cls.__name__} from {args.model} in {load_s:.3f} s "
        f"({', '.join(f'{k} {v:.3f}' for k, v in load_components.items())})")

    # wrap InferenceSession.run of each component
    stats = {c: {"total_s": 0.0, "calls": 0, "call_s": []} for c in COMPONENTS}
    for comp in COMPONENTS:
        sess = getattr(pipe, comp).model
        inner = sess.run

        def timed_run(*a, _inner=inner, _st=stats[comp], **kw):
            t = time.perf_counter()
            try:
                return _inner(*a, **kw)
            finally:
                dt = time.perf_counter() - t
                _st["total_s"] += dt
                _st["calls"] += 1
                _st["call_s"].append(dt)

        sess.run = timed_run
    providers = {c: getattr(pipe, c).model.get_providers() for c in COMPONENTS}

    runs = []
    first_image = None
    for i in range(args.runs):
        for st in stats.values():
            st["total_s"], st["calls"] = 0.0, 0
            st["call_s"].clear()
        kw = dict(prompt=args.prompt, negative_prompt=None, num_inference_steps=args.steps,
                  guidance_scale=args.guidance, output_type="np")
        if args.mode == "img2img":
            kw.update(image=init_image, strength=args.strength, generator=np.random.RandomState(args.seed))
        else:
            latents = np.random.RandomState(args.seed).randn(1, 4, args.height // 8, args.width // 8)
            kw.update(height=args.height, width=args.width, latents=latents.astype(np.float32))
            if args.mode == "inpaint":
                kw.update(image=init_image, mask_image=mask)
        torch.manual_seed(args.seed)
        cpu0 = cpu_seconds()
        t0 = time.perf_counter()
        image = pipe(**kw).images
        run_s = time.perf_counter() - t0
        cpu_s = cpu_seconds() - cpu0
        ort_s = sum(st["total_s"] for st in stats.values())
        u8 = (np.clip(image[0], 0.0, 1.0) * 255).round().astype(np.uint8)  # as pipe.numpy_to_pil
        run = {"run_s": run_s, "ort_s": ort_s, "other_s": run_s - ort_s, "cpu_s": cpu_s,
               "components": {c: {k: list(v) if isinstance(v, list) else v for k, v in st.items()}
                              for c, st in stats.items()},
               "rss_after_bytes": rss_bytes(),
               "image_sha256": hashlib.sha256(u8.tobytes()).hexdigest()}
        runs.append(run)
        if first_image is None:
            first_image = u8
        log(f"run {i + 1}/{args.runs}: {run_s:.3f} s (CPU {cpu_s:.1f} s), ORT {ort_s:.3f} s ("
            + ", ".join(f"{c} {st['total_s']:.3f} s/{st['calls']}" for c, st in stats.items() if st["calls"]) + ")")
    if len({r["image_sha256"] for r in runs}) != 1:
        log("WARNING: the runs produced different images")
    if args.save_image:
        PIL.Image.fromarray(first_image).save(args.save_image)

    import importlib.metadata as md

    return {
        "load_s": load_s,
        "load_components": load_components,
        "import_s": import_s,
        "runs": runs,
        "peak_rss_bytes": peak_rss_bytes(),
        "rss_before_load_bytes": rss_before_load,
        "rss_after_load_bytes": rss_after_load,
        "onnxruntime_version": ort.__version__,
        "diffusers_version": diffusers.__version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "transformers_version": md.version("transformers"),
        "python_version": platform.python_version(),
        "threads": args.threads,
        "session_options": {"intra_op_num_threads": so.intra_op_num_threads,
                            "inter_op_num_threads": so.inter_op_num_threads,
                            "execution_mode": str(so.execution_mode),
                            "graph_optimization_level": str(so.graph_optimization_level)},
        "providers": providers,
        "pipeline_class": pipeline_cls.__name__,
        "scheduler_class": type(pipe.scheduler).__name__,
        "scheduler_init_noise_sigma_patched_to_float": float_sigma_patched,
        "model": os.path.abspath(args.model),
        "mode": args.mode,
        "width": args.width,
        "height": args.height,
        "steps": args.steps,
        "guidance": args.guidance,
        "scheduler": args.scheduler,
        "seed": args.seed,
        "strength": args.strength if args.mode == "img2img" else None,
        "prompt": args.prompt,
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "loadavg_at_start": LOADAVG_AT_START, "loadavg_at_end": loadavg()},
        "process_s": time.perf_counter() - T_PROCESS,
    }


def emit(obj):
    _JSON_OUT.write(json.dumps(obj) + "\n")
    _JSON_OUT.flush()


if __name__ == "__main__":
    LOADAVG_AT_START = loadavg()
    args = parse_args()
    try:
        result = main(args)
    except Exception as e:  # still one JSON object on stdout, so the caller can show the reason
        traceback.print_exc()
        emit({"error": f"{type(e).__name__}: {e}"})
        sys.exit(1)
    emit(result)
