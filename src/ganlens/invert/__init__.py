"""Inversion: put images into a generator's latent space.

- `project` — optimisation in Z / W / W+ (+ noise maps), presets `ganlens` and `nvidia` (`optimize.py`);
- `Encoder` / `load_encoder` — pSp-style encoder with ReStyle refinement (`encoder.py`);
- `invert_hybrid` — encoder start + optimisation (`hybrid.py`);
- `invert_pti` — pivotal tuning, with per-image weight deltas (`pti.py`);
- `invert_styles` — into style space S, from a W+ inversion, kept near W+'s affine image (`styles.py`);
- `invert_images` — resumable folder inversion (`runner.py`); `FaceAligner` — FFHQ-style alignment (`align.py`);
- `ReconstructionLoss` — the loss (`losses.py`), over the perceptual distances of `ganlens.metrics.perceptual`
  (`MobileNetV2FeatureDistance`, `LPIPS`, re-exported here).
"""

from __future__ import annotations

from ..latents import LatentCode
from ..metrics.perceptual import LPIPS, MobileNetV2FeatureDistance, get_perceptual
from ..models.stylegan2 import Generator
from .encoder import Encoder, latent_error, load_encoder, save_encoder
from .hybrid import invert_hybrid
from .losses import ReconstructionLoss, pixel_distance
from .optimize import PRESETS, InversionResult, OptimConfig, PNSpace, layer_spread, preset, project
from .pti import PTI_RECIPES, PTIConfig, PTIResult, apply_delta, invert_pti, load_delta, pti_recipe, save_delta
from .runner import RunSettings, invert_images
from .styles import invert_styles


def invert(G: Generator, images, method: str = "hybrid", **kwargs) -> LatentCode:
    """Invert images with one call and get their codes.

    Args:
        G: the generator.
        images: uint8 [N, R, R, 3] (or one [R, R, 3]), float [N, 3, R, R] in [-1, 1], or an image file path
            (any size and mode: centre-cropped and resized to G's resolution).
        method: 'optim' (`project`), 'encoder' or 'hybrid' (`invert_hybrid`). PTI's result is a code *and* tuned
            weights: use `invert_pti`.
        **kwargs: passed to the method's function (e.g. ``steps=200, space='w'``).
    """
    from pathlib import Path

    from .runner import load_for_inversion

    if isinstance(images, (str, Path)):
        images, _ = load_for_inversion(Path(images), G.img_resolution)
    if method == "optim":
        return project(G, images, **kwargs).code
    if method == "hybrid":
        return invert_hybrid(G, images, **kwargs).code
    if method == "encoder":
        enc = kwargs.pop("encoder", None)
        enc = enc if isinstance(enc, Encoder) else load_encoder(enc or G.name, device=G.device)
        return enc.invert(images, G=G, **kwargs)
    from ..errors import GanlensError

    if method == "pti":
        raise GanlensError("PTI returns tuned generator weights as well as codes: call invert_pti(G, images)")
    raise GanlensError(f"unknown inversion method {method!r}; choose 'optim', 'encoder' or 'hybrid'")


__all__ = [
    "LPIPS", "PRESETS", "Encoder", "InversionResult", "MobileNetV2FeatureDistance", "OptimConfig", "PNSpace",
    "PTIConfig", "PTIResult", "PTI_RECIPES", "ReconstructionLoss", "RunSettings", "apply_delta", "get_perceptual",
    "invert", "invert_hybrid", "invert_images", "invert_pti", "latent_error", "layer_spread", "load_delta",
    "invert_styles", "load_encoder", "pixel_distance", "preset", "project", "pti_recipe", "save_delta", "save_encoder",
]
