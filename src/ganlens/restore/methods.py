"""Restoration with the GAN as an image prior: find the code whose image, once degraded, matches the observation.

Three methods share one loss, |degradation(G(code)) − observed|² (plus each method's regulariser):

- ``'wplus'`` — W+ optimisation through the degradation with the P_N-space penalty that keeps the code where the
  generator was trained (Image2StyleGAN++'s masked / degraded fits; ILO's in-distribution constraint, Daras et al.
  2021, in its simplest form);
- ``'pulse'`` — PULSE (Menon et al. 2020): the search stays on the sphere of radius sqrt(z_dim) in Z, where a
  Gaussian latent's mass lies, so whatever fits the observation is a typical sample;
- ``'dgp'`` — Deep Generative Prior (Pan et al. 2020): the 'wplus' fit, then the generator's synthesis weights are
  tuned a little (PTI's machinery) so that their degraded output matches too; the tuning is kept as a per-image
  weight delta.

The result keeps the code (and the delta), so the restored face can be edited next.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import InputError, ShapeError
from ..invert.optimize import OptimConfig, preset, project
from ..invert.pti import PTIConfig, apply_delta, tune_generator
from ..io.images import from_uint8, to_uint8
from ..latents import LatentCode
from ..models.stylegan2 import Generator
from .degradations import Degradation, parse_task

METHODS = {
    "wplus": "W+ optimisation through the degradation, P_N-space penalty (Image2StyleGAN++ / ILO)",
    "pulse": "Z on the sphere of radius sqrt(z_dim) (PULSE)",
    "dgp": "the 'wplus' fit, then generator fine-tuning through the degradation (Deep Generative Prior)",
}

# Optimisation settings per method (OptimConfig fields over the 'ganlens' preset). The P_N penalty's weight keeps
# mean(v²) near its in-distribution value of 1 without stopping the fit: the reconstruction MSE of a good fit is
# ~1e-3 here, so 1e-3 x (a few units of excess v²) is comparable and no larger.
SETTINGS: dict[str, dict] = {
    "wplus": {"space": "w+", "steps": 300, "lr": 0.1, "pn_reg": 1e-3},
    "pulse": {"space": "z", "sphere": True, "steps": 300, "lr": 0.05, "lr_rampup": 0.0},
}
# DGP's tuning: few steps at a small learning rate and pixel loss only; tuned longer, the generator learns the
# damage itself (noise, blockiness) along with the face.
DGP_TUNING = PTIConfig(tune_steps=100, tune_lr=3e-4, mse=1.0, perceptual=0.0, early_stop=0.0)


@dataclass
class RestoreResult:
    """What `restore` returns.

    Attributes:
        code: the codes found ('w+' or 'z').
        restored: uint8 [N, R, R, 3], the clean images the prior proposes.
        observed: uint8 [N, r, r, 3], what was fitted (after the degradation's own clean-up, e.g. a zeroed hole).
        task: the degradation's task string. method: 'wplus', 'pulse' or 'dgp'.
        loss: final data-fit loss per image [N]. seconds: wall time.
        deltas: for 'dgp', one synthesis-weight delta per image (see `generator`); else None.
    """

    code: LatentCode
    restored: np.ndarray
    observed: np.ndarray
    task: str
    method: str
    loss: np.ndarray
    seconds: float
    deltas: list[dict[str, torch.Tensor]] | None = None
    config: dict = field(default_factory=dict)

    def generator(self, G: Generator, i: int) -> Generator:
        """The generator that renders image i (G itself, or for 'dgp' a copy with image i's tuned weights)."""
        return G if self.deltas is None else apply_delta(G, self.deltas[i])

    def __repr__(self) -> str:
        return (f"RestoreResult({self.task!r} by {self.method!r}: {len(self.restored)} image(s), "
                f"mean loss {float(self.loss.mean()):.4g}, {self.seconds:.1f} s)")


def as_observation(images, size: int, task: str) -> torch.Tensor:
    """uint8 [N, r, r, 3] / [r, r, 3] or float [N, 3, r, r] → float [N, 3, r, r], checked against the size the
    degradation produces."""
    if isinstance(images, np.ndarray):
        if images.dtype != np.uint8:
            raise ShapeError(f"observed images as arrays must be uint8 [N, H, W, 3], got dtype {images.dtype}")
        x = from_uint8(images[None] if images.ndim == 3 else images)
    elif isinstance(images, torch.Tensor):
        x = images.float()
    else:
        raise ShapeError(f"observed images must be a uint8 array or a float tensor, got {type(images).__name__}")
    if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != size or x.shape[3] != size:
        raise ShapeError(f"task {task!r} on this generator observes {size}x{size} RGB images, got shape "
                         f"{list(x.shape)}; load them with ganlens.io.load_image(path, size={size})")
    return x


def restore(
    G: Generator,
    images,
    degradation: Degradation | str,
    method: str = "wplus",
    tuning: PTIConfig | None = None,
    progress: bool = False,
    **overrides,
) -> RestoreResult:
    """Restore damaged images with G as the prior.

    Args:
        G: the generator.
        images: the observations: uint8 [N, r, r, 3] (or one [r, r, 3]) or float [N, 3, r, r] in [-1, 1], where r
            is the size the degradation makes of G's resolution (e.g. R/4 for "sr:4").
        degradation: a `Degradation` or a task string ("sr:4", "colorize", "denoise:0.1", "inpaint:RECT",
            "blur:1.5", joined with '+').
        method: 'wplus', 'pulse' or 'dgp' (see `METHODS`).
        tuning: for 'dgp', the generator-tuning settings (default `DGP_TUNING`).
        progress: progress bars.
        **overrides: OptimConfig fields for the latent search (e.g. ``steps=500, pn_reg=0``).
    Raises:
        InputError: unknown method or task; ShapeError: observations of the wrong size.
    Example:
        >>> G = ganlens.load("synthfaces64")
        >>> small = ganlens.restore.Downsample(4).simulate(G.synthesize(G.sample(1, seed=3)))
        >>> res = ganlens.restore.restore(G, small, "sr:4", steps=200)
    """
    if method not in METHODS:
        raise InputError(f"unknown restoration method {method!r}; choose one of: "
                         + "; ".join(f"{k} ({v})" for k, v in METHODS.items()))
    deg = parse_task(degradation, G.img_resolution) if isinstance(degradation, str) else degradation
    if not isinstance(deg, Degradation):
        raise InputError(f"degradation must be a task string or a Degradation, got {type(deg).__name__}")
    t0 = time.perf_counter()
    size = deg.output_size(G.img_resolution)
    observed = deg.align_observed(as_observation(images, size, deg.spec()).to(G.device))
    settings = {**SETTINGS["pulse" if method == "pulse" else "wplus"], **overrides}
    if settings["space"] not in G.spaces:
        raise InputError(f"method {method!r} searches {settings['space'].upper()} but the {G.architecture} generator "
                         f"{G.name!r} has only {', '.join(G.spaces)}: use method='pulse' (Z)")
    cfg: OptimConfig = preset("ganlens", **settings)
    fit = project(G, observed, cfg, progress=progress, degradation=deg)
    deltas = None
    loss = fit.loss
    if method == "dgp":
        tune = tuning or DGP_TUNING
        deltas, losses = [], []
        ws = G.ws_of(fit.code).detach()
        for i in range(len(observed)):
            delta, _, final = tune_generator(G, observed[i : i + 1], ws[i : i + 1], tune, degradation=deg,
                                             progress=progress)
            deltas.append(delta)
            losses.append(final)
        loss = np.array(losses)
    code = LatentCode(fit.code.space, fit.code.tensor, noise=fit.code.noise,
                      meta={**fit.code.meta, "method": f"restore-{method}", "task": deg.spec()})
    with torch.no_grad():
        if deltas is None:
            restored = G.render(code)
        else:
            restored = np.concatenate([apply_delta(G, d).render(code[i]) for i, d in enumerate(deltas)])
    return RestoreResult(code, restored, to_uint8(observed), deg.spec(), method, np.asarray(loss),
                         time.perf_counter() - t0, deltas, {"search": fit.config})
