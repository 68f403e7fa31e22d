"""MIG, DCI and modularity on synthetic codes whose answer is known: each factor in its own coordinate scores near
1, the same factors mixed by a rotation score low on disentanglement while staying informative, codes unrelated
to the factors carry no information, and a factor copied into two coordinates separates MIG (no gap left) from
modularity (each coordinate still about one factor)."""

from __future__ import annotations

import numpy as np
import pytest

from ganlens.errors import InputError
from ganlens.metrics.disentanglement import dci, discretize, mig, modularity, mutual_information

N, K = 3000, 4


@pytest.fixture(scope="module")
def factors() -> np.ndarray:
    rng = np.random.default_rng(0)
    f = rng.uniform(-1, 1, size=(N, K))
    f[:, 3] = rng.random(N) < 0.3  # a binary factor, as glasses or beard
    return f


def test_discretize_keeps_few_levels_and_bins_the_rest() -> None:
    x = np.stack([np.linspace(0, 1, 100), np.repeat([0.0, 1.0], 50)], axis=1)
    d = discretize(x, bins=20)
    assert d[:, 0].min() == 0 and d[:, 0].max() == 19 and np.all(np.diff(d[:, 0]) >= 0)
    assert np.bincount(d[:, 0]).tolist() == [5] * 20  # equal-width bins of an even ramp hold equal counts
    assert set(d[:, 1]) == {0, 1}


def test_one_factor_per_coordinate_scores_near_one(factors: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    perm = [2, 0, 3, 1]
    codes = 3.0 * factors[:, perm] + 0.01 * rng.standard_normal((N, K))  # permuted, scaled, a little noise
    score, gaps = mig(codes, factors)
    assert score > 0.8 and gaps.min() > 0.7
    assert modularity(codes, factors) > 0.95
    for model in ("forest", "lasso"):
        d = dci(codes, factors, model=model)
        assert d.disentanglement > 0.9 and d.completeness > 0.9 and d.informativeness > 0.95, (model, d)
        assert [int(np.argmax(d.importance[:, k])) for k in range(K)] == [perm.index(k) for k in range(K)]


def test_rotated_factors_stay_informative_but_are_entangled(factors: np.ndarray) -> None:
    h = np.array([[1, 1], [1, -1]])
    q = np.kron(h, h) / 2.0  # an orthogonal 4x4 (Hadamard): every coordinate is half of every factor
    codes = factors @ q
    score, _ = mig(codes, factors)
    d = dci(codes, factors, model="lasso")
    clean = dci(factors, factors, model="lasso")
    assert score < 0.35
    assert d.informativeness > 0.95  # the information is all there, linearly ...
    assert d.disentanglement < clean.disentanglement - 0.3  # ... but spread over the coordinates
    assert d.completeness < clean.completeness - 0.3


def test_codes_unrelated_to_the_factors_carry_nothing(factors: np.ndarray) -> None:
    codes = np.random.default_rng(3).standard_normal((N, 5))
    mi = mutual_information(codes, factors)
    assert mi.shape == (5, K) and mi.max() < 0.1  # nats; only the finite-sample bias of 20-bin histograms
    assert mig(codes, factors)[0] < 0.05
    assert dci(codes, factors).informativeness < 0.05


def test_a_factor_copied_into_two_coordinates_has_no_gap_but_stays_modular(factors: np.ndarray) -> None:
    codes = np.concatenate([factors, factors[:, :1]], axis=1)  # factor 0 twice
    _, gaps = mig(codes, factors)
    assert gaps[0] < 0.01 and gaps[1:].min() > 0.9
    assert modularity(codes, factors) > 0.95


@pytest.mark.parametrize("codes, factors, words", [
    (np.zeros((50, 3)), np.zeros((40, 2)), "one row per point"),
    (np.zeros(50), np.zeros((50, 2)), "2-D array"),
    (np.full((50, 3), np.nan), np.zeros((50, 2)), "NaN"),
    (np.zeros((5, 3)), np.zeros((5, 2)), "at least 20 points"),
    (np.random.default_rng(0).random((50, 1)), np.random.default_rng(1).random((50, 2)), "at least 2"),
])
def test_bad_input_is_named(codes, factors, words) -> None:
    with pytest.raises(InputError, match=words):
        mig(codes, factors)


def test_dci_refuses_an_unknown_model(factors: np.ndarray) -> None:
    with pytest.raises(InputError, match="'forest' or 'lasso'"):
        dci(factors, factors, model="svm")
