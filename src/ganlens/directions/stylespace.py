"""StyleSpace (Wu et al. 2021): edit a few channels of style space S, and find which channels control what.

S is every modulated layer's affine output, concatenated (`G.to_styles`); a channel is one coordinate of it, named
by its layer and index ("b16.conv0:37"). Channel edits are measured in units of the channel's spread over samples,
so strength 1 moves a channel by one standard deviation whatever its layer. Three ways to find channels:

- `locally_active`: the part of the image each channel changes (a small step along it, the pixel change map) and
  the share of that change inside each region (StyleSpace used a segmentation network; the synthfaces domain knows
  its regions exactly, see `synthdata.part_masks`);
- `from_examples`: channels whose mean over images that have an attribute differs most from the population, in
  spreads (StyleSpace used about 30 positive examples);
- `by_sensitivity`: channels ranked by how much an attribute's score moves per spread (gradient through the
  generator).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from tqdm import tqdm

from ..errors import InputError, LatentError
from ..latents import LatentCode
from .direction import Direction

Regions = Callable[[np.ndarray], dict[str, np.ndarray]]  # uint8 images [N, R, R, 3] → {region: [N, R, R] in [0, 1]}


@dataclass
class StyleChannels:
    """The layout of S for one generator and each channel's mean and spread over samples.

    Attributes:
        layers: style layer names in S order ("b4.conv1", "b4.torgb", ...). widths / offsets: their sizes and starts.
        mean, std: per channel over the fitted samples [S].
        model, samples, seed: where the statistics came from.
    """

    layers: list[str]
    widths: list[int]
    offsets: list[int]
    mean: np.ndarray
    std: np.ndarray
    model: str
    samples: int
    seed: int

    @classmethod
    @torch.no_grad()
    def fit(cls, G, n: int = 2000, seed: int = 0) -> "StyleChannels":
        """Statistics of S over n samples of G (W codes from `seed`, untruncated)."""
        G.check_space("s")
        s = G.to_styles(G.sample(n, seed=seed)).tensor.double().numpy()
        names = [name for name, _, _ in G.synthesis.style_layers()]
        widths = G.style_dims()
        offsets = list(np.cumsum([0] + widths[:-1]).astype(int))
        std = s.std(axis=0)
        return cls(names, widths, offsets, s.mean(axis=0), np.where(std > 0, std, 1.0), G.name, n, seed)

    @property
    def dim(self) -> int:
        return int(sum(self.widths))

    def label(self, k: int) -> str:
        """'layer:channel' of global channel index k."""
        i = int(np.searchsorted(self.offsets, k, side="right")) - 1
        if not 0 <= k < self.dim:
            raise InputError(f"channel index {k} out of range: S has {self.dim} channels")
        return f"{self.layers[i]}:{k - self.offsets[i]}"

    def index(self, spec: str | int) -> int:
        """Global index of a channel given as 'layer:channel' (e.g. 'b16.conv0:37') or as an int."""
        if isinstance(spec, (int, np.integer)):
            if not 0 <= int(spec) < self.dim:
                raise InputError(f"channel index {spec} out of range: S has {self.dim} channels")
            return int(spec)
        layer, _, ch = str(spec).rpartition(":")
        if layer not in self.layers or not ch.isdigit():
            raise InputError(f"channel {spec!r}: give 'layer:channel' with a layer among {', '.join(self.layers)}")
        i = self.layers.index(layer)
        if int(ch) >= self.widths[i]:
            raise InputError(f"channel {spec!r}: layer {layer} has {self.widths[i]} channels")
        return self.offsets[i] + int(ch)

    def direction(self, channels: Sequence[int | str], signs: Sequence[float] | None = None,
                  attribute: str | None = None, method: str = "stylespace", metrics: dict | None = None) -> Direction:
        """An S direction moving `channels` together: strength a moves each channel by a·sign spreads."""
        idx = [self.index(c) for c in channels]
        if not idx or len(set(idx)) != len(idx):
            raise InputError(f"an S direction needs distinct channels, got {list(channels)}")
        sg = np.ones(len(idx)) if signs is None else np.sign(np.asarray(signs, np.float64))
        if sg.shape != (len(idx),) or (sg == 0).any():
            raise InputError("signs must be one non-zero number per channel")
        v = np.zeros(self.dim)
        v[idx] = sg * self.std[idx]
        scale = float(np.linalg.norm(v))
        m = {"channels": [{"channel": self.label(k), "index": k, "sign": int(s), "std": float(self.std[k])}
                          for k, s in zip(idx, sg)], **(metrics or {})}
        return Direction(vector=v / scale, space="s", scale=scale, method=method, attribute=attribute, metrics=m,
                         model=self.model, provenance={"stats_samples": self.samples, "stats_seed": self.seed})

    def units(self, codes: LatentCode) -> np.ndarray:
        """Codes in spreads from the mean, per channel [N, S] (the units channel edits are measured in)."""
        if codes.space != "s" or codes.tensor.shape[-1] != self.dim:
            raise LatentError(f"expected 's' codes of dim {self.dim}, got {codes.space!r} {list(codes.tensor.shape)}")
        return (codes.tensor.double().numpy() - self.mean) / self.std


def from_examples(styles: LatentCode, positive: np.ndarray, stats: StyleChannels, top: int = 10) -> list[tuple[int, float]]:
    """Channels whose mean over the positive examples differs most from the population, in spreads.

    Args:
        styles: 's' codes of some samples [N, S]. positive: bool [N], the samples that have the attribute
            (StyleSpace used about 30). stats: the population's statistics.
    Returns:
        (channel index, mean difference in spreads) for the `top` channels by absolute difference.
    """
    pos = np.asarray(positive, bool)
    if pos.shape != (len(styles),) or pos.sum() < 2:
        raise InputError(f"positive must be a bool mask over the {len(styles)} codes with at least 2 examples")
    diff = stats.units(styles)[pos].mean(axis=0)
    order = np.argsort(-np.abs(diff))[:top]
    return [(int(k), float(diff[k])) for k in order]


def by_sensitivity(G, score: Callable[[torch.Tensor], torch.Tensor], stats: StyleChannels, n: int = 64,
                   seed: int = 1, top: int = 10, batch_size: int = 32) -> list[tuple[int, float]]:
    """Channels ranked by the mean change of an attribute score per spread: E[∂score/∂s_k]·σ_k.

    Args:
        score: differentiable images [N, 3, R, R] → scores [N] (e.g. one column of a predictor's score_tensor).
    """
    grads = []
    for i in range(0, n, batch_size):
        s = G.to_styles(G.sample(min(batch_size, n - i), seed=seed + i)).tensor.to(G.device).requires_grad_(True)
        parts = list(torch.split(s, G.style_dims(), dim=1))
        img = G.synthesis(styles=parts, noise_mode="const")
        (g,) = torch.autograd.grad(score(img).sum(), s)
        grads.append(g.detach().double().cpu().numpy())
    sens = np.concatenate(grads).mean(axis=0) * stats.std
    order = np.argsort(-np.abs(sens))[:top]
    return [(int(k), float(sens[k])) for k in order]


@torch.no_grad()
def change_maps(G, styles: LatentCode, channels: Sequence[int], stats: StyleChannels, step: float = 1.0,
                batch_size: int = 128) -> np.ndarray:
    """|image change| per pixel when each channel moves by `step` spreads: [len(channels), N, R, R]."""
    base = G.synthesize(styles)
    out = np.zeros((len(channels), len(styles), G.img_resolution, G.img_resolution), np.float32)
    s = styles.tensor.to(G.device)
    for j in range(len(styles)):
        for c0 in range(0, len(channels), batch_size):
            chunk = list(channels[c0 : c0 + batch_size])
            moved = s[j : j + 1].repeat(len(chunk), 1)
            moved[torch.arange(len(chunk)), chunk] += step * torch.as_tensor(stats.std[chunk], dtype=moved.dtype)
            img = G.synthesize(LatentCode("s", moved.cpu()))
            out[c0 : c0 + len(chunk), j] = (img - base[j : j + 1]).abs().sum(dim=1).cpu().numpy()
    return out


def locally_active(G, stats: StyleChannels, regions: Regions, n: int = 8, seed: int = 2, step: float = 1.0,
                   channels: Sequence[int] | None = None, progress: bool = False) -> dict:
    """Where each channel acts: the share of its pixel change inside each region, averaged over n samples.

    Returns:
        {'channels': [k...], 'regions': [names], 'share': [K, regions] (each row sums to <= 1), 'magnitude': [K]
        (mean total |change| per image, so inactive channels can be told apart)}.
    """
    ks = list(range(stats.dim)) if channels is None else [int(k) for k in channels]
    styles = G.to_styles(G.sample(n, seed=seed))
    masks = regions(G.render(styles))
    names = sorted(masks)
    share = np.zeros((len(ks), len(names)))
    magnitude = np.zeros(len(ks))
    step_size = 64
    for c0 in tqdm(range(0, len(ks), step_size), disable=not progress, desc="channels", unit="batch", leave=False):
        chunk = ks[c0 : c0 + step_size]
        maps = change_maps(G, styles, chunk, stats, step)  # [K, N, R, R]
        total = maps.sum(axis=(2, 3)) + 1e-12  # [K, N]
        for r, name in enumerate(names):
            inside = (maps * masks[name][None]).sum(axis=(2, 3))
            share[c0 : c0 + len(chunk), r] = (inside / total).mean(axis=1)
        magnitude[c0 : c0 + len(chunk)] = total.mean(axis=1)
    return {"channels": ks, "regions": names, "share": share, "magnitude": magnitude}


def locality(before: np.ndarray, after: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Share of each edit's pixel change that falls inside `region` ([N, R, R] or [R, R], in [0, 1]) [N]."""
    change = np.abs(after.astype(np.float64) - before.astype(np.float64)).sum(axis=-1)
    region = np.broadcast_to(region, change.shape)
    total = change.sum(axis=(1, 2))
    return np.where(total > 0, (change * region).sum(axis=(1, 2)) / np.maximum(total, 1e-12), np.nan)


def predicted_regions(scorer) -> Regions:
    """Regions of a synthfaces generator's images: the predictor reads each image's factors and the renderer draws
    that face's part masks (a twin of the generated face, not the face itself: good where the generator is)."""
    from ..synthdata import FACTORS, part_masks

    def regions(images: np.ndarray) -> dict[str, np.ndarray]:
        read = scorer.readable(scorer(images))
        factors = np.stack([np.clip(read[f.name], f.low, f.high) if f.kind == "continuous" else
                            (read[f.name] > 0.5).astype(np.float64) for f in FACTORS], axis=1)
        return part_masks(factors, size=images.shape[1])

    return regions
