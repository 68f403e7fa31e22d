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


# --- a method's directions as a representation (ganlens.analysis) -----------------------------------------------

def test_coordinates_along_directions_in_w_and_w_plus() -> None:
    import torch

    from ganlens import LatentCode
    from ganlens.analysis import direction_coordinates
    from ganlens.directions import Direction

    w = torch.randn(6, 8, dtype=torch.float64)
    e0, e3 = Direction(np.eye(8)[0], "w"), Direction(np.eye(8)[3], "w", layers=(1, 2))
    coords = direction_coordinates(LatentCode("w", w.float()), [e0, e3], num_ws=4)
    assert np.allclose(coords, w[:, [0, 3]].numpy(), atol=1e-6)
    wp = torch.randn(6, 4, 8)
    coords = direction_coordinates(LatentCode("w+", wp), [e0, e3], num_ws=4)
    assert np.allclose(coords[:, 0], wp[:, :, 0].mean(1).numpy(), atol=1e-6)  # every layer
    assert np.allclose(coords[:, 1], wp[:, 1:3, 3].mean(1).numpy(), atol=1e-6)  # the direction's layers
    with pytest.raises(InputError, match="'z'"):
        direction_coordinates(LatentCode("z", torch.randn(6, 8)), [e0], num_ws=4)


def test_basis_directions_over_factor_coded_latents_beat_random_ones(factors: np.ndarray) -> None:
    import torch

    from ganlens import LatentCode
    from ganlens.analysis import random_directions, score_directions
    from ganlens.directions import Direction

    rng = np.random.default_rng(4)
    w = np.concatenate([factors, 0.3 * rng.standard_normal((N, 12))], axis=1)  # factors in the first 4 of 16 dims
    codes = LatentCode("w", torch.from_numpy(w).float())
    basis = score_directions(codes, [Direction(np.eye(16)[i], "w") for i in range(K)], factors, num_ws=1)
    rand = score_directions(codes, random_directions("w", 16, K, seed=0), factors, num_ws=1)
    assert basis["k"] == K and len(basis["mig_per_factor"]) == K
    assert basis["mig"] > 0.8 and rand["mig"] < 0.3
    assert basis["dci"]["disentanglement"] > rand["dci"]["disentanglement"] + 0.4
    assert basis["modularity"] > rand["modularity"]
