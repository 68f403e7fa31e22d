"""Morphing and latent arithmetic (Image2StyleGAN): w = λ w1 + (1 − λ) w2, and w_A + λ (w_C − w_B)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..errors import LatentError
from ..latents import LatentCode


def _pair(a: LatentCode, b: LatentCode) -> None:
    if a.space != b.space:
        raise LatentError(f"cannot combine a {a.space!r} code with a {b.space!r} code; convert one first")
    if a.tensor.shape[1:] != b.tensor.shape[1:]:
        raise LatentError(f"code shapes differ: {list(a.tensor.shape)} vs {list(b.tensor.shape)}")


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation per row (the right path between Gaussian z codes); falls back to lerp when parallel."""
    an, bn = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((an * bn).sum(-1, keepdim=True).clamp(-1, 1))
    so = torch.sin(omega)
    lerp = a + (b - a) * t
    sl = (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b
    return torch.where(so.abs() < 1e-6, lerp, sl)


def interpolate(a: LatentCode, b: LatentCode, ts: Sequence[float] | int) -> LatentCode:
    """Codes from `a` (t = 0) to `b` (t = 1): linear in W / W+ / S, spherical in Z.

    Args:
        a, b: codes of one space and equal batch size N.
        ts: the interpolation positions, or a frame count (evenly spaced, both ends included).
    Returns:
        len(ts) x N codes, frame-major (all N codes of frame 0, then frame 1, ...); noise maps are interpolated too.
    """
    _pair(a, b)
    if len(a) != len(b):
        raise LatentError(f"interpolate needs equal batch sizes, got {len(a)} and {len(b)}")
    ts = list(np.linspace(0, 1, ts)) if isinstance(ts, int) else list(ts)
    if len(ts) < 1:
        raise LatentError("need at least one interpolation position")
    frames, noise_frames = [], []
    for t in ts:
        t = float(t)
        frames.append(slerp(a.tensor, b.tensor, t) if a.space == "z" else a.tensor + (b.tensor - a.tensor) * t)
        if a.noise is not None and b.noise is not None:
            noise_frames.append([na + (nb - na) * t for na, nb in zip(a.noise, b.noise)])
    noise = None
    if noise_frames:
        noise = [torch.cat([nf[i].expand(len(a), *nf[i].shape[1:]) for nf in noise_frames]) for i in range(len(noise_frames[0]))]
    return LatentCode(a.space, torch.cat(frames), noise=noise, meta={"op": "interpolate", "ts": ts})


def pingpong(ts: Sequence[float]) -> list[float]:
    """Positions that go there and back without repeating the ends (for looping animations)."""
    ts = list(ts)
    return ts + ts[-2:0:-1]


def arithmetic(target: LatentCode, source: LatentCode, destination: LatentCode, strength: float = 1.0) -> LatentCode:
    """Attribute / expression transfer: target + strength · (destination − source); strength 0 is the identity."""
    _pair(target, source)
    _pair(target, destination)
    delta = destination.tensor - source.tensor
    if len(delta) not in (1, len(target)):
        raise LatentError(f"source/destination hold {len(delta)} codes; give 1 or as many as the target ({len(target)})")
    return LatentCode(target.space, target.tensor + strength * delta, noise=target.noise,
                      meta={"op": "arithmetic", "strength": strength})
