"""Pivotal Tuning Inversion (Roich et al. 2022): invert to a pivot w, then tune the generator around it.

Stage 1 finds a pivot in W (the paper's projector: 450 steps, peak lr 0.01, w_avg from 600 samples). Stage 2
fine-tunes a copy of the synthesis network's weights (350 Adam steps, loss MSE + perceptual) so that G'(pivot)
reproduces the image, optionally with the locality regulariser (codes sampled around the pivot must render as
before). The tuning settings come as named recipes (`PTI_RECIPES`): the paper's (lr 3e-4, both weights 1, early
stop once the perceptual distance is small) and ganlens' default, which fits much closer here (see `PTI_RECIPES`).

What is kept per image is the *difference* of the tuned weights from the original (fp16, only the synthesis
tensors, which are all that change), saved beside the latent — not a full generator per image.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from ..errors import CheckpointError, GanlensError
from ..io.tensorfile import read_tensor_file, write_tensor_file
from ..latents import LatentCode, broadcast_w
from ..models.stylegan2 import Generator
from .losses import ReconstructionLoss
from .optimize import InversionResult, OptimConfig, as_target_tensor, preset, project

DELTA_FORMAT = "ganlens.pti-delta"


# Tuning recipes: PTIConfig fields. The paper's weights were set against LPIPS; the MobileNetV2 feature distance
# used offline is several times larger relative to the pixel MSE at a pivot, so at weight 1 (and lr 3e-4) the tuned
# images stay blurred. Measured on 10 held-out renders from the same 450-step pivots (25.6 dB), PSNR / feature
# distance after tuning: 'paper' 32.6 dB / 0.077 (early-stopped after 191 steps on average), 'ganlens' (weight 0.1,
# lr 1e-3, all 350 steps) 39.5 dB / 0.019, 'pixel' (MSE only) 41.3 dB / 0.086: the small perceptual weight costs
# ~2 dB and cuts the feature distance more than fourfold. results/inversion.json has the 200-render figures.
PTI_RECIPES: dict[str, dict] = {
    "ganlens": {"tune_lr": 1e-3, "mse": 1.0, "perceptual": 0.1, "early_stop": 0.0},
    "paper": {"tune_lr": 3e-4, "mse": 1.0, "perceptual": 1.0, "early_stop": 0.06},
    "pixel": {"tune_lr": 1e-3, "mse": 1.0, "perceptual": 0.0, "early_stop": 0.0},
}


@dataclass
class PTIConfig:
    """PTI settings (defaults: the 'ganlens' recipe of `PTI_RECIPES`; `pti_recipe('paper')` gives the paper's).

    Args:
        pivot: the pivot's OptimConfig or preset name ('pti-pivot': W, 450 steps, lr 0.01, noise maps).
        pivot_steps: override the pivot's steps (None: the config's).
        tune_steps, tune_lr: generator tuning steps and Adam learning rate.
        mse, perceptual: tuning loss weights; perceptual_net the distance ('mobilenet' offline default).
        early_stop: stop tuning an image once its perceptual distance is at most this (the paper: LPIPS 0.06).
            The MobileNetV2 feature distance has its own scale: on synthfaces64 renders 0.06 is reached near
            33 dB PSNR after 80-230 steps; 0 disables early stopping.
        locality: weight of the locality regulariser (0: off, the paper's default); locality_alpha: distance of
            the regularising codes from the pivot, in units of the typical |w − w_avg|.
    """

    pivot: OptimConfig | str = "pti-pivot"
    pivot_steps: int | None = None
    tune_steps: int = 350
    tune_lr: float = PTI_RECIPES["ganlens"]["tune_lr"]
    mse: float = PTI_RECIPES["ganlens"]["mse"]
    perceptual: float = PTI_RECIPES["ganlens"]["perceptual"]
    perceptual_net: str = "mobilenet"
    early_stop: float = PTI_RECIPES["ganlens"]["early_stop"]
    locality: float = 0.0
    locality_alpha: float = 1.0
    seed: int = 0


def pti_recipe(name: str = "ganlens", **overrides) -> PTIConfig:
    """PTIConfig of a named recipe ('ganlens', 'paper' or 'pixel') with further fields overridden.

    Raises:
        GanlensError: unknown recipe name.
    """
    if name not in PTI_RECIPES:
        raise GanlensError(f"unknown PTI recipe {name!r}; choose one of {sorted(PTI_RECIPES)}")
    return PTIConfig(**{**PTI_RECIPES[name], **overrides})


@dataclass
class PTIResult:
    """Pivots (LatentCode 'w'), one weight delta per image, and the tuning record."""

    code: LatentCode
    deltas: list[dict[str, torch.Tensor]]
    pivot: InversionResult
    tune_steps: list[int]
    loss: np.ndarray
    seconds: float
    config: dict

    def generator(self, G: Generator, i: int) -> Generator:
        """A copy of G with image i's tuned weights."""
        return apply_delta(G, self.deltas[i])

    def render(self, G: Generator) -> np.ndarray:
        """uint8 reconstructions [N, R, R, 3], each with its own tuned generator."""
        return np.concatenate([self.generator(G, i).render(self.code[i]) for i in range(len(self.code))])

    def __repr__(self) -> str:
        return f"PTIResult({self.code!r}, tune steps {self.tune_steps}, {self.seconds:.1f} s)"


def _tuned_names(G: Generator) -> list[str]:
    # Only the synthesis network sees the pivot w; the mapping network gets no gradient, so it is not tuned.
    return [name for name, _ in G.named_parameters() if name.startswith("synthesis.")]


def make_delta(G: Generator, tuned: Generator) -> dict[str, torch.Tensor]:
    """fp16 differences tuned − G for every tuned tensor."""
    base = dict(G.named_parameters())
    new = dict(tuned.named_parameters())
    return {k: (new[k].detach().float() - base[k].detach().float()).half().cpu() for k in _tuned_names(G)}


def apply_delta(G: Generator, delta: dict[str, torch.Tensor]) -> Generator:
    """A copy of G with `delta` added to its weights (G itself is unchanged).

    Raises:
        CheckpointError: the delta names a tensor G lacks or has another shape (it was made for another model).
    """
    tuned = copy.deepcopy(G)
    params = dict(tuned.named_parameters())
    with torch.no_grad():
        for k, d in delta.items():
            if k not in params or params[k].shape != d.shape:
                got = list(params[k].shape) if k in params else "missing"
                raise CheckpointError(f"PTI delta does not fit generator {G.name!r}: {k} is {got}, delta is {list(d.shape)}")
            params[k].add_(d.to(params[k].device, torch.float32))
    return tuned


def save_delta(delta: dict[str, torch.Tensor], path: str | Path, meta: dict | None = None) -> Path:
    """Write a delta as .safetensors (fp16) with a JSON header (generator name, tuning record); atomic."""
    return write_tensor_file(path, delta, {"format": DELTA_FORMAT, "version": 1, **(meta or {})})


def load_delta(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a delta written by `save_delta`: (tensors, header document)."""
    doc, tensors = read_tensor_file(path, DELTA_FORMAT, "PTI delta")
    return tensors, doc


def _tune_one(G: Generator, target: torch.Tensor, pivot_ws: torch.Tensor, cfg: PTIConfig, loss_fn: ReconstructionLoss,
              reg_codes: torch.Tensor | None, progress: bool, degradation: Callable | None = None
              ) -> tuple[Generator, int, float]:
    observe = degradation or (lambda img: img)
    tuned = copy.deepcopy(G).train(False)
    names = set(_tuned_names(G))
    params = [p for n, p in tuned.named_parameters() if n in names]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=cfg.tune_lr)
    prepared = loss_fn.prepare(target)
    steps = 0
    bar = tqdm(total=cfg.tune_steps, disable=not progress, desc="pti tune", unit="step", leave=False)
    while steps < cfg.tune_steps:
        steps += 1
        parts = loss_fn.components(observe(tuned.synthesis(pivot_ws, noise_mode="const")), prepared)
        loss = loss_fn.weighted(parts).sum()
        if reg_codes is not None and cfg.locality > 0:
            with torch.no_grad():
                ref = loss_fn.prepare(G.synthesis(reg_codes, noise_mode="const"))
            loss = loss + cfg.locality * loss_fn(tuned.synthesis(reg_codes, noise_mode="const"), ref).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bar.update(1)
        if "perceptual" in parts and float(parts["perceptual"].detach().max()) <= cfg.early_stop:
            break
    bar.close()
    tuned.requires_grad_(False)
    with torch.no_grad():
        final = float(loss_fn(observe(tuned.synthesis(pivot_ws, noise_mode="const")), prepared).mean())
    return tuned, steps, final


def tune_generator(G: Generator, target: torch.Tensor, ws: torch.Tensor, config: PTIConfig | None = None,
                   degradation: Callable[[torch.Tensor], torch.Tensor] | None = None, progress: bool = False
                   ) -> tuple[dict[str, torch.Tensor], int, float]:
    """PTI's second stage on its own: tune a copy of G's synthesis weights so that ``degradation(G'(ws))`` matches
    one target (DGP's generator fine-tuning when a degradation is given).

    Args:
        G: the generator (unchanged). target: [1, 3, r, r] in [-1, 1], an observation of the degradation's kind.
        ws: the pivot [1, num_ws, w_dim]. config: tuning settings (its pivot fields are not used).
    Returns:
        (weight delta for `apply_delta`, steps run, final loss).
    """
    cfg = config or PTIConfig()
    loss_fn = ReconstructionLoss(mse=cfg.mse, perceptual=cfg.perceptual, perceptual_net=cfg.perceptual_net).to(G.device)
    tuned, steps, final = _tune_one(G, target.to(G.device), ws.to(G.device), cfg, loss_fn, None, progress, degradation)
    return make_delta(G, tuned), steps, final


def invert_pti(G: Generator, images, config: PTIConfig | None = None, progress: bool = False, **pivot_overrides
               ) -> PTIResult:
    """PTI on a batch: pivots optimised together, then one tuned generator (as a delta) per image.

    Args:
        G: the generator (unchanged).
        images: uint8 [N, R, R, 3] or float [N, 3, R, R] in [-1, 1].
        config: PTIConfig (None: the 'ganlens' recipe).
        **pivot_overrides: OptimConfig fields for the pivot (e.g. ``batch_size=8``).
    """
    cfg = config or PTIConfig()
    t0 = time.perf_counter()
    pivot_cfg = preset(cfg.pivot) if isinstance(cfg.pivot, str) else cfg.pivot
    if cfg.pivot_steps is not None:
        pivot_overrides.setdefault("steps", cfg.pivot_steps)
    if pivot_cfg.space != "w":
        raise GanlensError(f"PTI pivots live in W; the pivot config has space {pivot_cfg.space!r}")
    targets = as_target_tensor(images, G.img_resolution).to(G.device)
    pivot = project(G, targets, pivot_cfg, progress=progress, **pivot_overrides)
    pivots = LatentCode("w", pivot.code.tensor, meta={"method": "pti", "model": G.name})
    loss_fn = ReconstructionLoss(mse=cfg.mse, perceptual=cfg.perceptual, perceptual_net=cfg.perceptual_net).to(G.device)
    reg = None
    if cfg.locality > 0:
        with torch.no_grad():
            typical = float((G.mapping(G.sample_z(1000, seed=cfg.seed + 5))[:, 0] - G.w_avg).norm(dim=1).mean())
    deltas, steps, losses = [], [], []
    for i in range(len(targets)):
        ws = G.ws_of(pivots[i]).detach()
        if cfg.locality > 0:
            with torch.no_grad():
                w_z = G.mapping(G.sample_z(1, seed=cfg.seed + 100 + i))[:, 0].to(G.device)
                direction = w_z - ws[:, 0]
                w_r = ws[:, 0] + cfg.locality_alpha * typical * direction / direction.norm(dim=1, keepdim=True)
                reg = broadcast_w(w_r, G.num_ws)
        tuned, n, final = _tune_one(G, targets[i : i + 1], ws, cfg, loss_fn, reg, progress)
        deltas.append(make_delta(G, tuned))
        steps.append(n)
        losses.append(final)
    doc = {k: (v if not isinstance(v, OptimConfig) else asdict(v)) for k, v in asdict(cfg).items()}
    pivots.meta.update({"pti": doc, "tune_steps": steps})
    return PTIResult(pivots, deltas, pivot, steps, np.array(losses), time.perf_counter() - t0, doc)
