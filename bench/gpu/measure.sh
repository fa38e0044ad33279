#!/usr/bin/env bash
# Measures Pentimento's pipeline on one NVIDIA GPU, on a machine that reaches nothing, in under
# ten minutes. Run bench/gpu/prepare.sh here first, then on the device, from the repository root:
#
#   bash bench/gpu/measure.sh          (carry: bench/gpu/carry)
#
# Steps, each printed as one JSON line and written to $OUT/gpu.jsonl:
#   1. the machine: GPU, driver, the device Python's ONNX Runtime and its providers;
#   2. the SD-1.5-shaped model (fp32, random weights) built there with the device's torch and the
#      carried diffusers wheel (bench/make_sd15_random.py; about 2 minutes on 16 cores);
#   3. Pentimento on the CUDA execution provider, when an ONNX Runtime ≥ 1.31 with it is found
#      (carried in bench/gpu/carry/ort, or the device Python's onnxruntime): 512², DDIM, guidance
#      7.5, 50 steps (the anchors: ORT CUDA on an A100 1.1 s, on an H100 572 ms) and 4 steps, a
#      cold load and a warm one;
#   4. Pentimento on the machine's CPU cores, 4 steps, for comparison with the CPU bench;
#   5. the GPU's own ceiling for the same UNet: diffusers' UNet in torch, fp16, SDPA, 50 steps at
#      batch 2 and 64² latents, plus the VAE decode (what the CUDA EP with fp16 exports, IO binding
#      and CUDA graphs could approach).
# Any step that cannot run says why and the script goes on.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
carry="$here/carry"
OUT=${OUT:-/tmp/pentimento-gpu}
mkdir -p "$OUT"
log="$OUT/gpu.jsonl"
: > "$log"
work=/tmp/pentimento-gpu-work
mkdir -p "$work"
emit() { echo "$1" | tee -a "$log"; }
started=$(date +%s)

# 1. The machine.
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)
device_ort=$(python3 -c 'import onnxruntime as o, os; print(o.__version__, os.path.dirname(o.__file__), ",".join(o.get_available_providers()))' 2>&1 | tail -1)
emit "{\"step\":\"machine\",\"gpu\":\"$gpu\",\"device_onnxruntime\":\"$device_ort\",\"cpus\":$(nproc)}"

if [ ! -x "$carry/pentimento" ]; then
  emit '{"step":"setup","error":"bench/gpu/carry/pentimento is missing: run bench/gpu/prepare.sh and carry bench/gpu/carry"}'
  exit 1
fi

# 2. The model.
model=${SD15_MODEL:-$work/sd15-random}
if [ ! -f "$model/model_index.json" ]; then
  pydeps="$work/pydeps"
  python3 -m pip install --quiet --no-deps --no-index --target "$pydeps" "$carry"/diffusers-*.whl \
    > "$work/pip.log" 2>&1
  t0=$(date +%s.%N)
  PYTHONPATH="$pydeps" python3 "$root/bench/make_sd15_random.py" --out "$model" \
    > "$work/model.json" 2> "$work/model.log"
  status=$?
  t1=$(date +%s.%N)
  if [ $status -ne 0 ]; then
    emit "{\"step\":\"model\",\"error\":\"make_sd15_random.py failed; see model.log\"}"
    model=
  else
    emit "{\"step\":\"model\",\"seconds\":$(python3 -c "print(round($t1 - $t0, 3))")}"
  fi
fi

