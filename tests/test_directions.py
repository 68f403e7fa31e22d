"""Directions: InterFaceGAN boundaries, conditional projection, SeFa, GANSpace, auto-labels, scoring and CSV labels,
and the CLI end to end on random-tiny with a user scorer given as module:function."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ganlens import LatentCode
from ganlens.cli import cli
from ganlens.analysis import autolabel, correlations
from ganlens.directions import Direction, fit_boundary, fit_layer_boundaries, ganspace
from ganlens.directions import gradient_direction, load_directions, project_out, sefa, style_weights
from ganlens.directions.gradient import unit_gradients
from ganlens.errors import GanlensError
from ganlens.latents.layers import resolve_layers
from ganlens.scoring import ScoredCodes, load_scored, read_labels, resolve_scorer, score, write_labels

from semantics_helpers import ATTRIBUTES, TensorStatsScorer, image_stats, make_scorer, one_thread  # noqa: F401

TESTS = Path(__file__).resolve().parent



def _unit(v):
    return v / np.linalg.norm(v)


# --- InterFaceGAN boundaries -----------------------------------------------------------------------------------

def test_boundary_recovers_the_true_normal_of_separable_data():
    rng = np.random.default_rng(0)
    true = _unit(rng.standard_normal(24))
    x = rng.standard_normal((4000, 24))
    scores = x @ true + 0.3 + 0.05 * rng.standard_normal(4000)  # an offset, and a little label noise
    d = fit_boundary(x, scores, attribute="synthetic", ratio=0.1)
    assert d.space == "w" and d.method == "svm" and d.attribute == "synthetic"
    assert float(d.vector @ true) > 0.99  # points towards higher scores
    assert abs(np.linalg.norm(d.vector) - 1) < 1e-12
    m = d.metrics
    assert m["val_accuracy"] == 1.0 and m["all_accuracy"] > 0.95 and m["num_train"] == 2 * int(400 * 0.7)
    # The hyperplane n.x + b = 0 sits between the classes: its signed distance predicts the score's sign.
    agree = np.sign(d.distance(x)) == np.sign(scores - m["threshold"])
    assert agree.mean() > 0.95


def test_boundary_in_z_and_per_layer_of_wplus(G):
    z = G.sample(600, seed=1, space="z")
    rng = np.random.default_rng(1)
    true = _unit(rng.standard_normal(G.z_dim))
    dz = fit_boundary(z, z.tensor.numpy() @ true, count=100)
    assert dz.space == "z" and dz.layers is None and float(dz.vector @ true) > 0.95
    wp = LatentCode("w+", torch.randn(600, G.num_ws, G.w_dim, generator=torch.Generator().manual_seed(0)))
    scores = wp.tensor[:, 3].numpy() @ true  # only layer 3 carries the attribute
    per_layer = fit_layer_boundaries(wp, scores, count=100)
    assert [d.layers for d in per_layer] == [(i,) for i in range(G.num_ws)]
    assert all(d.space == "w+" and d.num_ws == G.num_ws for d in per_layer)
    accs = [d.metrics["val_accuracy"] for d in per_layer]
    assert int(np.argmax(accs)) == 3 and accs[3] == 1.0 and max(accs[:3] + accs[4:]) < 0.9
    with pytest.raises(GanlensError, match="layer="):
        fit_boundary(wp, scores)


def test_boundary_refuses_bad_input():
    x = np.random.default_rng(0).standard_normal((100, 8))
    with pytest.raises(GanlensError, match="100 codes but 99 scores"):
        fit_boundary(x, np.zeros(99))
    with pytest.raises(GanlensError, match="overlap"):
        fit_boundary(x, np.ones(100), attribute="flat")
    with pytest.raises(GanlensError, match="cannot take"):
        fit_boundary(x, x[:, 0], count=80)
    scores = x[:, 0].copy()
    scores[:10] = np.nan  # unlabelled samples are skipped, and counted
    assert fit_boundary(x, scores, ratio=0.1).metrics["num_unlabelled"] == 10


# --- Conditional manipulation -----------------------------------------------------------------------------------

# --- scorer-gradient directions ------------------------------------------------------------------------------

def _redness(G, code: LatentCode) -> np.ndarray:
    with torch.no_grad():
        return TensorStatsScorer().score_tensor(G.synthesize(code).clamp(-1, 1))[:, 1].double().numpy()


@pytest.mark.parametrize("space,layers", [("w", None), ("w", (0, 1)), ("z", None)])
def test_unit_gradients_match_finite_differences(G, space, layers):
    """Directional derivatives by central differences along random unit vectors equal |grad| times the cosine with
    the returned unit gradient: in Z (through the mapping), in W, and for a layer-wise move of two w's."""
    codes = G.sample(3, seed=3, space=space)
    g = unit_gradients(G, TensorStatsScorer(), "redness", codes, layers=layers)
    assert g.shape == (3, codes.tensor.shape[1]) and np.allclose(np.linalg.norm(g, axis=1), 1)
    rng, eps = np.random.default_rng(0), 1e-2

    def moved(i: int, u: np.ndarray) -> LatentCode:
        x = codes.tensor[i:i + 1] + torch.as_tensor(u, dtype=torch.float32)
        if layers is None:
            return LatentCode(space, x)
        ws = codes.tensor[i:i + 1].unsqueeze(1).repeat(1, G.num_ws, 1)
        ws[:, list(layers)] = x
        return LatentCode("w+", ws)

    for i in range(3):
        slope = float((_redness(G, moved(i, eps * g[i])) - _redness(G, moved(i, -eps * g[i])))[0]) / (2 * eps)
        assert slope > 0
        for _ in range(4):
            u = rng.standard_normal(g.shape[1])
            u /= np.linalg.norm(u)
            fd = float((_redness(G, moved(i, eps * u)) - _redness(G, moved(i, -eps * u)))[0]) / (2 * eps)
            assert fd == pytest.approx(slope * float(g[i] @ u), abs=0.02 * slope)


