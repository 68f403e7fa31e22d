"""Fidelity metrics between images: MSE, MAE, RMSE, PSNR, SSIM (scikit-image's), perceptual distances.

All functions take uint8 images [N, H, W, C] (or one [H, W, C]) and return one value per image as float64 [N],
so that callers can average, take medians or report per image. Pixel metrics are on the 0..255 scale.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import GanlensError, ShapeError


def _as_batch(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.dtype != np.uint8:
        raise ShapeError(f"{name} must be uint8 images [N, H, W, C] or [H, W, C], got {a.dtype} {list(a.shape)}")
    return a


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_batch(a, "first image batch"), _as_batch(b, "second image batch")
    if a.shape != b.shape:
        raise ShapeError(f"image batches differ in shape: {list(a.shape)} vs {list(b.shape)}")
    return a.astype(np.float64), b.astype(np.float64)


def mse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean squared error per image (0..255 scale)."""
    a, b = _pair(a, b)
    return ((a - b) ** 2).mean(axis=(1, 2, 3))


def mae(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean absolute error per image (0..255 scale)."""
    a, b = _pair(a, b)
    return np.abs(a - b).mean(axis=(1, 2, 3))


def rmse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Root mean squared error per image (0..255 scale)."""
    return np.sqrt(mse(a, b))


def psnr(a: np.ndarray, b: np.ndarray, max_psnr: float = 100.0) -> np.ndarray:
    """Peak signal-to-noise ratio in dB per image, 10·log10(255² / MSE); identical images give `max_psnr`."""
    m = mse(a, b)
    with np.errstate(divide="ignore"):
        out = 10 * np.log10(255.0**2 / m)
    return np.minimum(out, max_psnr)


def ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Structural similarity per image (scikit-image's `structural_similarity`, Gaussian-free 7x7 windows,
    over colour channels; images smaller than 7 px use the largest odd window that fits).

    Raises:
        GanlensError: scikit-image is not installed (``pip install 'ganlens[metrics]'``).
    """
    try:
        from skimage.metrics import structural_similarity
    except ImportError as exc:
        raise GanlensError("SSIM uses scikit-image: pip install 'ganlens[metrics]' (or scikit-image)") from exc
    a8, b8 = _as_batch(a, "first image batch"), _as_batch(b, "second image batch")
    if a8.shape != b8.shape:
        raise ShapeError(f"image batches differ in shape: {list(a8.shape)} vs {list(b8.shape)}")
    side = min(a8.shape[1], a8.shape[2])
    win = min(7, side if side % 2 else side - 1)
    if win < 3:
        raise ShapeError(f"SSIM needs images of at least 3x3 pixels, got {a8.shape[1]}x{a8.shape[2]}")
    return np.array([
        structural_similarity(x, y, data_range=255, channel_axis=2, win_size=win) for x, y in zip(a8, b8)
    ], dtype=np.float64)


@torch.no_grad()
def perceptual(a: np.ndarray, b: np.ndarray, net: str = "mobilenet", batch_size: int = 64, **kwargs) -> np.ndarray:
    """Perceptual distance per image: 'mobilenet' (MobileNetV2 feature distance) or 'lpips' (pass trunk=PATH)."""
    from ..io.images import from_uint8
    from .perceptual import get_perceptual

    a8, b8 = _as_batch(a, "first image batch"), _as_batch(b, "second image batch")
    if a8.shape != b8.shape:
        raise ShapeError(f"image batches differ in shape: {list(a8.shape)} vs {list(b8.shape)}")
    dist = get_perceptual(net, **kwargs)
    out = [dist(from_uint8(a8[i : i + batch_size]), from_uint8(b8[i : i + batch_size])) for i in range(0, len(a8), batch_size)]
    return torch.cat(out).double().numpy()


def fidelity(a: np.ndarray, b: np.ndarray, with_perceptual: bool = True, with_ssim: bool = True) -> dict[str, np.ndarray]:
    """All fidelity metrics per image as a dict: psnr, ssim, mse, mae, rmse and (optionally) perceptual."""
    out = {"psnr": psnr(a, b), "mse": mse(a, b), "mae": mae(a, b), "rmse": rmse(a, b)}
    if with_ssim:
        out["ssim"] = ssim(a, b)
    if with_perceptual:
        out["perceptual"] = perceptual(a, b)
    return out
