"""Analysis: re-scoring Δ (probabilities for binary), leakage, null baseline, layer-wise map, entanglement,
distance effect, and the PIL charts — on random-tiny with a simple image scorer."""

from __future__ import annotations

import numpy as np
import pytest

from ganlens.analysis import (EditReport, cosine_matrix, distance_effect, layerwise, measure_edits, rescore,
                              score_correlation)
from ganlens.analysis.plots import bar_panels, heatmap
from ganlens.directions import Direction, fit_boundary
from ganlens.errors import GanlensError
from ganlens.scoring import score

from semantics_helpers import make_scorer, one_thread  # noqa: F401 (fixtures)



@pytest.fixture(scope="module")
def boundaries(G):
    """Boundaries of the toy attributes fitted on 300 scored samples (seed 0)."""
    res = score(G, 300, make_scorer(), seed=0)
    return [fit_boundary(res.codes, res[a], attribute=a, ratio=0.1, binary=res.info(a).kind == "binary",
                         num_ws=G.num_ws) for a in ("brightness", "redness", "bright")]


def test_rescore_delta_uses_probabilities_for_binary_attributes():
    # Hand-made scores: one binary attribute (logits) and one continuous, two strengths, four samples.
    base = np.array([[0.0, 0.0, 2.0, -2.0], [0.1, 0.2, 0.3, 0.4]])
    edited = np.zeros((1, 2, 2, 4))
    edited[0, 0, 1] = [50.0, -50.0, 2.0, 0.0]  # logits: p goes 0.5→1, 0.5→0, same, 0.12→0.5
    edited[0, 1, 1] = base[1] + [1.0, -1.0, 0.0, 0.5]
    edited[0, :, 0] = base
    rep = EditReport(["d"], ["glasses", "age"], [True, False], [0.0, 2.0], base, edited, np.zeros((1, 2, 4)),
                     targets=["glasses"])
    p0 = 1 / (1 + np.exp(2.0))
    assert rep.delta(2.0)["d"] == pytest.approx((0.5 + 0 + 0 + (0.5 - p0)) / 4)
    assert rep.delta(0.0)["d"] == 0.0
    assert rep.success(2.0)["d"] == pytest.approx(0.5)  # raised for samples 0 and 3
    leak = rep.leakage(2.0, normalize=False)
    assert leak[0, 1] == pytest.approx(0.125)
    with pytest.raises(GanlensError, match="strength 1.0 was not measured"):
        rep.delta(1.0)


def test_success_by_starting_level_and_flip_rate():
    # Six samples of one binary target, ordered by base logit; only the two lowest are raised, one past 0.
    base = np.array([[-3.0, -2.0, -1.0, 1.0, 2.0, 3.0]])
    edited = np.array([[[[-0.5, 0.5, -1.5, 0.0, 2.0, 2.5]]]])
    rep = EditReport(["d"], ["hat"], [True], [3.0], base, edited, np.zeros((1, 1, 6)), targets=["hat"])
    assert rep.success_by_level(3.0, groups=3)["d"] == [1.0, 0.0, 0.0]
    assert rep.flip_rate(3.0)["d"] == pytest.approx(1 / 3)  # of the three without a hat, one has one after
    cont = EditReport(["d"], ["age"], [False], [3.0], base, edited, np.zeros((1, 1, 6)), targets=["age"])
    assert cont.flip_rate(3.0) == {}  # continuous targets have no "without"
    assert cont.success_by_level(3.0, groups=2)["d"] == [pytest.approx(2 / 3), 0.0]


def test_selectivity_separates_the_target_from_the_others():
    # Two attributes, base spreads 1 and 2; direction "a" moves a by +1 and b by -1, direction "x" has no target.
    base = np.array([[-1.0, 1.0], [-2.0, 2.0]])
    edited = np.array([[[[0.0, 2.0]], [[-3.0, 1.0]]], [[[-1.0, 1.0]], [[-2.0, 2.0]]]])
    rep = EditReport(["a", "x"], ["a", "b"], [False, False], [3.0], base, edited, np.zeros((2, 1, 2)),
                     targets=["a", None])
    own, others = rep.selectivity(3.0)
    assert own[0] == pytest.approx(1.0) and others[0] == pytest.approx(0.5)  # |-1| / spread 2
    assert np.isnan(own[1]) and np.isnan(others[1])


def test_measure_edits_real_boundaries_beat_the_null(G, boundaries):
    rep = measure_edits(G, boundaries, make_scorer(), strengths=[0.0, 2.0], num_samples=24, seed=5,
                        null_directions=2)
    assert rep.edited.shape == (3, 4, 2, 24) and rep.pixel_change.shape == (3, 2, 24)
    assert np.abs(rep.changes()[:, :, 0]).max() < 1e-4 and rep.pixel_change[:, 0].max() < 1e-6  # strength 0
    delta, null = rep.delta(2.0), rep.null_delta("w", 2.0)
    success = rep.success(2.0)
    for name in ("brightness", "redness"):
        assert delta[name] > 2 * null[name] and success[name] > 0.9
    assert rep.leakage(2.0).shape == (3, 4)
    doc = rep.to_dict(2.0)
    assert set(doc["delta"]) == {"brightness", "redness", "bright"} and "null_delta_w" in doc
    assert rescore(G, boundaries[:1], make_scorer(), num_samples=4, seed=5) == pytest.approx(
        {"brightness": float(np.maximum(measure_edits(G, boundaries[:1], make_scorer(), strengths=[2.0], num_samples=4,
                                                      seed=5).changes()[0, 0, 0], 0).mean())})


