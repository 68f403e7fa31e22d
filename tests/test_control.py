"""Explicit control (GAN-Control): contrastive loss, pair batches, split model, encoders, boundary baseline, CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ganlens import LatentCode
from ganlens.cli.control import control, parse_settings
from ganlens.control import (
    BoundaryControl,
    ControlEncoders,
    SplitGenerator,
    contrastive_loss,
    fit,
    fit_boundary_control,
    fit_from_samples,
    load_split_generator,
    make_pair_batch,
    same_mask,
    sample_and_score,
    save_split_generator,
)
from ganlens.directions.direction import Direction
from ganlens.errors import GanlensError
from ganlens.scorers import AttributeInfo, CallableScorer


@pytest.fixture(autouse=True)
def one_thread():
    """Small networks train faster on one thread than on threads that compete for a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- contrastive loss -------------------------------------------------------------------------------------------

def _two_attribute_batch() -> torch.Tensor:
    """Four codes with sub-vectors [a, b, rest]: images 0 & 1 share a, images 2 & 3 share b."""
    z = torch.tensor([[0.1, 1.0, 5.0], [0.1, 2.0, 6.0], [0.3, 3.0, 7.0], [0.4, 3.0, 8.0]])
    return same_mask(z, [1, 1, 1], num_controlled=2)


def test_contrastive_loss_is_zero_when_thresholds_are_met():
    same = _two_attribute_batch()
    # attribute a: 0 & 1 close (0.01 < tau+), every other pair >= 0.5 apart (> tau-); b likewise for 2 & 3.
    emb_a = torch.tensor([[0.0], [0.01], [1.0], [2.0]])
    emb_b = torch.tensor([[0.0, 0.0], [0.0, 1.0], [3.0, 0.0], [3.0, 0.02]])
    loss, parts = contrastive_loss([emb_a, emb_b], same, tau_pos=0.05, tau_neg=0.5)
    assert loss.item() == 0.0
    assert parts["pos"].tolist() == [0.0, 0.0] and parts["neg"].tolist() == [0.0, 0.0]


def test_contrastive_loss_is_positive_and_normalised_when_violated():
    same = _two_attribute_batch()
    emb_a = torch.tensor([[0.0], [0.25], [1.0], [1.1]])  # same pair 0.25 apart; pair (2, 3) only 0.1 apart
    emb_b = torch.tensor([[0.0], [1.0], [2.0], [2.0 + 1e-3]])
    loss, parts = contrastive_loss([emb_a, emb_b], same, tau_pos=0.05, tau_neg=0.5)
    # a: 2 ordered same pairs, each 0.25 - 0.05 over; 10 ordered different pairs, only (2,3),(3,2) 0.4 short.
    assert parts["pos"][0].item() == pytest.approx(0.2, abs=1e-5)
    assert parts["neg"][0].item() == pytest.approx(2 * 0.4 / 10, abs=1e-5)
    assert parts["pos"][1].item() == 0.0 and parts["neg"][1].item() == 0.0
    assert loss.item() == pytest.approx(0.2 + 0.08, abs=1e-5)
    emb_a.requires_grad_(True)
    contrastive_loss([emb_a, emb_b], same, 0.05, 0.5)[0].backward()
    assert emb_a.grad.abs().sum() > 0


def test_contrastive_loss_rejects_bad_shapes():
    with pytest.raises(GanlensError, match="same must be"):
        contrastive_loss([torch.zeros(4, 1)], _two_attribute_batch(), 0.1, 0.2)
    with pytest.raises(GanlensError, match="tau_neg"):
        contrastive_loss([torch.zeros(4, 1)] * 2, _two_attribute_batch(), 0.1, [0.2])


# --- pair batches -----------------------------------------------------------------------------------------------

