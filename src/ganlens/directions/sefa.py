"""SeFa: closed-form directions from the style-affine weights (Shen & Zhou, "Closed-Form Factorization").

A w moves the styles s = A w + b of the chosen layers; the unit directions that move them most are the top
eigenvectors of AᵀA. As in the reference code each affine output channel's weight row is L2-normalised first
(so wide layers do not dominate), and the symmetric product is decomposed with `eigh` (not `eig`).

Which affines make A: by default the reference's set (genforce's `factorize_weight`): for StyleGAN2 the modulated
convs of the chosen w's and the final toRGB, whose w drives nothing else. `rgb='all'` also stacks every
intermediate toRGB (ganlens' set before 2026-12-07). On synthfaces64 over all layers the two sets' top six
directions agree to |cos| 0.84-1.0, but per layer group they part: on the coarse layers the fifth direction of one
set is almost orthogonal to the other's (|cos| 0.15), on the fine layers the sixth (0.04).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import GanlensError
from ..latents.layers import LayerSpec, resolve_layers
from .direction import Direction

RGB_SETS = ("last", "all")

if TYPE_CHECKING:  # pragma: no cover
    from ..models.stylegan2 import Generator


def style_weights(G: Generator, layers: LayerSpec = "all", rgb: str = "last") -> np.ndarray:
    """The stacked, row-normalised affine weights A [sum of style channels, w_dim] of the layers reading `layers`.

    Every linear map from a w whose index is in `layers` contributes (`G.latent_weights(rgb)`: StyleGAN2's
    modulated convs and its final toRGB, or every toRGB with rgb='all'; StyleGAN's AdaIN styles, StyleGAN3's
    affines, PGGAN's first layer from z).
    """
    if rgb not in RGB_SETS:
        raise GanlensError(f"rgb must be one of {RGB_SETS}, got {rgb!r}")
    idx = set(resolve_layers(layers, G.w_resolutions))
    rows = [a.double().cpu() for w_index, a in G.latent_weights(rgb) if w_index in idx]
    a = np.concatenate([r.numpy() for r in rows], axis=0)
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    if (norms == 0).any():
        raise GanlensError("an affine layer has an all-zero weight row; SeFa needs non-degenerate style weights")
    return a / norms


def sefa(G: Generator, layers: LayerSpec = "all", num: int = 10, rgb: str = "last") -> list[Direction]:
    """The top `num` SeFa directions (W space) for the chosen layers, sorted by eigenvalue.

    Args:
        G: a Generator.
        layers: which w's to factorise and later edit ('all', 'coarse', 'middle', 'fine', '0-3', ...).
        num: how many directions (at most w_dim).
        rgb: which toRGB affines join the factorisation: 'last' (the reference's set) or 'all' (module docstring).
    Returns:
        Directions with metrics eigenvalue, rank and share (eigenvalue / trace); `layers` set unless all.
    """
    if not 1 <= num <= G.w_dim:
        raise GanlensError(f"num must be between 1 and w_dim={G.w_dim}, got {num}")
    idx = resolve_layers(layers, G.w_resolutions)
    a = style_weights(G, idx, rgb)
    values, vectors = np.linalg.eigh(a.T @ a)  # ascending
    order = np.argsort(values)[::-1][:num]
    trace = float(values.sum())
    label = layers if isinstance(layers, str) else None
    out = []
    for rank, k in enumerate(order):
        out.append(Direction(
            vector=vectors[:, k], space="w" if "w" in getattr(G, "spaces", ("w",)) else "z", layers=None if len(idx) == G.num_ws else idx, method="sefa",
            attribute=f"sefa{rank}" + (f"_{label}" if label and label != "all" else ""),
            metrics={"eigenvalue": float(values[k]), "rank": rank, "share": float(values[k]) / trace},
            model=getattr(G, "name", None), num_ws=G.num_ws,
            provenance={"layers_spec": str(layers), "rgb": rgb, "num_style_channels": int(a.shape[0])},
        ))
    return out