def test_layerwise_map_shape_and_consistency(G, boundaries):
    rep = layerwise(G, boundaries[:2], make_scorer(), groups={"low": "0-3", "high": "4-7"}, num_samples=6, seed=2)
    assert rep.delta.shape == (2, 2) and rep.groups == ["low", "high"] and rep.group_layers == [(0, 1, 2, 3), (4, 5, 6, 7)]
    assert np.allclose(rep.relative().max(axis=1), 1.0)
    assert set(rep.best().values()) <= {"low", "high"} and rep.leakage.shape == (2, 2, 4)
    direct = measure_edits(G, boundaries[:1], make_scorer(), strengths=[2.0], num_samples=6, seed=2, layers="4-7")
    assert rep.delta[0, 1] == pytest.approx(direct.delta()["brightness"])
    with pytest.raises(GanlensError, match="Z has no layers"):
        layerwise(G, [Direction(np.ones(32), "z", attribute="brightness")], make_scorer())


def test_distance_effect_grows_with_strength(G, boundaries):
    eff = distance_effect(G, boundaries[0], make_scorer(), strengths=(-6, -1, 1, 6), num_samples=6, seed=3)
    assert eff.target_change[0] < eff.target_change[1] < eff.target_change[2] < eff.target_change[3]
    assert eff.pixel_change[0] > eff.pixel_change[1] and eff.pixel_change[3] > eff.pixel_change[2]
    assert eff.success[-1] > eff.success[0]
    assert set(eff.to_dict()) == {"direction", "strengths", "target_change", "others_drift", "pixel_change", "success"}


def test_entanglement_matrices():
    rng = np.random.default_rng(0)
    a = Direction(np.eye(8)[0], "w", attribute="a")
    b = Direction(np.eye(8)[1], "w", attribute="b")
    c = Direction(np.eye(8)[0] + np.eye(8)[1], "w", attribute="c")
    cos = cosine_matrix([a, b, c])
    assert np.allclose(np.diag(cos), 1) and np.allclose(cos, cos.T)
    assert cos[0, 1] == 0 and cos[0, 2] == pytest.approx(np.sqrt(0.5))
    with pytest.raises(GanlensError, match="cannot compare"):
        cosine_matrix([a, Direction(np.ones(8), "z")])
    x = rng.standard_normal(2000)
    corr = score_correlation({"x": x, "y": 2 * x + 0.1 * rng.standard_normal(2000), "const": np.ones(2000),
                              "noise": rng.standard_normal(2000)})
    assert corr[0, 1] > 0.99 and corr[0, 2] == 0 and corr[2, 2] == 1 and abs(corr[0, 3]) < 0.1


def test_charts():
    img = heatmap(np.array([[0.1, -0.5], [np.nan, 2.0]]), ["yaw", "smile"], ["4px", "8px"], title="t")
    bigger = heatmap(np.zeros((3, 2)), ["yaw", "smile", "age"], ["4px", "8px"], title="t")
    assert img.dtype == np.uint8 and img.ndim == 3 and bigger.shape[0] > img.shape[0]
    with pytest.raises(GanlensError, match=r"\[2, 2\]"):
        heatmap(np.zeros((3, 2)), ["a", "b"], ["c", "d"])
    bars = bar_panels(["a", "b"], {"delta": [0.1, 0.3], "acc": [0.9, 0.5]}, reference={"acc": 0.95})
    assert bars.dtype == np.uint8 and bars.shape[1] > 2 * 180
    red = (bars[..., 0] > 150) & (bars[..., 1] < 80)  # bar pixels
    lengths = [int(r.sum()) for r in red if r.any()]
    assert lengths and max(lengths) < 0.75 * bars.shape[1]  # bars to scale inside their panels, not full width
    shared = bar_panels(["a", "b", "c"], {"acc": [0.75, 1.0, 0.3]}, limits=(0.5, 1.0), width=180)
    red = (shared[..., 0] > 150) & (shared[..., 1] < 80)
    rows = sorted({int(r.sum()) for r in red if r.any()})
    assert rows[0] <= 2 and abs(rows[1] - 90) <= 2 and abs(rows[2] - 180) <= 2  # 0.3 sits at the axis' low end
    with pytest.raises(GanlensError, match="low < high"):
        bar_panels(["a"], {"acc": [0.5]}, limits=(1.0, 0.5))


def test_linearity_tells_a_linear_attribute_from_a_non_linear_one():
    from ganlens.analysis import linearity

    rng = np.random.default_rng(0)
    x = rng.standard_normal((3000, 16))
    a = rng.standard_normal(16)
    a /= np.linalg.norm(a)
    flat = linearity(x, x @ a + 0.05 * rng.standard_normal(3000), 0.0)  # classes split by a hyperplane
    assert flat.hyperplane > 0.95 and flat.perceptron > 0.9 and flat.verdict().startswith("linear here")
    ridge = linearity(x, np.abs(x @ a), 0.6745)  # |x·a| above its median: a slab, no hyperplane splits it
    assert ridge.hyperplane < 0.6 and ridge.perceptron > 0.9 and ridge.verdict().startswith("not linear here")
    noise = linearity(x, rng.standard_normal(3000), 0.0)  # labels unrelated to the codes
    assert noise.verdict().startswith("hardly readable")
    noisy = linearity(x, x @ a + rng.standard_normal(3000), 0.0)  # linear, but half the score is noise
    assert 0.6 < noisy.hyperplane < 0.85 and noisy.verdict().startswith("partly readable")
    assert (flat.num_train, flat.num_test) == (2100, 900) and set(flat.to_dict()) >= {"hyperplane", "verdict"}
    assert linearity(x, x @ a, 0.0, perceptron=False).perceptron is None
    with pytest.raises(GanlensError, match="3000 codes but 5 scores"):
        linearity(x, np.zeros(5), 0.0)
    with pytest.raises(GanlensError, match="one side of threshold 10"):
        linearity(x, x @ a, 10.0)