def test_pairs_share_exactly_the_intended_subvector():
    sizes = [1, 3, 2, 5]  # three controlled sub-vectors and the rest
    b = 9
    batch = make_pair_batch(b, sizes, generator=torch.Generator().manual_seed(0))
    assert batch.z.shape == (2 * b, 11) and batch.shared.tolist() == [p % 3 for p in range(b)]
    bounds = np.cumsum([0] + sizes)
    for p in range(b):
        a, c = batch.z[p], batch.z[b + p]
        for k in range(4):
            part_equal = torch.equal(a[bounds[k] : bounds[k + 1]], c[bounds[k] : bounds[k + 1]])
            assert part_equal == (k == batch.shared[p].item()), (p, k)
            if k != batch.shared[p].item():
                assert (a[bounds[k] : bounds[k + 1]] != c[bounds[k] : bounds[k + 1]]).all()
    # The mask marks exactly the partners, on exactly their shared sub-vector (plus the trivial diagonal).
    off = batch.same & ~torch.eye(2 * b, dtype=torch.bool)[:, :, None]
    expected = torch.zeros_like(off)
    for p, k in enumerate(batch.shared.tolist()):
        expected[p, b + p, k] = expected[b + p, p, k] = True
    assert torch.equal(off, expected)


def test_pair_batch_is_reproducible_and_validates_shared():
    one = make_pair_batch(4, [1, 1, 3], generator=torch.Generator().manual_seed(5))
    two = make_pair_batch(4, [1, 1, 3], generator=torch.Generator().manual_seed(5))
    assert torch.equal(one.z, two.z)
    with pytest.raises(GanlensError, match=r"\[0, 2\)"):
        make_pair_batch(2, [1, 1, 3], shared=[0, 2])


# --- split model ----------------------------------------------------------------------------------------------

def _random_directions(w_dim: int, names: list[str], seed: int = 0) -> dict[str, Direction]:
    rng = np.random.default_rng(seed)
    return {n: Direction(rng.standard_normal(w_dim), "w", bias=0.1 * i, attribute=n) for i, n in enumerate(names)}


def test_split_model_moves_one_attribute_coordinate_per_subvector(tiny_G, tmp_path):
    dirs = _random_directions(tiny_G.w_dim, ["a", "b", "c"])
    S = SplitGenerator.from_base(tiny_G, dirs, ["a", "b"], num_samples=200)
    assert S.z_dim == 2 + tiny_G.z_dim and S.subvector_sizes() == [1, 1, tiny_G.z_dim]
    z = S.sample_z(6, seed=1)
    z2 = z.clone()
    z2[:, 0] += 1.0  # change sub-vector "a" only
    with torch.no_grad():
        w, w2 = S.mapping(z)[:, 0], S.mapping(z2)[:, 0]
    dt = S.mapping.subvectors(w2) - S.mapping.subvectors(w)
    assert (dt[:, 0].abs() > 1e-3).all() and dt[:, 1].abs().max() < 1e-4
    # The untouched sub-vector's coordinate is exactly what its own sub-network gives.
    assert torch.allclose(S.mapping.subvectors(w)[:, 1], S.mapping.t_of_z(z[:, :2])[:, 1], atol=1e-4)
    # 'vector' axes: a sub-vector moves w along its own direction.
    V = SplitGenerator.from_base(tiny_G, dirs, ["a", "b"], num_samples=200, axes="vector")
    with torch.no_grad():
        step = V.mapping(z2)[:, 0] - V.mapping(z)[:, 0]
    along = torch.from_numpy(dirs["a"].vector).float()
    assert torch.allclose(step, (step @ along)[:, None] * along[None], atol=1e-4)
    path = save_split_generator(S, tmp_path / "split.safetensors")
    S2 = load_split_generator(path)
    assert S2.attributes == ("a", "b")
    assert np.array_equal(S2.render(S2.sample(2, seed=3)), S.render(S.sample(2, seed=3)))
    with pytest.raises(GanlensError, match="no boundary"):
        SplitGenerator.from_base(tiny_G, dirs, ["a", "zz"])


# --- encoders on a toy generator with a known linear attribute -------------------------------------------------

class ToyGenerator:
    """w = A z (8-d); the 'image' carries y = a·w in one pixel, read back by a CallableScorer."""

    name = "toy"
    z_dim = w_dim = 8
    num_ws = 1
    a = torch.tensor([0.5, -0.3, 0.2, 0.0, 0.1, 0.0, -0.2, 0.3])

    def __init__(self) -> None:
        self.A = torch.from_numpy(np.random.default_rng(0).standard_normal((8, 8)).astype(np.float32)) / 3

    def sample(self, n: int, seed: int = 0, truncation_psi: float = 1.0, space: str = "w") -> LatentCode:
        z = torch.from_numpy(np.random.default_rng(seed).standard_normal((n, 8)).astype(np.float32))
        return LatentCode("w", z @ self.A.T)

    def value(self, w: torch.Tensor) -> torch.Tensor:
        return w @ self.a

    def render(self, code: LatentCode) -> np.ndarray:
        img = np.zeros((len(code), 4, 4, 3), np.uint8)
        img[:, 0, 0, 0] = np.clip(np.round(128 + 60 * self.value(code.tensor).numpy()), 0, 255)
        return img


