"""Auto-labels: name a discovered direction by the attribute that changes with it.

Move a few fresh samples along the direction at several strengths, score them, and correlate each attribute's
change (raw score: logits for binary attributes, which move linearly where probabilities saturate) with the
strength. The attribute with the largest |r| is the label; |r| says how cleanly the direction controls it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..directions.direction import Direction
from ..errors import GanlensError
from .rescore import measure_edits

if TYPE_CHECKING:  # pragma: no cover
    from ..models.stylegan2 import Generator
    from ..scorers import Scorer


def correlations(strengths: Sequence[float], changes: np.ndarray) -> np.ndarray:
    """Pearson r between strength and change for each attribute.

    Args:
        strengths: S strengths.
        changes: [A, S, N] per-sample changes.
    Returns:
        r [A] (0 for an attribute that does not change at all).
    """
    a_num, s_num, n = changes.shape
    if s_num != len(strengths) or s_num < 2:
        raise GanlensError(f"need changes [A, S, N] with S = {len(strengths)} >= 2 strengths, got {list(changes.shape)}")
    x = np.repeat(np.asarray(strengths, dtype=np.float64), n)
    x = x - x.mean()
    y = changes.reshape(a_num, -1)
    y = y - y.mean(axis=1, keepdims=True)
    denom = np.sqrt((x**2).sum() * (y**2).sum(axis=1))
    return np.where(denom > 0, (y @ x) / np.where(denom > 0, denom, 1), 0.0)


def autolabel(
    G: Generator,
    directions: Sequence[Direction],
    scorer: Scorer | str,
    strengths: Sequence[float] = (-2, -1, 1, 2),
    num_samples: int = 64,
    seed: int = 2,
    batch_size: int = 64,
    progress: bool = False,
) -> list[Direction]:
    """Label directions by the attribute whose change correlates best with the strength.

    Args:
        G: the generator.
        directions: directions to label (any method; strengths are in their units, σ for GANSpace).
        scorer: a Scorer or a scorer spec ('synthfaces64', 'module:function').
        strengths: the moves (at least two distinct values).
        num_samples: fresh samples.
        seed: seed of the fresh samples.
        batch_size: synthesis batch.
        progress: tqdm bar.
    Returns:
        Copies of the directions with metrics 'autolabel' (the top attribute), 'label_r' (its signed r) and
        'correlations' ({attribute: r}).
    """
    report = measure_edits(G, directions, scorer, strengths=strengths, num_samples=num_samples, seed=seed,
                           batch_size=batch_size, progress=progress)
    changes = report.changes(probability=False)
    out = []
    for i, d in enumerate(directions):
        r = correlations(report.strengths, changes[i])
        top = int(np.argmax(np.abs(r)))
        metrics = dict(d.metrics, autolabel=report.attributes[top], label_r=float(r[top]),
                       correlations={a: round(float(v), 4) for a, v in zip(report.attributes, r)})
        out.append(replace(d, metrics=metrics, provenance=dict(d.provenance, autolabel_samples=num_samples)))
    return out
