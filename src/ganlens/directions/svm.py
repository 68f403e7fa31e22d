"""InterFaceGAN boundaries: a linear SVM between the highest- and lowest-scored samples.

The recipe of the original `train_boundary`: sort N scored codes, take the top and bottom `ratio` (default 2 %)
as positives and negatives, split each 70/30 into train/val, fit ``SVC(kernel='linear', C=1)``, keep the unit
normal of the hyperplane. Every other sample is labelled by a threshold to report the "remaining" accuracy, and
all samples together give the all-sample accuracy of the Table 1 claim (val > 95 %, all > 75 %). The threshold is
0 for binary attributes (their scores are logits); otherwise the mid score between the chosen classes,
(lowest positive + highest negative) / 2, which is where the SVM puts its hyperplane. (The original took
(max + min) / 2 of all scores, which a single outlier moves.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import torch
from sklearn.svm import SVC

from ..errors import GanlensError
from ..latents import LatentCode
from .direction import Direction

if TYPE_CHECKING:  # pragma: no cover
    from ..parallel import Executor

CodesLike = LatentCode | np.ndarray | torch.Tensor


def design_matrix(codes: CodesLike, layer: int | None) -> tuple[np.ndarray, str, tuple[int, ...] | None, int | None]:
    """Codes as a float64 matrix [N, dim], plus the direction's space, layers and num_ws."""
    if isinstance(codes, LatentCode):
        space, t = codes.space, codes.tensor.detach().cpu().numpy()
    else:
        t = codes.detach().cpu().numpy() if isinstance(codes, torch.Tensor) else np.asarray(codes)
        space = "w+" if t.ndim == 3 else "w"
    t = np.asarray(t, dtype=np.float64)
    if space == "s":
        raise GanlensError("boundaries are fitted in z, w or w+ codes, not style space 's'")
    if t.ndim == 3:
        if layer is None:
            raise GanlensError(
                f"W+ codes [N, {t.shape[1]}, {t.shape[2]}] need layer=... (one boundary per layer: fit_layer_boundaries)"
            )
        if not 0 <= layer < t.shape[1]:
            raise GanlensError(f"layer {layer} out of range for W+ codes with {t.shape[1]} layers")
        return t[:, layer], "w+", (layer,), t.shape[1]
    if t.ndim != 2:
        raise GanlensError(f"codes must be [N, dim] (z or w) or [N, num_ws, dim] (w+), got shape {list(t.shape)}")
    if layer is not None:
        raise GanlensError(f"layer={layer} only applies to W+ codes; these are {space!r} codes [N, dim]")
    return t, space, None, None


def labelled_matrix(codes: CodesLike, scores: np.ndarray, layer: int | None = None, what: str = "the attribute"
                    ) -> tuple[np.ndarray, np.ndarray, str, tuple[int, ...] | None, int | None]:
    """`design_matrix` plus the scores as float64 [N], both without the unlabelled (NaN) rows.

    Raises:
        GanlensError: codes and scores of different lengths (named `what` in the message), or a bad code shape.
    """
    x, space, layers, n_ws = design_matrix(codes, layer)
    y = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.shape[0] != x.shape[0]:
        raise GanlensError(f"got {x.shape[0]} codes but {y.shape[0]} scores for {what}")
    valid = np.isfinite(y)
    return x[valid], y[valid], space, layers, n_ws