def toy_scorer() -> CallableScorer:
    return CallableScorer(lambda im: {"lin": (im[:, 0, 0, 0].astype(np.float32) - 128) / 60},
                          [AttributeInfo("lin", "continuous", -2, 2)])


def test_encoder_recovers_a_linear_attribute():
    G = ToyGenerator()
    enc = fit(G, toy_scorer(), ["lin"], num_samples=600, steps=250, hidden=32)
    assert enc.meta["fit"]["lin"]["reader_val_r2"] > 0.98
    w = G.sample(300, seed=11).tensor
    assert (enc.read("lin", w) - G.value(w)).abs().mean() < 0.03
    for target in (-0.8, 0.0, 0.6):
        got = G.value(enc.apply(G, w, {"lin": target}))
        assert (got - target).abs().mean() < 0.05, (target, (got - target).abs().mean())
    with pytest.raises(GanlensError, match="unknown attribute 'smile'"):
        enc.apply(G, w, {"smile": 0.1})
    with pytest.raises(GanlensError, match=r"lin=3 is out of range.*\[-2, 2\]"):
        enc.apply(G, w, {"lin": 3.0})


def test_encoders_round_trip(tmp_path):
    G = ToyGenerator()
    w, scores = G.sample(100, seed=2).tensor, {"lin": G.value(G.sample(100, seed=2).tensor).numpy()}
    enc = fit_from_samples(w, scores, toy_scorer().attributes, "toy", steps=50)
    again = ControlEncoders.load(enc.save(tmp_path / "enc.safetensors"))
    assert torch.equal(again.apply(G, w, {"lin": 0.3}), enc.apply(G, w, {"lin": 0.3}))
    with pytest.raises(GanlensError, match="not a ganlens.control_boundary"):
        BoundaryControl.load(tmp_path / "enc.safetensors")


def test_split_encoders_set_the_subvector(tiny_G):
    dirs = _random_directions(tiny_G.w_dim, ["a", "b"])
    S = SplitGenerator.from_base(tiny_G, dirs, ["a", "b"], num_samples=200)
    w = S.sample(300, seed=0).tensor
    t = S.mapping.subvectors(w)
    scores = {"a": (2 * t[:, 0] + 1).numpy(), "b": t[:, 1].numpy()}  # a value that is a known function of t_a
    attrs = [AttributeInfo("a", "continuous", -100, 100), AttributeInfo("b", "continuous", -100, 100)]
    enc = fit_from_samples(w, scores, attrs, S.name, subvectors=t, steps=150, hidden=16)
    moved = enc.apply(S, w[:5], {"a": 1.5})
    t2 = S.mapping.subvectors(moved)
    assert torch.allclose(2 * t2[:, 0] + 1, torch.full([5], 1.5), atol=0.1)
    assert torch.allclose(t2[:, 1], t[:5, 1], atol=1e-4)
    with pytest.raises(GanlensError, match="ordinary generator"):
        enc.apply(tiny_G, w[:5], {"a": 1.5})


# --- boundary-distance baseline ------------------------------------------------------------------------------------

