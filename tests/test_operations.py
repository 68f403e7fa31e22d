"""Image2StyleGAN operations: crossover, morphing, arithmetic, animations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import ganlens
from ganlens import LatentError
from ganlens.edit.mix import crossover, mix_grid
from ganlens.edit.morph import arithmetic, interpolate, pingpong
from ganlens.io.video import save_animation


def test_crossover_all_layers_is_the_style_and_none_is_the_content(G):
    a, b = G.sample(3, seed=0, space="w+"), G.sample(3, seed=1, space="w+")
    assert G.render(crossover(a, b, "all", G.num_ws)).tobytes() == G.render(b).tobytes()
    assert G.render(crossover(a, b, [], G.num_ws)).tobytes() == G.render(a).tobytes()
    mixed = crossover(a, b, "2-4", G.num_ws).tensor
    assert torch.equal(mixed[:, 2:5], b.tensor[:, 2:5]) and torch.equal(mixed[:, :2], a.tensor[:, :2])
    assert torch.equal(mixed[:, 5:], a.tensor[:, 5:])


def test_mix_grid_is_row_content_column_style(G):
    a, b = G.sample(2, seed=0), G.sample(3, seed=1)
    grid = mix_grid(a, b, "coarse", G.num_ws)
    assert grid.tensor.shape == (6, G.num_ws, G.w_dim)
    one = crossover(a[1], b[2], "coarse", G.num_ws)
    assert torch.equal(grid.tensor[1 * 3 + 2], one.tensor[0])
    with pytest.raises(LatentError, match="map z codes first"):
        crossover(G.sample(1, seed=0, space="z"), b[:1], "all", G.num_ws)


def test_morph_endpoints_equal_the_inputs(G):
    for space in ("z", "w", "w+"):
        a, b = G.sample(2, seed=3, space=space), G.sample(2, seed=4, space=space)
        m = interpolate(a, b, 5)
        assert len(m) == 10
        assert torch.allclose(m.tensor[:2], a.tensor, atol=1e-5) and torch.allclose(m.tensor[-2:], b.tensor, atol=1e-5)
    z = interpolate(G.sample(1, seed=3, space="z"), G.sample(1, seed=4, space="z"), [0.5]).tensor
    a, b = G.sample(1, seed=3, space="z").tensor, G.sample(1, seed=4, space="z").tensor
    assert z.norm() > (0.5 * (a + b)).norm()  # spherical in Z: the midpoint keeps its norm, a lerp would shrink it
    assert pingpong([0, 0.5, 1]) == [0, 0.5, 1, 0.5]


def test_arithmetic_with_zero_strength_is_the_identity(G):
    a, b, c = (G.sample(2, seed=s, space="w+") for s in (0, 1, 2))
    assert torch.equal(arithmetic(a, b, c, 0.0).tensor, a.tensor)
    assert torch.allclose(arithmetic(a, b, c, 1.0).tensor, a.tensor + c.tensor - b.tensor)
    with pytest.raises(LatentError, match="cannot combine"):
        arithmetic(a, G.sample(2, seed=1, space="z"), c)


def test_gif_is_written_with_every_frame(tmp_path, G):
    frames = G.render(interpolate(G.sample(1, seed=0), G.sample(1, seed=1), 6))
    path = save_animation(frames, tmp_path / "m.gif", fps=10, scale=2)
    with Image.open(path) as im:
        assert im.n_frames == 6 and im.size == (64, 64)
    with pytest.raises(ganlens.GanlensError, match="suffix"):
        save_animation(frames, tmp_path / "m.avi")


def test_morph_takes_image_files_and_caches_their_inversion(tmp_path, G, monkeypatch):
    from click.testing import CliRunner

    from ganlens.cli import cli
    from ganlens.io import save_image

    monkeypatch.setenv("GANLENS_CACHE", str(tmp_path / "cache"))
    imgs = G.render(G.sample(2, seed=8))
    save_image(imgs[0], tmp_path / "a.png")
    save_image(imgs[1], tmp_path / "b.png")
    args = ["morph", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--model", "random-tiny", "--frames", "3",
            "--scale", "1", "--out"]
    r = CliRunner().invoke(cli, args + [str(tmp_path / "m.gif")])
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2
    with Image.open(tmp_path / "m.gif") as im:
        assert im.n_frames == 3
        first = np.asarray(im.convert("RGB"))
    # The first frame is the inversion of a.png: much closer to it than to b.png.
    assert np.abs(first.astype(int) - imgs[0]).mean() < np.abs(first.astype(int) - imgs[1]).mean()
    r = CliRunner().invoke(cli, args + [str(tmp_path / "m2.gif")])
    assert r.exit_code == 0 and "taken from the cache" in r.output
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2


def test_mp4_is_written_with_every_frame(tmp_path, G):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    frames = G.render(interpolate(G.sample(1, seed=1), G.sample(1, seed=2), 7))
    path = save_animation(frames, tmp_path / "m.mp4", fps=10, scale=2)
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = reader.__next__()
    decoded = [np.frombuffer(f, np.uint8).reshape(meta["size"][1], meta["size"][0], 3) for f in reader]
    assert len(decoded) == 7 and tuple(meta["size"]) == (2 * G.img_resolution, 2 * G.img_resolution)
    # Lossy, but the first decoded frame is still the first picture, not the last.
    first = decoded[0][::2, ::2].astype(int)
    assert np.abs(first - frames[0]).mean() < np.abs(first - frames[-1]).mean()
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically, no leftovers
