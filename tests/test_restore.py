"""Restoration with the GAN prior: the degradations' forward passes, restores on the tiny model, baselines, CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ganlens
from ganlens.cli import cli
from ganlens.errors import GanlensError, InputError, ShapeError
from ganlens.io.images import to_uint8
from ganlens.metrics.quality import psnr
from ganlens.restore import Blur, Compose, Downsample, Grayscale, Mask, Noise, parse_task, restore
from ganlens.restore.baselines import classical, mean_chroma


def _images(n: int = 2, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_downsample_is_block_averaging():
    x = _images(2, 16)
    y = Downsample(4)(x).numpy()
    direct = x.numpy().reshape(2, 3, 4, 4, 4, 4).mean(axis=(3, 5))
    np.testing.assert_allclose(y, direct, atol=1e-6)
    bic = Downsample(4, "bicubic")(torch.full((1, 3, 16, 16), 0.3))
    assert bic.shape == (1, 3, 4, 4) and torch.allclose(bic, torch.tensor(0.3), atol=1e-5)
    with pytest.raises(ShapeError, match="factor 3"):
        Downsample(3)(x)


def test_grayscale_is_bt601_luma_on_every_channel():
    x = _images(1, 8)
    y = Grayscale()(x)
    luma = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    for c in range(3):
        torch.testing.assert_close(y[:, c], luma)


def test_noise_forward_is_identity_and_simulate_adds_sigma():
    x = torch.zeros(1, 3, 64, 64)
    n = Noise(0.1)
    assert torch.equal(n(x), x)
    a, b = n.simulate(x, seed=1), n.simulate(x, seed=1)
    assert torch.equal(a, b) and not torch.equal(a, n.simulate(x, seed=2))
    assert abs(float(a.std()) / 2 - 0.1) < 0.005  # sigma is in [0, 1] units; the tensor spans [-1, 1]


def test_mask_zeroes_the_hole_on_both_sides():
    m = Mask.from_rect("4,4,12,12", 16)
    x = _images(1, 16)
    y = m(x)
    assert torch.all(y[..., 4:12, 4:12] == 0) and torch.equal(y[..., :4, :], x[..., :4, :])
    junk = x.clone()
    junk[..., 4:12, 4:12] = 0.9  # whatever a file holds in the hole does not count
    assert torch.equal(m.align_observed(junk), y)


def test_blur_matches_a_direct_gaussian_convolution():
    x = torch.zeros(1, 3, 21, 21)
    x[..., 10, 10] = 1.0
    y = Blur(1.5)(x)[0, 0].numpy()
    t = np.arange(-10, 11)
    g = np.exp(-0.5 * (t / 1.5) ** 2)
    g2 = np.outer(g, g)
    g2[np.abs(t)[:, None].repeat(21, 1) > 5] = 0  # radius ceil(3 sigma) = 5
    g2[:, np.abs(t) > 5] = 0
    np.testing.assert_allclose(y, g2 / g2.sum(), atol=1e-6)
    flat = torch.full((1, 3, 16, 16), -0.2)
    assert torch.allclose(Blur(2.0)(flat), flat, atol=1e-6)


def test_parse_task_round_trips_and_composes():
    d = parse_task("sr:4+denoise:0.05", 64)
    assert isinstance(d, Compose) and d.spec() == "sr:4+denoise:0.05" and d.output_size(64) == 16
    assert parse_task("colorize", 64).spec() == "colorize"
    assert parse_task("blur:1.5", 64).spec() == "blur:1.5"
    assert (Downsample(2) + Grayscale()).spec() == "sr:2+colorize"
    inp = parse_task("inpaint:0.25,0.25,0.75,0.75", 64)
    assert float(inp.hole.sum()) == 32 * 32
    x = _images(1, 64)
    assert d.simulate(x, seed=0).shape == (1, 3, 16, 16)


@pytest.mark.parametrize("task, message", [
    ("zoom:4", "unknown restoration task 'zoom'"),
    ("sr", "needs a value"),
    ("sr:x", "'x' is not a number"),
    ("denoise:3", "noise sigma"),
    ("inpaint:1,2,3", "x0,y0,x1,y1"),
    ("colorize:2", "takes no value"),
])
def test_parse_task_refuses_bad_tasks_in_one_line(task, message):
    with pytest.raises(GanlensError, match=message) as info:
        parse_task(task, 64)
    assert "\n" not in str(info.value)


@pytest.fixture(scope="module")
def tiny():
    G = ganlens.load("random-tiny")
    code = G.sample(4, seed=5)
    return G, code, G.synthesize(code)


def test_restore_recovers_a_sample_from_its_4x_downsampled_version(tiny):
    G, code, clean = tiny
    small = Downsample(4).simulate(clean)
    res = restore(G, small, "sr:4", steps=600)
    assert res.restored.shape == (4, 32, 32, 3) and res.observed.shape == (4, 8, 8, 3)
    assert res.code.space == "w+" and res.code.meta["task"] == "sr:4"
    quality = psnr(G.render(code), res.restored)
    assert quality.min() >= 25, quality
    # The prior recovers detail the observation lacks: better than blowing the small image up.
    bicubic = classical(res.observed, Downsample(4), 32)["bicubic"]
    assert quality.mean() > psnr(G.render(code), bicubic).mean() + 1


def test_dgp_tuning_fits_the_observation_closer_and_pulse_stays_on_the_sphere(tiny):
    G, code, clean = tiny
    small = Downsample(4).simulate(clean[:2])
    wplus = restore(G, small, "sr:4", steps=150)
    dgp = restore(G, small, "sr:4", method="dgp", steps=150)
    assert dgp.deltas is not None and len(dgp.deltas) == 2
    assert np.all(dgp.loss < wplus.loss)
    again = dgp.generator(G, 1).render(dgp.code[1])
    np.testing.assert_array_equal(again[0], dgp.restored[1])
    pulse = restore(G, small, "sr:4", method="pulse", steps=50)
    norms = pulse.code.tensor.norm(dim=1)
    torch.testing.assert_close(norms, torch.full_like(norms, G.z_dim ** 0.5))


def test_restore_checks_the_observation_size_and_method(tiny):
    G, _, clean = tiny
    with pytest.raises(ShapeError, match="observes 8x8"):
        restore(G, clean, "sr:4", steps=1)
    with pytest.raises(InputError, match="unknown restoration method"):
        restore(G, Downsample(4)(clean), "sr:4", method="magic")


def test_colorize_inpaint_and_denoise_run_through_one_restore(tiny):
    G, code, clean = tiny
    for task in ("colorize", "inpaint:0.25,0.25,0.75,0.75", "denoise:0.1", "blur:1"):
        deg = parse_task(task, 32)
        res = restore(G, deg.simulate(clean[:1], seed=3), deg, steps=200)
        # The fit explains the observation better than the prior's average face does.
        avg = G.render(G.sample(1, seed=0, truncation_psi=0.0))
        base = deg(torch.as_tensor(avg).permute(0, 3, 1, 2).float() / 127.5 - 1)
        obs = deg.align_observed(deg.simulate(clean[:1], seed=3))
        fit = deg(torch.as_tensor(res.restored).permute(0, 3, 1, 2).float() / 127.5 - 1)
        assert float((fit - obs).square().mean()) < 0.5 * float((base - obs).square().mean()), task


def test_baselines_cover_every_stage():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (1, 16, 16, 3), dtype=np.uint8)
    assert set(classical(imgs, Noise(0.1), 16)) == {"tv", "nl-means", "wavelet"}
    assert set(classical(imgs[:, :4, :4], Downsample(4) + Noise(0.1), 16)) == {
        "tv+bicubic", "nl-means+bicubic", "wavelet+bicubic"}
    grey = to_uint8(Grayscale()(torch.as_tensor(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1))
    col = classical(grey, Grayscale(), 16, chroma=mean_chroma(imgs))["mean-chroma"]
    # The baseline keeps the luminance it was given.
    lum = lambda a: a.astype(float) @ np.array([0.299, 0.587, 0.114])  # noqa: E731
    assert np.abs(lum(col) - lum(grey)).max() <= 2.5
    hole = Mask.from_rect("4,4,8,8", 16)
    filled = classical(to_uint8(hole(torch.as_tensor(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1)), hole, 16)
    np.testing.assert_array_equal(filled["biharmonic"][0, :4], to_uint8(
        hole(torch.as_tensor(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1))[0, :4])


def test_cli_restore_writes_the_picture_and_refuses_bad_tasks(tmp_path):
    from click.testing import CliRunner

    from ganlens.io import save_image

    G = ganlens.load("random-tiny")
    clean = G.render(G.sample(1, seed=2))
    small = to_uint8(Downsample(2)(torch.as_tensor(clean).permute(0, 3, 1, 2).float() / 127.5 - 1))
    save_image(small[0], tmp_path / "small.png")
    save_image(clean[0], tmp_path / "clean.png")
    runner = CliRunner()
    out = tmp_path / "big.png"
    r = runner.invoke(cli, ["restore", str(tmp_path / "small.png"), "--task", "sr:2", "--model", "random-tiny",
                            "--steps", "30", "--reference", str(tmp_path / "clean.png"), "--baselines",
                            "--out", str(out), "--save-latents", str(tmp_path / "big.npz")])
    assert r.exit_code == 0, r.output
    assert out.exists() and (tmp_path / "big_compare.png").exists() and (tmp_path / "big.npz").exists()
    assert "PSNR" in r.output and "bicubic" in r.output
    for task, message in [("zoom:2", "unknown restoration task"), ("inpaint:0.5,0.5", "x0,y0,x1,y1")]:
        r = runner.invoke(cli, ["restore", str(tmp_path / "small.png"), "--task", task, "--model", "random-tiny",
                                "--out", str(tmp_path / "x.png")])
        assert r.exit_code != 0 and message in str(r.exception or r.output)
        assert not (tmp_path / "x.png").exists()


def _pixels(images: np.ndarray) -> np.ndarray:
    """A cheap feature space for the realism tests: 8x8 average-pooled pixels."""
    x = torch.as_tensor(images).permute(0, 3, 1, 2).float()
    return torch.nn.functional.adaptive_avg_pool2d(x, 8).flatten(1).numpy()


def test_realism_score_is_near_zero_for_real_images_and_low_for_noise(tiny):
    from ganlens.restore import RealismScore

    G = tiny[0]
    real = G.render(G.sample(300, seed=1, truncation_psi=0.5))
    score = RealismScore(_pixels, real)
    more_real = score(G.render(G.sample(100, seed=2, truncation_psi=0.5)))
    noise = score(np.random.default_rng(0).integers(0, 256, (20, 32, 32, 3), dtype=np.uint8))
    assert abs(float(np.median(more_real))) < 0.3
    assert noise.max() < more_real.min()


def test_artefact_correction_raises_the_realism_of_its_samples(tiny):
    from ganlens.restore import RealismScore, correct, quality_boundary
    from ganlens.restore.artefacts import realism_of

    G = tiny[0]
    # "Real" = the generator's truncated samples: far-out untruncated samples are its "artefacts".
    score = RealismScore(_pixels, G.render(G.sample(500, seed=1, truncation_psi=0.5)))
    d = quality_boundary(G, score, n=2000, seed=3)
    assert d.attribute == "realism" and d.metrics["realism_best_mean"] > d.metrics["realism_worst_mean"]
    codes = G.sample(300, seed=9)
    before = realism_of(G, codes, score)
    after = realism_of(G, correct(codes, d, 2.0, num_ws=G.num_ws), score)
    worse = realism_of(G, correct(codes, d, -2.0, num_ws=G.num_ws), score)
    assert after.mean() > before.mean() > worse.mean()
    assert (after > before).mean() > 0.6 and (worse < before).mean() > 0.6


def test_cli_fix_fits_saves_and_reuses_a_quality_boundary(tmp_path):
    from click.testing import CliRunner

    from ganlens.io import save_image

    G = ganlens.load("random-tiny")
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, img in enumerate(G.render(G.sample(12, seed=1, truncation_psi=0.5))):
        save_image(img, photos / f"{i:02d}.png")
    runner = CliRunner()
    args = ["fix", "--model", "random-tiny", "--reference", str(photos), "--features", "mobilenet", "--seeds", "0-2",
            "--strengths", "0,2"]
    r = runner.invoke(cli, args + ["--samples", "200", "--save-boundary", str(tmp_path / "q.npz"),
                                   "--out", str(tmp_path / "fixed.png")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "fixed.png").exists() and (tmp_path / "q.npz").exists() and "strength 2" in r.output
    r = runner.invoke(cli, args + ["--boundary", str(tmp_path / "q.npz"), "--out", str(tmp_path / "again.png")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["fix", "--model", "random-tiny", "--out", str(tmp_path / "x.png")])
    assert r.exit_code != 0 and "ships no predictor" in str(r.exception)
