"""Inpainting (Image2StyleGAN++): restore through a `Mask`, then paste the generator's content into the hole."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError
from ..io.masks import blend, feather
from ..latents import LatentCode
from ..models.stylegan2 import Generator
from .degradations import Mask
from .methods import restore


@dataclass
class InpaintResult:
    """Codes fitted to the known pixels, the generator's full reconstruction, and the blend into the input."""

    code: LatentCode
    reconstruction: np.ndarray
    blended: np.ndarray
    hole: np.ndarray
    seconds: float


def inpaint(G: Generator, images: np.ndarray, hole: np.ndarray, method: str = "wplus", feather_px: float = 1.0,
            progress: bool = False, **overrides) -> InpaintResult:
    """Fill `hole` ([R, R], 1 = missing) of uint8 images [N, R, R, 3]: restore through `Mask(hole)` (the fit sees
    the known pixels only), then paste the generator's content into the hole with a `feather_px` soft edge.

    Args:
        G: the generator; images at its resolution.
        hole: the missing region; some pixels must remain known.
        method: a `restore` method ('wplus', 'pulse', 'dgp'); **overrides: OptimConfig fields (e.g. ``steps=300``).
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    hole = np.asarray(hole, np.float32)
    if hole.shape != images.shape[1:3]:
        raise ShapeError(f"hole mask {list(hole.shape)} does not match the images' {list(images.shape[1:3])}")
    res = restore(G, images, Mask(hole), method=method, progress=progress, **overrides)
    return InpaintResult(res.code, res.restored, blend(images, res.restored, feather(hole, feather_px)), hole,
                         res.seconds)
