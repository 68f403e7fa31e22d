"""Editing latent codes: linear moves along directions (single, joint, jittered, layer-wise), per-sample gradient
ascent (optionally holding attributes fixed), layer ranges, grids."""

from .ascent import ascend, ascend_path
from .grid import labelled_grid, strength_labels
from .layers import describe_layers, layer_resolutions, presets, resolution_groups, resolve_layers
from .linear import jitter, move, move_joint, parse_strengths, perturb

__all__ = [
    "ascend", "ascend_path", "describe_layers", "jitter", "labelled_grid", "layer_resolutions", "move", "move_joint", "parse_strengths",
    "perturb", "presets", "resolution_groups", "resolve_layers", "strength_labels",
]