def test_boundary_distance_reaches_targets_of_a_linear_attribute():
    rng = np.random.default_rng(0)
    w = torch.from_numpy(rng.standard_normal((400, 6)).astype(np.float32))
    n1, n2 = np.array([1.0, 0, 0, 0, 0, 0]), np.array([0.6, 0.8, 0, 0, 0, 0])  # not orthogonal
    dirs = {"p": Direction(n1, "w", bias=0.2, attribute="p"), "q": Direction(n2, "w", bias=-0.1, attribute="q")}
    scores = {"p": (3 * (w.numpy() @ n1) + 0.5), "q": (-2 * (w.numpy() @ n2) + 1)}
    attrs = [AttributeInfo("p", "continuous", -20, 20), AttributeInfo("q", "continuous", -20, 20)]
    bc = fit_boundary_control(dirs, w, scores, attrs, "toy")
    assert bc.calibrations["p"].slope == pytest.approx(3, abs=1e-6) and bc.calibrations["p"].r2 == pytest.approx(1)
    moved = bc.apply(w[:10], {"p": 2.0, "q": -1.0})
    assert np.allclose(3 * (moved.numpy() @ n1) + 0.5, 2.0, atol=1e-4)
    assert np.allclose(-2 * (moved.numpy() @ n2) + 1, -1.0, atol=1e-4)
    one = bc.apply(w[:10], {"p": 2.0})  # a single attribute moves along its own normal only
    delta = (one - w[:10]).numpy()
    assert np.allclose(delta[:, 1:], 0, atol=1e-6)
    with pytest.raises(GanlensError, match="p=30 is out of range"):
        bc.apply(w, {"p": 30})


# --- CLI ---------------------------------------------------------------------------------------------------------

def brightness_scorer() -> CallableScorer:
    return CallableScorer(lambda im: {"brightness": im.reshape(len(im), -1).mean(1) / 255},
                          [AttributeInfo("brightness", "continuous", 0, 1)])


def test_parse_settings():
    assert parse_settings(("yaw=0.5", "smile = -0.3")) == {"yaw": 0.5, "smile": -0.3}
    for bad in (("yaw",), ("yaw=abc",), ("yaw=1", "yaw=2")):
        with pytest.raises(Exception, match="yaw"):
            parse_settings(bad)


def test_cli_smoke_on_random_tiny(tiny_G, tmp_path):
    enc = fit(tiny_G, brightness_scorer(), ["brightness"], num_samples=48, steps=30, hidden=16)
    enc_path = enc.save(tmp_path / "enc.safetensors")
    runner = CliRunner()
    out = tmp_path / "img.png"
    r = runner.invoke(control, ["--model", "random-tiny", "--set", "brightness=0.5", "--seed", "3", "-n", "2",
                                "--controls", str(enc_path), "--compare", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert out.exists() and "wrote" in r.output
    r = runner.invoke(control, ["--model", "random-tiny", "--set", "smile=0.5", "--controls", str(enc_path),
                                "--out", str(tmp_path / "x.png")])
    assert isinstance(r.exception, GanlensError) and "smile" in str(r.exception)
    r = runner.invoke(control, ["--model", "random-tiny", "--set", "brightness=0.5", "--out", str(tmp_path / "y.png")])
    assert isinstance(r.exception, GanlensError) and "no encoders controls ship" in str(r.exception)
    assert "Example" in runner.invoke(control, ["--help"]).output
    # The boundary method, from a calibrated boundary file.
    w, scores = sample_and_score(tiny_G, brightness_scorer(), 64, seed=0)
    dirs = _random_directions(tiny_G.w_dim, ["brightness"])
    bc_path = fit_boundary_control(dirs, w, scores, brightness_scorer().attributes, tiny_G.name).save(tmp_path / "b.safetensors")
    r = runner.invoke(control, ["--model", "random-tiny", "--set", "brightness=0.4", "--method", "boundary",
                                "--controls", str(bc_path), "--out", str(tmp_path / "b.png")])
    assert r.exit_code == 0, r.output


# --- contrastive fine-tune --------------------------------------------------------------------------------------

def test_fine_tune_runs_snapshots_and_resumes(tmp_path):
    import json

    from ganlens.training.control import ControlTrainConfig, train_control

    cfg = ControlTrainConfig(out=str(tmp_path / "ft"), data_n=32, pairs=2, total_steps=2, d_warmup_steps=1,
                             snapshot_steps=1, threads=1)
    path = train_control(cfg, progress=False)
    S = load_split_generator(path)
    assert S.attributes == cfg.attributes and S.provenance["training"]["step"] == 2
    cfg.total_steps = 3
    train_control(cfg, progress=False)  # resumes at step 2 instead of starting over
    steps = [json.loads(line)["step"] for line in (tmp_path / "ft" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]
    last = json.loads((tmp_path / "ft" / "log.jsonl").read_text().splitlines()[-1])
    assert np.isfinite(last["L_c"]) and np.isfinite(last["loss_D"])
