"""What every demo section gets: the generator, the predictor, how much to sample, and what earlier sections
left behind (directions, numbers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..directions import Direction
from ..models.stylegan2 import Generator
from ..scorers import Scorer


@dataclass
class DemoSizes:
    """How much each section samples; `full()` targets <= 10 minutes on 2 CPU cores, `quick()` about one."""

    samples: int
    predictor_renders: int
    boundary_samples: int  # 0: show the shipped boundaries instead of fitting
    edit_attributes: tuple[str, ...]
    leakage_samples: int
    layer_attributes: tuple[str, ...]
    layer_samples: int
    discovered: int
    label_samples: int
    ganspace_samples: int
    inversions: int
    hybrid_steps: int
    photo_steps: int
    inpaint_steps: int
    morph_frames: int
    ascent_samples: int
    ascent_step: float
    visible_samples: int

    @classmethod
    def full(cls) -> "DemoSizes":
        return cls(32, 1000, 4000, ("smile", "age", "glasses", "yaw", "hair_color", "background"), 96,
                   ("yaw", "face_size", "hat", "smile", "background", "light"), 32, 6, 32, 20000, 4, 100, 200, 150, 24,
                   16, 0.5, 200)

    @classmethod
    def quick(cls) -> "DemoSizes":
        return cls(16, 200, 0, ("smile", "glasses", "yaw"), 16, ("yaw", "smile", "background"), 8, 4, 8, 5000, 2,
                   20, 30, 30, 10, 6, 0.5, 64)


# Pairs whose ground-truth factors are correlated by design (docs/synthfaces.md): edit the first, keep the second.
CONDITIONAL_PAIRS = (("glasses", "age"), ("smile", "age"), ("beard", "hair_length"))


@dataclass
class DemoContext:
    G: Generator
    scorer: Scorer
    sizes: DemoSizes
    quick: bool
    model: str
    log: Callable[[str], None]
    directions: dict[str, Direction] = field(default_factory=dict)
    numbers: dict = field(default_factory=dict)

    def flag(self) -> str:
        return "" if self.quick else " --full"


def spread(scorer: Scorer, scores: dict[str, np.ndarray], name: str) -> float:
    """The unit an attribute's change is reported in: 1 for binary attributes (probabilities), else its spread."""
    info = scorer.info(name)
    if info.kind == "binary":
        return 1.0  # changes of binary attributes are measured as probabilities
    return float(np.std(scores[name])) or 1.0
