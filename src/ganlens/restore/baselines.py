"""Classical restorations to measure the GAN prior against, from scikit-image (no learned prior).

Per stage of a degradation, the inverses a careful user would try first:

- ``sr`` — bicubic up-sampling;
- ``denoise`` — total-variation (Chambolle), non-local means, wavelet (BayesShrink) denoising, each told the true
  noise level;
- ``inpaint`` — biharmonic inpainting of the hole;
- ``colorize`` — the observed luminance with the mean chroma of reference images (of the domain, when given);
- ``blur`` — Richardson-Lucy and Wiener deconvolution with the true blur kernel.

A composed degradation is undone stage by stage from the last to the first, trying every combination of the
stages' inverses (e.g. "sr:4+denoise:0.1": each denoiser, then bicubic).
"""

from __future__ import annotations

import itertools
from typing import Callable

import numpy as np

from ..errors import GanlensError
from .degradations import LUMA, Blur, Degradation, Downsample, Grayscale, Mask, Noise

Inverse = Callable[[np.ndarray], np.ndarray]  # float [r, r, 3] in [0, 1] → float [r', r', 3] in [0, 1]


def _skimage():
    try:
        import skimage.restoration
        import skimage.transform
    except ImportError as exc:  # an optional extra
        raise GanlensError("classical baselines need scikit-image: pip install 'ganlens[restore]'") from exc
    return skimage


def _ycbcr(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = x @ np.array(LUMA)
    return y, (x[..., 2] - y) * 0.564, (x[..., 0] - y) * 0.713  # BT.601 chroma scales


def _rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    r = y + cr / 0.713
    b = y + cb / 0.564
    g = (y - LUMA[0] * r - LUMA[2] * b) / LUMA[1]
    return np.stack([r, g, b], axis=-1)


def mean_chroma(references: np.ndarray) -> tuple[float, float]:
    """Mean (Cb, Cr) of uint8 reference images [N, H, W, 3]: the colour a luminance-only baseline paints in."""
    _, cb, cr = _ycbcr(references.astype(np.float64) / 255)
    return float(cb.mean()), float(cr.mean())


def _inverses(stage: Degradation, size: int, chroma: tuple[float, float]) -> dict[str, Inverse]:
    """Classical inverses of one stage whose output is `size` px (they return the stage's input size)."""
    sk = _skimage()
    if isinstance(stage, Downsample):
        up = size * stage.factor
        return {"bicubic": lambda x: sk.transform.resize(x, (up, up, 3), order=3, anti_aliasing=False)}
    if isinstance(stage, Noise):
        sigma = stage.sigma
        return {
            "tv": lambda x: sk.restoration.denoise_tv_chambolle(x, weight=sigma, channel_axis=-1),
            "nl-means": lambda x: sk.restoration.denoise_nl_means(
                x, h=0.8 * sigma, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True, channel_axis=-1),
            "wavelet": lambda x: sk.restoration.denoise_wavelet(x, sigma=sigma, method="BayesShrink", mode="soft",
                                                                 channel_axis=-1, rescale_sigma=True),
        }
    if isinstance(stage, Mask):
        hole = stage.hole.numpy() > 0.5
        return {"biharmonic": lambda x: sk.restoration.inpaint_biharmonic(x, hole, channel_axis=-1)}
    if isinstance(stage, Grayscale):
        return {"mean-chroma": lambda x: _rgb(_ycbcr(x)[0], np.full(x.shape[:2], chroma[0]),
                                               np.full(x.shape[:2], chroma[1]))}
    if isinstance(stage, Blur):
        k = stage.kernel.numpy().astype(np.float64)
        psf = np.outer(k, k)

        def per_channel(fn: Callable[[np.ndarray], np.ndarray]) -> Inverse:
            return lambda x: np.stack([fn(x[..., c]) for c in range(3)], axis=-1)

        return {
            "richardson-lucy": per_channel(lambda c: sk.restoration.richardson_lucy(c, psf, num_iter=30)),
            "wiener": per_channel(lambda c: sk.restoration.wiener(c, psf, balance=0.01)),
        }
    raise GanlensError(f"no classical baseline for the degradation stage {stage.spec()!r}")


def classical(observed: np.ndarray, degradation: Degradation, resolution: int,
              chroma: tuple[float, float] = (0.0, 0.0)) -> dict[str, np.ndarray]:
    """Every classical restoration of uint8 observations [N, r, r, 3]: {name: uint8 [N, R, R, 3]}.

    Args:
        observed: what the degradation produced. degradation: the known damage. resolution: R, the clean size.
        chroma: (Cb, Cr) the colourisation baseline paints in (`mean_chroma` of domain images; grey by default).
    """
    stages = degradation.stages()
    sizes = [resolution]
    for s in stages:
        sizes.append(s.output_size(sizes[-1]))
    per_stage = [_inverses(s, sizes[i + 1], chroma) for i, s in enumerate(stages)]
    out: dict[str, np.ndarray] = {}
    for combo in itertools.product(*[list(d.items()) for d in per_stage]):
        name = "+".join(n for n, _ in reversed(combo))
        results = []
        for img in observed:
            x = img.astype(np.float64) / 255
            for _, fn in reversed(combo):
                x = np.clip(fn(x), 0, 1)
            results.append(np.rint(x * 255).astype(np.uint8))
        out[name] = np.stack(results)
    return out
