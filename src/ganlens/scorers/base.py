"""The scorer interface: images in, one score per attribute out (InterFaceGAN's "semantic scoring function").

Conventions: a continuous attribute is scored in its own units (e.g. yaw in [-1, 1]); a binary attribute is scored
as a LOGIT, so 0 is the decision threshold and the score ranks samples by confidence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..errors import InputError, ShapeError, UnknownNameError

KINDS = ("continuous", "binary")


@dataclass(frozen=True)
class AttributeInfo:
    """What a scorer reports for one attribute."""

    name: str
    kind: str  # "continuous" | "binary"
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UnknownNameError(f"attribute {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def threshold(self) -> float:
        """The score that separates 'has it' from 'has it not': logit 0, or the middle of the range."""
        return 0.0 if self.kind == "binary" else (self.low + self.high) / 2


def to_unit_float(images) -> torch.Tensor:
    """Accept a float tensor [N, 3, H, W] in [-1, 1] or uint8 [N, H, W, 3]; return float [N, 3, H, W] in [-1, 1]."""
    if isinstance(images, np.ndarray):
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ShapeError(f"numpy images must be uint8 [N, H, W, 3], got {images.dtype} {list(images.shape)}")
        return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    if isinstance(images, torch.Tensor):
        if images.ndim != 4 or images.shape[1] != 3 or not images.is_floating_point():
            raise ShapeError(f"tensor images must be float [N, 3, H, W] in [-1, 1], got {images.dtype} {list(images.shape)}")
        return images
    raise ShapeError(f"images must be a numpy uint8 array or a torch tensor, got {type(images).__name__}")


def to_uint8_nhwc(images) -> np.ndarray:
    """The inverse convention: uint8 [N, H, W, 3] (for user functions that want pictures)."""
    if isinstance(images, np.ndarray):
        to_unit_float(images)  # validates the shape and dtype
        return images
    x = to_unit_float(images)
    return (x.detach().cpu().permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy()


class Scorer(ABC):
    """Images → {attribute: scores [N]}."""

    attributes: tuple[AttributeInfo, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attributes)

    def info(self, name: str) -> AttributeInfo:
        for a in self.attributes:
            if a.name == name:
                return a
        raise UnknownNameError(f"scorer has no attribute {name!r}; it has {list(self.names)}")

    def __call__(self, images, batch_size: int = 256) -> dict[str, np.ndarray]:
        n = len(images)
        parts = [self._score_batch(images[i : i + batch_size]) for i in range(0, n, batch_size)]
        if not parts:
            return {a: np.zeros(0, np.float32) for a in self.names}
        return {a: np.concatenate([p[a] for p in parts]).astype(np.float32) for a in self.names}

    @abstractmethod
    def _score_batch(self, images) -> dict[str, np.ndarray]:
        """Score one batch (either image convention)."""

    def readable(self, scores: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """`scores` (as returned by calling the scorer) in float64, binary logits turned into probabilities."""
        out = {}
        for name, v in scores.items():
            v = np.asarray(v, dtype=np.float64)
            out[name] = 1 / (1 + np.exp(-v)) if self.info(name).kind == "binary" else v
        return out

    def score_tensor(self, images: torch.Tensor) -> torch.Tensor:
        """Differentiable scores [N, A] (columns in `names` order); only scorers built on torch provide it."""
        raise NotImplementedError(f"{type(self).__name__} is not differentiable")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(attributes={list(self.names)})"


class CallableScorer(Scorer):
    """Wrap a user function ``fn(uint8 images [N, H, W, 3]) -> {name: [N]} or array [N, A]``."""

    def __init__(self, fn: Callable, attributes: list[AttributeInfo] | tuple[AttributeInfo, ...]) -> None:
        if not attributes:
            raise InputError("a CallableScorer needs at least one AttributeInfo")
        self.fn = fn
        self.attributes = tuple(attributes)

    def _score_batch(self, images) -> dict[str, np.ndarray]:
        pics = to_uint8_nhwc(images)
        out = self.fn(pics)
        n = len(pics)
        if isinstance(out, dict):
            missing = [a for a in self.names if a not in out]
            if missing:
                raise InputError(f"scorer function returned no scores for {missing} (got keys {sorted(out)})")
            res = {}
            for a in self.names:
                v = np.asarray(out[a], dtype=np.float32).reshape(-1)
                if v.shape != (n,):
                    raise ShapeError(f"scorer function returned shape {list(np.shape(out[a]))} for {a!r}; expected [{n}]")
                res[a] = v
            return res
        arr = np.asarray(out, dtype=np.float32)
        if arr.ndim == 1 and len(self.attributes) == 1:
            arr = arr[:, None]
        if arr.shape != (n, len(self.attributes)):
            raise ShapeError(f"scorer function returned shape {list(arr.shape)}; expected [{n}, {len(self.attributes)}]")
        return {a: arr[:, i] for i, a in enumerate(self.names)}
