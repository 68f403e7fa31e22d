"""StyleSpace: edits in S, channel units, the three channel finders, part masks of the renderer, inversion into S."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ganlens
from ganlens.directions import Direction
from ganlens.directions.stylespace import StyleChannels, by_sensitivity, from_examples, locality, locally_active
from ganlens.edit import move
from ganlens.errors import LatentError
from ganlens.invert import invert_styles
from ganlens.synthdata import FACTORS, PARTS, part_masks, region_mask, render, render_parts, sample_factors
from ganlens.synthdata.factors import INDEX


@pytest.fixture(scope="module")
def tiny():
    G = ganlens.load("random-tiny")
    return G, StyleChannels.fit(G, 500)


def test_zero_s_edit_changes_nothing(tiny):
    G, st = tiny
    codes = G.to_styles(G.sample(3, seed=1))
    d = st.direction(["b8.conv0:3"])
    same = move(codes, d, [0.0])
    assert torch.equal(same.tensor, codes.tensor)
    np.testing.assert_array_equal(G.render(same), G.render(codes))


def test_one_channel_edit_changes_only_its_layer_and_later(tiny):
    G, st = tiny
    layers = G.synthesis.style_layers()
    captured: list[dict[str, torch.Tensor]] = []

    def run(code):
        out: dict[str, torch.Tensor] = {}
        hooks = [m.register_forward_hook(lambda mod, inp, o, n=name: out.__setitem__(n, o.detach().clone()))
                 for name, m, _ in layers]
        try:
            G.synthesize(code)
        finally:
            for h in hooks:
                h.remove()
        captured.append(out)
        return out

    code = G.to_styles(G.sample(2, seed=2))
    target = "b16.conv0"
    before = run(code)
    after = run(move(code, st.direction([f"{target}:5"]), [4.0]))
    order = [name for name, _, _ in layers]
    at = order.index(target)
    for name in order[:at]:
        assert torch.equal(before[name], after[name]), name
    assert not torch.equal(before[target], after[target])


def test_channel_units_round_trip(tiny):
    G, st = tiny
    codes = G.to_styles(G.sample(4, seed=3))
    k = st.index("b16.conv1:7")
    assert st.label(k) == "b16.conv1:7"
    d = st.direction([k, "b8.torgb:2"], signs=[1, -1])
    delta = st.units(move(codes, d, [2.5])) - st.units(codes)
    j = st.index("b8.torgb:2")
    np.testing.assert_allclose(delta[:, k], 2.5, atol=1e-4)
    np.testing.assert_allclose(delta[:, j], -2.5, atol=1e-4)
    others = np.delete(delta, [k, j], axis=1)
    np.testing.assert_allclose(others, 0, atol=1e-5)
    loaded = Direction.load(d.save(_tmp_path() / "d.npz"))
    assert loaded.space == "s" and loaded.metrics["channels"][0]["channel"] == "b16.conv1:7"


def _tmp_path():
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp())


def test_s_directions_and_w_codes_do_not_mix(tiny):
    G, st = tiny
    with pytest.raises(LatentError, match="G.to_styles"):
        move(G.sample(1, seed=0), st.direction([0]), [1.0])
    w_dir = Direction(vector=np.ones(G.w_dim), space="w")
    with pytest.raises(LatentError, match="style-space"):
        move(G.to_styles(G.sample(1, seed=0)), w_dir, [1.0])


def test_part_masks_align_with_what_is_drawn():
    f = sample_factors(40, 5)
    masks = part_masks(f, 64)
    total = sum(masks[p] for p in PARTS)
    np.testing.assert_allclose(total, 1.0, atol=1e-3)
    for i, row in enumerate(f):
        for part in ("hat", "beard"):
            drawn = row[INDEX[part]] > 0.5
            assert (masks[part][i].sum() > 20) == drawn, (i, part)
    # The mouth mask covers the mouth's colour; the background mask the background's.
    img, m = render_parts(f[0])
    mouth = img[m["mouth"] > 0.99].astype(float).mean(axis=0)
    assert mouth[0] > mouth[1] + 60  # the mouth is drawn in a dark red
    bg = img[m["background"] > 0.99]
    assert bg.std(axis=0).max() < 1.0  # the background is one flat colour
    # A factor's region (before or after the change) is where changing it changes the picture.
    g = f[0].copy()
    g[INDEX["smile"]] = -g[INDEX["smile"]] if abs(g[INDEX["smile"]]) > 0.3 else 0.9
    change = np.abs(render(g).astype(float) - img.astype(float)).sum(axis=-1)
    both = part_masks(np.stack([f[0], g]), 64)
    region = region_mask(both, "smile").max(axis=0)
    grown = np.maximum.reduce([np.roll(np.roll(region, dy, 0), dx, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
    assert (change * grown).sum() / change.sum() > 0.9
    assert {f.name for f in FACTORS} <= set(ganlens.synthdata.FACTOR_REGIONS)


def _planted(G):
    """A copy of G whose style channel b32.torgb:9 drives the image's brightness: the feature map it modulates is
    made large (a big bias before the activation) and its toRGB weights the same positive number on every colour
    (toRGB does not demodulate, so nothing normalises the plant away)."""
    import copy

    H = copy.deepcopy(G)
    layers = {n: m for n, m, _ in H.synthesis.style_layers()}
    with torch.no_grad():
        layers["b32.conv1"].bias[9] = 3.0
        layers["b32.torgb"].weight[:, 9] = 5.0
    return H


def test_finders_recover_a_planted_channel(tiny):
    G, _ = tiny
    H = _planted(G)
    st = StyleChannels.fit(H, 500)
    planted = st.index("b32.torgb:9")

    def brightness(img: torch.Tensor) -> torch.Tensor:
        return img.mean(dim=(1, 2, 3))

    assert by_sensitivity(H, brightness, st, n=32, top=5)[0][0] == planted
    codes = H.to_styles(H.sample(300, seed=4))
    with torch.no_grad():
        b = brightness(H.synthesize(codes)).numpy()
    positive = b >= np.sort(b)[-30]
    assert from_examples(codes, positive, st, top=5)[0][0] == planted


def test_locally_active_shares_and_locality(tiny):
    G, st = tiny
    R = G.img_resolution

    def halves(images):
        left = np.zeros((len(images), R, R), np.float32)
        left[:, :, : R // 2] = 1
        return {"left": left, "right": 1 - left}

    res = locally_active(G, st, halves, n=2, channels=[0, 100, st.dim - 1])
    np.testing.assert_allclose(res["share"].sum(axis=1), 1.0, atol=1e-6)
    assert res["magnitude"].min() > 0
    before = np.zeros((1, 4, 4, 3), np.uint8)
    after = before.copy()
    after[0, 0, 0] = 90
    after[0, 3, 3] = 30
    region = np.zeros((4, 4))
    region[0, 0] = 1
    np.testing.assert_allclose(locality(before, after, region), [0.75])


def test_inversion_into_s_fits_closer_than_its_w_plus_start(tiny):
    G, _ = tiny
    target = G.render(G.sample(2, seed=8))
    from ganlens.invert import project

    start = project(G, target, "ganlens", steps=40)
    res = invert_styles(G, target, init=start.code, steps=80)
    assert res.code.space == "s" and res.code.tensor.shape == (2, sum(G.style_dims()))
    assert res.loss.mean() < start.loss.mean()
    np.testing.assert_allclose(res.loss, [float(((G.synthesize(res.code[i]) - torch.as_tensor(target[i:i + 1])
                                                  .permute(0, 3, 1, 2).float() / 127.5 + 1).square().mean()))
                                          for i in range(2)], rtol=1e-4)


def test_cli_discover_stylespace_writes_directions_and_grids(tmp_path):
    from click.testing import CliRunner

    from ganlens.cli import cli

    r = CliRunner().invoke(cli, ["discover", "--method", "stylespace", "--attribute", "smile", "--route", "examples",
                                 "--num", "3", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    for name in ("smile-s1.npz", "smile-s3.npz", "smile-channels.png", "summary.json"):
        assert (tmp_path / name).exists(), name
    d = Direction.load(tmp_path / "smile-s3.npz")
    assert d.space == "s" and len(d.metrics["channels"]) == 3
    out = tmp_path / "edit.png"
    r = CliRunner().invoke(cli, ["edit", "--direction", str(tmp_path / "smile-s3.npz"), "--seeds", "0-1",
                                 "--strengths", "-3,0,3", "--out", str(out)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["discover", "--method", "stylespace", "--attribute", "grin", "--out",
                                 str(tmp_path / "x")])
    assert r.exit_code != 0 and "unknown attribute" in str(r.exception)
