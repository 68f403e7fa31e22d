"""Contrastive fine-tune of a split-latent generator (GAN-Control, METHODS.md section 7); resumable, time-boxed.

The generator is a `SplitGenerator` built from a trained model (its synthesis weights and mapping network), so the
fine-tune starts from good images; its loss is the usual non-saturating GAN loss plus λ·L_c on pair batches that
share exactly one attribute sub-vector, with the bundled predictor's per-attribute outputs as the embeddings M_k.
The discriminator starts fresh (trained models ship G_ema only), so it first trains alone for `d_warmup_steps`.

State handling is `ganlens.training.gan`'s: one full state folder swapped in atomically at each snapshot, plus the
latest G_ema as a checkpoint, so a run killed at any moment resumes from the last snapshot.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..control.contrastive import (
    contrastive_loss,
    make_pair_batch,
    predictor_embeddings,
)
from ..control.split_model import SplitGenerator, save_split_generator
from ..directions.bundled import load_bundled
from ..errors import GanlensError
from ..io.files import atomic_write_json
from ..io.images import make_grid, save_image, to_uint8
from ..models.discriminator import Discriminator
from ..models.precision import bf16_is_fast
from ..models.registry import load
from ..scorers.predictor import load_scorer
from ..synthdata.dataset import build_dataset
from .gan import d_logistic_loss, device_name, load_state, load_training_images, r1_penalty, restore, save_state
from .threads import restores_thread_count


@dataclass
class ControlTrainConfig:
    """Everything that defines a contrastive fine-tune; saved beside the outputs."""

    out: str
    base: str = "synthfaces64"
    scorer: str = "synthfaces64"
    attributes: tuple[str, ...] = ("yaw", "smile", "age", "hair_color")
    data: str | None = None  # a dataset .npz; None: render `data_n` synthfaces into `out`/data.npz
    data_n: int = 20000
    pairs: int = 12  # pairs per G step: 2·pairs images
    lambda_c: float = 2.0
    tau_pos: float = 0.04  # in fractions of each attribute's range
    tau_neg: float = 0.10
    lr_synthesis: float = 2e-4
    lr_sub: float = 1e-3
    lr_d: float = 1e-3
    betas: tuple[float, float] = (0.0, 0.99)
    r1_gamma: float = 0.05
    r1_interval: int = 16
    d_warmup_steps: int = 40
    ema_images: float = 2000.0  # EMA half-life in images
    total_steps: int = 5000
    snapshot_steps: int = 25
    max_minutes: float | None = None
    precision: str = "auto"  # auto: bf16 where the hardware has it (ganlens.models.precision), else fp32
    threads: int | None = None
    seed: int = 0
    extra_provenance: dict = field(default_factory=dict)


def _discriminator_for(G: SplitGenerator) -> Discriminator:
    syn = G.init_kwargs["base_kwargs"]["synthesis_kwargs"]
    return Discriminator(c_dim=0, img_resolution=G.img_resolution, img_channels=G.img_channels,
                         channel_base=syn.get("channel_base", 32768), channel_max=syn.get("channel_max", 512))


@restores_thread_count
def train_control(cfg: ControlTrainConfig, progress: bool = True) -> Path:
    """Fine-tune (or resume) a split-latent generator; returns the path of the latest G_ema checkpoint."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    use_bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and bf16_is_fast("cpu"))

    data_path = Path(cfg.data) if cfg.data else out / "data.npz"
    if cfg.data is None and not data_path.exists():
        build_dataset(cfg.data_n, seed=cfg.seed, out=data_path, progress=progress)
    images = torch.from_numpy(load_training_images(data_path))

    base = load(cfg.base)
    directions = load_bundled(cfg.base)
    if not directions:
        raise GanlensError(f"model {cfg.base!r} ships no boundaries to split its W along")
    G = SplitGenerator.from_base(base, directions, cfg.attributes, seed=cfg.seed).train()
    scorer = load_scorer(cfg.scorer)
    scorer.model.requires_grad_(False)
    embed = predictor_embeddings(scorer, {a: [a] for a in cfg.attributes})
    D = _discriminator_for(G).train()
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    # The base mapping stays frozen: it carries the learned W manifold of everything but the attributes.
    G.mapping.rest.requires_grad_(False)
    trainable = [{"params": list(G.synthesis.parameters()), "lr": cfg.lr_synthesis},
                 {"params": list(G.mapping.sub.parameters()), "lr": cfg.lr_sub}]
    r1_ratio = cfg.r1_interval / (cfg.r1_interval + 1)
    G_opt = torch.optim.Adam(trainable, betas=cfg.betas, eps=1e-8)
    D_opt = torch.optim.Adam(D.parameters(), lr=cfg.lr_d * r1_ratio, betas=tuple(b**r1_ratio for b in cfg.betas), eps=1e-8)

    step, elapsed_before = 0, 0.0
    state = load_state(out / "state")
    if state is not None:
        restore(state, G=G, D=D, G_ema=G_ema, G_opt=G_opt, D_opt=D_opt)
        step, elapsed_before = state["progress"]["step"], state["progress"]["elapsed_s"]
    atomic_write_json(out / "config.json", asdict(cfg))
    rng = torch.Generator().manual_seed(cfg.seed * 100_003 + step)  # resumed runs draw fresh, reproducible batches
    torch.manual_seed(cfg.seed + step)
    sizes = G.subvector_sizes()
    n_img = 2 * cfg.pairs
    grid_z = make_pair_batch(8, sizes, generator=torch.Generator().manual_seed(123)).z
    start = time.time()
    stats: dict[str, list[float]] = {}
    latest = out / "latest.safetensors"

    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16)

    def log(key: str, value: float) -> None:
        stats.setdefault(key, []).append(value)

    def snapshot() -> None:
        wall = elapsed_before + time.time() - start
        prov = {"training": {"method": "GAN-Control contrastive fine-tune", "base": cfg.base, "step": step,
                             "images_seen": step * n_img, "wall_time_s": round(wall, 1),
                             "device": device_name(torch.device("cpu")), "config": asdict(cfg)},
                "base_provenance": base.provenance, **cfg.extra_provenance}
        G_ema.name = f"{cfg.base}-control"
        save_split_generator(G_ema, latest, provenance=prov)
        with torch.no_grad(), autocast():
            pics = to_uint8(G_ema(grid_z).float())
        # Rows of the grid are the pair partners: column p of row 1 and row 2 share sub-vector p mod N.
        save_image(make_grid(np.concatenate([pics[:8], pics[8:]]), ncols=8), out / f"grid-{step:06d}.png")
        save_state(out / "state", {"G": G.state_dict(), "D": D.state_dict(), "G_ema": G_ema.state_dict(),
                                    "G_opt": G_opt.state_dict(), "D_opt": D_opt.state_dict(),
                                    "progress": {"step": step, "elapsed_s": wall}})

    with open(out / "log.jsonl", "a") as log_f:
        while step < cfg.total_steps:
            # --- G: adversarial loss + λ·L_c on a pair batch. No style mixing: mixing would mix sub-vectors too.
            if step >= cfg.d_warmup_steps:
                batch = make_pair_batch(cfg.pairs, sizes, generator=rng)
                G.requires_grad_(True)
                G.mapping.rest.requires_grad_(False)
                D.requires_grad_(False)
                with autocast():
                    fake = G(batch.z, noise_mode="random")
                    adv = F.softplus(-D(fake)).mean()
                lc, parts = contrastive_loss(embed(fake.float()), batch.same, cfg.tau_pos, cfg.tau_neg)
                G_opt.zero_grad(set_to_none=True)
                (adv.float() + cfg.lambda_c * lc).backward()
                G_opt.step()
                log("loss_G_adv", adv.item())
                log("L_c", lc.item())
                for i, a in enumerate(cfg.attributes):
                    log(f"pos_{a}", parts["pos"][i].item())
                    log(f"neg_{a}", parts["neg"][i].item())

            # --- D: logistic loss, lazy R1 (fp32) every r1_interval steps.
            G.requires_grad_(False)
            D.requires_grad_(True)
            real = images[torch.randint(0, len(images), [n_img])].permute(0, 3, 1, 2).float().div(127.5).sub(1)
            with torch.no_grad(), autocast():
                fake = G(torch.randn([n_img, G.z_dim]), noise_mode="random")
            with autocast():
                d_fake, d_real = D(fake.float()), D(real)
                loss_D = d_logistic_loss(d_fake, d_real)
            loss = loss_D.float()
            if step % cfg.r1_interval == 0:
                r1 = r1_penalty(D, real)
                loss = loss + r1 * (cfg.r1_gamma / 2) * cfg.r1_interval
                log("r1", r1.item())
            D_opt.zero_grad(set_to_none=True)
            loss.backward()
            D_opt.step()
            log("loss_D", loss_D.item())
            log("D_real", d_real.float().mean().item())
            log("D_fake", d_fake.float().mean().item())

            step += 1
            beta = 0.5 ** (n_img / cfg.ema_images)
            with torch.no_grad():
                for p_ema, p in zip(G_ema.parameters(), G.parameters()):
                    p_ema.copy_(p.detach().lerp(p_ema, beta))

            out_of_time = cfg.max_minutes is not None and (time.time() - start) > cfg.max_minutes * 60
            if step % cfg.snapshot_steps == 0 or step >= cfg.total_steps or out_of_time:
                if not all(math.isfinite(v) for vals in stats.values() for v in vals[-5:]):
                    raise GanlensError(f"fine-tune diverged (non-finite loss) at step {step}; the last good state "
                                       f"is in {out / 'state'}")
                snapshot()
                rec = {"step": step, "wall_s": round(elapsed_before + time.time() - start, 1),
                       **{k: float(np.mean(v)) for k, v in stats.items() if v}}
                log_f.write(json.dumps(rec) + "\n")
                log_f.flush()
                if progress:
                    print(json.dumps(rec), flush=True)
                stats = {}
                if out_of_time:
                    break
    return latest
