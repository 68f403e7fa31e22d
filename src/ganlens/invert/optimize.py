"""Optimisation-based inversion: find the code whose image matches a target, by gradient descent through G.

Spaces Z, W, W+ and W+ with per-layer noise maps (Image2StyleGAN / Image2StyleGAN++); initialisation from w_avg,
random restarts or a given code (an encoder's prediction: see `hybrid`); Adam with a learning-rate ramp or
L-BFGS; NVIDIA's projector recipe as the preset ``nvidia``; the P_N-space regulariser as an option. Many images
are inverted together: each image has its own parameters and its own loss term, so batching changes speed, not
results (with Adam; L-BFGS shares its line search across the batch).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..errors import GanlensError, LatentError
from ..io.images import from_uint8
from ..latents import LatentCode, broadcast_w
from ..models.layers import seeded_normal
from ..models.stylegan2 import Generator
from .losses import ReconstructionLoss, Target, as_mask_tensor

OPTIM_SPACES = ("z", "w", "w+")


@dataclass
class OptimConfig:
    """Everything that defines an optimisation run (saved into the result's metadata).

    Args:
        space: 'z', 'w' or 'w+'. noise: also optimise per-layer noise maps (Image2StyleGAN++).
        steps: optimiser iterations. optimizer: 'adam' or 'lbfgs'. lr: peak learning rate (L-BFGS: its step size).
        lr_rampup, lr_rampdown: fractions of the run spent ramping the lr up linearly / down on a cosine.
        latent_noise: std of the noise added to the code, as a fraction of w's spread, decaying as
            max(0, 1 − t/latent_noise_ramp)² (NVIDIA's exploration noise; 0 disables).
        noise_reg: weight of the multi-scale autocorrelation penalty on noise maps (keeps them noise-like).
        pn_reg: weight of the P_N-space norm penalty (keeps codes in distribution; see `PNSpace`).
        layer_reg: weight of the layer-spread penalty of W+ codes (`layer_spread`): e4e's idea of keeping W+
            codes near W, where the generator was trained and directions found in W still edit.
        sphere: keep Z codes on the sphere of radius sqrt(z_dim) after every step (PULSE's constraint: almost all
            of a high-dimensional Gaussian's mass lies near that sphere, so codes there stay in distribution).
        mse, l1, perceptual, attribute: loss weights; perceptual_net 'mobilenet' or 'lpips'; perceptual_size the
            resolution the perceptual network sees (None: native).
        init: 'w_avg' or 'random' (a code given to `project` overrides it). restarts: independent starts per
            image (the first from `init`, the others from random w), the best final loss wins.
        w_avg_samples: estimate w_avg (and w's spread) from this many z draws instead of the tracked w_avg.
        batch_size: images optimised together (on 2 CPU cores 4-8 run fastest per image: larger batches leave the
            cache; results/invert_speed-cpu.json). precision: 'fp32' or 'bf16' (CPU/GPU autocast; faster, ~1 dB less).
        seed: seeds noise maps, random starts and exploration noise.
        extra: objects that are not settings; ``extra['scorer']`` is the scorer of the attribute term (anything
            with a differentiable ``score_tensor(images) -> [N, A]``, e.g. ``ganlens.scorers.load_scorer(...)``).
    """

    space: str = "w+"
    noise: bool = False
    steps: int = 300
    optimizer: str = "adam"
    lr: float = 0.1
    betas: tuple[float, float] = (0.9, 0.999)
    lr_rampup: float = 0.05
    lr_rampdown: float = 0.25
    latent_noise: float = 0.0
    latent_noise_ramp: float = 0.75
    noise_reg: float = 1e5
    pn_reg: float = 0.0
    layer_reg: float = 0.0
    sphere: bool = False
    mse: float = 1.0
    l1: float = 0.0
    perceptual: float = 0.0
    perceptual_net: str = "mobilenet"
    perceptual_size: int | None = None
    lpips_trunk: str | None = None
    attribute: float = 0.0
    init: str = "w_avg"
    restarts: int = 1
    w_avg_samples: int | None = None
    batch_size: int = 8
    precision: str = "fp32"
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def validate(self) -> "OptimConfig":
        """Raise GanlensError naming the first field that is out of range."""
        checks = [
            (self.space in OPTIM_SPACES, f"space must be one of {OPTIM_SPACES}, got {self.space!r}"),
            (self.optimizer in ("adam", "lbfgs"), f"optimizer must be 'adam' or 'lbfgs', got {self.optimizer!r}"),
            (self.steps >= 1, f"steps must be >= 1, got {self.steps}"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (self.init in ("w_avg", "random"), f"init must be 'w_avg' or 'random', got {self.init!r}"),
            (self.restarts >= 1, f"restarts must be >= 1, got {self.restarts}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.precision in ("fp32", "bf16"), f"precision must be 'fp32' or 'bf16', got {self.precision!r}"),
            (not (self.noise and self.space == "z"), "noise maps are optimised with W or W+ codes, not Z"),
            (self.layer_reg >= 0, f"layer_reg must be >= 0, got {self.layer_reg}"),
            (self.layer_reg == 0 or self.space == "w+",
             f"layer_reg penalises the layer spread of W+ codes; with space={self.space!r} set it to 0"),
            (not self.sphere or self.space == "z", f"sphere constrains Z codes; with space={self.space!r} set it off"),
            (not self.sphere or self.optimizer == "adam", "sphere projection runs between Adam steps; use optimizer='adam'"),
            (0 <= self.lr_rampup < 1 and 0 <= self.lr_rampdown < 1, "lr_rampup and lr_rampdown are fractions in [0, 1)"),
        ]
        for ok, msg in checks:
            if not ok:
                raise GanlensError(f"invalid inversion config: {msg}")
        return self


PRESETS: dict[str, OptimConfig] = {
    # ganlens' default: W+ from w_avg, pixel MSE, Adam at 0.1 with NVIDIA's ramps. On synthfaces64 renders
    # (150 steps) a 0.1 perceptual term cost 40 % more time and about 1.5 dB PSNR; add it with perceptual=...
    "ganlens": OptimConfig(space="w+", steps=300, lr=0.1, mse=1.0),
    # stylegan2-ada-pytorch projector.py: one w (W) from w_avg of 10,000 z; 1000 Adam steps at lr 0.1 with a 5 %
    # linear ramp-up and a 25 % cosine ramp-down; exploration noise w_std·0.05·max(0, 1 − t/0.75)²; noise maps
    # optimised with the autocorrelation penalty (1e5) and re-normalised every step; a perceptual loss only, on
    # images seen at 256 px (their VGG16-LPIPS features; here the configured perceptual distance).
    "nvidia": OptimConfig(space="w", noise=True, steps=1000, lr=0.1, lr_rampup=0.05, lr_rampdown=0.25,
                          latent_noise=0.05, latent_noise_ramp=0.75, noise_reg=1e5, mse=0.0, perceptual=1.0,
                          perceptual_size=256, w_avg_samples=10_000),
    # Image2StyleGAN++: W+ and noise maps together.
    "w+noise": OptimConfig(space="w+", noise=True, steps=300, lr=0.1, mse=1.0),
    # ganlens with the layer-spread penalty: W+ codes that stay near W and still edit along W directions. On 200
    # synthfaces64 renders: see docs/inversion.md (editability vs layer_reg).
    "editable": OptimConfig(space="w+", steps=300, lr=0.1, mse=1.0, layer_reg=0.03),
    # PTI's pivot: a W projection of 450 steps, peak lr 0.01, w_avg from 600 samples, otherwise NVIDIA's recipe.
    "pti-pivot": OptimConfig(space="w", noise=True, steps=450, lr=0.01, latent_noise=0.05, noise_reg=1e5, mse=0.0,
                             perceptual=1.0, w_avg_samples=600),
}


def preset(name: str, **overrides) -> OptimConfig:
    """A copy of a named preset ('ganlens', 'editable', 'nvidia', 'w+noise', 'pti-pivot') with fields overridden."""
    if name not in PRESETS:
        raise GanlensError(f"unknown inversion preset {name!r}; choose one of {sorted(PRESETS)}")
    unknown = set(overrides) - set(OptimConfig.__dataclass_fields__)
    if unknown:
        raise GanlensError(f"unknown OptimConfig fields {sorted(unknown)}")
    return replace(PRESETS[name], **overrides).validate()


@dataclass
class InversionResult:
    """What an inversion returns.

    Attributes:
        code: the codes found (space of the config; noise maps attached when they were optimised).
        loss: final reconstruction loss per image [N].
        history: reconstruction loss per step and image [steps, N] (L-BFGS: per function evaluation).
        seconds: wall time of the whole call.
        config: the settings used (dict).
    """

    code: LatentCode
    loss: np.ndarray
    history: np.ndarray
    seconds: float
    config: dict

    def __repr__(self) -> str:
        return (f"InversionResult({self.code!r}, mean loss {float(self.loss.mean()):.4g}, "
                f"{self.history.shape[0]} steps, {self.seconds:.1f} s)")


@torch.no_grad()
def w_stats(G: Generator, n: int | None = None, seed: int = 123) -> tuple[torch.Tensor, float]:
    """w_avg [w_dim] and the spread w_std = sqrt(E|w − w_avg|²) (from n z draws; n=None uses G's tracked w_avg
    for the mean and 2,000 draws for the spread)."""
    m = n or 2000
    ws = torch.cat([G.mapping(G.sample_z(min(5000, m - i), seed + i))[:, 0] for i in range(0, m, 5000)])
    avg = ws.mean(0) if n else G.w_avg.detach().float().clone()
    std = float((ws - avg).square().sum(1).mean().sqrt())
    return avg, std


class PNSpace:
    """P_N space (Zhu et al. 2020): x = LeakyReLU_5(w) undoes the mapping's last leaky ReLU, v = Λ⁻¹ Cᵀ (x − μ)
    whitens it with a PCA of sampled x. In distribution, v is about standard normal, so mean(v²) ≈ 1; penalising
    it keeps inverted codes where the generator was trained."""

    def __init__(self, mean: torch.Tensor, components: torch.Tensor, scales: torch.Tensor) -> None:
        self.mean, self.components, self.scales = mean, components, scales

    @classmethod
    @torch.no_grad()
    def fit(cls, G: Generator, n: int = 100_000, seed: int = 0) -> "PNSpace":
        """PCA of LeakyReLU_5(w) over n samples (the paper used 10⁶; 10⁵ gives the same top components)."""
        if n <= G.w_dim:
            raise GanlensError(f"P_N needs more samples than w_dim={G.w_dim}, got n={n}")
        xs = torch.cat([F.leaky_relu(G.mapping(G.sample_z(min(10_000, n - i), seed + i))[:, 0], 5.0)
                        for i in range(0, n, 10_000)]).double()
        mean = xs.mean(0)
        cov = (xs - mean).T @ (xs - mean) / (len(xs) - 1)
        evals, evecs = torch.linalg.eigh(cov)  # symmetric: eigh, not eig
        scales = evals.clamp_min(1e-12).sqrt()
        return cls(mean.float(), evecs.float(), scales.float())

    def to_pn(self, w: torch.Tensor) -> torch.Tensor:
        """v = Λ⁻¹ Cᵀ (LeakyReLU_5(w) − μ), for w [..., w_dim]."""
        x = F.leaky_relu(w, 5.0)
        return ((x - self.mean.to(w.device)) @ self.components.to(w.device)) / self.scales.to(w.device)

    def penalty(self, w: torch.Tensor) -> torch.Tensor:
        """mean(v²) per code: w [N, w_dim] or [N, L, w_dim] → [N]."""
        v = self.to_pn(w)
        return v.square().reshape(v.shape[0], -1).mean(dim=1)


def layer_spread(ws: torch.Tensor) -> torch.Tensor:
    """Per code [N]: mean squared deviation of a W+ code's layers [N, L, w_dim] from their own mean (0 for a W code
    broadcast to all layers). Penalising it is e4e's way of trading a little reconstruction for editability."""
    return (ws - ws.mean(dim=1, keepdim=True)).square().mean(dim=(1, 2))


def noise_regularizer(maps: list[torch.Tensor]) -> torch.Tensor:
    """NVIDIA's multi-scale autocorrelation penalty per image [N]: squared one-pixel-shift correlations of every
    noise map, repeated on 2x average-pooled copies down to 8x8 (white noise scores ~0)."""
    total = 0.0
    for m in maps:
        v = m
        while True:
            total = total + (v * torch.roll(v, 1, dims=3)).mean(dim=(1, 2, 3)).square()
            total = total + (v * torch.roll(v, 1, dims=2)).mean(dim=(1, 2, 3)).square()
            if v.shape[2] <= 8:
                break
            v = F.avg_pool2d(v, 2)
    return total


@torch.no_grad()
def _renormalize(maps: list[torch.Tensor]) -> None:
    # Zero mean, unit variance per map and image: the scale of noise is the generator's, not the optimiser's.
    for m in maps:
        m -= m.mean(dim=(1, 2, 3), keepdim=True)
        m *= m.square().mean(dim=(1, 2, 3), keepdim=True).rsqrt()


def lr_schedule(t: float, cfg: OptimConfig) -> float:
    """NVIDIA's schedule at progress t in [0, 1): linear ramp-up, cosine ramp-down, as a factor of cfg.lr."""
    down = min(1.0, (1.0 - t) / cfg.lr_rampdown) if cfg.lr_rampdown > 0 else 1.0
    factor = 0.5 - 0.5 * math.cos(down * math.pi)
    if cfg.lr_rampup > 0:
        factor *= min(1.0, t / cfg.lr_rampup)
    return cfg.lr * factor


def as_target_tensor(images, resolution: int) -> torch.Tensor:
    """uint8 [N, H, W, 3] (or [H, W, 3]) or float [N, 3, H, W] in [-1, 1] → float [N, 3, R, R]; checks the size."""
    if isinstance(images, np.ndarray):
        if images.ndim == 3:
            images = images[None]
        x = from_uint8(images)
    elif isinstance(images, torch.Tensor):
        x = images.float()
    else:
        raise GanlensError(f"images must be a uint8 array [N, H, W, 3] or a tensor [N, 3, H, W], got {type(images).__name__}")
    if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != resolution or x.shape[3] != resolution:
        raise GanlensError(
            f"images must be RGB at the generator's resolution ({resolution}x{resolution}), got shape {list(x.shape)}; "
            "load them with ganlens.io.load_image(path, size=G.img_resolution)"
        )
    return x


def _init_params(G: Generator, cfg: OptimConfig, n: int, init_code: LatentCode | None, w_avg: torch.Tensor,
                 seed: int) -> torch.Tensor:
    """Starting codes for n images × cfg.restarts starts, rows ordered restart-major (image i at i, i+n, ...)."""
    k = cfg.restarts
    dev = G.device
    if cfg.space == "z":
        if init_code is not None:
            if init_code.space != "z":
                raise LatentError(f"a Z inversion starts from a 'z' code, got {init_code.space!r}")
            first = init_code.tensor.to(dev).float()
        else:
            # Z has no mean code (z = 0 is degenerate under the mapping's normalisation): start from seeded draws.
            first = seeded_normal([n, G.z_dim], seed).to(dev)
        rest = [seeded_normal([n, G.z_dim], seed + 1000 + r).to(dev) for r in range(1, k)]
        return torch.cat([first, *rest]).clone()
    if init_code is not None:
        ws = G.ws_of(init_code).detach().float()
        if len(ws) != n:
            raise LatentError(f"init code has {len(ws)} rows for {n} images")
    elif cfg.init == "random":
        ws = G.mapping(seeded_normal([n, G.z_dim], seed).to(dev)).detach()
    else:
        ws = broadcast_w(w_avg.to(dev).reshape(1, -1).repeat(n, 1), G.num_ws)
    starts = [ws]
    for r in range(1, k):
        starts.append(G.mapping(seeded_normal([n, G.z_dim], seed + 1000 + r).to(dev)).detach())
    ws = torch.cat(starts)
    return (ws.mean(dim=1) if cfg.space == "w" else ws).clone()


@torch.no_grad()
def _to_sphere(z: torch.Tensor) -> None:
    z.mul_(math.sqrt(z.shape[-1]) / z.norm(dim=-1, keepdim=True).clamp_min(1e-12))


def _to_ws(G: Generator, space: str, p: torch.Tensor) -> torch.Tensor:
    if space == "z":
        return G.mapping(p)
    if space == "w":
        return broadcast_w(p, G.num_ws)
    return p


def _synth(G: Generator, ws: torch.Tensor, maps: list[torch.Tensor] | None, precision: str) -> torch.Tensor:
    with torch.autocast(ws.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        img = G.synthesis(ws, noise_mode="const", noise=maps)
    return img.float()


def _optimize_chunk(G: Generator, target: Target, cfg: OptimConfig, loss_fn: ReconstructionLoss,
                    init_code: LatentCode | None, w_avg: torch.Tensor, w_std: float, pn: PNSpace | None, seed: int,
                    progress: bool, desc: str, degradation: Callable | None = None) -> tuple[torch.Tensor, list[torch.Tensor] | None, np.ndarray, np.ndarray]:
    n = target.images.shape[0]
    k = cfg.restarts
    tgt = target.repeat(k) if k > 1 else target
    param = _init_params(G, cfg, n, init_code, w_avg, seed)
    if cfg.sphere:
        _to_sphere(param)
    param.requires_grad_(True)
    observe = degradation or (lambda img: img)
    m = param.shape[0]
    gen = torch.Generator().manual_seed(seed)
    maps = None
    if cfg.noise:
        maps = [torch.randn([m, 1, layer.resolution, layer.resolution], generator=gen).to(G.device).requires_grad_(True)
                for _, layer in G.synthesis.noise_layers()]
    params = [param] + (maps or [])
    spread = w_std if cfg.space != "z" else math.sqrt(G.z_dim)
    history: list[np.ndarray] = []

    def objective(step_t: float) -> tuple[torch.Tensor, torch.Tensor]:
        p = param
        if cfg.latent_noise > 0 and cfg.optimizer == "adam":
            scale = spread * cfg.latent_noise * max(0.0, 1.0 - step_t / cfg.latent_noise_ramp) ** 2
            if scale > 0:
                p = p + torch.randn(p.shape, generator=gen).to(p.device) * scale
        img = observe(_synth(G, _to_ws(G, cfg.space, p), maps, cfg.precision))
        rec = loss_fn(img, tgt)
        total = rec
        if maps is not None and cfg.noise_reg > 0:
            total = total + cfg.noise_reg * noise_regularizer(maps)
        if pn is not None and cfg.pn_reg > 0:
            total = total + cfg.pn_reg * pn.penalty(param if cfg.space != "z" else _to_ws(G, "z", param))
        if cfg.layer_reg > 0:
            total = total + cfg.layer_reg * layer_spread(param)
        return total.sum(), rec.detach()

    bar = tqdm(total=cfg.steps, disable=not progress, desc=desc, unit="step", leave=False)
    if cfg.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas)
        for step in range(cfg.steps):
            t = step / cfg.steps
            for group in opt.param_groups:
                group["lr"] = lr_schedule(t, cfg)
            total, rec = objective(t)
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            if maps is not None:
                _renormalize(maps)
            if cfg.sphere:
                _to_sphere(param)
            history.append(rec.cpu().numpy())
            bar.update(1)
            bar.set_postfix(loss=f"{float(rec.mean()):.4g}")
    else:
        # One L-BFGS run of cfg.steps iterations; noise maps are penalised but not re-normalised (that would
        # invalidate the curvature pairs L-BFGS keeps).
        opt = torch.optim.LBFGS(params, lr=cfg.lr, max_iter=cfg.steps, history_size=20, line_search_fn="strong_wolfe",
                                tolerance_grad=1e-10, tolerance_change=1e-12)

        def closure() -> torch.Tensor:
            opt.zero_grad(set_to_none=True)
            total, rec = objective(1.0)
            total.backward()
            history.append(rec.cpu().numpy())
            bar.update(1)
            return total

        opt.step(closure)
    bar.close()

    with torch.no_grad():
        final = loss_fn(observe(_synth(G, _to_ws(G, cfg.space, param), maps, cfg.precision)), tgt).cpu()
    # Best restart per image (rows restart-major).
    best = final.reshape(k, n).argmin(dim=0)
    rows = best * n + torch.arange(n)
    code = param.detach()[rows]
    kept_maps = None if maps is None else [mp.detach()[rows] for mp in maps]
    hist = np.stack(history).reshape(len(history), k, n)[:, best.numpy(), np.arange(n)]
    return code, kept_maps, final.reshape(k, n)[best, torch.arange(n)].numpy(), hist


def project(
    G: Generator,
    images,
    config: OptimConfig | str | None = None,
    init_code: LatentCode | None = None,
    progress: bool = False,
    mask=None,
    degradation: Callable[[torch.Tensor], torch.Tensor] | None = None,
    **overrides,
) -> InversionResult:
    """Invert images by optimisation.

    Args:
        G: the generator (its weights are not changed).
        images: uint8 [N, R, R, 3] or float [N, 3, R, R] in [-1, 1], at G's resolution.
        config: an `OptimConfig`, a preset name (see `PRESETS`), or None for the 'ganlens' preset.
        init_code: start from these codes (one per image; e.g. an encoder's prediction) instead of `config.init`.
        progress: show a progress bar.
        mask: fit only these pixels ([R, R] for all images or [N, R, R]; 1 = counts, 0 = ignored): masked
            inversion / inpainting (Image2StyleGAN++). The generator fills what the mask leaves out.
        degradation: fit ``degradation(G(code))`` to the images, which are then observations of that kind (e.g.
            smaller for a downsampling): inversion through a known damage, see `ganlens.restore`. A callable on
            [N, 3, R, R] tensors; with `output_size(R)` and `align_observed(y)` when it changes size or
            discards pixels (`ganlens.restore.degradations`).
        **overrides: OptimConfig fields to change (e.g. ``steps=500, space='w'``).
    Returns:
        InversionResult with a LatentCode in `config.space` (noise maps attached when optimised).
    Example:
        >>> G = ganlens.load("random-tiny")
        >>> res = project(G, G.render(G.sample(2, seed=1)), "ganlens", steps=50)
    """
    cfg = preset(config or "ganlens", **overrides) if not isinstance(config, OptimConfig) else replace(config, **overrides).validate()
    G.check_space(cfg.space)  # e.g. PGGAN has Z only: say so before any work
    t0 = time.perf_counter()
    size = G.img_resolution if degradation is None else getattr(degradation, "output_size", lambda r: r)(G.img_resolution)
    target_all = as_target_tensor(images, size).to(G.device)
    if degradation is not None and hasattr(degradation, "align_observed"):
        target_all = degradation.align_observed(target_all)
    mask_all = None if mask is None else as_mask_tensor(mask, len(target_all), size).to(G.device)
    if init_code is not None and len(init_code) != len(target_all):
        raise LatentError(f"init_code has {len(init_code)} codes for {len(target_all)} images")
    loss_fn = ReconstructionLoss(mse=cfg.mse, l1=cfg.l1, perceptual=cfg.perceptual, attribute=cfg.attribute,
                                 perceptual_net=cfg.perceptual_net, perceptual_size=cfg.perceptual_size,
                                 scorer=cfg.extra.get("scorer"), lpips_trunk=cfg.lpips_trunk).to(G.device)
    if cfg.w_avg_samples or cfg.latent_noise > 0:
        w_avg, w_std = w_stats(G, cfg.w_avg_samples)
    else:
        w_avg, w_std = G.w_avg.detach().float(), 0.0
    pn = PNSpace.fit(G) if cfg.pn_reg > 0 else None
    codes, noises, losses, hists = [], [], [], []
    was_training = G.training
    G.eval()
    grad_state = [p.requires_grad for p in G.parameters()]
    G.requires_grad_(False)  # gradients flow to the codes only
    try:
        for i in range(0, len(target_all), cfg.batch_size):
            chunk = target_all[i : i + cfg.batch_size]
            target = loss_fn.prepare(chunk, None if mask_all is None else mask_all[i : i + cfg.batch_size])
            part = None if init_code is None else init_code[i : i + cfg.batch_size]
            c, nz, fl, h = _optimize_chunk(G, target, cfg, loss_fn, part, w_avg, w_std, pn, cfg.seed + i, progress,
                                           desc=f"invert {cfg.space}{'+noise' if cfg.noise else ''} [{i}:{i + len(chunk)}]",
                                           degradation=degradation)
            codes.append(c)
            noises.append(nz)
            losses.append(fl)
            hists.append(h)
    finally:
        for p, g in zip(G.parameters(), grad_state):
            p.requires_grad_(g)
        G.train(was_training)
    noise = None if noises[0] is None else [torch.cat(parts) for parts in zip(*noises)]
    cfg_doc = {k: v for k, v in asdict(cfg).items() if k != "extra"}
    steps = min(h.shape[0] for h in hists)
    history = np.concatenate([h[:steps] for h in hists], axis=1)
    code = LatentCode(cfg.space, torch.cat(codes).cpu(), noise=None if noise is None else [n.cpu() for n in noise],
                      meta={"method": "optim", "model": G.name, "config": cfg_doc})
    return InversionResult(code, np.concatenate(losses), history, time.perf_counter() - t0, cfg_doc)