def test_gradient_direction_raises_the_score_of_fresh_samples(G, tmp_path):
    d = gradient_direction(G, TensorStatsScorer(), "redness", num_samples=48, seed=0)
    assert d.method == "gradient" and d.space == "w" and d.attribute == "redness" and d.num_ws == G.num_ws
    assert 0 < d.metrics["consistency"] <= 1 and 0 <= d.metrics["agreement"] <= 1
    fresh = G.sample(48, seed=1).tensor
    before = _redness(G, LatentCode("w", fresh))
    gain = _redness(G, LatentCode("w", fresh + 0.5 * torch.as_tensor(d.vector, dtype=torch.float32))) - before
    rng = np.random.default_rng(1)
    random_gains = []
    for _ in range(5):
        u = torch.as_tensor(rng.standard_normal(G.w_dim), dtype=torch.float32)
        random_gains.append((_redness(G, LatentCode("w", fresh + 0.5 * u / u.norm())) - before).mean())
    assert (gain > 0).mean() >= 0.9 and gain.mean() > 2 * max(random_gains)
    d.save(tmp_path / "g.npz")
    back = Direction.load(tmp_path / "g.npz")
    assert back.method == "gradient" and back.metrics == d.metrics and np.array_equal(back.vector, d.vector)
    layered = gradient_direction(G, TensorStatsScorer(), "redness", num_samples=8, seed=0, layers=[0, 1])
    assert layered.layers == (0, 1)


def test_gradient_direction_refuses_what_has_no_gradient(G):
    with pytest.raises(GanlensError, match="not differentiable"):
        gradient_direction(G, make_scorer(), "redness", num_samples=4)
    with pytest.raises(GanlensError, match="no attribute 'smile'"):
        gradient_direction(G, TensorStatsScorer(), "smile", num_samples=4)
    with pytest.raises(GanlensError, match="'z' or 'w'"):
        gradient_direction(G, TensorStatsScorer(), "redness", space="w+", num_samples=4)
    with pytest.raises(GanlensError, match="truncation"):
        gradient_direction(G, TensorStatsScorer(), "redness", space="z", truncation_psi=0.7, num_samples=4)


