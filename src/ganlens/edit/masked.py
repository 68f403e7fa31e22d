"""Local edits (Image2StyleGAN++): the edited render inside a region, the original picture outside.

Masks come from `ganlens.io.masks`; inpainting (filling a hole by masked inversion) is `ganlens.restore.inpaint`.
"""

from __future__ import annotations

import numpy as np

from ..directions.direction import Direction
from ..errors import GanlensError
from ..io.masks import blend, feather
from ..latents import LatentCode
from ..latents.layers import LayerSpec
from ..models.stylegan2 import Generator
from .linear import move


def local_edit(
    G: Generator,
    code: LatentCode,
    direction: Direction,
    strength: float,
    region: np.ndarray,
    base_images: np.ndarray | None = None,
    layers: LayerSpec = None,
    feather_px: float = 2.0,
) -> np.ndarray:
    """Edit only inside `region` ([R, R], 1 = edit): the edited render where the region is, the original outside.

    Args:
        code: N codes; base_images: the pictures to keep outside the region (default: the codes' renders, or pass
            the real photos the codes were inverted from).
        direction, strength, layers: the edit, as in `ganlens.edit.move`.
    Returns:
        uint8 [N, R, R, 3].
    """
    region = np.asarray(region, np.float32)
    base = G.render(code) if base_images is None else np.asarray(base_images)
    if region.shape != base.shape[1:3]:
        raise GanlensError(f"region mask {list(region.shape)} does not match the images' {list(base.shape[1:3])}")
    edited = G.render(move(code, direction, [strength], layers=layers, num_ws=G.w_resolutions))
    return blend(base, edited, feather(region, feather_px))
