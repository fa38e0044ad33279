"""Builds the starting corpus for each fuzz target from the committed test fixtures.

Run from the repository root: python3 fuzz/seeds/make_seeds.py
The .ora seeds (a small project with a painted layer, a mask, a generative layer and a
generation log, and a blank one) and settings_file/written.json were saved by Pentimento itself
and are not rebuilt here, nor is
npy_reader/nested-brackets-hang.npy, an input the fuzzer found that once kept the reader busy
for over 20 minutes, nor settings_file/float-overflow.json, a settings file the fuzzer found
whose number too large for a 32-bit float did not survive a save.
"""

import glob
import json
import os
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEEDS = os.path.join(ROOT, "fuzz", "seeds")
FIXTURES = os.path.join(ROOT, "tests", "fixtures")


def read(path):
    with open(path, "rb") as file:
        return file.read()


def write(target, name, data):
    os.makedirs(os.path.join(SEEDS, target), exist_ok=True)
    with open(os.path.join(SEEDS, target, name), "wb") as file:
        file.write(data)


def main():
    small_npy = sorted(glob.glob(os.path.join(FIXTURES, "goldens", "*", "mask_latent.npy")))[:1]
    small_npy += sorted(glob.glob(os.path.join(FIXTURES, "goldens", "txt2img-ddim-cfg1", "*.npy")))[:1]
    for index, path in enumerate(small_npy):
        write("npy_reader", f"fixture-{index}.npy", read(path))

    small_onnx = [
        os.path.join(FIXTURES, "malformed", "unet-5-channels", "model.onnx"),
        os.path.join(FIXTURES, "malformed", "unet-int-sample", "model.onnx"),
    ]
    for path in small_onnx:
        name = os.path.basename(os.path.dirname(path))
        write("onnx_outline", f"{name}.onnx", read(path))
        write("onnx_weights", f"{name}.onnx", read(path))

    # The float16 copy came later; its seeds would only repeat tiny-sd-inpaint's.
    models = [model for model in sorted(glob.glob(os.path.join(FIXTURES, "models", "tiny-sd*", "")))
              if not model.rstrip(os.sep).endswith("-fp16")]
    for steps, model in zip([4, 20, 50, 1], models):
        name = os.path.basename(os.path.dirname(model))
        config = read(os.path.join(model, "scheduler", "scheduler_config.json"))
        write("scheduler_config", f"{name}.bin", bytes([steps]) + config)
        index = read(os.path.join(model, "model_index.json"))
        unet = read(small_onnx[0])
        packed = struct.pack("<H", len(index)) + index + struct.pack("<H", len(config)) + config + unet
        write("model_folder", f"{name}.bin", packed)

    for name in ("attn-procs.safetensors", "loha.safetensors"):
        write("lora_file", name, read(os.path.join(FIXTURES, "loras", name)))

    # A settings file as a user might leave it after editing by hand: settings_file/written.json
    # (saved by Pentimento itself, not rebuilt here) with a wrong value and a broken list item.
    settings = json.loads(read(os.path.join(SEEDS, "settings_file", "written.json")))
    settings["generation"]["steps"] = "many"
    settings["models"].append({"path": 42})
    write("settings_file", "hand-edited.json", json.dumps(settings).encode())

if __name__ == "__main__":
    main()
