"""Content-aware fill against OpenCV's inpainting (Telea 2004, Navier-Stokes) on textures whose
truth is known. Run by bench/fill-versus-opencv:

    fill_versus_opencv.py PENTIMENTO WORKDIR

For each texture (diagonal stripes, bricks, a checked weave, a noisy grain) a 256 x 256 picture
gets a 64 x 64 hole; each method fills it, and the hole is scored against the truth: the mean
absolute error per channel (0-255), and the gradient energy of the fill over the truth's (1 is
the truth's sharpness; a blurred fill is below 1).
"""

import os
import subprocess
import sys
import time

import cv2
import numpy as np


def textures(side):
    y, x = np.mgrid[0:side, 0:side]
    stripes = np.where(((x + 2 * y) // 9) % 2 == 0, 1.0, 0.0)
    yield "stripes", np.stack([40 + 160 * stripes, 60 + 30 * stripes, 180 - 140 * stripes], -1)
    row = y // 12
    brick = ((x + (row % 2) * 12) % 24 < 2) | (y % 12 < 2)
    yield "bricks", np.stack([np.where(brick, 200, 150), np.where(brick, 200, 60), np.where(brick, 190, 40)], -1)
    weave = ((x // 6) % 2) ^ ((y // 6) % 2)
    shade = 0.5 + 0.5 * np.sin(x / 3.0) * np.cos(y / 3.0)
    yield "weave", np.stack([80 + 120 * weave * shade, 120 + 60 * shade, 90 + 100 * (1 - weave)], -1)
    rng = np.random.default_rng(5)
    grain = rng.normal(0, 1, (side, side))
    grain = cv2.GaussianBlur(grain, (0, 0), 1.5)
    grain = (grain - grain.min()) / (grain.max() - grain.min())
    yield "grain", np.stack([90 + 120 * grain, 70 + 100 * grain, 50 + 60 * grain], -1)


def gradient_energy(image, mask):
    gray = image.astype(np.float64).mean(-1)
    gx = np.abs(np.diff(gray, axis=1))[:-1, :]
    gy = np.abs(np.diff(gray, axis=0))[:, :-1]
    inside = mask[:-1, :-1]
    return (gx + gy)[inside].mean()


def main():
    pentimento, work = sys.argv[1], sys.argv[2]
    side, hole = 256, (96, 160)
    print(f"Content-aware fill vs OpenCV inpainting: {side} x {side} textures, a 64 x 64 hole")
    print(f"{'texture':<10} {'method':<22} {'MAE':>8} {'sharpness':>10} {'time':>8}")
    totals = {}
    for name, truth in textures(side):
        truth = np.clip(truth, 0, 255).astype(np.uint8)
        mask = np.zeros((side, side), np.uint8)
        mask[hole[0]:hole[1], hole[0]:hole[1]] = 255
        inside = mask > 0
        damaged = truth.copy()
        damaged[inside] = 0
        picture = os.path.join(work, f"{name}.png")
        mask_path = os.path.join(work, f"{name}-mask.png")
        out = os.path.join(work, f"{name}-filled.png")
        cv2.imwrite(picture, damaged[..., ::-1])
        cv2.imwrite(mask_path, mask)
        results = {}
        started = time.perf_counter()
        subprocess.run([pentimento, "fill", picture, "--mask", mask_path, "--out", out],
                       check=True, stdout=subprocess.DEVNULL)
        results["Pentimento (PatchMatch)"] = (cv2.imread(out)[..., ::-1], time.perf_counter() - started)
        for method, flag in (("OpenCV Telea", cv2.INPAINT_TELEA), ("OpenCV Navier-Stokes", cv2.INPAINT_NS)):
            started = time.perf_counter()
            filled = cv2.inpaint(damaged[..., ::-1].copy(), mask, 5, flag)[..., ::-1]
            results[method] = (filled, time.perf_counter() - started)
        truth_energy = gradient_energy(truth, inside)
        for method, (filled, seconds) in results.items():
            mae = np.abs(filled.astype(np.int32) - truth.astype(np.int32))[inside].mean()
            sharp = gradient_energy(filled, inside) / truth_energy
            totals.setdefault(method, []).append((mae, sharp))
            print(f"{name:<10} {method:<22} {mae:>8.2f} {sharp:>10.2f} {seconds:>7.2f}s")
    print()
    for method, scores in totals.items():
        mae = np.mean([s[0] for s in scores])
        sharp = np.mean([s[1] for s in scores])
        print(f"{'mean':<10} {method:<22} {mae:>8.2f} {sharp:>10.2f}")


if __name__ == "__main__":
    main()