def split_extremes(y: np.ndarray, chosen: int, train_num: int, seed: int, what: str = "the attribute"
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """InterFaceGAN's classes: the `chosen` highest scores (positives) and lowest (negatives), each shuffled by
    `seed` and split into `train_num` to train and the rest to validate.

    Returns:
        positives, negatives, train indices, val indices, and 0/1 labels for every sample (1 = positive).
    Raises:
        GanlensError: the top and bottom scores overlap (the attribute, named `what`, barely varies).
    """
    n = len(y)
    order = np.argsort(-y, kind="stable")
    pos, neg = order[:chosen], order[n - chosen:]
    if y[pos].min() <= y[neg].max():
        raise GanlensError(
            f"the top and bottom {chosen} scores of {what} overlap (both reach "
            f"{y[pos].min():.4g}): it barely varies over these samples; use a smaller ratio or another attribute"
        )
    rng = np.random.default_rng(seed)
    pos, neg = rng.permutation(pos), rng.permutation(neg)
    label = np.zeros(n, dtype=np.int64)
    label[pos] = 1
    return (pos, neg, np.concatenate([pos[:train_num], neg[:train_num]]),
            np.concatenate([pos[train_num:], neg[train_num:]]), label)


def fit_boundary(
    codes: CodesLike,
    scores: np.ndarray,
    *,
    attribute: str | None = None,
    ratio: float = 0.02,
    count: int | None = None,
    split: float = 0.7,
    C: float = 1.0,
    binary: bool = False,
    threshold: float | None = None,
    layer: int | None = None,
    seed: int = 0,
    model: str | None = None,
    num_ws: int | None = None,
) -> Direction:
    """Fit an InterFaceGAN boundary for one attribute.

    Args:
        codes: N codes: a LatentCode (z, w or w+) or an array [N, dim] / [N, num_ws, dim].
        scores: the attribute's score per code [N] (NaN = unlabelled, skipped).
        attribute: the attribute's name (kept in the Direction).
        ratio: fraction of the valid samples taken as positives (top) and as negatives (bottom).
        count: an explicit number of positives (and negatives) instead of `ratio`.
        split: train fraction of the chosen samples; the rest is the validation set.
        C: SVM regularisation.
        binary: scores are logits of a binary attribute (the threshold for remaining/all accuracy is then 0).
        threshold: explicit threshold for remaining/all accuracy (default: 0 if binary, else the mid score
            between the lowest positive and the highest negative).
        layer: for W+ codes, which layer's w to fit on.
        seed: seed of the train/val split.
        model: name of the generator the codes came from.
        num_ws: the generator's num_ws, if known (stored for layer-wise edits of 'w' codes).
    Returns:
        A Direction with the unit normal (pointing to higher scores), the bias (n·x + b = 0 is the boundary) and
        metrics: train/val/remaining/all accuracy, threshold, counts.
    Raises:
        GanlensError: mismatched lengths, too few samples, or an attribute whose top and bottom scores overlap.
    """
    x, y, space, layers, n_ws = labelled_matrix(codes, scores, layer, attribute or "the attribute")
    n = x.shape[0]
    if count is not None:
        chosen = int(count)
    elif 0 < ratio <= 0.5:
        chosen = int(n * ratio)
    else:
        raise GanlensError(f"ratio must be in (0, 0.5], got {ratio}")
    if not 0 < split < 1:
        raise GanlensError(f"split must be in (0, 1), got {split}")
    train_num = int(chosen * split)
    if chosen > n // 2 or train_num < 1 or chosen - train_num < 1:
        raise GanlensError(
            f"cannot take {chosen} positives and {chosen} negatives (split {split}) from {n} labelled samples; "
            "use more samples or a larger ratio/count"
        )
    pos, neg, train_idx, val_idx, label = split_extremes(y, chosen, train_num, seed, attribute or "the attribute")
    clf = SVC(kernel="linear", C=C)
    clf.fit(x[train_idx], label[train_idx])
    coef = clf.coef_.reshape(-1)
    norm = float(np.linalg.norm(coef))
    if norm == 0:
        raise GanlensError(f"the SVM for {attribute or 'the attribute'} found no separating direction (zero normal)")

    thr = float(threshold) if threshold is not None else (0.0 if binary else float((y[pos].min() + y[neg].max()) / 2))
    # The linear decision function itself: libsvm's predict() walks every support vector per sample, which on
    # 100,000 poorly separable Z codes took longer than the fit.
    pred = (x @ clf.coef_.reshape(-1) + clf.intercept_[0] > 0).astype(np.int64)
    truth = (y >= thr).astype(np.int64)
    rest = np.ones(n, dtype=bool)
    rest[pos] = rest[neg] = False
    metrics = {
        "train_accuracy": float((pred[train_idx] == label[train_idx]).mean()),
        "val_accuracy": float((pred[val_idx] == label[val_idx]).mean()),
        "remaining_accuracy": float((pred[rest] == truth[rest]).mean()) if rest.any() else None,
        "all_accuracy": float((pred == truth).mean()),
        "threshold": thr,
        "positive_rate": float(truth.mean()),
        "num_samples": int(n),
        "num_unlabelled": int(np.size(scores)) - n,
        "num_chosen": int(chosen),
        "num_train": int(2 * train_num),
        "num_val": int(len(val_idx)),
        "C": float(C),
    }
    return Direction(
        vector=coef / norm, space=space, layers=layers, bias=float(clf.intercept_[0]) / norm, method="svm",
        attribute=attribute, metrics=metrics, model=model, num_ws=n_ws or num_ws,
        # The values used, not the arguments: `count` is set either way, `ratio` only when it chose the count.
        provenance={"ratio": None if count is not None else ratio, "count": int(chosen), "split": split, "seed": seed,
                    "binary": bool(binary), "threshold": thr},
    )


def fit_layer_boundaries(codes: CodesLike, scores: np.ndarray, layers: list[int] | None = None, **kwargs) -> list[Direction]:
    """One boundary per layer of W+ codes [N, num_ws, dim] (HiGAN's per-layer probing); kwargs as fit_boundary."""
    t = codes.tensor if isinstance(codes, LatentCode) else codes
    if len(getattr(t, "shape", ())) != 3:
        raise GanlensError(f"fit_layer_boundaries needs W+ codes [N, num_ws, dim], got shape {list(np.shape(t))}")
    layers = list(range(t.shape[1])) if layers is None else layers
    return [fit_boundary(codes, scores, layer=i, **kwargs) for i in layers]


def fit_boundaries(
    codes: CodesLike,
    scores: Mapping[str, np.ndarray],
    *,
    per_attribute: Mapping[str, dict] | None = None,
    then: Callable[[Direction, CodesLike, np.ndarray], None] | None = None,
    executor: Executor | str | None = None,
    **common,
) -> dict[str, Direction]:
    """One boundary per attribute of `scores` (in its order), each fitted as its own task.

    Args:
        codes: the N codes every attribute is fitted on (as for `fit_boundary`).
        scores: {attribute: scores [N]}.
        per_attribute: {attribute: fit_boundary keyword arguments of that attribute alone} (binary, threshold, ...).
        then: called in the same task on each fitted direction with the codes and its scores, e.g. a diagnosis that
            adds to the direction's metrics (on Ray it must be picklable: a module-level function or a partial).
        executor: None: one attribute after another in this process; otherwise the executor that runs the tasks
            (`ganlens.parallel.resolve_executor`: an Executor, 'ray', or a Ray address). The codes and scores are put
            in Ray's object store once; each SVM is the same as in this process.
        common: fit_boundary keyword arguments for every attribute (ratio, count, split, seed, layer, model, ...).
    Returns:
        {attribute: Direction}.
    Raises:
        GanlensError: an attribute that cannot be fitted (the message starts with its name).
    """
    items = [(a, {**common, **dict((per_attribute or {}).get(a, {})), "attribute": a}) for a in scores]
    if executor is None:
        fitted = [_fit_task(item, codes, scores, then) for item in items]
    else:
        from ..parallel import Executor, resolve_executor

        ex = resolve_executor(executor)
        try:
            fitted = ex.map(_fit_task, items, codes, dict(scores), then)
        finally:
            if not isinstance(executor, Executor):
                ex.close()
    return {a: d for (a, _), d in zip(items, fitted)}


def _fit_task(item: tuple[str, dict], codes: CodesLike, scores: Mapping[str, np.ndarray],
              then: Callable[[Direction, CodesLike, np.ndarray], None] | None) -> Direction:
    """One attribute's boundary (and `then`): a task of `fit_boundaries`."""
    name, kwargs = item
    try:
        d = fit_boundary(codes, scores[name], **kwargs)
        if then is not None:
            then(d, codes, scores[name])
    except GanlensError as exc:
        raise GanlensError(f"{name}: {exc}") from None
    return d
