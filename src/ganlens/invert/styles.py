"""Inversion into style space S: so real images can be edited channel by channel (StyleSpace).

Starts from a W+ inversion (or a given W+ code), then optimises the style code s together with its W+ code w,
with a penalty that keeps s near the affine image of w: S has many more coordinates than W+, and unconstrained
they fit the image by moving channels far from anything the generator produces (the same reason W+ inversions
are kept near W). The penalty is measured per channel in units of the channel's spread over samples.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from tqdm import tqdm

from ..errors import LatentError
from ..latents import LatentCode
from .losses import pixel_distance
from .optimize import InversionResult, as_target_tensor, lr_schedule, preset, project


def invert_styles(G, images, init: LatentCode | None = None, steps: int = 200, lr: float = 0.02,
                  style_reg: float = 0.1, pivot_steps: int = 300, progress: bool = False) -> InversionResult:
    """Fit 's' codes to images (uint8 [N, R, R, 3] or float [N, 3, R, R]).

    Args:
        G: a generator with style space S.
        init: W+ codes to start from (one per image); None: a W+ projection of `pivot_steps` steps first.
        steps, lr: Adam steps and peak learning rate of the joint (s, w) fit.
        style_reg: weight of mean(((s − A(w)) / σ)²), σ the channels' spread over samples.
    Returns:
        InversionResult with a LatentCode('s').
    """
    G.check_space("s")
    t0 = time.perf_counter()
    target = as_target_tensor(images, G.img_resolution).to(G.device)
    if init is None:
        init = project(G, target, "ganlens", steps=pivot_steps, progress=progress).code
    if init.space not in ("w", "w+") or len(init) != len(target):
        raise LatentError(f"init must be {len(target)} W or W+ codes, got {init.space!r} x {len(init)}")
    with torch.no_grad():
        sigma = G.to_styles(G.sample(1000, seed=0)).tensor.std(dim=0).clamp_min(1e-6).to(G.device)
    w = G.ws_of(init).detach().clone().requires_grad_(True)
    s = torch.cat(G.synthesis.styles(w), dim=1).detach().clone().requires_grad_(True)
    dims = G.style_dims()
    cfg = preset("ganlens", lr=lr, steps=steps)
    opt = torch.optim.Adam([w, s], lr=lr)
    history = []
    grad_state = [p.requires_grad for p in G.parameters()]
    G.requires_grad_(False)
    try:
        for step in tqdm(range(steps), disable=not progress, desc="invert s", unit="step", leave=False):
            for group in opt.param_groups:
                group["lr"] = lr_schedule(step / steps, cfg)
            img = G.synthesis(styles=list(torch.split(s, dims, dim=1)), noise_mode="const")
            rec = pixel_distance(img, target)
            drift = ((s - torch.cat(G.synthesis.styles(w), dim=1)) / sigma).square().mean(dim=1)
            loss = (rec + style_reg * drift).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            history.append(rec.detach().cpu().numpy())
    finally:
        for p, g in zip(G.parameters(), grad_state):
            p.requires_grad_(g)
    with torch.no_grad():
        final = pixel_distance(G.synthesis(styles=list(torch.split(s, dims, dim=1))), target).cpu().numpy()
    code = LatentCode("s", s.detach().cpu(), meta={"method": "optim-s", "model": G.name, "style_reg": style_reg})
    return InversionResult(code, final, np.stack(history), time.perf_counter() - t0,
                           {"space": "s", "steps": steps, "lr": lr, "style_reg": style_reg})
