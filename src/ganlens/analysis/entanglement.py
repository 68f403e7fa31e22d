"""Entanglement measures of InterFaceGAN §2: cosine of normals, and correlation of attribute scores.

Attributes i and j are entangled in a latent space when their normals are not orthogonal (cos(n_i, n_j) ≠ 0);
in the data they are correlated when their scores are. The leakage matrix (what editing one attribute does to
the others) comes from `measure_edits(...).leakage()`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..directions.direction import Direction
from ..errors import GanlensError


def cosine_matrix(directions: Sequence[Direction]) -> np.ndarray:
    """cos(n_i, n_j) for every pair [D, D] (rows and columns in the given order).

    Raises:
        GanlensError: directions of different spaces or sizes.
    """
    directions = list(directions)
    if not directions:
        raise GanlensError("cosine_matrix needs at least one direction")
    first = directions[0]
    for d in directions[1:]:
        if (d.space == "z") != (first.space == "z") or d.dim != first.dim:
            raise GanlensError(
                f"cannot compare {first.name!r} ({first.space}, dim {first.dim}) with {d.name!r} ({d.space}, dim {d.dim})"
            )
    m = np.stack([d.vector for d in directions])
    return np.clip(m @ m.T, -1.0, 1.0)


def score_correlation(scores: dict[str, np.ndarray], names: Sequence[str] | None = None) -> np.ndarray:
    """Pearson correlation of attribute scores over samples [A, A] (rows in `names` order, default dict order).

    Samples with a NaN in any of the chosen attributes are left out. A constant attribute correlates 0.
    """
    names = list(scores) if names is None else list(names)
    missing = [n for n in names if n not in scores]
    if missing:
        raise GanlensError(f"no scores for {missing}; available: {sorted(scores)}")
    x = np.stack([np.asarray(scores[n], dtype=np.float64).reshape(-1) for n in names])
    x = x[:, np.isfinite(x).all(axis=0)]
    if x.shape[1] < 2:
        raise GanlensError("need at least 2 fully labelled samples to correlate scores")
    x = x - x.mean(axis=1, keepdims=True)
    sd = np.sqrt((x**2).sum(axis=1))
    sd[sd == 0] = np.inf  # a constant attribute: correlation 0 with everything else
    c = np.clip((x @ x.T) / np.outer(sd, sd), -1.0, 1.0)
    np.fill_diagonal(c, 1.0)
    return c