def test_conditional_projection_is_orthogonal_to_every_condition():
    rng = np.random.default_rng(2)
    primary = Direction(rng.standard_normal(32), "w", attribute="smile")
    conds = [Direction(rng.standard_normal(32), "w", attribute=a) for a in ("age", "glasses", "yaw")]
    # Deliberately entangle the primary with the conditions.
    primary = Direction(primary.vector + 0.8 * conds[0].vector - 0.5 * conds[1].vector, "w", attribute="smile")
    c = primary.conditioned_on(*conds)
    assert abs(np.linalg.norm(c.vector) - 1) < 1e-12
    for o in conds:
        assert abs(float(c.vector @ o.vector)) < 1e-10
    assert c.provenance["conditioned_on"] == ["age", "glasses", "yaw"] and c.bias is None
    # The span projection, not repeated pairwise subtraction (which is wrong for non-orthogonal conditions).
    v = primary.vector.copy()
    for o in conds:
        v = v - (v @ o.vector) * o.vector
    assert abs(float(_unit(v) @ conds[0].vector)) > 1e-3
    # It keeps as much of the primary as possible: the residual is the closest vector in the complement.
    assert float(c.vector @ primary.vector) == pytest.approx(c.provenance["norm_kept"], abs=1e-12)


def test_conditional_refuses_a_direction_inside_the_span_and_copes_with_dependent_conditions():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(16), rng.standard_normal(16)
    inside = Direction(0.3 * a - 2 * b, "w", attribute="mix")
    with pytest.raises(GanlensError, match="span"):
        inside.conditioned_on(Direction(a, "w"), Direction(b, "w"))
    dependent = [a, b, a + b]  # rank 2: the SVD basis copes
    res, kept = project_out(rng.standard_normal(16), np.stack(dependent))
    assert all(abs(res @ _unit(c)) < 1e-10 for c in dependent) and 0 < kept <= 1
    with pytest.raises(GanlensError, match="same space"):
        Direction(a, "w").conditioned_on(Direction(b, "z"))


# --- SeFa and GANSpace ------------------------------------------------------------------------------------------

def test_sefa_directions_are_sorted_orthonormal_eigenvectors(G):
    for layers in ("all", "coarse", "4-7"):
        dirs = sefa(G, layers=layers, num=6)
        a = style_weights(G, layers)
        assert np.allclose(np.linalg.norm(a, axis=1), 1)  # each affine output channel's weights normalised
        ata = a.T @ a
        vecs = np.stack([d.vector for d in dirs], axis=1)
        assert np.allclose(vecs.T @ vecs, np.eye(6), atol=1e-10)
        eig = [d.metrics["eigenvalue"] for d in dirs]
        assert eig == sorted(eig, reverse=True)
        for d, lam in zip(dirs, eig):
            assert np.allclose(ata @ d.vector, lam * d.vector, atol=1e-8 * lam)
        # The largest eigenvalue of the symmetric product is its spectral norm.
        assert eig[0] == pytest.approx(np.linalg.norm(ata, 2), rel=1e-10)
    assert sefa(G, "coarse", 2)[0].layers == (0, 1, 2) and sefa(G, "all", 1)[0].layers is None


def test_sefa_factorises_the_reference_layer_set_by_default(G):
    """The SeFa reference code (genforce's factorize_weight) stacks, for StyleGAN2, the style affines of the convs
    of the chosen w's and, for the last w, of the final toRGB; rgb='all' adds the intermediate toRGBs."""
    syn = G.synthesis
    layers = syn.style_layers()
    final = layers[-1][1]
    for spec in ("all", "coarse", "fine"):
        idx = set(resolve_layers(spec, G.w_resolutions))

        def stacked(keep):
            rows = [(m.affine.weight * m.affine.weight_gain).detach().double().numpy()
                    for name, m, i in layers if i in idx and keep(name, m)]
            a = np.concatenate(rows)
            return a / np.linalg.norm(a, axis=1, keepdims=True)

        reference = stacked(lambda name, m: not name.endswith(".torgb") or m is final)
        assert np.array_equal(style_weights(G, spec), reference)
        assert np.array_equal(style_weights(G, spec, rgb="all"), stacked(lambda name, m: True))
        assert len(style_weights(G, spec, rgb="all")) > len(reference)  # every w here also feeds a toRGB
    assert sefa(G, "all", 1)[0].provenance["rgb"] == "last"
    with pytest.raises(GanlensError, match="rgb must be one of"):
        sefa(G, "all", 1, rgb="some")


def test_ganspace_components_and_sigmas(G):
    dirs = ganspace(G, num_samples=3000, num_components=5, batch_size=1000, seed=0)
    vecs = np.stack([d.vector for d in dirs])
    assert np.allclose(vecs @ vecs.T, np.eye(5), atol=1e-8)
    sig = [d.scale for d in dirs]
    assert sig == sorted(sig, reverse=True)
    w = G.sample(3000, seed=0).tensor.double().numpy()  # the same draws as the PCA saw
    proj_sd = (w - w.mean(0)) @ vecs.T
    assert np.allclose(proj_sd.std(0, ddof=1), sig, rtol=0.02)


