"""Widen a trained discriminator without changing what it computes (Net2Net's "wider" step, Chen et al. 2016).

A fresh discriminator under a trained generator stays at chance for of the order of 100 kimg (measured twice in this
project), so a run that wants a wider D mid-way grows the one it has: every saved weight keeps its place, the new
output channels start from the fresh network's random weights, and every weight that reads a new input channel starts
at zero, so the new channels have no say in the logit until training gives them one (their outgoing weights get
gradients at once). The equalised learning rate divides each weight by sqrt(fan-in) at run time, so the kept weights
are scaled up by sqrt(new fan-in / old fan-in) to keep their products.
"""

from __future__ import annotations

import math

import torch

from ..errors import GanlensError


def widen_discriminator(D: torch.nn.Module, saved: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict for `D` (the wider network) that computes exactly what `saved` (a narrower D of the same
    resolution) computed. Refuses a `saved` with other parameter names, a narrower `D`, or other widths at 4x4 (the
    minibatch-std feature averages over the 4x4 channels, so new ones there would change the output)."""
    own = D.state_dict()
    if own.keys() != saved.keys():
        raise GanlensError("the saved discriminator has other layers (another resolution?): it cannot be widened into "
                           "this one")
    out = {}
    for name, fresh in own.items():
        old = saved[name].to(fresh.dtype)
        if old.shape == fresh.shape:
            out[name] = old.clone()
            continue
        if name.startswith("b4."):
            raise GanlensError(f"widening changes the 4x4 block ({name}: {list(old.shape)} -> {list(fresh.shape)}); "
                               "keep --d-cmax so the channels at 4x4 stay as they are")
        if old.ndim != fresh.ndim or any(o > f for o, f in zip(old.shape, fresh.shape)):
            raise GanlensError(f"{name}: the saved {list(old.shape)} does not fit inside {list(fresh.shape)}; "
                               "a discriminator can only be widened")
        grown = fresh.clone()
        if grown.ndim >= 2:  # weights [out, in, ...]: reads of new inputs start at zero, kept ones keep their product
            grown[:, old.shape[1]:] = 0
            scale = math.sqrt(fresh.shape[1] / old.shape[1])
            grown[tuple(slice(0, s) for s in old.shape)] = old * scale
        else:  # biases: kept ones kept, new ones as initialised (zero)
            grown[: old.shape[0]] = old
        out[name] = grown
    return out
