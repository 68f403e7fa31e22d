"""How disentangled a set of latent coordinates is with respect to known generative factors.

Given, for N points, coordinates `codes` [N, C] (e.g. each latent's projection on a method's C directions) and the
true `factors` [N, K] that produced them, three standard scores:

- MIG, the mutual information gap (Chen et al., NeurIPS 2018, "Isolating sources of disentanglement in VAEs"):
  per factor, the gap between the two coordinates that share the most information with it, over the factor's
  entropy; averaged over factors. 1 when each factor lives in exactly one coordinate.
- DCI (Eastwood & Williams, ICLR 2018, "A framework for the quantitative evaluation of disentangled
  representations"): a regressor per factor gives a coordinate x factor importance matrix R. Disentanglement: each
  coordinate's importance concentrated on one factor (1 - entropy with base K of its row, weighted by the row's
  share of all importance); completeness: each factor captured by one coordinate (1 - entropy with base C of its
  column, averaged over the factors any coordinate predicts); informativeness: the regressors' R^2 on held-out
  points, averaged over factors (1: predicted exactly; 0 or below: no better than the factor's mean).
- Modularity (Ridgeway & Mozer, NeurIPS 2018, "Learning deep disentangled embeddings with the F-statistic loss"):
  per coordinate, how close its mutual information with the factors is to a single spike; averaged over coordinates.

Continuous values are discretised into `bins` equal-width bins for the mutual information (20, as Khrulkov et al.,
ICLR 2021, use when they score directions found in non-disentangled GANs); values with at most `bins` distinct
levels (binary factors) keep their levels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

MIN_POINTS = 20


@dataclass
class DCIScores:
    """DCI's three numbers and the importance matrix [codes, factors] they come from."""

    disentanglement: float
    completeness: float
    informativeness: float
    importance: np.ndarray
    per_factor_informativeness: np.ndarray


def _check(codes: np.ndarray, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes, factors = np.asarray(codes, dtype=np.float64), np.asarray(factors, dtype=np.float64)
    for name, a in (("codes", codes), ("factors", factors)):
        if a.ndim != 2:
            raise InputError(f"{name} must be a 2-D array [points, columns], got shape {list(a.shape)}")
        if not np.isfinite(a).all():
            raise InputError(f"{name} holds NaN or infinite values")
    if len(codes) != len(factors):
        raise InputError(f"codes and factors must have one row per point, got {len(codes)} and {len(factors)} rows")
    if len(codes) < MIN_POINTS:
        raise InputError(f"need at least {MIN_POINTS} points to estimate information, got {len(codes)}")
    return codes, factors


def discretize(values: np.ndarray, bins: int = 20) -> np.ndarray:
    """Integer labels per column of [N, M] values: the column's own levels where it has at most `bins` distinct
    values, else the index of its equal-width bin between the column's minimum and maximum."""
    values = np.asarray(values)
    out = np.empty(values.shape, dtype=np.int64)
    for j in range(values.shape[1]):
        col = values[:, j]
        levels, inverse = np.unique(col, return_inverse=True)
        if len(levels) <= bins:
            out[:, j] = inverse
        else:
            edges = np.histogram_bin_edges(col, bins)
            out[:, j] = np.digitize(col, edges[1:-1])
    return out


def _entropy(labels: np.ndarray) -> float:
    p = np.bincount(labels) / len(labels)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def _mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """I(a; b) in nats from the joint histogram of two integer label arrays."""
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1.0)
    joint /= len(a)
    pa, pb = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])).sum())


