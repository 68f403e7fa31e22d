"""Editing: linear moves (single, joint, jittered, layer-wise), space rules, layer ranges and labelled grids."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganlens import LatentCode
from ganlens.directions import Direction
from ganlens.edit import (describe_layers, jitter, labelled_grid, layer_resolutions, move, move_joint, parse_strengths,
                          perturb, presets, resolution_groups, resolve_layers, strength_labels)
from ganlens.errors import GanlensError, LatentError
from ganlens.io import make_grid

NUM_WS, DIM = 8, 16


def _wplus(n=4, seed=0):
    return LatentCode("w+", torch.randn(n, NUM_WS, DIM, generator=torch.Generator().manual_seed(seed)))


def _w(n=4, seed=0):
    return LatentCode("w", torch.randn(n, DIM, generator=torch.Generator().manual_seed(seed)))


def _dir(space="w", seed=1, **kw):
    return Direction(np.random.default_rng(seed).standard_normal(DIM), space, **kw)


def test_layerwise_edit_leaves_other_layers_bit_for_bit_untouched():
    code, d = _wplus(), _dir()
    out = move(code, d, [-3.0, 0.5, 3.0], layers="0-2")
    assert out.space == "w+" and out.tensor.shape == (12, NUM_WS, DIM)
    orig = code.tensor.repeat_interleave(3, dim=0)
    assert torch.equal(out.tensor[:, 3:], orig[:, 3:])  # exact, not approximately equal
    amounts = torch.tensor([-3.0, 0.5, 3.0]).repeat(4)
    expected = orig[:, :3] + amounts[:, None, None] * torch.tensor(d.vector, dtype=torch.float32)
    assert torch.allclose(out.tensor[:, :3], expected, atol=1e-6)
    # A direction that carries its own layers (a per-layer W+ boundary) moves only those.
    per_layer = _dir("w+", layers=(5,), num_ws=NUM_WS)
    out = move(code, per_layer, [2.0])
    untouched = [i for i in range(NUM_WS) if i != 5]
    assert torch.equal(out.tensor[:, untouched], code.tensor[:, untouched])
    assert not torch.equal(out.tensor[:, 5], code.tensor[:, 5])


def test_w_code_with_a_layer_range_is_promoted_to_wplus():
    code, d = _w(), _dir()
    with pytest.raises(LatentError, match="num_ws"):
        move(code, d, [1.0], layers="coarse")
    out = move(code, d, [1.0], layers="coarse", num_ws=NUM_WS)
    assert out.space == "w+" and out.tensor.shape == (4, NUM_WS, DIM)
    coarse = presets(NUM_WS)["coarse"]
    for i in range(NUM_WS):
        if i in coarse:
            assert torch.allclose(out.tensor[:, i], code.tensor + torch.tensor(d.vector, dtype=torch.float32))
        else:
            assert torch.equal(out.tensor[:, i], code.tensor)
    # All layers is no layer range: the code stays a plain w.
    assert move(code, d, [1.0], layers="all", num_ws=NUM_WS).space == "w"


def test_move_order_strength_zero_and_distance():
    code, d = _w(3), _dir()
    strengths = [-2.0, 0.0, 1.5]
    out = move(code, d, strengths)
    assert out.meta["strengths"] == strengths and out.meta["num_samples"] == 3
    assert torch.equal(out.tensor[1::3], code.tensor)  # sample-major rows; strength 0 is the original exactly
    dist = out.tensor.double().numpy() @ d.vector - np.repeat(code.tensor.double().numpy() @ d.vector, 3)
    assert np.allclose(dist, np.tile(strengths, 3), atol=1e-5)  # n.(x + a n) - n.x = a for a unit n
    sigma = Direction(d.vector, "w", scale=2.5)  # GANSpace: strengths in sigma units
    step = move(code, sigma, [2.0]).tensor - code.tensor
    assert torch.allclose(step.norm(dim=1), torch.full((3,), 5.0), atol=1e-5)


def test_space_rules_give_clear_errors():
    z = LatentCode("z", torch.randn(2, DIM))
    with pytest.raises(LatentError, match="lives in Z but the codes are in 'w'"):
        move(_w(), _dir("z"), [1.0])
    with pytest.raises(LatentError, match="map them to W first"):
        move(z, _dir("w"), [1.0])
    with pytest.raises(LatentError, match="no layers"):
        move(z, _dir("z"), [1.0], layers="0-1")
    with pytest.raises(LatentError, match="dim 16 but the codes have dim 5"):
        move(LatentCode("w", torch.randn(2, 5)), _dir(), [1.0])
    with pytest.raises(LatentError, match="num_ws=10"):
        move(_wplus(), _dir(num_ws=10), [1.0])
    with pytest.raises(GanlensError, match="out of range"):
        move(_wplus(), _dir(), [1.0], layers="6-9")
    assert torch.allclose(move(z, _dir("z"), [0.0]).tensor, z.tensor)


def test_joint_and_jitter():
    code, a, b = _wplus(), _dir(seed=1), _dir(seed=2, layers=(0, 1), num_ws=NUM_WS)
    out = move_joint(code, [(a, 1.5), (b, -2.0)])
    va, vb = (torch.tensor(x.vector, dtype=torch.float32) for x in (a, b))
    assert torch.allclose(out.tensor[:, 0], code.tensor[:, 0] + 1.5 * va - 2 * vb, atol=1e-6)
    assert torch.allclose(out.tensor[:, 4], code.tensor[:, 4] + 1.5 * va, atol=1e-6)
    assert out.meta["joint"] == {a.name: 1.5, b.name: -2.0}
    jit = jitter(code, a, 2.0, sigma=0.5, num=50, seed=3, layers="4-5")
    assert jit.tensor.shape == (200, NUM_WS, DIM)
    base = code.tensor.repeat_interleave(50, dim=0)
    keep = [0, 1, 2, 3, 6, 7]
    assert torch.equal(jit.tensor[:, keep], base[:, keep])
    noise = jit.tensor[:, 4:6] - (base[:, 4:6] + 2.0 * va)
    assert abs(noise.std().item() - 0.5) < 0.03 and abs(noise.mean().item()) < 0.03
    assert torch.equal(jitter(code, a, 2.0, sigma=0.5, num=50, seed=3, layers="4-5").tensor, jit.tensor)  # seeded
    assert torch.equal(perturb(_w(), 0.0).tensor, _w().tensor)


def test_layer_ranges_and_presets():
    assert layer_resolutions(10) == [4, 8, 8, 16, 16, 32, 32, 64, 64, 64]
    assert layer_resolutions(18)[-1] == 1024 and len(layer_resolutions(18)) == 18
    for num_ws in (8, 10, 14, 18):
        p = presets(num_ws)
        parts = p["coarse"] + p["middle"] + p["fine"]
        assert sorted(parts) == list(range(num_ws)) and all(p[k] for k in ("coarse", "middle", "fine"))
    assert presets(10)["coarse"] == (0, 1, 2) and presets(10)["fine"] == (7, 8, 9)
    assert resolution_groups(10)["8px"] == (1, 2)
    assert resolve_layers("0-2,7", 10) == (0, 1, 2, 7) and resolve_layers([3, 1, 3], 10) == (1, 3)
    assert resolve_layers("16px", 10) == (3, 4) and resolve_layers(None, 4) == (0, 1, 2, 3)
    assert describe_layers((0, 1, 2, 7), 10) == "0-2,7" and describe_layers(tuple(range(10)), 10) == "all"
    for bad, msg in (("5-2", "backwards"), ("x", "bad layer spec"), ("0-12", "out of range")):
        with pytest.raises(GanlensError, match=msg):
            resolve_layers(bad, 10)
    with pytest.raises(GanlensError, match="even"):
        layer_resolutions(7)


def test_labelled_grid_has_the_right_size():
    images = np.random.default_rng(0).integers(0, 255, (6, 32, 32, 3), dtype=np.uint8)
    plain = make_grid(images, ncols=3, pad=2)
    grid = labelled_grid(images, 3, col_labels=strength_labels([-2, 0, 2]), row_labels=["seed 0", "seed 1"])
    # The picture is the plain grid plus a header band and a left label band, with the tiles untouched.
    assert grid.shape[0] > plain.shape[0] and grid.shape[1] > plain.shape[1]
    top, left = grid.shape[0] - plain.shape[0], grid.shape[1] - plain.shape[1]
    assert np.array_equal(grid[top:, left:], plain)
    assert labelled_grid(images, 2, scale=2).shape == make_grid(images.repeat(2, 1).repeat(2, 2), ncols=2).shape
    with pytest.raises(GanlensError, match="do not fill rows of 4"):
        labelled_grid(images, 4)
    with pytest.raises(GanlensError, match="2 column labels for 3 columns"):
        labelled_grid(images, 3, col_labels=["a", "b"])
    assert strength_labels([-3, 0, 1.5]) == ["-3", "0", "+1.5"]


def test_a_title_wider_than_the_tiles_is_drawn_whole():
    images = np.full((2, 16, 16, 3), 128, np.uint8)
    grid = labelled_grid(images, 2, row_labels=["seed 10"], title="smile | age fixed, layers 5-9")
    band = grid[: grid.shape[0] - 16 - 4]  # the title band above the tiles
    ink = np.nonzero((band < 100).any(axis=(0, 2)))[0]
    assert ink.size and ink.max() < grid.shape[1] - 2  # the last letter ends before the right edge
    assert grid.shape[1] > make_grid(images, ncols=2, pad=2).shape[1] + 100  # the grid widened for it


def test_parse_strengths():
    assert parse_strengths("-3:3:7") == [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
    assert parse_strengths("-2, 0,2") == [-2.0, 0.0, 2.0] and parse_strengths("1.5") == [1.5]
    for bad in ("1:2", "a,b", "0:1:0", ""):
        with pytest.raises(LatentError, match="bad strengths"):
            parse_strengths(bad)
