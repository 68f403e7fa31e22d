"""The font every picture's labels are drawn in.

Pillow's built-in font at its default 10 px squeezes spaces to a pixel or two, so titles such as "keep age,
layers 5-9" read as "keepage, layers5-9"; at 12 px the words stay apart and the digits stay legible.
"""

from __future__ import annotations

from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

LABEL_SIZE = 12  # px


@lru_cache(maxsize=4)
def label_font(size: int = LABEL_SIZE) -> ImageFont.FreeTypeFont:
    """Pillow's bundled font at `size` px (no system fonts needed)."""
    return ImageFont.load_default(size=size)


def text_size(text: str, size: int = LABEL_SIZE) -> tuple[int, int]:
    """Width and height in pixels of `text` drawn in `label_font(size)`."""
    box = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), text, font=label_font(size))
    return box[2] - box[0], box[3] - box[1]