def test_autolabel_names_the_changing_attribute(G):
    # Correlation of change with strength: a perfect linear response gives r = 1, noise gives ~0.
    s = [-2, -1, 1, 2]
    ch = np.zeros((2, 4, 50))
    ch[0] = np.array(s)[:, None] * 0.3
    ch[1] = np.random.default_rng(0).standard_normal((4, 50))
    r = correlations(s, ch)
    assert r[0] == pytest.approx(1.0) and abs(r[1]) < 0.2
    labelled = autolabel(G, sefa(G, "coarse", 2), make_scorer(), num_samples=6, strengths=(-3, 3))
    for d in labelled:
        assert d.metrics["autolabel"] in [a.name for a in ATTRIBUTES]
        corr = d.metrics["correlations"]
        assert abs(d.metrics["label_r"]) == pytest.approx(max(abs(v) for v in corr.values()), abs=1e-4)


# --- Direction files ---------------------------------------------------------------------------------------------

def test_direction_save_load_round_trip(tmp_path):
    d = Direction(np.arange(1, 9, dtype=float), "w+", layers=(5, 2, 2), bias=-0.25, scale=1.5, method="svm",
                  attribute="smile", metrics={"val_accuracy": 0.97, "all_accuracy": np.float32(0.8)}, model="m",
                  num_ws=8, provenance={"seed": 3})
    assert d.layers == (2, 5) and abs(np.linalg.norm(d.vector) - 1) < 1e-12
    d.save(tmp_path / "smile.npz")
    e = Direction.load(tmp_path / "smile.npz")
    assert np.array_equal(e.vector, d.vector)
    for f in ("space", "layers", "bias", "scale", "method", "attribute", "model", "num_ws", "date", "provenance"):
        assert getattr(e, f) == getattr(d, f), f
    assert e.metrics["all_accuracy"] == pytest.approx(0.8)
    side = json.loads((tmp_path / "smile.json").read_text())
    assert side["attribute"] == "smile" and side["layers"] == [2, 5] and side["dim"] == 8
    assert "\n" not in repr(e) and "smile" in repr(e) and "val_accuracy=0.97" in repr(e)
    assert [x.name for x in load_directions(tmp_path)] == ["smile"]
    np.save(tmp_path / "ffhq_smile_w_boundary.npy", d.vector[None].astype(np.float32))  # InterFaceGAN's format
    imported = Direction.load(tmp_path / "ffhq_smile_w_boundary.npy")
    assert imported.space == "w" and np.allclose(imported.vector, d.vector, atol=1e-6)


