"""Region masks: float arrays [R, R] in [0, 1] with 1 = the region (a hole to fill, or the part to edit).

They come from a PNG (`load_mask`: white = region) or a rectangle spec (`rect_mask`: "x0,y0,x1,y1" in pixels or
fractions); `feather` softens the edge and `blend` pastes one picture into another through a mask.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from ..errors import GanlensError


def rect_mask(spec: str, resolution: int) -> np.ndarray:
    """A [R, R] mask that is 1 inside the rectangle "x0,y0,x1,y1" (pixels, or fractions of the side if all <= 1).

    Raises:
        GanlensError: malformed spec or an empty rectangle.
    """
    try:
        vals = [float(v) for v in spec.split(",")]
    except ValueError:
        vals = []
    if len(vals) != 4:
        raise GanlensError(f"rectangle {spec!r}: use x0,y0,x1,y1 (pixels, or fractions like 0.25,0.5,0.75,1)")
    if all(0 <= v <= 1 for v in vals) and any(0 < v < 1 for v in vals):
        vals = [v * resolution for v in vals]
    x0, y0, x1, y1 = (int(round(min(max(v, 0), resolution))) for v in vals)
    if x1 <= x0 or y1 <= y0:
        raise GanlensError(f"rectangle {spec!r} is empty inside a {resolution}x{resolution} image (need x1 > x0, y1 > y0)")
    m = np.zeros((resolution, resolution), np.float32)
    m[y0:y1, x0:x1] = 1
    return m


def load_mask(path: str | Path, resolution: int) -> np.ndarray:
    """A mask from an image file (white / opaque = region), resized to [R, R] in [0, 1].

    Raises:
        GanlensError: missing or unreadable file, or a mask with no region.
    """
    path = Path(path)
    if not path.is_file():
        raise GanlensError(f"mask file not found: {path}")
    try:
        with Image.open(path) as im:
            im = im.convert("LA")
            lum, alpha = (np.asarray(c.resize((resolution, resolution), Image.BILINEAR), np.float32) / 255
                          for c in im.split())
    except Exception as exc:  # PIL raises many kinds for unreadable files
        raise GanlensError(f"cannot read mask {path}: {exc}") from exc
    m = lum * alpha
    if m.max() <= 0:
        raise GanlensError(f"mask {path} has no white pixels: it selects nothing")
    return m


def feather(mask: np.ndarray, radius: float) -> np.ndarray:
    """The mask with a soft edge (Gaussian blur of `radius` px), so blends show no seam."""
    if radius <= 0:
        return mask.astype(np.float32)
    im = Image.fromarray((np.clip(mask, 0, 1) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(im, np.float32) / 255


def blend(base: np.ndarray, inside: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """uint8 images [N, R, R, 3]: `inside` where the mask is 1, `base` where it is 0, mixed in between."""
    m = np.asarray(mask, np.float32)
    m = m[None, :, :, None] if m.ndim == 2 else m[..., None]
    out = base.astype(np.float32) * (1 - m) + inside.astype(np.float32) * m
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
