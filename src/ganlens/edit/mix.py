"""Crossover / style mixing (Image2StyleGAN): some layers' codes from a style image, the rest from a content image."""

from __future__ import annotations

import torch

from ..errors import LatentError
from ..latents import LatentCode
from ..latents.layers import LayerSpec, Layout, count_ws, resolve_layers


def _wplus(code: LatentCode, num_ws: int, role: str) -> torch.Tensor:
    if code.space not in ("w", "w+"):
        raise LatentError(f"the {role} code is in {code.space!r}; mixing needs 'w' or 'w+' codes (map z codes first)")
    t = code.to_wplus(num_ws).tensor
    if t.shape[1] != num_ws:
        raise LatentError(f"the {role} code has {t.shape[1]} layers; the generator has {num_ws}")
    return t


def crossover(content: LatentCode, style: LatentCode, layers: LayerSpec, num_ws: Layout) -> LatentCode:
    """w+ codes taking `layers` from `style` and every other layer from `content`.

    Args:
        content, style: 'w' or 'w+' codes of equal batch size, or one of them of batch 1 (broadcast).
        layers: w indices, a range text like '4-9', or a preset name (coarse / middle / fine / all).
        num_ws: the generator's number of w's, or its `w_resolutions` (then preset names follow its architecture).
    Returns:
        A 'w+' LatentCode; with layers = all it equals the style code, with no layers the content code.
    """
    c, s = _wplus(content, count_ws(num_ws), "content"), _wplus(style, count_ws(num_ws), "style")
    if len(c) != len(s) and 1 not in (len(c), len(s)):
        raise LatentError(f"content has {len(c)} codes and style {len(s)}; give equal counts or one of them")
    c, s = torch.broadcast_tensors(c, s)
    idx = list(resolve_layers(layers, num_ws)) if layers not in (None, "", []) else []
    out = c.clone()
    out[:, idx] = s[:, idx]
    return LatentCode("w+", out, meta={"op": "crossover", "layers": idx})


def mix_grid(content: LatentCode, style: LatentCode, layers: LayerSpec, num_ws: Layout) -> LatentCode:
    """Every content × style pair, row-major (row = content, column = style), like the StyleGAN mixing figure."""
    c, s = _wplus(content, count_ws(num_ws), "content"), _wplus(style, count_ws(num_ws), "style")
    rows = [crossover(LatentCode("w+", c[i : i + 1]), LatentCode("w+", s), layers, num_ws).tensor for i in range(len(c))]
    return LatentCode("w+", torch.cat(rows), meta={"op": "mix_grid", "rows": len(c), "cols": len(s)})
