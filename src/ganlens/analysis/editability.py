"""Does an edit change what a person sees? The visible-edit share along an InterFaceGAN boundary, read by two
independent predictors.

For fresh samples w, the edit is w + strength·σ·n, with n the boundary's unit normal and σ the spread of the
fitting codes along n (so a strength means the same on every model). `visible_change` is the rule: a binary
attribute's edit is visible on a sample that lacked it (p < 0.5) and has it afterwards (p >= 0.5), or the reverse
for a negative edit; a continuous attribute's edit is visible on a sample with room to move (not within
`room` of the end of the range it is pushed towards) that moves that way by at least `min_change` of the range.
A sample counts only where every predictor agrees: it qualifies under each, and each reads the change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..directions.svm import fit_boundary
from ..latents import LatentCode
from ..scoring import resolve_scorer, score
from ..scorers.base import Scorer


@dataclass
class EditShare:
    attribute: str
    eligible: int  # fresh samples that qualify under every predictor (lacking it, or with room to move)
    visible: int  # of those, the ones every predictor reads as changed
    share: float  # visible / eligible (nan when none qualifies)
    per_predictor: dict  # each predictor's own share on the samples it alone calls eligible
    strength: float
    sigma: float
    boundary_val_accuracy: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def visible_change(scorer: Scorer, attribute: str, before: dict, after: dict, sign: float = 1.0,
                   min_change: float = 0.15, room: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """(eligible, visible) boolean arrays for scores before and after an edit pushing `attribute` up (sign > 0)
    or down (sign < 0), as the scorer reads them."""
    info = scorer.info(attribute)
    a, b = scorer.readable(before)[attribute], scorer.readable(after)[attribute]
    up = sign >= 0
    if info.kind == "binary":
        return (a < 0.5, b >= 0.5) if up else (a >= 0.5, b < 0.5)
    span = info.high - info.low
    if up:
        return a < info.high - room * span, (b - a) >= min_change * span
    return a > info.low + room * span, (a - b) >= min_change * span


def visible_edit_share(G, attribute: str, scorers: list[str | Scorer], *, fit_samples: int = 2000,
                       test_samples: int = 500, strength: float = 2.5, min_change: float = 0.15, room: float = 0.2,
                       fit_seed: int = 0,
                       test_seed: int = 1, precision: str | None = "bf16") -> EditShare:
    """Fit a W boundary for `attribute` with the first scorer on `fit_samples` codes, move `test_samples` fresh
    codes by `strength` σ along it, and count the visible changes under every scorer."""
    labels = [s if isinstance(s, str) else f"{type(s).__name__}{i}" for i, s in enumerate(scorers)]
    scorers = [resolve_scorer(s) for s in scorers]
    fit = score(G, fit_samples, scorers[0], seed=fit_seed, space="w", precision=precision)
    info = scorers[0].info(attribute)
    direction = fit_boundary(fit.codes, fit[attribute], attribute=attribute, binary=info.kind == "binary",
                             model=getattr(G, "name", None))
    normal = torch.as_tensor(np.asarray(direction.vector, np.float32).reshape(-1))
    w_fit = fit.codes.tensor.float().reshape(len(fit.codes), -1)
    sigma = float((w_fit @ normal).std())
    fresh = G.sample(test_samples, seed=test_seed, space="w")
    moved = LatentCode("w", fresh.tensor + strength * sigma * normal.to(fresh.tensor.device), meta=dict(fresh.meta))
    eligible_all, visible_all, per = None, None, {}
    for label, scorer in zip(labels, scorers):
        before = score(G, fresh, scorer, precision=precision).scores
        after = score(G, moved, scorer, precision=precision).scores
        eligible, visible = visible_change(scorer, attribute, before, after, np.sign(strength), min_change, room)
        per[label] = float(visible[eligible].mean()) if eligible.any() else float("nan")
        eligible_all = eligible if eligible_all is None else eligible_all & eligible
        visible_all = visible if visible_all is None else visible_all & visible
    n_eligible = int(eligible_all.sum())
    n_visible = int((visible_all & eligible_all).sum())
    return EditShare(attribute, n_eligible, n_visible, n_visible / n_eligible if n_eligible else float("nan"), per,
                     strength, sigma, direction.metrics.get("val_accuracy"))
