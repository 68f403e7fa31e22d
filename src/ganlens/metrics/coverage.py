"""How well a generator's samples cover a reference set, in any feature space: improved precision and recall
(Kynkäänniemi et al. 2019) beside the Fréchet distance of `metrics.fid`."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ShapeError


def _kth_neighbour_radii(feats: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """Distance from every row to its k-th nearest other row."""
    radii = []
    for start in range(0, len(feats), chunk):
        d = torch.cdist(feats[start : start + chunk], feats)
        radii.append(d.kthvalue(k + 1, dim=1).values)  # +1: the row itself is its own nearest neighbour
    return torch.cat(radii)


def _inside_manifold(query: torch.Tensor, support: torch.Tensor, radii: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """For each query row: does it fall inside the ball of some support row (radius = that row's k-NN distance)?"""
    inside = []
    for start in range(0, len(query), chunk):
        d = torch.cdist(query[start : start + chunk], support)
        inside.append((d <= radii[None, :]).any(dim=1))
    return torch.cat(inside)


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict[str, float]:
    """Improved precision (share of fakes inside the real samples' k-NN manifold: fidelity) and recall (share of
    reals inside the fakes' manifold: coverage), both in [0, 1].

    Raises:
        ValueError: feature sets of different widths, or too few rows for k neighbours.
    """
    real_t = torch.as_tensor(np.asarray(real, np.float32))
    fake_t = torch.as_tensor(np.asarray(fake, np.float32))
    if real_t.ndim != 2 or fake_t.ndim != 2 or real_t.shape[1] != fake_t.shape[1]:
        raise ShapeError(f"expected two feature sets [N, D] of one width, got {tuple(real_t.shape)} and {tuple(fake_t.shape)}")
    if min(len(real_t), len(fake_t)) <= k:
        raise ShapeError(f"precision/recall with k={k} needs more than {k} rows per set, got {len(real_t)} and {len(fake_t)}")
    precision = _inside_manifold(fake_t, real_t, _kth_neighbour_radii(real_t, k)).float().mean()
    recall = _inside_manifold(real_t, fake_t, _kth_neighbour_radii(fake_t, k)).float().mean()
    return {"precision": float(precision), "recall": float(recall), "k": k}
