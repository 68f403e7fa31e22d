"""Reconstruction losses for inversion: pixel MSE / L1, a perceptual distance, optional attribute preservation.

Every loss returns one value per image ([N]) so that a batch of independent inversions can be optimised as one
sum: Adam's updates are element-wise, so summing per-image losses gives each image exactly the update it would
get alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..errors import GanlensError, ShapeError, UnknownNameError
from ..metrics.perceptual import PerceptualDistance, get_perceptual


def pixel_distance(x: torch.Tensor, y: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Mean squared ('mse') or absolute ('l1') difference per image [N] of batches [N, C, H, W]."""
    if x.shape[1:] != y.shape[1:]:
        raise ShapeError(f"pixel_distance: shapes {list(x.shape)} and {list(y.shape)} differ")
    d = x.float() - y.float()
    if kind == "mse":
        return d.square().mean(dim=(1, 2, 3))
    if kind == "l1":
        return d.abs().mean(dim=(1, 2, 3))
    raise UnknownNameError(f"pixel_distance kind must be 'mse' or 'l1', got {kind!r}")


def saturation_aware(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """x with values past a saturated target pixel pulled to the limit: where the target is 255 (or 0), any output
    >= 1 (<= -1) displays the same after clipping, so it must cost nothing — while gradients still flow
    everywhere else (a plain clamp would stop them for outputs beyond the range that should come back)."""
    hi, lo = y >= 1 - 1e-6, y <= -1 + 1e-6
    return torch.where(hi, torch.minimum(x, y), torch.where(lo, torch.maximum(x, y), x))


@dataclass
class Target:
    """A batch of target images with what the loss precomputes about them (features, attribute scores)."""

    images: torch.Tensor
    features: list[torch.Tensor] | None = None
    scores: torch.Tensor | None = None
    mask: torch.Tensor | None = None

    def repeat(self, k: int) -> "Target":
        """The same targets repeated k times along the batch (image i at rows i, i+N, ...), for restarts."""
        rep = lambda t: None if t is None else t.repeat(k, *[1] * (t.ndim - 1))  # noqa: E731
        feats = None if self.features is None else [rep(f) for f in self.features]
        return Target(rep(self.images), feats, rep(self.scores), rep(self.mask))


def as_mask_tensor(mask, n: int, resolution: int) -> torch.Tensor:
    """A loss mask [n, 1, R, R] in [0, 1] (1 = pixel counts) from [R, R], [N, R, R] or [N, 1, R, R] (bool, 0/1 or
    0..255 uint8).

    Raises:
        GanlensError: wrong size, or a mask that selects no pixel of some image.
    """
    m = torch.as_tensor(np.asarray(mask) if not isinstance(mask, torch.Tensor) else mask)
    m = m.float() / 255.0 if m.dtype == torch.uint8 else m.float()
    if m.ndim == 2:
        m = m[None]
    if m.ndim == 3:
        m = m[:, None]
    if m.ndim != 4 or m.shape[1] != 1 or m.shape[2:] != (resolution, resolution) or m.shape[0] not in (1, n):
        raise GanlensError(f"mask of shape {list(m.shape)} does not fit {n} image(s) of {resolution}x{resolution}; "
                           f"give [{resolution}, {resolution}] or [{n}, {resolution}, {resolution}]")
    m = m.clamp(0, 1).expand(n, 1, resolution, resolution).contiguous()
    empty = (m.sum(dim=(1, 2, 3)) == 0).nonzero().flatten().tolist()
    if empty:
        raise GanlensError(f"the mask selects no pixel of image(s) {empty}: nothing to fit")
    return m


class ReconstructionLoss(torch.nn.Module):
    """mse·MSE + l1·L1 + perceptual·D(x, target) + attribute·|score(x) − score(target)|², per image.

    Args:
        mse, l1, perceptual, attribute: weights (0 disables a term; its network is then not built).
        perceptual_net: 'mobilenet' (offline default), 'lpips' (needs `lpips_trunk`), or a `PerceptualDistance`.
        perceptual_size: resize before the perceptual network (None: native resolution).
        scorer: for the attribute term, an object with a differentiable `score_tensor(images) -> [N, A]`
            (e.g. `ganlens.scorers.load_scorer(...)`) or such a callable.
        lpips_trunk: VGG16 weights for `perceptual_net='lpips'`.
    """

    def __init__(
        self,
        mse: float = 1.0,
        l1: float = 0.0,
        perceptual: float = 0.0,
        attribute: float = 0.0,
        perceptual_net: str | PerceptualDistance = "mobilenet",
        perceptual_size: int | None = None,
        scorer: Any = None,
        lpips_trunk: str | Path | None = None,
    ) -> None:
        super().__init__()
        self.w_mse, self.w_l1, self.w_perc, self.w_attr = mse, l1, perceptual, attribute
        if min(mse, l1, perceptual, attribute) < 0:
            raise GanlensError(f"loss weights must be >= 0, got mse={mse}, l1={l1}, perceptual={perceptual}, attribute={attribute}")
        if mse + l1 + perceptual + attribute == 0:
            raise GanlensError("all loss weights are 0: nothing to optimise")
        self.perc = get_perceptual(perceptual_net, size=perceptual_size, trunk=lpips_trunk) if perceptual > 0 else None
        self.score_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
        if attribute > 0:
            if scorer is None:
                raise GanlensError("attribute > 0 needs a scorer with a differentiable score_tensor(images)")
            self.score_fn = getattr(scorer, "score_tensor", scorer)

    def prepare(self, images: torch.Tensor, mask: torch.Tensor | None = None) -> Target:
        """Precompute what the loss needs about fixed targets [N, 3, H, W] in [-1, 1].

        `mask` [N, 1, H, W] in [0, 1] restricts every term to the pixels it covers (Image2StyleGAN++'s masked
        loss): pixel terms average over the mask, the perceptual and attribute terms see only masked images.
        """
        if mask is not None:
            mask = mask.to(images.device, images.dtype)
        seen = images if mask is None else images * mask
        with torch.no_grad():
            feats = self.perc.features(seen) if self.perc is not None else None
            scores = self.score_fn(seen).float() if self.score_fn is not None else None
        return Target(images, feats, scores, mask)

    def components(self, x: torch.Tensor, target: Target) -> dict[str, torch.Tensor]:
        """Each enabled term, unweighted, per image [N] (keys: mse, l1, perceptual, attribute)."""
        y = target.images
        if x.shape != y.shape:
            raise ValueError(f"reconstructions {list(x.shape)} and targets {list(y.shape)} differ in shape")
        x = saturation_aware(x.float(), y)
        m = target.mask
        if m is not None:
            # Zeroing both sides outside the mask removes those pixels from every term and from the gradient.
            x, y = x * m, y * m
            coverage = m.mean(dim=(1, 2, 3))
        out: dict[str, torch.Tensor] = {}
        if self.w_mse:
            out["mse"] = pixel_distance(x, y, "mse") if m is None else pixel_distance(x, y, "mse") / coverage
        if self.w_l1:
            out["l1"] = pixel_distance(x, y, "l1") if m is None else pixel_distance(x, y, "l1") / coverage
        if self.perc is not None:
            out["perceptual"] = self.perc.distance(self.perc.features(x), target.features)
        if self.score_fn is not None:
            out["attribute"] = (self.score_fn(x).float() - target.scores).square().mean(dim=1)
        return out

    def weighted(self, parts: dict[str, torch.Tensor]) -> torch.Tensor:
        """The loss [N] from `components`' output."""
        weights = {"mse": self.w_mse, "l1": self.w_l1, "perceptual": self.w_perc, "attribute": self.w_attr}
        return sum(weights[k] * v for k, v in parts.items())

    def forward(self, x: torch.Tensor, target: Target) -> torch.Tensor:
        """Loss per image [N] of images x [N, 3, H, W] against prepared targets."""
        return self.weighted(self.components(x, target))
