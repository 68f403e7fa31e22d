"""StyleGAN2 training: non-saturating logistic loss, lazy R1, optional lazy path-length regularisation, style
mixing, G_ema; resumable, time-boxed.

The loop keeps one full training state (`state/`: G, D, G_ema, both optimisers, progress) replaced atomically at
every snapshot, and every G_ema snapshot as a native checkpoint, so a run killed at any moment loses at most the
work since the last snapshot, and a bad late snapshot never costs the earlier ones.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import shutil
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..errors import CheckpointError, GanlensError
from ..io.files import atomic_write_json
from ..io.images import make_grid, save_image, to_uint8
from ..models.discriminator import Discriminator
from ..models.layers import reference_ops
from ..models.native import save_generator
from ..models.precision import bf16_is_fast, cpu_has_bf16, cpu_model
from ..models.stylegan2 import Generator
from .threads import restores_thread_count
from .widen import widen_discriminator

STATE_PARTS = ("G", "D", "G_ema", "G_opt", "D_opt", "progress")


@dataclass
class TrainConfig:
    """Everything that defines a run; saved beside the outputs and restored on resume."""

    data: str
    out: str
    z_dim: int = 128
    w_dim: int = 128
    mapping_layers: int = 8
    channel_base: int = 8192
    channel_max: int = 128
    # The discriminator's widths (None: G's). D is not shipped, so widening it costs training time, not synthesis.
    d_channel_base: int | None = None
    d_channel_max: int | None = None
    batch: int = 32
    lr: float = 0.0025
    betas: tuple[float, float] = (0.0, 0.99)
    r1_gamma: float = 0.1
    r1_interval: int = 16
    # Path-length regularisation (StyleGAN2 §3.2; its paper trains with weight 2): every pl_interval G steps, on a
    # batch pl_batch_shrink times smaller, pull |J_w^T y| towards its running mean. 0 (off) is the recipe the
    # bundled synthfaces64 was trained with.
    pl_weight: float = 0.0
    pl_interval: int = 4
    pl_decay: float = 0.01
    pl_batch_shrink: int = 2
    mixing_prob: float = 0.9
    ema_kimg: float = 10.0
    ema_rampup: float = 0.05
    total_kimg: float = 750.0
    snapshot_kimg: float = 25.0
    max_minutes: float | None = None
    precision: str = "auto"  # auto: bf16 autocast on CUDA and on CPUs with bf16 instructions; fp32 otherwise
    # 'fast': one G forward serves the D step and then the G step, D reads fakes and reals in one pass, networks
    # channels-last, the fast layer ops. 'reference': the step as it was before (a G forward per step, two D
    # passes, NCHW, reference ops), kept so benchmarks/train_step.py can time both in one run.
    step: str = "fast"
    device: str = "cpu"
    threads: int | None = None
    seed: int = 0
    name: str = "synthfaces64"
    init_generator: str | None = None  # start G and G_ema from this native checkpoint (D starts fresh)
    # With init_generator: D-only steps first, so a fresh D does not push the trained G around before it has
    # learnt to tell its samples from real ones. The G_ema ramp-up is also skipped (G_ema starts trained).
    d_warmup_kimg: float = 0.0
    # On resume, when the saved D is narrower than d_channel_base / d_channel_max asks for: widen it without changing
    # what it computes (training/widen.py; a fresh D would sit at chance for ~100 kimg); D's optimiser starts afresh.
    widen_d: bool = False
    extra_provenance: dict = field(default_factory=dict)


def load_training_images(path: str | Path) -> np.ndarray:
    """uint8 images [N, H, W, 3] from a dataset .npz (as written by `ganlens data build`)."""
    path = Path(path)
    if not path.exists():
        raise GanlensError(f"training data not found: {path} (build it with `ganlens data build synthfaces`)")
    with np.load(path, allow_pickle=False) as d:
        if "images" not in d.files:
            raise GanlensError(f"{path} has no 'images' array (keys: {d.files})")
        images = d["images"]
    if images.ndim != 4 or images.dtype != np.uint8 or images.shape[1] != images.shape[2]:
        raise GanlensError(f"{path}: 'images' must be uint8 [N, R, R, C], got {images.dtype} {list(images.shape)}")
    return images


def build_networks(cfg: TrainConfig, resolution: int, channels: int) -> tuple[Generator, Discriminator]:
    G = Generator(
        z_dim=cfg.z_dim, c_dim=0, w_dim=cfg.w_dim, img_resolution=resolution, img_channels=channels,
        mapping_kwargs={"num_layers": cfg.mapping_layers},
        synthesis_kwargs={"channel_base": cfg.channel_base, "channel_max": cfg.channel_max},
    )
    D = Discriminator(c_dim=0, img_resolution=resolution, img_channels=channels,
                      channel_base=cfg.d_channel_base or cfg.channel_base,
                      channel_max=cfg.d_channel_max or cfg.channel_max)
    return G, D


def save_state(state_dir: Path, parts: dict) -> None:
    """Write every part into a fresh folder, then swap it in: the old state survives a crash mid-write."""
    tmp = state_dir.with_name(state_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for k, v in parts.items():
        torch.save(v, tmp / f"{k}.pt")
    old = state_dir.with_name(state_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if state_dir.exists():
        os.replace(state_dir, old)
    os.replace(tmp, state_dir)
    shutil.rmtree(old, ignore_errors=True)


def load_state(state_dir: Path) -> dict | None:
    """The training state saved by `save_state` (or its previous copy after a crash), None when there is none."""
    if not state_dir.exists():
        old = state_dir.with_name(state_dir.name + ".old")
        if not old.exists():
            return None
        state_dir = old  # a crash between the two renames leaves the previous state here
    return {k: torch.load(state_dir / f"{k}.pt", map_location="cpu", weights_only=True) for k in STATE_PARTS}


def d_logistic_loss(d_fake: torch.Tensor, d_real: torch.Tensor) -> torch.Tensor:
    """The discriminator's non-saturating logistic loss: softplus(D(fake)) + softplus(−D(real))."""
    return F.softplus(d_fake).mean() + F.softplus(-d_real).mean()