def test_direction_refuses_bad_values(tmp_path):
    with pytest.raises(GanlensError, match="non-zero"):
        Direction(np.zeros(4), "w")
    with pytest.raises(GanlensError, match="space"):
        Direction(np.ones(4), "q")
    with pytest.raises(GanlensError, match="no layers"):
        Direction(np.ones(4), "z", layers=(0,))
    with pytest.raises(GanlensError, match="out of range"):
        Direction(np.ones(4), "w", layers=(9,), num_ws=8)
    with pytest.raises(GanlensError, match="not found"):
        Direction.load(tmp_path / "nope.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(GanlensError, match="cannot read direction file"):
        Direction.load(tmp_path / "bad.npz")


# --- Scoring and labels -----------------------------------------------------------------------------------------

def test_score_batches_match_direct_scoring(G):
    res = score(G, 10, make_scorer(), seed=4, batch_size=3)
    assert isinstance(res, ScoredCodes) and len(res) == 10 and res.codes.space == "w"
    direct = image_stats(G.render(G.sample(10, seed=4)))
    for a in res.names:
        assert np.allclose(res[a], direct[a], atol=1e-5)
    assert res.info("bright").kind == "binary"
    with pytest.raises(GanlensError, match="no scores for attribute 'nope'"):
        res["nope"]
    fast = score(G, 10, make_scorer(), seed=4, batch_size=3, precision="bf16")
    bf16 = image_stats(G.render(G.sample(10, seed=4), precision="bf16", batch_size=3))
    assert np.allclose(fast["brightness"], bf16["brightness"], atol=1e-5)
    assert not np.allclose(fast["brightness"], direct["brightness"], atol=1e-5)  # really bf16


def test_resolve_scorer_accepts_functions_factories_and_files(tmp_path):
    assert resolve_scorer("semantics_helpers:image_stats").names == tuple(a.name for a in ATTRIBUTES)
    assert resolve_scorer("semantics_helpers:make_scorer").names[0] == "brightness"
    f = tmp_path / "user_scorer.py"
    f.write_text("def redness(images):\n    return {'r': images[..., 0].mean(axis=(1, 2))}\n"
                 "redness.attributes = ['r']\n\ndef undeclared(images):\n    return {}\n")
    assert resolve_scorer(f"{f}:redness").names == ("r",)
    with pytest.raises(GanlensError, match="must declare"):
        resolve_scorer(f"{f}:undeclared")
    with pytest.raises(GanlensError, match="cannot import module"):
        resolve_scorer("no_such_module_xyz:f")


def test_csv_labels_round_trip_and_mismatched_rows(tmp_path, G):
    codes = G.sample(5, seed=0)
    scores = {"smile": np.array([0.1, -0.2, 0.3, np.nan, 1.0]), "age": np.arange(5.0)}
    ScoredCodes(codes, scores).save(tmp_path / "codes.npz")
    back = load_scored(tmp_path / "codes.npz")
    assert np.array_equal(back.codes.tensor, codes.tensor)
    assert np.allclose(back["smile"], scores["smile"], equal_nan=True) and back.names == ["smile", "age"]
    write_labels(tmp_path / "short.csv", {"smile": np.zeros(4)})
    with pytest.raises(GanlensError, match="4 label rows but .*codes.npz holds 5 codes"):
        load_scored(tmp_path / "codes.npz", tmp_path / "short.csv")
    (tmp_path / "bad.csv").write_text("smile\n0.1\nhappy\n")
    with pytest.raises(GanlensError, match="row 2, column 'smile': 'happy' is not a number"):
        read_labels(tmp_path / "bad.csv")


# --- The command line, end to end -------------------------------------------------------------------------------

def _invoke(*args):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_score_precision_changes_the_renders_not_the_codes(tmp_path):
    from ganlens.models.precision import fast_precision

    runs = {}
    for precision in ("fp32", "bf16", "auto"):
        codes = tmp_path / f"{precision}.npz"
        _invoke("score", "--model", "random-tiny", "--scorer", "semantics_helpers:make_scorer", "-n", "64",
                "--precision", precision, "--out", str(codes))
        runs[precision] = load_scored(codes)
    fp32, bf16 = runs["fp32"], runs["bf16"]
    assert torch.equal(fp32.codes.tensor, bf16.codes.tensor)  # the same draws ...
    for name in fp32.names:  # ... rendered in another precision: close scores, not the same ones
        assert np.corrcoef(fp32[name], bf16[name])[0, 1] > 0.99
    assert any(not np.array_equal(fp32[name], bf16[name]) for name in fp32.names)
    same = runs[fast_precision("cpu")]  # 'auto' is one of the two, whichever is fast on this CPU
    assert all(np.array_equal(runs["auto"][name], same[name]) for name in fp32.names)


def test_cli_score_boundary_edit_discover_analyze(tmp_path):
    codes = tmp_path / "codes.npz"
    out = _invoke("score", "--model", "random-tiny", "--scorer", "semantics_helpers:make_scorer", "-n", "150",
                  "--seed", "0", "--out", str(codes))
    assert "brightness" in out and (tmp_path / "codes.csv").exists()
    out = _invoke("boundary", "--model", "random-tiny", "--latents", str(codes), "-a", "all", "--ratio", "0.1",
                  "--diagnose", "--out", str(tmp_path / "bnd"))
    b = Direction.load(tmp_path / "bnd" / "brightness.npz")
    assert b.space == "w" and b.num_ws == 8 and b.model == "random-tiny" and b.metrics["val_accuracy"] > 0.8
    lin = b.metrics["linearity"]  # 105 codes to fit, 45 to test
    assert (lin["num_train"], lin["num_test"]) == (105, 45) and 0.5 <= lin["hyperplane"] <= 1 and lin["verdict"] in out
    grid = tmp_path / "edit.png"
    _invoke("edit", "--model", "random-tiny", "-d", str(tmp_path / "bnd" / "brightness.npz"),
            "-c", str(tmp_path / "bnd" / "redness.npz"), "--seeds", "0-2", "--strengths", "-2:2:5",
            "--layers", "coarse", "--scale", "1", "--out", str(grid), "--save-latents", str(tmp_path / "e.npz"))
    edited = LatentCode.load(tmp_path / "e.npz")
    assert edited.space == "w+" and edited.tensor.shape == (15, 8, 32)
    from PIL import Image

    w, h = Image.open(grid).size
    assert w >= 5 * 34 + 2 and h > 3 * 34 + 2  # five 32 px columns, three rows, plus label bands
    _invoke("discover", "--model", "random-tiny", "--method", "sefa", "--layers", "coarse", "--num", "2",
            "--scorer", "semantics_helpers:make_scorer", "--label-samples", "4", "--out", str(tmp_path / "sefa"))
    summary = json.loads((tmp_path / "sefa" / "summary.json").read_text())
    assert [d["name"] for d in summary["directions"]] == ["sefa0_coarse", "sefa1_coarse"]
    assert all("autolabel" in d for d in summary["directions"])
    out = _invoke("analyze", "--model", "random-tiny", "--scorer", "semantics_helpers:make_scorer",
                  "--directions", str(tmp_path / "bnd"), "--samples", "8", "--null", "1", "--layerwise-samples", "4",
                  "--groups", "presets", "--out", str(tmp_path / "an"))
    doc = json.loads((tmp_path / "an" / "analysis.json").read_text())
    assert set(doc["edits"]["delta"]) == {"brightness", "redness", "left_right", "bright"}
    assert doc["layerwise"]["groups"] == ["coarse", "middle", "fine"]
    assert (tmp_path / "an" / "leakage.png").exists() and (tmp_path / "an" / "layerwise.png").exists()


def test_cli_boundary_method_gradient(tmp_path):
    out = _invoke("boundary", "--model", "random-tiny", "--scorer", "semantics_helpers:TensorStatsScorer",
                  "--method", "gradient", "-a", "redness", "-a", "brightness", "--samples", "16",
                  "--out", str(tmp_path / "grad"))
    assert "consistency" in out
    d = Direction.load(tmp_path / "grad" / "redness.npz")
    assert d.method == "gradient" and d.space == "w" and d.metrics["num_samples"] == 16
    assert "gradients of 16 sampled w codes" in d.provenance["source"]
    r = CliRunner().invoke(cli, ["boundary", "--model", "random-tiny", "--scorer", "semantics_helpers:make_scorer",
                                 "--method", "gradient", "-a", "redness", "--samples", "4",
                                 "--out", str(tmp_path / "x.npz")])
    assert r.exit_code != 0 and "not differentiable" in str(r.exception or r.output)
    r = CliRunner().invoke(cli, ["boundary", "--model", "random-tiny", "--method", "gradient", "--ratio", "0.1",
                                 "-a", "redness", "--out", str(tmp_path / "y.npz")])
    assert r.exit_code == 2 and "--ratio belongs to --method svm" in r.output
    _invoke("boundary", "--model", "random-tiny", "--scorer", "semantics_helpers:TensorStatsScorer",
            "--method", "gradient", "-a", "redness", "--samples", "8", "--layers", "fine",
            "--out", str(tmp_path / "fine.npz"))
    fine = Direction.load(tmp_path / "fine.npz")
    from ganlens.edit import presets

    assert fine.layers == presets(8)["fine"] and fine.num_ws == 8
    r = CliRunner().invoke(cli, ["boundary", "--model", "random-tiny", "-a", "redness", "--layers", "0-2",
                                 "--out", str(tmp_path / "z.npz")])
    assert r.exit_code == 2 and "--layers belongs to --method gradient" in r.output


def test_cli_mismatched_csv_is_one_line_error(tmp_path, G):
    G.sample(6, seed=0).save(tmp_path / "codes.npz")
    write_labels(tmp_path / "labels.csv", {"smile": np.zeros(5)})
    r = subprocess.run([sys.executable, "-m", "ganlens", "boundary", "--model", "random-tiny", "--latents",
                        str(tmp_path / "codes.npz"), "--labels", str(tmp_path / "labels.csv"), "-a", "smile",
                        "--out", str(tmp_path / "s.npz")], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "5 label rows" in r.stderr and "6 codes" in r.stderr
    for cmd in ("score", "boundary", "edit", "discover", "analyze"):
        assert "Example" in CliRunner().invoke(cli, [cmd, "--help"]).output
