"""Learned inversion: a pSp-style encoder with ReStyle iterative refinement, in one network.

The network reads the target x and the current reconstruction y = G(w_t) (6 channels) and predicts a residual:
w_{t+1} = w_t + E(x, y). Started from w_avg with y_0 = G(w_avg), which is a constant stored in the encoder,
its first pass is exactly a pSp encoder (w+ = w_avg + E(x)) and needs no generator at all; further passes are
ReStyle's refinement (Alaluf et al. 2021).

Architecture: a strided residual backbone down to 4x4 → a feature pyramid (top-down, as pSp) with coarse (4x4),
medium (8x8) and fine (16x16) maps → per level a small strided conv tower → one linear head per W+ layer.
Layers are split over the levels in pSp's proportion of coarse : medium : fine styles.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..bundled import encoder_file
from ..errors import CheckpointError, GanlensError, LatentError
from ..io.tensorfile import read_tensor_file, write_tensor_file
from ..latents import LatentCode, broadcast_w
from ..models.precision import fast_precision
from ..models.stylegan2 import Generator

FORMAT = "ganlens.encoder"
FORMAT_VERSION = 1


def _level_of_layers(num_ws: int) -> list[int]:
    """Pyramid level (0 coarse, 1 medium, 2 fine) for each W+ layer: the first ~30 % coarse, next ~30 % medium."""
    n_coarse = max(1, round(num_ws * 0.3))
    n_medium = max(1, round(num_ws * 0.3))
    return [0 if i < n_coarse else 1 if i < n_coarse + n_medium else 2 for i in range(num_ws)]


class _ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.skip = nn.Conv2d(cin, cout, 1, stride) if (stride != 1 or cin != cout) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.conv1(x), 0.2)
        return F.leaky_relu(self.conv2(h) + self.skip(x), 0.2)


class _Tower(nn.Module):
    """map2style trunk: strided 3x3 convs from an s x s map down to 2x2, flattened."""

    def __init__(self, channels: int, size: int) -> None:
        super().__init__()
        n = max(0, int(math.log2(size)) - 1)
        self.convs = nn.ModuleList([nn.Conv2d(channels, channels, 3, 2, 1) for _ in range(n)])
        self.out_features = channels * min(size, 2) ** 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
        return x.flatten(1)


class Encoder(nn.Module):
    """ReStyle/pSp encoder for one generator: (x, y, w_t) → w_{t+1}, all W+ [N, num_ws, w_dim].

    Args:
        resolution, num_ws, w_dim: those of the generator it serves.
        channel_base, channel_max: backbone width at resolution r is min(channel_base // r, channel_max), >= 16.
        fpn_channels: width of the pyramid and the style towers.
    """

    def __init__(self, resolution: int, num_ws: int, w_dim: int, channel_base: int = 512, channel_max: int = 128,
                 fpn_channels: int = 96) -> None:
        super().__init__()
        if resolution < 16 or 2 ** int(math.log2(resolution)) != resolution:
            raise GanlensError(f"encoder resolution must be a power of two >= 16, got {resolution}")
        self.init_kwargs = dict(resolution=resolution, num_ws=num_ws, w_dim=w_dim, channel_base=channel_base,
                                channel_max=channel_max, fpn_channels=fpn_channels)
        self.resolution, self.num_ws, self.w_dim = resolution, num_ws, w_dim
        ch = lambda r: max(16, min(channel_base // r, channel_max))  # noqa: E731
        res = resolution // 2
        self.stem = nn.Conv2d(6, ch(res), 3, 2, 1)
        blocks, self.block_res = [], []
        blocks.append(_ResBlock(ch(res), ch(res), 1))
        self.block_res.append(res)
        while res > 4:
            blocks.append(_ResBlock(ch(res), ch(res // 2), 2))
            res //= 2
            self.block_res.append(res)
        self.blocks = nn.ModuleList(blocks)
        # Pyramid on the outputs at 4, 8 and 16 px (coarse, medium, fine).
        self.level_res = (4, 8, 16)
        self.laterals = nn.ModuleList([nn.Conv2d(ch(r), fpn_channels, 1) for r in self.level_res])
        self.towers = nn.ModuleList([_Tower(fpn_channels, r) for r in self.level_res])
        self.levels = _level_of_layers(num_ws)
        # One linear head per W+ layer; the heads of one level are stored as one matrix (rows of layer l are
        # head l), so a level costs one matrix product instead of one small product per layer.
        self.heads = nn.ModuleList([
            nn.Linear(self.towers[lv].out_features, self.levels.count(lv) * w_dim) for lv in range(3)
        ])
        for head in self.heads:  # start as the identity map w_{t+1} = w_t
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.register_buffer("y_avg", torch.zeros(1, 3, resolution, resolution))  # G(w_avg): y_0 of ReStyle
        self.register_buffer("w_scale", torch.ones([]))  # residuals are predicted in units of w's spread
        self.generator_name = "unknown"
        self.provenance: dict = {}

    def __repr__(self) -> str:
        n = sum(p.numel() for p in self.parameters())
        return (f"Encoder(for={self.generator_name!r}, resolution={self.resolution}, num_ws={self.num_ws}, "
                f"w_dim={self.w_dim}, params={n / 1e6:.2f}M)")

    @torch.no_grad()
    def attach(self, G: Generator) -> "Encoder":
        """Store G's w_avg, G(w_avg) and w's per-dimension spread (what the first pass needs without G)."""
        self._check_generator(G)
        self.w_avg.copy_(G.w_avg.float())
        self.y_avg.copy_(G.synthesis(broadcast_w(G.w_avg.reshape(1, -1), G.num_ws)).float())
        ws = G.mapping(G.sample_z(2000, seed=7))[:, 0]
        self.w_scale.fill_(float((ws - G.w_avg).std()))
        self.generator_name = G.name
        return self

    def _check_generator(self, G: Generator) -> None:
        if (G.img_resolution, G.num_ws, G.w_dim) != (self.resolution, self.num_ws, self.w_dim):
            raise GanlensError(
                f"encoder for resolution {self.resolution}, num_ws {self.num_ws}, w_dim {self.w_dim} cannot serve "
                f"generator {G.name!r} (resolution {G.img_resolution}, num_ws {G.num_ws}, w_dim {G.w_dim})"
            )

    def forward(self, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """One refinement step: w + E(x, y) for targets x, reconstructions y [N, 3, R, R] and codes w [N, L, D]."""
        h = F.leaky_relu(self.stem(torch.cat([x, y], dim=1).to(self.stem.weight.dtype)), 0.2)
        feats: dict[int, torch.Tensor] = {}
        for block, r in zip(self.blocks, self.block_res):
            h = block(h)
            feats[r] = h
        p = None
        levels: list[torch.Tensor] = []
        for lat, r in zip(self.laterals, self.level_res):  # top-down: coarse first, upsample and add
            q = lat(feats[r])
            p = q if p is None else q + F.interpolate(p, scale_factor=2, mode="bilinear", align_corners=False)
            levels.append(p)
        # Levels own consecutive layers (coarse, medium, fine), so concatenating in level order is layer order.
        delta = torch.cat([head(tower(lv)).reshape(len(x), -1, self.w_dim)
                           for head, tower, lv in zip(self.heads, self.towers, levels)], dim=1)
        return w.float() + delta.float() * self.w_scale.float()

    def start(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """ReStyle's starting point for n images: (y_0 = G(w_avg), w_0 = w_avg) repeated over the batch."""
        return self.y_avg.expand(n, -1, -1, -1), broadcast_w(self.w_avg.reshape(1, -1).expand(n, -1), self.num_ws)

    @torch.no_grad()
    def invert(self, images, G: Generator | None = None, iterations: int = 1, batch_size: int = 256,
               precision: str = "auto") -> LatentCode:
        """Invert images: uint8 [N, R, R, 3] or float [N, 3, R, R] in [-1, 1] → LatentCode('w+').

        Args:
            G: the generator; needed only for iterations > 1 (to render each refinement's input).
            iterations: 1 = a pSp single pass; more = ReStyle refinement steps.
            precision: 'bf16' (the encoder's training tolerates it; much faster where the hardware has bf16), 'fp32',
                or 'auto' (bf16 only where it is fast; `ganlens.models.precision`).
        """
        from .optimize import as_target_tensor

        if iterations < 1:
            raise GanlensError(f"iterations must be >= 1, got {iterations}")
        if iterations > 1:
            if G is None:
                raise GanlensError("ReStyle refinement (iterations > 1) renders each step: pass the generator G")
            self._check_generator(G)
        if precision not in ("bf16", "fp32", "auto"):
            raise GanlensError(f"precision must be 'bf16', 'fp32' or 'auto', got {precision!r}")
        if precision == "auto":
            precision = fast_precision(self.w_avg.device)
        x_all = as_target_tensor(images, self.resolution).to(self.w_avg.device)
        # bf16: a converted copy rather than autocast, which would re-cast every weight on every call.
        net = copy.deepcopy(self).to(torch.bfloat16) if precision == "bf16" else self
        net = net.eval().to(memory_format=torch.channels_last)
        outs = []
        for i in range(0, len(x_all), batch_size):
            x = x_all[i : i + batch_size].contiguous(memory_format=torch.channels_last)
            y, w = self.start(len(x))
            for t in range(iterations):
                w = net(x, y, w)
                if t + 1 < iterations:
                    y = G.synthesis(w, noise_mode="const").float()
            outs.append(w.cpu())
        code = torch.cat(outs) if outs else torch.empty(0, self.num_ws, self.w_dim)
        return LatentCode("w+", code, meta={"method": "encoder", "iterations": iterations, "model": self.generator_name})


def save_encoder(enc: Encoder, path: str | Path, provenance: dict | None = None) -> Path:
    """Write the encoder's weights and buffers with {init_kwargs, generator, provenance} to a .safetensors (atomic)."""
    doc = {"format": FORMAT, "version": FORMAT_VERSION, "generator": enc.generator_name, "init_kwargs": enc.init_kwargs,
           "provenance": provenance or {}}
    return write_tensor_file(path, {k: v.float() for k, v in enc.state_dict().items()}, doc)


def load_encoder(name_or_path: str | Path, device: str | torch.device = "cpu") -> Encoder:
    """Load an encoder: a bundled name (the generator's, e.g. 'synthfaces64') or a .safetensors path.

    Raises:
        CheckpointError: missing, unreadable or not a ganlens encoder file.
    """
    key = str(name_or_path)
    path = Path(key) if "/" in key or key.endswith(".safetensors") else encoder_file(key)
    if path is None or not path.exists():
        where = f"{path} does not exist" if path is not None else "no encoder ships with that model"
        raise CheckpointError(f"no encoder {key!r}: {where} (train one with `ganlens train encoder`)")
    doc, state = read_tensor_file(path, FORMAT, "encoder", max_version=FORMAT_VERSION)
    enc = Encoder(**doc["init_kwargs"])
    try:
        enc.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path} does not fit the encoder architecture it declares: {exc}") from exc
    enc.generator_name = doc.get("generator", "unknown")
    enc.provenance = doc.get("provenance", {})
    return enc.to(device).eval().requires_grad_(False).to(memory_format=torch.channels_last)


def latent_error(pred: LatentCode | torch.Tensor, true: LatentCode | torch.Tensor, G: Generator) -> np.ndarray:
    """Latent recovery error per image: RMS over layers of |ŵ_l − w_l|, divided by E|w − w_avg| (the typical
    distance of a sample from the mean), so 0 is exact recovery and ~1.4 is as far as two random samples."""
    a = G.ws_of(pred) if isinstance(pred, LatentCode) else pred
    b = G.ws_of(true) if isinstance(true, LatentCode) else true
    if a.shape != b.shape:
        raise LatentError(f"latent_error: shapes {list(a.shape)} and {list(b.shape)} differ")
    with torch.no_grad():
        ws = G.mapping(G.sample_z(2000, seed=11))[:, 0]
        typical = float((ws - G.w_avg).norm(dim=1).mean())
        err = (a.detach().float() - b.detach().float()).norm(dim=2).square().mean(dim=1).sqrt() / typical
    return err.cpu().numpy()
