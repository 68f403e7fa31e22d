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

from ..directions.direction import Direction
from ..directions.svm import fit_boundary
from ..edit.linear import move
from ..latents import LatentCode
from ..scorers.base import Scorer
from ..scoring import resolve_scorer, score


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


def read_changes(scorers: dict[str, Scorer], before: dict[str, dict], after: dict[str, dict],
                 min_change: float = 0.15, room: float = 0.2) -> dict[str, dict]:
    """One image before and after an edit, read by several predictors (label → scorer; the first is the main one;
    `before` / `after`: label → that predictor's raw scores of the image). For each of the main predictor's
    attributes that moved: the way it moved ('up' / 'down', as the main predictor reads it), whether each
    predictor that reads the attribute sees a visible change (`visible_change`), and `visible`: all of them do."""
    (main_label, main), *_ = scorers.items()
    out = {}
    for attr in main.names:
        a = main.readable({attr: [before[main_label][attr]]})[attr][0]
        b = main.readable({attr: [after[main_label][attr]]})[attr][0]
        if a == b:
            continue
        sign = 1.0 if b > a else -1.0
        readers = {}
        for label, scorer in scorers.items():
            if attr in scorer.names and label in before and label in after:
                eligible, visible = visible_change(scorer, attr, {attr: [before[label][attr]]},
                                                   {attr: [after[label][attr]]}, sign, min_change, room)
                readers[label] = bool(eligible[0] and visible[0])
        out[attr] = {"way": "up" if sign > 0 else "down", "visible": all(readers.values()), "readers": readers}
    return out


def direction_spread(codes: LatentCode, direction: Direction) -> float:
    """σ: the standard deviation of the codes' projections on the direction (its unit of edit distance)."""
    v = torch.as_tensor(np.asarray(direction.vector, np.float32))
    t = codes.tensor.float()
    if t.ndim == 3:  # w+: the mean of the direction's layers' w
        layers = list(direction.layers) if direction.layers is not None else list(range(t.shape[1]))
        t = t[:, layers].mean(dim=1)
    return float((t.cpu() @ v).std())


def measure_visible(G, codes: LatentCode, direction: Direction, attribute: str, scorers: list[str | Scorer], *,
                    strength: float = 2.5, sigma: float | None = None, min_change: float = 0.15, room: float = 0.2,
                    precision: str | None = "auto") -> EditShare:
    """Move `codes` by `strength` σ along `direction` (σ: `direction_spread` of the codes unless given) and count
    the visible changes of `attribute` under every scorer (the first is the main reader)."""
    labels = [s if isinstance(s, str) else f"{type(s).__name__}{i}" for i, s in enumerate(scorers)]
    scorers = [resolve_scorer(s) for s in scorers]
    sigma = direction_spread(codes, direction) if sigma is None else sigma
    moved = move(codes, direction, [strength * sigma / direction.scale], num_ws=G.num_ws)
    eligible_all, visible_all, per = None, None, {}
    for label, scorer in zip(labels, scorers):
        before = score(G, codes, scorer, precision=precision).scores
        after = score(G, moved, scorer, precision=precision).scores
        eligible, visible = visible_change(scorer, attribute, before, after, np.sign(strength), min_change, room)
        per[label] = float(visible[eligible].mean()) if eligible.any() else float("nan")
        eligible_all = eligible if eligible_all is None else eligible_all & eligible
        visible_all = visible if visible_all is None else visible_all & visible
    n_eligible = int(eligible_all.sum())
    n_visible = int((visible_all & eligible_all).sum())
    return EditShare(attribute, n_eligible, n_visible, n_visible / n_eligible if n_eligible else float("nan"), per,
                     strength, sigma, direction.metrics.get("val_accuracy"))


def visible_edit_share(G, attribute: str, scorers: list[str | Scorer], *, fit_samples: int = 2000,
                       test_samples: int = 500, strength: float = 2.5, min_change: float = 0.15, room: float = 0.2,
                       fit_seed: int = 0, test_seed: int = 1, precision: str | None = "auto") -> EditShare:
    """Fit a W boundary for `attribute` with the first scorer on `fit_samples` codes (σ: their spread along it),
    move `test_samples` fresh codes by `strength` σ along it, and count the visible changes under every scorer."""
    main = resolve_scorer(scorers[0])
    fit = score(G, fit_samples, main, seed=fit_seed, space="w", precision=precision)
    direction = fit_boundary(fit.codes, fit[attribute], attribute=attribute,
                             binary=main.info(attribute).kind == "binary", model=getattr(G, "name", None))
    fresh = G.sample(test_samples, seed=test_seed, space="w")
    return measure_visible(G, fresh, direction, attribute, scorers, strength=strength,
                           sigma=direction_spread(fit.codes, direction), min_change=min_change, room=room,
                           precision=precision)