def r1_penalty(D: torch.nn.Module, real: torch.Tensor, autocast=None) -> torch.Tensor:
    """R1: mean squared norm of D's gradient at the real images (scaled by γ/2 and the lazy interval by the caller).

    `autocast`: a context for D's forward and the double backward through it (NVIDIA's StyleGAN2-ADA runs R1
    through its fp16 layers the same way); the gradient itself and its squared norm stay fp32.
    """
    real = real.detach().requires_grad_(True)
    with autocast or contextlib.nullcontext():
        logits = D(real).float().sum()
    (grad,) = torch.autograd.grad(logits, real, create_graph=True)
    return grad.float().square().sum(dim=[1, 2, 3]).mean()


def path_lengths(G: Generator, z: torch.Tensor, mixing_prob: float) -> torch.Tensor:
    """|J_w^T y| per sample (StyleGAN2's path length), differentiable w.r.t. G's weights.

    y is Gaussian image-space noise scaled by 1/sqrt(H·W), so the length does not grow with the resolution; the
    squared gradient is summed over the w dimensions and averaged over the layers' w's.
    """
    ws = _mixing_ws(G, z, mixing_prob)
    img = G.synthesis(ws, noise_mode="random")
    y = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
    (grad,) = torch.autograd.grad((img * y).sum(), ws, create_graph=True)
    return grad.square().sum(dim=2).mean(dim=1).sqrt()


