"""Train the inversion encoder (`ganlens.invert.encoder.Encoder`) for one generator, time-boxed for a CPU.

Three phases, sized by the time box:

1. Pool: generator samples with known codes (z → w, style-mixed with probability `mixing` so that the codes
   cover W+), rendered once (the only costly part of the first two phases).
2. Latent regression on the pool, many epochs: |E(x, y, w_t) − w|², half of each batch starting at
   (G(w_avg), w_avg) — the pSp single pass — and half at the nearest other pool sample (a ReStyle refinement
   from a nearby estimate); no generator in the loop, so it is cheap.
3. Image loss on fresh procedural renders (the domain the user inverts, where no code is known) and on fresh
   samples: two ReStyle passes, each with MSE + perceptual reconstruction loss through the frozen generator.

The result is written to `out/encoder.safetensors` with a JSON report beside it (`out/encoder.json`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..errors import GanlensError
from ..invert.encoder import Encoder, latent_error, save_encoder
from ..invert.losses import ReconstructionLoss
from ..io.files import atomic_write_json
from ..io.images import from_uint8
from ..metrics.quality import psnr
from ..models.stylegan2 import Generator
from .threads import restores_thread_count


@dataclass
class EncoderTrainConfig:
    """Settings of one encoder training run (stored in the report and the weights' provenance)."""

    model: str = "synthfaces64"
    out: str = "runs/encoder"
    minutes: float = 20.0
    pool: int = 6000
    batch: int = 64
    lr: float = 1e-3
    mixing: float = 0.5
    image_fraction: float = 0.4
    image_batch: int = 16
    perceptual: float = 0.1
    renders: bool = True
    channel_base: int = 512
    fpn_channels: int = 96
    threads: int | None = None
    seed: int = 0
    init: str | None = None  # continue from these encoder weights (a .safetensors written by this trainer)


def _synth(G: Generator, ws: torch.Tensor) -> torch.Tensor:
    with torch.autocast(ws.device.type, dtype=torch.bfloat16):
        return G.synthesis(ws, noise_mode="const").float()


@torch.no_grad()
def _sample_ws(G: Generator, n: int, mixing: float, rng: np.random.Generator) -> torch.Tensor:
    """n W+ codes: mapping outputs, style-mixed at a random layer with probability `mixing`."""
    z1 = torch.from_numpy(rng.standard_normal((n, G.z_dim)).astype(np.float32))
    z2 = torch.from_numpy(rng.standard_normal((n, G.z_dim)).astype(np.float32))
    ws, ws2 = G.mapping(z1), G.mapping(z2)
    cut = torch.from_numpy(rng.integers(1, G.num_ws, n))
    mix = torch.from_numpy(rng.uniform(size=n) < mixing)
    take2 = (torch.arange(G.num_ws)[None, :] >= cut[:, None]) & mix[:, None]
    return torch.where(take2[:, :, None], ws2, ws)


@torch.no_grad()
def build_pool(G: Generator, n: int, mixing: float, seed: int, batch: int = 64, progress: bool = True
               ) -> dict[str, torch.Tensor]:
    """Targets x = G(w) with their true codes w for n samples, and each sample's nearest other sample in W+
    (`nn`): rendered once, a neighbour serves as a ReStyle starting point (w_t, G(w_t)) at no extra cost."""
    rng = np.random.default_rng(seed)
    xs, ws_all = [], []
    for i in tqdm(range(0, n, batch), disable=not progress, desc="encoder pool", unit="batch"):
        ws = _sample_ws(G, min(batch, n - i), mixing, rng)
        xs.append(_synth(G, ws))
        ws_all.append(ws)
    ws = torch.cat(ws_all)
    flat = ws.flatten(1)
    d = torch.cdist(flat, flat)
    d.fill_diagonal_(float("inf"))
    return {"x": torch.cat(xs).contiguous(memory_format=torch.channels_last), "w": ws, "nn": d.argmin(dim=1)}


@torch.no_grad()
def evaluate(G: Generator, enc: Encoder, n: int = 32, seed: int = 990_000) -> dict[str, float]:
    """Held-out quality: PSNR of 1 and 2 passes on fresh renders and samples; latent error on samples."""
    from ..synthdata import render_batch, sample_factors

    out: dict[str, float] = {}
    sets = {"samples": G.render(G.sample(n, seed=seed, space="w+"))}
    true = G.sample(n, seed=seed, space="w+")
    if G.img_resolution == 64:
        sets["renders"] = render_batch(sample_factors(n, seed + 1), size=64, workers=1)
    for name, imgs in sets.items():
        for it in (1, 2):
            code = enc.invert(imgs, G=G, iterations=it)
            out[f"{name}_psnr_iter{it}"] = float(psnr(imgs, G.render(code)).mean())
            if name == "samples":
                out[f"samples_latent_error_iter{it}"] = float(latent_error(code, true, G).mean())
    return out


@restores_thread_count
def train_encoder(cfg: EncoderTrainConfig, progress: bool = True) -> Path:
    """Run the three phases within `cfg.minutes` and write `out/encoder.safetensors` (+ `encoder.json`)."""
    from ..models import load

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.minutes <= 0 or cfg.pool < cfg.batch:
        raise GanlensError(f"need minutes > 0 and pool >= batch, got minutes={cfg.minutes}, pool={cfg.pool}, batch={cfg.batch}")
    if not 0 <= cfg.image_fraction <= 1 or cfg.lr <= 0 or cfg.batch < 1 or cfg.image_batch < 1:
        raise GanlensError(f"need 0 <= image_fraction <= 1, lr > 0, batch >= 1 and image_batch >= 1; got "
                           f"{cfg.image_fraction}, {cfg.lr}, {cfg.batch}, {cfg.image_batch}")
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise GanlensError(f"{out} is a file; the encoder's run folder must be a folder")
    torch.manual_seed(cfg.seed)
    t_start = time.perf_counter()
    deadline = t_start + cfg.minutes * 60
    G = load(cfg.model).eval().requires_grad_(False)  # CPU: load() hands it out channels-last
    if cfg.init:
        from ..invert.encoder import load_encoder

        enc = load_encoder(cfg.init).requires_grad_(True)
        enc._check_generator(G)
    else:
        enc = Encoder(G.img_resolution, G.num_ws, G.w_dim, channel_base=cfg.channel_base, fpn_channels=cfg.fpn_channels)
    out.mkdir(parents=True, exist_ok=True)  # after the checks and loads: bad input leaves no folder behind
    enc.attach(G)
    enc = enc.to(memory_format=torch.channels_last)  # 1.5-2x faster convolutions on CPU
    log: list[dict] = []

    t0 = time.perf_counter()
    pool = build_pool(G, cfg.pool, cfg.mixing, cfg.seed, progress=progress)
    pool_s = time.perf_counter() - t0

    # Phase 2: latent regression until the image phase's share of the remaining time is left.
    opt = torch.optim.Adam(enc.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
    remaining = deadline - time.perf_counter()
    latent_end = time.perf_counter() + remaining * (1 - cfg.image_fraction)
    rng = np.random.default_rng(cfg.seed + 1)
    scale2 = float(enc.w_scale) ** 2
    step = epoch = 0
    enc.train()
    bar = tqdm(disable=not progress, desc="encoder latent phase", unit="step")
    while time.perf_counter() < latent_end:
        order = torch.from_numpy(rng.permutation(cfg.pool))
        for i in range(0, cfg.pool - cfg.batch + 1, cfg.batch):
            idx = order[i : i + cfg.batch]
            # First half of the rows: the pSp pass from (G(w_avg), w_avg); second half: refine from the nearest
            # other pool sample, as a later ReStyle pass refines from an earlier estimate.
            y, w_in = (t.clone() for t in enc.start(len(idx)))
            half = len(idx) // 2
            nb = pool["nn"][idx[half:]]
            y[half:], w_in[half:] = pool["x"][nb], pool["w"][nb]
            with torch.autocast("cpu", dtype=torch.bfloat16):
                pred = enc(pool["x"][idx], y.contiguous(memory_format=torch.channels_last), w_in)
            loss = (pred.float() - pool["w"][idx]).square().mean() / scale2
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            bar.update(1)
            if step % 50 == 0:
                value = loss.item()
                bar.set_postfix(loss=f"{value:.4f}", epoch=epoch)
                log.append({"phase": "latent", "step": step, "epoch": epoch, "loss": value,
                            "t": time.perf_counter() - t_start})
            if time.perf_counter() >= latent_end:
                break
        epoch += 1
    bar.close()
    latent_steps = step
    del pool

    # Phase 3: image loss through G on fresh renders (and samples), two ReStyle passes per image.
    image_steps = 0
    if time.perf_counter() < deadline and cfg.image_fraction > 0:
        from ..synthdata import render_batch, sample_factors

        loss_fn = ReconstructionLoss(mse=1.0, perceptual=cfg.perceptual)
        for group in opt.param_groups:
            group["lr"] = cfg.lr / 3
        data_rng = np.random.default_rng(cfg.seed + 2)
        bar = tqdm(disable=not progress, desc="encoder image phase", unit="step")
        while time.perf_counter() < deadline:
            half = cfg.image_batch // 2 if cfg.renders else 0
            ws = _sample_ws(G, cfg.image_batch - half, cfg.mixing, data_rng)
            parts = [_synth(G, ws)]
            if half and G.img_resolution == 64:
                factors = sample_factors(half, seed=int(data_rng.integers(2**31)))
                parts.append(from_uint8(render_batch(factors, size=64, workers=1)))
            x = torch.cat(parts)
            y, w = enc.start(len(x))
            total = 0.0
            for _ in range(2):
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    w = enc(x, y, w)
                img = _synth(G, w)
                target = loss_fn.prepare(x)
                total = total + loss_fn(img, target).mean()
                # Known codes of the sample rows keep the latent loss in play (renders have none).
                total = total + 0.1 * (w[: len(ws)] - ws).square().mean() / scale2
                y, w = img.detach(), w.detach()
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            image_steps += 1
            bar.update(1)
            if image_steps % 10 == 0:
                loss = float(total.detach())
                bar.set_postfix(loss=f"{loss:.4f}")
                log.append({"phase": "image", "step": image_steps, "loss": loss, "t": time.perf_counter() - t_start})
        bar.close()

    enc.eval()
    train_s = time.perf_counter() - t_start
    metrics = evaluate(G, enc)
    report = {
        "config": asdict(cfg),
        "generator": G.name,
        "pool_seconds": round(pool_s, 1),
        "latent_steps": latent_steps,
        "latent_epochs": epoch,
        "image_steps": image_steps,
        "train_seconds": round(train_s, 1),
        "held_out": metrics,
        "params": sum(p.numel() for p in enc.parameters()),
        "log": log,
    }
    path = save_encoder(enc, out / "encoder.safetensors", provenance={k: v for k, v in report.items() if k != "log"})
    atomic_write_json(out / "encoder.json", report)
    return path
