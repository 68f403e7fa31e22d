"""The distance effect (InterFaceGAN): what happens as an edit goes further from where the sample started.

The target attribute should change monotonically and then saturate; far from the boundary other attributes
drift and identity is lost. Measured per strength: the target's mean change, the mean absolute drift of every
other attribute (in units of its spread), the pixel drift, and the fraction of samples whose target rose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..directions.direction import Direction
from .rescore import measure_edits

if TYPE_CHECKING:  # pragma: no cover
    from ..models.stylegan2 import Generator
    from ..scorers import Scorer


@dataclass
class DistanceEffect:
    """Per-strength summaries of moving along one direction."""

    direction: str
    strengths: list[float]
    target_change: np.ndarray
    others_drift: np.ndarray
    pixel_change: np.ndarray
    success: np.ndarray

    def to_dict(self) -> dict:
        return {"direction": self.direction, "strengths": self.strengths,
                "target_change": self.target_change.round(5).tolist(),
                "others_drift": self.others_drift.round(5).tolist(),
                "pixel_change": self.pixel_change.round(5).tolist(), "success": self.success.round(4).tolist()}


def distance_effect(
    G: Generator,
    direction: Direction,
    scorer: Scorer | str,
    strengths: Sequence[float] = (-9, -6, -3, -1, 1, 3, 6, 9),
    num_samples: int = 200,
    seed: int = 1,
    batch_size: int = 64,
    progress: bool = False,
) -> DistanceEffect:
    """Move fresh samples along `direction` at growing strengths and record target change and side effects."""
    rep = measure_edits(G, [direction], scorer, strengths=strengths, num_samples=num_samples, seed=seed,
                        batch_size=batch_size, progress=progress)
    t = rep.target_index(0)
    ch = rep.changes()[0]  # [A, S, N]
    others = [i for i in range(len(rep.attributes)) if i != t]
    drift = (np.abs(ch[others]) / rep.attribute_std()[others, None, None]).mean(axis=(0, 2))
    raw = rep.changes(probability=False)[0, t]
    return DistanceEffect(direction.name, list(rep.strengths), ch[t].mean(axis=-1), drift,
                          rep.pixel_change[0].mean(axis=-1), (raw > 0).mean(axis=-1))