# One generation: prints a JSON line with the CLI's own load and run figures.
generate() { # name provider steps threads
  local name=$1 provider=$2 steps=$3 threads=$4 extra=()
  [ -n "$threads" ] && extra=(--threads "$threads")
  local t0 t1 status
  t0=$(date +%s.%N)
  "$carry/pentimento" generate --model "$model" --prompt "a red apple on a wooden table, oil painting" \
    --width 512 --height 512 --steps "$steps" --guidance 7.5 --scheduler ddim --seed 42 \
    --provider "$provider" "${extra[@]}" --out "$work/$name.png" > "$work/$name.out" 2> "$work/$name.err"
  status=$?
  t1=$(date +%s.%N)
  local loaded ran
  loaded=$(grep -o 'model loaded in [0-9.]* s; running on [A-Za-z0-9 ]*' "$work/$name.err" | head -1)
  ran=$(grep -o '[0-9]* image(s) in [0-9.]* s ([0-9.]* s inside ONNX Runtime)' "$work/$name.err" | head -1)
  if [ $status -ne 0 ]; then
    emit "{\"step\":\"$name\",\"error\":\"$(tail -3 "$work/$name.err" | tr '"\n' "' ")\"}"
  else
    emit "{\"step\":\"$name\",\"wall_s\":$(python3 -c "print(round($t1 - $t0, 3))"),\"load\":\"$loaded\",\"run\":\"$ran\"}"
  fi
}

# 3. CUDA.
cuda_lib=
if ls "$carry"/ort/libonnxruntime_providers_cuda.so > /dev/null 2>&1; then
  cuda_lib=$(ls "$carry"/ort/libonnxruntime.so* | head -1)
else
  dir=$(echo "$device_ort" | awk '{print $2}')
  version=$(echo "$device_ort" | awk '{print $1}')
  if [ -f "$dir/capi/libonnxruntime_providers_cuda.so" ] \
     && python3 -c "import sys; v=tuple(map(int,'$version'.split('.')[:2])); sys.exit(0 if v>=(1,31) else 1)"; then
    cuda_lib=$(ls "$dir"/capi/libonnxruntime.so* | head -1)
  fi
fi
if [ -n "$model" ] && [ -n "$cuda_lib" ]; then
  # The CUDA libraries of the device's torch wheels (cuBLAS, cuDNN, runtime).
  nv=$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))' 2>/dev/null)
  export LD_LIBRARY_PATH="$(ls -d "$nv"/nvidia/*/lib 2>/dev/null | tr '\n' ':')${LD_LIBRARY_PATH:-}"
  ORT_DYLIB_PATH="$cuda_lib" generate cuda-50-cold cuda 50 ""
  ORT_DYLIB_PATH="$cuda_lib" generate cuda-50-warm cuda 50 ""
  ORT_DYLIB_PATH="$cuda_lib" generate cuda-4 cuda 4 ""
else
  emit "{\"step\":\"cuda\",\"error\":\"no ONNX Runtime >= 1.31 with the CUDA execution provider here (device: $device_ort; none carried)\"}"
fi

# 4. The CPU cores, with the carried CPU runtime.
if [ -n "$model" ]; then
  cpu_lib=$(ls "$carry"/ort/libonnxruntime.so* | head -1)
  ORT_DYLIB_PATH="$cpu_lib" generate cpu-4 cpu 4 "$(nproc)"
fi

# 5. The GPU's ceiling for this UNet, in torch.
PYTHONPATH="$work/pydeps" timeout 240 python3 - >> "$log" 2> "$work/torch.err" <<'PY' || emit '{"step":"torch","error":"see torch.err"}'
import json, time, torch
from diffusers import UNet2DConditionModel, AutoencoderKL
torch.manual_seed(0)
unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8,
    block_out_channels=(320, 640, 1280, 1280), layers_per_block=2).half().cuda().eval()
vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), layers_per_block=2,
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
    latent_channels=4).half().cuda().eval()
x = torch.randn(2, 4, 64, 64, device="cuda", dtype=torch.half)
c = torch.randn(2, 77, 768, device="cuda", dtype=torch.half)
t = torch.tensor([500.0, 500.0], device="cuda")
with torch.no_grad():
    for _ in range(3):
        unet(x, t, c)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(50):
        unet(x, t, c)
    vae.decode(x[:1])
    torch.cuda.synchronize()
    took = time.perf_counter() - start
print(json.dumps({"step": "torch-fp16-ceiling", "unet_50_steps_plus_decode_s": took,
                  "gpu": torch.cuda.get_device_name()}))
PY
for f in "$work"/*.err "$work"/model.log; do [ -f "$f" ] && { echo "== $f"; tail -40 "$f"; }; done > "$OUT/stderr.txt" 2>&1
emit "{\"step\":\"done\",\"seconds\":$(( $(date +%s) - started ))}"