def path_length_penalty(lengths: torch.Tensor, pl_mean: torch.Tensor, decay: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean squared deviation of `lengths` from their running mean, and the updated running mean."""
    pl_mean = pl_mean.lerp(lengths.detach().mean(), decay)
    return (lengths - pl_mean).square().mean(), pl_mean


def restore(state: dict, **modules) -> None:
    """Load each named module or optimiser from its part of a `load_state` result."""
    for name, module in modules.items():
        try:
            module.load_state_dict(state[name])
        except (RuntimeError, ValueError) as exc:  # shapes of another network width, another parameter count
            raise GanlensError(f"the saved {name} does not fit this run's networks (resume with the options it was "
                               f"trained with, e.g. its --cbase / --cmax / --d-cbase; --widen-d grows a narrower D; "
                               f"or start a new run with --init SNAPSHOT): {' '.join(str(exc).split())[:300]}") from None


def fits(module: torch.nn.Module, saved: dict) -> bool:
    """Whether a saved state dict has exactly `module`'s parameter names and shapes."""
    own = module.state_dict()
    return own.keys() == saved.keys() and all(own[k].shape == saved[k].shape for k in own)


def _mixing_ws(G: Generator, z: torch.Tensor, prob: float) -> torch.Tensor:
    ws = G.mapping(z, update_emas=True)
    if prob > 0 and torch.rand([]).item() < prob:
        cutoff = int(torch.randint(1, G.num_ws, []).item())
        ws2 = G.mapping(torch.randn_like(z), update_emas=False)
        ws = torch.cat([ws[:, :cutoff], ws2[:, cutoff:]], dim=1)
    return ws


def generate(G: Generator, z: torch.Tensor, mixing_prob: float) -> torch.Tensor:
    """Style-mixed fakes with random per-pixel noise, as both training steps see them."""
    return G.synthesis(_mixing_ws(G, z, mixing_prob), noise_mode="random")


def generator_loss(G: Generator, D: Discriminator, z: torch.Tensor, mixing_prob: float) -> torch.Tensor:
    """G's non-saturating logistic loss softplus(−D(G(z))) on style-mixed fakes (run it under the run's autocast)."""
    return F.softplus(-D(generate(G, z, mixing_prob))).mean()


def discriminator_loss(G: Generator, D: Discriminator, z: torch.Tensor, real: torch.Tensor, mixing_prob: float
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """D's logistic loss on detached style-mixed fakes and `real`; returns (loss, D(real), D(fake))."""
    with torch.no_grad():
        fake = generate(G, z, mixing_prob)
    d_fake = D(fake.float())
    d_real = D(real)
    return d_logistic_loss(d_fake, d_real), d_real, d_fake


def paired_logits(D: Discriminator, fake: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """D(fake), D(real) from one pass over both batches, identical to two passes (up to rounding).

    The two batches are interleaved so that every minibatch-std group holds the same samples as it would in a
    pass over that batch alone (groups are samples i, i + N/g, i + 2N/g, ...), so D still never compares a fake
    with a real. Falls back to two passes where the batch does not split into groups.
    """
    n, g = fake.shape[0], D.b4.mbstd.group_size
    if n != real.shape[0] or n < g or n % g:  # a separate pass would use other groups than the fused one
        return D(fake), D(real)
    both = torch.cat([fake.reshape(g, n // g, *fake.shape[1:]), real.reshape(g, n // g, *real.shape[1:])], dim=1)
    both = both.reshape(2 * n, *fake.shape[1:])
    if fake.is_contiguous(memory_format=torch.channels_last):
        both = both.contiguous(memory_format=torch.channels_last)
    logits = D(both).reshape(g, 2, n // g, -1)
    return logits[:, 0].reshape(n, -1), logits[:, 1].reshape(n, -1)


class AdversarialStep:
    """One training iteration (a D step with lazy R1, a G step with lazy path-length regularisation) on given
    networks and optimisers; the loop and benchmarks/train_step.py both run it."""

    def __init__(self, cfg: TrainConfig, G: Generator, D: Discriminator, G_opt: torch.optim.Optimizer,
                 D_opt: torch.optim.Optimizer, device: torch.device, use_bf16: bool) -> None:
        if cfg.step not in ("fast", "reference"):
            raise GanlensError(f"step must be 'fast' or 'reference', got {cfg.step!r}")
        self.cfg, self.G, self.D, self.G_opt, self.D_opt = cfg, G, D, G_opt, D_opt
        self.device, self.use_bf16 = device, use_bf16
        self.pl_mean = torch.zeros([], device=device)
        layout = torch.channels_last if cfg.step == "fast" else torch.contiguous_format
        G.to(memory_format=layout)
        D.to(memory_format=layout)

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.use_bf16)

    def __call__(self, real: torch.Tensor, step: int, g_moves: bool = True) -> dict[str, torch.Tensor]:
        """Run one iteration at loop counter `step` (it decides the lazy regularisers); returns detached stats."""
        ops = contextlib.nullcontext() if self.cfg.step == "fast" else reference_ops()
        with ops:
            if self.cfg.step == "fast":
                return self._fast(real, step, g_moves)
            return self._reference(real, step, g_moves)

    def _z(self) -> torch.Tensor:
        return torch.randn([self.cfg.batch, self.G.z_dim], device=self.device)

    def _fast(self, real: torch.Tensor, step: int, g_moves: bool) -> dict[str, torch.Tensor]:
        cfg, G, D = self.cfg, self.G, self.D
        stats: dict[str, torch.Tensor] = {}
        G.requires_grad_(g_moves)
        with self.autocast(), torch.set_grad_enabled(g_moves):
            fake = generate(G, self._z(), cfg.mixing_prob)
        stats.update(self._d_step(fake.detach(), real, step, lambda f, r: paired_logits(D, f, r)))
        if g_moves:
            D.requires_grad_(False)
            with self.autocast():
                loss_G = F.softplus(-D(fake)).mean()
            self._g_update(loss_G, step, stats)
        return stats

    def _reference(self, real: torch.Tensor, step: int, g_moves: bool) -> dict[str, torch.Tensor]:
        cfg, G, D = self.cfg, self.G, self.D
        stats: dict[str, torch.Tensor] = {}
        if g_moves:
            G.requires_grad_(True)
            D.requires_grad_(False)
            with self.autocast():
                loss_G = generator_loss(G, D, self._z(), cfg.mixing_prob)
            self._g_update(loss_G, step, stats)
        G.requires_grad_(False)
        with self.autocast(), torch.no_grad():
            fake = generate(G, self._z(), cfg.mixing_prob)
        stats.update(self._d_step(fake, real, step, lambda f, r: (D(f.float()), D(r))))
        return stats

    def _d_step(self, fake: torch.Tensor, real: torch.Tensor, step: int, logits) -> dict[str, torch.Tensor]:
        """Logistic loss; every r1_interval steps add the R1 penalty (fp32) scaled by the interval."""
        cfg = self.cfg
        self.D.requires_grad_(True)
        with self.autocast():
            d_fake, d_real = logits(fake, real)
            loss_D = d_logistic_loss(d_fake, d_real)
        loss = loss_D.float()
        stats = {"loss_D": loss_D.detach(), "D_real": d_real.detach().mean(), "D_fake": d_fake.detach().mean()}
        if step % cfg.r1_interval == 0:
            r1 = r1_penalty(self.D, real, self.autocast() if cfg.step == "fast" else None)
            loss = loss + r1 * (cfg.r1_gamma / 2) * cfg.r1_interval
            stats["r1"] = r1.detach()
        self.D_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.D_opt.step()
        return stats

    def _g_update(self, loss_G: torch.Tensor, step: int, stats: dict) -> None:
        self.G_opt.zero_grad(set_to_none=True)
        loss_G.backward()
        self.G_opt.step()
        stats["loss_G"] = loss_G.detach()
        if self.cfg.pl_weight > 0 and step % self.cfg.pl_interval == 0:
            stats["pl"] = self._pl_step()

    def _pl_step(self) -> torch.Tensor:
        """One lazy path-length step on G (fp32: a double backward, as R1 is for D)."""
        cfg = self.cfg
        self.G.requires_grad_(True)
        z = torch.randn([max(1, cfg.batch // cfg.pl_batch_shrink), self.G.z_dim], device=self.device)
        penalty, self.pl_mean = path_length_penalty(path_lengths(self.G, z, cfg.mixing_prob), self.pl_mean,
                                                    cfg.pl_decay)
        self.G_opt.zero_grad(set_to_none=True)
        (penalty * cfg.pl_weight * cfg.pl_interval).backward()
        self.G_opt.step()
        return penalty.detach()


def optimizer_settings(cfg: TrainConfig) -> dict[str, dict]:
    """Adam's rate and betas for G and D, scaled for the lazy regularisers' extra steps (StyleGAN2 §B)."""
    r1_ratio = cfg.r1_interval / (cfg.r1_interval + 1)
    pl_ratio = cfg.pl_interval / (cfg.pl_interval + 1) if cfg.pl_weight > 0 else 1.0
    return {name: {"lr": cfg.lr * ratio, "betas": tuple(b**ratio for b in cfg.betas)}
            for name, ratio in (("G", pl_ratio), ("D", r1_ratio))}


def build_optimizers(cfg: TrainConfig, G: Generator, D: Discriminator) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """Adam for G and D with `optimizer_settings`."""
    settings = optimizer_settings(cfg)
    return (torch.optim.Adam(G.parameters(), eps=1e-8, **settings["G"]),
            torch.optim.Adam(D.parameters(), eps=1e-8, **settings["D"]))


def apply_rates(cfg: TrainConfig, G_opt: torch.optim.Optimizer, D_opt: torch.optim.Optimizer) -> None:
    """Give restored optimisers this config's rates and betas: `load_state_dict` brings back the saved run's, which
    would silently ignore a resumed run's new --lr, or a --pl-weight switched on or off (it changes G's scaling)."""
    settings = optimizer_settings(cfg)
    for opt, name in ((G_opt, "G"), (D_opt, "D")):
        for group in opt.param_groups:
            group.update(settings[name])


@contextlib.contextmanager
def stop_requests():
    """A flag set by SIGTERM or a first Ctrl+C, so the training loop can snapshot and stop at the end of its step
    instead of losing everything since the last snapshot; a second Ctrl+C interrupts at once. Outside the main
    thread (where Python cannot install handlers) the flag never sets."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_signal(signum, frame) -> None:
        if signum == signal.SIGINT and stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@restores_thread_count
def train(cfg: TrainConfig, progress: bool = True) -> Path:
    """Train (or resume) a StyleGAN2 on `cfg.data`; returns the path of the latest G_ema snapshot.

    SIGTERM or Ctrl+C stops it cleanly: the current step ends, a snapshot and the training state are saved (a
    second Ctrl+C stops at once, losing what came after the last snapshot)."""
    if cfg.d_warmup_kimg and not cfg.init_generator:
        raise GanlensError("a D warm-up is for fine-tuning: give the trained generator to start from (--init)")
    if cfg.pl_weight < 0 or cfg.pl_interval < 1 or cfg.pl_batch_shrink < 1:
        raise GanlensError(f"path-length settings must be pl_weight >= 0, pl_interval >= 1, pl_batch_shrink >= 1; got "
                           f"{cfg.pl_weight}, {cfg.pl_interval}, {cfg.pl_batch_shrink}")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    use_bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and bf16_is_fast(device))

    images_np = load_training_images(cfg.data)
    n_data, res, _, channels = images_np.shape
    images = torch.from_numpy(images_np).to(device)  # uint8 on the device; converted per batch
    G, D = build_networks(cfg, res, channels)
    G.to(device).train()
    D.to(device).train()
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    G_opt, D_opt = build_optimizers(cfg, G, D)
    stepper = AdversarialStep(cfg, G, D, G_opt, D_opt, device, use_bf16)
    cur_nimg, step, elapsed_before = 0, 0, 0.0
    state = load_state(out / "state")
    if state is not None:
        if cfg.widen_d and not fits(D, state["D"]):
            D.load_state_dict(widen_discriminator(D, state["D"]))
            restore(state, G=G, G_ema=G_ema, G_opt=G_opt)
        else:
            restore(state, G=G, D=D, G_ema=G_ema, G_opt=G_opt, D_opt=D_opt)
        apply_rates(cfg, G_opt, D_opt)
        progress_state = state["progress"]
        cur_nimg, step = progress_state["cur_nimg"], progress_state["step"]
        elapsed_before = progress_state["elapsed_s"]
        stepper.pl_mean.fill_(progress_state.get("pl_mean", 0.0))
        if "rng" in progress_state and device.type == "cpu":
            torch.set_rng_state(progress_state["rng"])  # the uninterrupted run's random stream, draw for draw
        else:
            torch.manual_seed(cfg.seed + step)
    elif cfg.init_generator:
        _init_from_generator(cfg.init_generator, G, G_ema)
    atomic_write_json(out / "config.json", asdict(cfg))

    grid_z = torch.from_numpy(np.random.default_rng(123).standard_normal((64, cfg.z_dim)).astype(np.float32)).to(device)
    total_nimg = int(cfg.total_kimg * 1000)
    snapshot_every = max(int(cfg.snapshot_kimg * 1000), cfg.batch)
    next_snapshot = (cur_nimg // snapshot_every + 1) * snapshot_every
    start = time.time()
    log_f = open(out / "log.jsonl", "a")
    bar = tqdm(total=total_nimg // 1000, initial=cur_nimg // 1000, unit="kimg", disable=not progress, desc="train")
    latest = out / "latest.safetensors"
    stats: dict[str, list[torch.Tensor]] = {k: [] for k in ("loss_G", "loss_D", "r1", "pl", "D_real", "D_fake")}

    def real_batch() -> torch.Tensor:
        idx = torch.randint(0, n_data, [cfg.batch], device=device)
        return images[idx].permute(0, 3, 1, 2).float().div(127.5).sub(1).contiguous(memory_format=torch.channels_last)

    def snapshot() -> None:
        nonlocal latest
        kimg = cur_nimg / 1000
        wall = elapsed_before + time.time() - start
        prov = {
            "training": {"data": str(cfg.data), "kimg": round(kimg, 2), "wall_time_s": round(wall, 1),
                         "device": device_name(device), "precision": "bf16" if use_bf16 else "fp32",
                         "config": asdict(cfg)},
            **cfg.extra_provenance,
        }
        G_ema.name = cfg.name
        snap = out / f"snapshot-{kimg:09.2f}kimg.safetensors"
        save_generator(G_ema, snap, provenance=prov)
        shutil.copyfile(snap, out / "latest.safetensors.tmp")
        os.replace(out / "latest.safetensors.tmp", out / "latest.safetensors")
        rng = torch.get_rng_state()  # the grid below must not shift the training's random stream
        with torch.no_grad():
            imgs = G_ema(grid_z, noise_mode="const")
        save_image(make_grid(to_uint8(imgs), ncols=8), out / f"grid-{kimg:09.2f}kimg.png")
        save_state(out / "state", {
            "G": G.state_dict(), "D": D.state_dict(), "G_ema": G_ema.state_dict(),
            "G_opt": G_opt.state_dict(), "D_opt": D_opt.state_dict(),
            "progress": {"cur_nimg": cur_nimg, "step": step, "elapsed_s": wall, "pl_mean": float(stepper.pl_mean),
                         "rng": rng},
        })
        latest = snap

    warmup_nimg = int(cfg.d_warmup_kimg * 1000)
    ema_rampup = None if cfg.init_generator else cfg.ema_rampup
    with stop_requests() as stop_requested, contextlib.ExitStack() as cleanup:
        cleanup.callback(log_f.close)
        cleanup.callback(bar.close)
        while cur_nimg < total_nimg:
            g_moves = cur_nimg >= warmup_nimg
            for k, v in stepper(real_batch(), step, g_moves).items():
                stats[k].append(v)  # kept as device tensors: reading each one every step would stall a GPU

            # --- G_ema: half-life of ema_kimg, ramped up early in training.
            cur_nimg += cfg.batch
            step += 1
            ema_nimg = cfg.ema_kimg * 1000
            if ema_rampup:
                ema_nimg = min(ema_nimg, cur_nimg * ema_rampup)
            beta = 0.5 ** (cfg.batch / max(ema_nimg, 1e-8))
            if g_moves:
                with torch.no_grad():
                    for p_ema, p in zip(G_ema.parameters(), G.parameters()):
                        p_ema.copy_(p.detach().lerp(p_ema, beta))
                    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
                        b_ema.copy_(b)

            if step % 50 == 0:
                bar.n = cur_nimg // 1000
                bar.set_postfix(G=f"{_mean(stats['loss_G'][-50:]):.3f}" if stats["loss_G"] else "warm-up",
                                D=f"{_mean(stats['loss_D'][-50:]):.3f}")
            out_of_time = cfg.max_minutes is not None and (time.time() - start) > cfg.max_minutes * 60
            stopping = out_of_time or stop_requested.is_set()
            if cur_nimg >= next_snapshot or cur_nimg >= total_nimg or stopping:
                if not all(math.isfinite(_mean(stats[k][-10:])) for k in ("loss_G", "loss_D") if stats[k]):
                    raise GanlensError(f"training diverged (non-finite loss) at {cur_nimg / 1000:.1f} kimg; "
                                       f"the last good state is in {out / 'state'}")
                snapshot()
                rec = {"kimg": round(cur_nimg / 1000, 2), "step": step,
                       "wall_s": round(elapsed_before + time.time() - start, 1),
                       **{k: _mean(v) for k, v in stats.items() if v}}
                log_f.write(json.dumps(rec) + "\n")
                log_f.flush()
                stats = {k: [] for k in stats}
                next_snapshot += snapshot_every
                if stopping:
                    if stop_requested.is_set():
                        print(f"stopped on request at {cur_nimg / 1000:.2f} kimg; resume with the same command",
                              flush=True)
                    break
    return latest


def _init_from_generator(path: str, G: Generator, G_ema: Generator) -> None:
    """Copy a native checkpoint's weights into G and G_ema; its architecture must match the run's."""
    from ..models.native import load_generator, load_state_strict

    try:
        load_state_strict(G, load_generator(path).state_dict(), f"--init {path}")
    except CheckpointError as exc:
        raise GanlensError(f"{exc}. The checkpoint's architecture differs from this run's: match "
                           "--z-dim/--w-dim/--map-layers/--cbase/--cmax to it") from exc
    G_ema.load_state_dict(G.state_dict())


def _mean(values: list[torch.Tensor]) -> float:
    return torch.stack([v.float() for v in values]).mean().item()


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    bf16 = ", bf16 instructions" if cpu_has_bf16() else ""
    return f"cpu ({cpu_model()}{bf16}; {os.cpu_count()} cores visible, {torch.get_num_threads()} threads)"
