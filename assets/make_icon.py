"""Draws assets/icon.png, the window and application icon: a stack of layer cards with a brush
stroke over the top one. Deterministic; needs Pillow. Run: python assets/make_icon.py"""

import math
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 256
SCALE = 4  # draw large, then downsample for smooth edges
S = SIZE * SCALE


def main() -> None:
    image = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, S - 1, S - 1), radius=56 * SCALE, fill=(36, 38, 43, 255))

    # Three layer cards, back to front.
    cards = [
        ((70, 44, 206, 164), (120, 124, 134, 255)),
        ((58, 68, 194, 188), (176, 180, 188, 255)),
        ((46, 92, 182, 212), (242, 238, 228, 255)),
    ]
    for (x0, y0, x1, y1), color in cards:
        draw.rounded_rectangle(
            (x0 * SCALE, y0 * SCALE, x1 * SCALE, y1 * SCALE), radius=10 * SCALE, fill=color
        )

    # A brush stroke across the front card: a chain of discs along a gentle S-curve, tapering.
    steps = 240
    for i in range(steps + 1):
        t = i / steps
        x = 60 + 110 * t
        y = 178 - 62 * t + 16 * math.sin(t * math.pi * 2)
        radius = 4 + 9 * math.sin(t * math.pi) ** 0.8
        warm = (222, 98 + int(40 * t), 52, 255)
        draw.ellipse(
            ((x - radius) * SCALE, (y - radius) * SCALE, (x + radius) * SCALE, (y + radius) * SCALE),
            fill=warm,
        )

    icon = image.resize((SIZE, SIZE), Image.LANCZOS)
    icon.save(Path(__file__).with_name("icon.png"), optimize=True)


if __name__ == "__main__":
    main()
