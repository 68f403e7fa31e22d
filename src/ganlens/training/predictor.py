"""Training the attribute predictor on renders, with the augmentations that make it read GAN samples too."""

from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import r2_score
from tqdm import tqdm

from ..scorers.base import AttributeInfo
from ..scorers.predictor import AttributePredictor, PredictorScorer
from ..synthdata.dataset import SynthDataset


def attributes_of(ds: SynthDataset) -> tuple[AttributeInfo, ...]:
    return tuple(AttributeInfo(n, k, float(lo), float(hi)) for n, k, lo, hi in zip(ds.names, ds.kinds, ds.lows, ds.highs))


def _targets(ds: SynthDataset) -> np.ndarray:
    """Continuous factors normalised to 0..1; binary ones stay 0/1."""
    return ((ds.factors - ds.lows) / (ds.highs - ds.lows)).astype(np.float32)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """GAN-like degradations: blur up to ~1 px, sensor noise, a few % of brightness/contrast, ±1 px shifts."""
    n, dev = x.shape[0], x.device
    sig = torch.rand(n, generator=gen, device=dev) * 1.0
    k = torch.arange(-2, 3, dtype=torch.float32, device=dev)
    kern = torch.exp(-(k[None] ** 2) / (2 * sig[:, None].clamp_min(1e-3) ** 2))
    kern = kern / kern.sum(1, keepdim=True)  # [n, 5], ≈ a delta for tiny sigma
    c = x.shape[1]
    xb = x.reshape(1, n * c, *x.shape[2:])
    kh = kern.repeat_interleave(c, 0)[:, None, None, :]
    kv = kern.repeat_interleave(c, 0)[:, None, :, None]
    xb = F.conv2d(F.pad(xb, (2, 2, 0, 0), mode="replicate"), kh, groups=n * c)
    xb = F.conv2d(F.pad(xb, (0, 0, 2, 2), mode="replicate"), kv, groups=n * c)
    x = xb.reshape_as(x)
    bright = (torch.rand(n, 1, 1, 1, generator=gen, device=dev) - 0.5) * 0.06
    contrast = 1 + (torch.rand(n, 1, 1, 1, generator=gen, device=dev) - 0.5) * 0.06
    x = x * contrast + bright
    x = x + torch.randn(x.shape, generator=gen, device=dev) * (torch.rand(n, 1, 1, 1, generator=gen, device=dev) * 0.04)
    dx, dy = (int(v) for v in torch.randint(-1, 2, (2,), generator=gen, device=dev))
    x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
    return x.clamp(-1, 1)


def _loss(out: torch.Tensor, y: torch.Tensor, binary: torch.Tensor) -> torch.Tensor:
    mse = F.mse_loss(out[:, ~binary], y[:, ~binary])
    bce = F.binary_cross_entropy_with_logits(out[:, binary], y[:, binary]) if binary.any() else out.sum() * 0
    return mse * 10 + bce


def evaluate(scorer: PredictorScorer, ds: SynthDataset) -> dict[str, dict]:
    """Held-out accuracy (binary) and R² (continuous) per attribute."""
    scores = scorer(ds.images)
    metrics = {}
    for j, a in enumerate(scorer.attributes):
        truth = ds.factors[:, j]
        if a.kind == "binary":
            metrics[a.name] = {"kind": "binary", "accuracy": float(((scores[a.name] > 0) == (truth > 0.5)).mean())}
        else:
            metrics[a.name] = {"kind": "continuous", "r2": float(r2_score(truth, scores[a.name]))}
    return metrics


def train_predictor(
    train: SynthDataset,
    val: SynthDataset,
    epochs: int = 6,
    batch_size: int = 128,
    lr: float = 2e-3,
    width: int = 32,
    seed: int = 0,
    augment_data: bool = True,
    progress: bool = True,
    device: str = "cpu",
) -> tuple[PredictorScorer, dict]:
    """Train an AttributePredictor on `device`; returns the (CPU) scorer and {held-out metrics, losses, time}."""
    torch.manual_seed(seed)
    gen = torch.Generator(device).manual_seed(seed)
    attributes = attributes_of(train)
    binary = torch.tensor([a.kind == "binary" for a in attributes], device=device)
    model = AttributePredictor(len(attributes), width=width, resolution=train.images.shape[1]).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    x_all = torch.from_numpy(train.images).to(device)
    y_all = torch.from_numpy(_targets(train)).to(device)
    n = len(train)
    steps = epochs * math.ceil(n / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    losses = []
    t0 = time.time()
    bar = tqdm(total=steps, disable=not progress, desc="predictor", unit="step")
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen, device=device)
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            x = x_all[idx].permute(0, 3, 1, 2).float() / 127.5 - 1
            if augment_data:
                x = augment(x, gen)
            loss = _loss(model(x), y_all[idx], binary)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.detach())
            bar.update(1)
            if len(losses) % 50 == 0:
                bar.set_postfix(loss=f"{torch.stack(losses[-50:]).mean().item():.4f}")
    bar.close()
    losses = torch.stack(losses).float().cpu().numpy()
    scorer = PredictorScorer(model.cpu().eval(), attributes)
    metrics = {"held_out": evaluate(scorer, val), "first_loss": float(np.mean(losses[:20])),
               "last_loss": float(np.mean(losses[-20:])), "train_seconds": round(time.time() - t0, 1),
               "train_n": n, "val_n": len(val), "train_seed": train.seed, "val_seed": val.seed, "epochs": epochs}
    scorer.meta = metrics
    return scorer, metrics
