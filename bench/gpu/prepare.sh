#!/usr/bin/env bash
# Prepares bench/gpu/carry/ on the development machine for bench/gpu/measure.sh, which runs on a
# lent NVIDIA machine that reaches nothing: the release `pentimento` binary, the ONNX Runtime it
# loads, and the diffusers wheel that builds the SD-1.5-shaped model there. The folder is
# ignored by git; name it in the device run's `carry`.
#
#   bench/gpu/prepare.sh [--cuda-provider DIR]
#
# --cuda-provider DIR: a folder holding an ONNX Runtime build with the CUDA execution provider
# (libonnxruntime.so* and libonnxruntime_providers_{shared,cuda}.so, version 1.31 or later, CUDA
# 13). The PyPI onnxruntime-gpu 1.31.1 wheel's provider library is 284 MB (188 MB with zstd -15),
# over the 64 MiB a device run can carry with the working tree, so by default none is carried and
# measure.sh looks for one on the device.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
carry="$root/bench/gpu/carry"
cuda_provider=
while [ $# -gt 0 ]; do
  case "$1" in
    --cuda-provider) cuda_provider=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
rm -rf "$carry"
mkdir -p "$carry/ort"
cargo build --release -p pentimento --manifest-path "$root/Cargo.toml"
cp "$root/target/release/pentimento" "$carry/"
strip "$carry/pentimento" || true
runtime=$("$carry/pentimento" runtime 2>/dev/null | sed -n 's/^library: *//p' | head -1)
if [ -z "$runtime" ]; then
  runtime=$(ls "$HOME"/.cache/pentimento/onnxruntime/*-linux-x86_64/libonnxruntime.so* | head -1)
fi
cp "$runtime" "$carry/ort/"
if [ -n "$cuda_provider" ]; then
  cp "$cuda_provider"/libonnxruntime*.so* "$carry/ort/"
fi
python3 -m pip download --quiet --no-deps --dest "$carry" diffusers==0.39.0
du -sh "$carry"/* "$carry"
echo "carry: bench/gpu/carry   command: bash bench/gpu/measure.sh"