def _information(codes: np.ndarray, factors: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """The mutual information matrix [codes, factors] and the discretised factors, from checked arrays."""
    dc, df = discretize(codes, bins), discretize(factors, bins)
    mi = np.array([[_mutual_information(dc[:, i], df[:, k]) for k in range(df.shape[1])]
                   for i in range(dc.shape[1])])
    return mi, df


def mutual_information(codes: np.ndarray, factors: np.ndarray, bins: int = 20) -> np.ndarray:
    """Mutual information (nats) between every discretised coordinate and every factor: [codes, factors]."""
    return _information(*_check(codes, factors), bins)[0]


def mig(codes: np.ndarray, factors: np.ndarray, bins: int = 20) -> tuple[float, np.ndarray]:
    """The mutual information gap and its value per factor (NaN for a factor that never varies, left out of the
    mean). Needs at least two coordinates."""
    codes, factors = _check(codes, factors)
    if codes.shape[1] < 2:
        raise InputError(f"MIG compares the two most informative coordinates: need at least 2, got {codes.shape[1]}")
    mi, df = _information(codes, factors, bins)
    h = np.array([_entropy(df[:, k]) for k in range(df.shape[1])])
    top = -np.sort(-mi, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        gaps = np.where(h > 0, (top[0] - top[1]) / h, np.nan)
    if np.isnan(gaps).all():
        raise InputError("no factor varies across the points: MIG is undefined")
    return float(np.nanmean(gaps)), gaps


def modularity(codes: np.ndarray, factors: np.ndarray, bins: int = 20) -> float:
    """Ridgeway & Mozer's modularity: 1 - the normalised squared deviation of each coordinate's mutual information
    from a one-factor template, averaged over the coordinates that carry any information."""
    codes, factors = _check(codes, factors)
    if factors.shape[1] < 2:
        raise InputError("modularity needs at least 2 factors")
    mi = _information(codes, factors, bins)[0]
    theta = mi.max(axis=1)
    keep = theta > 1e-12
    if not keep.any():
        raise InputError("no coordinate carries information about any factor: modularity is undefined")
    mi, theta = mi[keep], theta[keep]
    template = np.where(mi == theta[:, None], theta[:, None], 0.0)
    delta = ((mi - template) ** 2).sum(axis=1) / (theta**2 * (mi.shape[1] - 1))
    return float(np.mean(1.0 - delta))


def _normalised_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy of each row of p (rows sum to 1) in log base `base`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    return -terms.sum(axis=1) / np.log(base)


def dci(codes: np.ndarray, factors: np.ndarray, model: str = "forest", train_fraction: float = 0.8,
        seed: int = 0) -> DCIScores:
    """Eastwood & Williams' disentanglement, completeness and informativeness.

    Args:
        model: the regressor per factor, on standardised coordinates: 'forest' (a random forest, whose impurity
            importances see non-linear dependence) or 'lasso' (absolute coefficients of an L1 linear fit).
        train_fraction: the share of points the regressors are fitted on; informativeness is R^2 on the rest.
        seed: of the split and the forest.
    """
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import Lasso
    from sklearn.metrics import r2_score

    codes, factors = _check(codes, factors)
    if model not in ("forest", "lasso"):
        raise InputError(f"model must be 'forest' or 'lasso', got {model!r}")
    if not 0 < train_fraction < 1:
        raise InputError(f"train_fraction must be between 0 and 1, got {train_fraction}")
    n_codes, n_factors = codes.shape[1], factors.shape[1]
    if n_codes < 2 or n_factors < 2:
        raise InputError(f"DCI needs at least 2 coordinates and 2 factors, got {n_codes} and {n_factors}")
    x = (codes - codes.mean(0)) / np.maximum(codes.std(0), 1e-12)
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(round(train_fraction * len(x)))
    train, test = order[:cut], order[cut:]
    importance = np.zeros((n_codes, n_factors))
    r2 = np.zeros(n_factors)
    for k in range(n_factors):
        y = factors[:, k]
        scale = max(float(y[train].std()), 1e-12)  # one alpha for every factor's units
        if model == "forest":
            reg = RandomForestRegressor(n_estimators=40, max_depth=8, min_samples_leaf=5, random_state=seed)
            reg.fit(x[train], y[train] / scale)
            importance[:, k] = reg.feature_importances_
        else:
            reg = Lasso(alpha=0.01, max_iter=5000)
            reg.fit(x[train], y[train] / scale)
            importance[:, k] = np.abs(reg.coef_)
        r2[k] = r2_score(y[test], reg.predict(x[test]) * scale)
    total = importance.sum()
    if total <= 0:
        raise InputError("the regressors found no coordinate that predicts any factor: DCI is undefined")
    rows = importance.sum(axis=1)
    used = rows > 0
    d_per_code = 1.0 - _normalised_entropy(importance[used] / rows[used, None], n_factors)
    disentanglement = float((d_per_code * rows[used] / total).sum())
    cols = importance.sum(axis=0)
    seen = cols > 0
    c_per_factor = 1.0 - _normalised_entropy((importance[:, seen] / cols[seen]).T, n_codes)
    completeness = float(c_per_factor.mean())
    return DCIScores(disentanglement, completeness, float(np.mean(r2)), importance, r2)
