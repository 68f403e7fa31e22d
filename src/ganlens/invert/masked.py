"""Inpainting by masked inversion (Image2StyleGAN++): fit a code to the known pixels, paste its render into the hole."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import GanlensError
from ..io.masks import blend, feather
from ..latents import LatentCode
from ..models.stylegan2 import Generator
from .optimize import project


@dataclass
class InpaintResult:
    """Codes fitted to the known pixels, the generator's full reconstruction, and the blend into the input."""

    code: LatentCode
    reconstruction: np.ndarray
    blended: np.ndarray
    hole: np.ndarray
    seconds: float


def inpaint(
    G: Generator,
    images: np.ndarray,
    hole: np.ndarray,
    config: str = "ganlens",
    feather_px: float = 1.0,
    progress: bool = False,
    **overrides,
) -> InpaintResult:
    """Fill `hole` ([R, R], 1 = missing) of uint8 images [N, R, R, 3]: invert with the loss restricted to the known
    pixels, then paste the generator's content into the hole.

    Args:
        G: the generator; images at its resolution.
        hole: the missing region; at least one pixel must remain known.
        config: optimisation preset or OptimConfig (see `ganlens.invert.project`); **overrides change its fields.
        feather_px: soft edge of the paste.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    hole = np.asarray(hole, np.float32)
    if hole.shape != images.shape[1:3]:
        raise GanlensError(f"hole mask {list(hole.shape)} does not match the images' {list(images.shape[1:3])}")
    known = (hole < 0.5).astype(np.float32)
    res = project(G, images, config, progress=progress, mask=known, **overrides)
    recon = G.render(res.code)
    return InpaintResult(res.code, recon, blend(images, recon, feather(hole, feather_px)), hole, res.seconds)
