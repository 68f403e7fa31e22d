"""Is an attribute linear in a latent space? A hyperplane against a small perceptron on the same labels.

An InterFaceGAN boundary assumes the attribute's classes are split by a hyperplane. This fits a hyperplane to every
labelled sample (a logistic regression: it minimises log-loss rather than errors, so it approximates the best
hyperplane) and a two-layer perceptron, on one part of the samples, and measures both on the rest. Where the
perceptron is clearly better, the code determines the attribute but not linearly: any boundary misses many samples,
and a per-sample direction (a scorer's gradient) follows it better. On synthfaces64, eye_open in W: hyperplane
0.658, perceptron 0.910 (docs/results.md, "Why the boundaries miss the separability bar").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..directions.svm import CodesLike, labelled_matrix
from ..errors import GanlensError

# A perceptron this much better than the hyperplane counts as "not linear" in `verdict`; below READABLE neither
# model reads the attribute well, which at these sample counts says more about the data than about linearity.
NONLINEAR_GAP = 0.05
READABLE = 0.9


@dataclass
class Linearity:
    """Held-out accuracies of a hyperplane and a perceptron predicting `score >= threshold` from the codes."""

    hyperplane: float
    perceptron: float | None
    majority: float  # accuracy of always answering the more frequent class: the floor
    threshold: float
    num_train: int
    num_test: int

    def verdict(self) -> str:
        """One line for people: linear, not linear, only partly readable, or hardly readable from the codes."""
        if self.perceptron is None:
            return f"a hyperplane separates {self.hyperplane:.1%} (majority class {self.majority:.1%})"
        best = max(self.hyperplane, self.perceptron)
        if best - self.majority < 0.05:
            return (f"hardly readable from these codes: hyperplane {self.hyperplane:.1%}, perceptron "
                    f"{self.perceptron:.1%}, majority class {self.majority:.1%}")
        if self.perceptron - self.hyperplane > NONLINEAR_GAP:
            return (f"not linear here: a perceptron reads it at {self.perceptron:.1%}, a hyperplane at "
                    f"{self.hyperplane:.1%}; a boundary will miss samples that a per-sample direction follows "
                    "(--method gradient)")
        if best < READABLE:
            return (f"partly readable: hyperplane {self.hyperplane:.1%}, perceptron {self.perceptron:.1%} from "
                    f"{self.num_train} codes; the perceptron is no better, so more codes may be needed to tell")
        return f"linear here: hyperplane {self.hyperplane:.1%}, perceptron {self.perceptron:.1%}"

    def to_dict(self) -> dict:
        return {**asdict(self), "verdict": self.verdict()}


def linearity(
    codes: CodesLike,
    scores: np.ndarray,
    threshold: float,
    *,
    split: float = 0.7,
    seed: int = 0,
    perceptron: bool = True,
    layer: int | None = None,
    shuffle: bool = True,
) -> Linearity:
    """Fit a hyperplane and (unless `perceptron` is False) a two-layer perceptron on a random `split` of the codes,
    labelled by `scores >= threshold`, and measure both on the rest.

    Args:
        codes: N codes, as for `fit_boundary` (z, w, or w+ with `layer`).
        scores: the attribute's score per code [N] (NaN = unlabelled, skipped).
        threshold: the score separating the two classes (e.g. a Direction's metrics['threshold']).
        split: training fraction.
        seed: seed of the split and of the perceptron's initialisation.
        perceptron: also fit the perceptron (256-256 units, early stopping; seconds on tens of thousands of codes).
        layer: for W+ codes, which layer's w to use.
        shuffle: split at random (seeded); False trains on the first `split` of the labelled codes and tests on the
            rest, to keep a split made beforehand (e.g. to compare with a boundary fitted on the first part).
    Raises:
        GanlensError: mismatched lengths, fewer than 20 labelled samples, a split outside (0, 1), or one class only.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    x, y, _, _, _ = labelled_matrix(codes, scores, layer)
    if not 0 < split < 1:
        raise GanlensError(f"split must be in (0, 1), got {split}")
    n_train = int(len(y) * split)
    if len(y) < 20 or n_train < 10 or len(y) - n_train < 10:
        raise GanlensError(f"need at least 10 labelled samples on each side of the split, got {len(y)} in all")
    label = (y >= threshold).astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y)) if shuffle else np.arange(len(y))
    tr, te = order[:n_train], order[n_train:]
    if label[tr].min() == label[tr].max():
        raise GanlensError(f"every training sample falls on one side of threshold {threshold:g}: nothing to separate")
    scaler = StandardScaler().fit(x[tr])  # user spaces come at any scale; both models see unit-variance inputs
    xs_tr, xs_te = scaler.transform(x[tr]), scaler.transform(x[te])
    plane = LogisticRegression(C=10.0, max_iter=5000).fit(xs_tr, label[tr])
    mlp = (MLPClassifier((256, 256), max_iter=200, early_stopping=True, random_state=seed).fit(xs_tr, label[tr])
           if perceptron else None)
    rate = float(label[te].mean())
    return Linearity(
        hyperplane=float(plane.score(xs_te, label[te])),
        perceptron=None if mlp is None else float(mlp.score(xs_te, label[te])),
        majority=max(rate, 1 - rate), threshold=float(threshold), num_train=len(tr), num_test=len(te),
    )
