"""Editing latent codes: linear moves along directions (single, joint, jittered, layer-wise), per-sample gradient
ascent (optionally holding attributes fixed), local edits inside a mask, grids. Layer ranges live in
`ganlens.latents.layers` and are re-exported here."""

from ..latents.layers import describe_layers, layer_resolutions, presets, resolution_groups, resolve_layers
from .ascent import ascend, ascend_path
from .grid import labelled_grid, strength_labels
from .linear import jitter, move, move_joint, parse_strengths, perturb
from .masked import local_edit

__all__ = [
    "ascend", "ascend_path", "describe_layers", "jitter", "labelled_grid", "layer_resolutions", "local_edit", "move", "move_joint", "parse_strengths",
    "perturb", "presets", "resolution_groups", "resolve_layers", "strength_labels",
]
