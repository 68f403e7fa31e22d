"""Latent codes and the layers they feed: the data every other part of ganlens passes around.

- `LatentCode` (`code.py`): a batch of codes that knows its space (z, w, w+, s), saved as .npz; the rules every
  code obeys (`broadcast_w`: one w for every layer; `check_truncation`: truncation exists in W only);
- layer ranges (`layers.py`): which w of a W+ code feeds which synthesis layer, presets and range strings.

Nothing here needs a generator object; what a code must fit is described by `LatentShape`.
"""

from .code import SPACES, LatentCode, LatentShape, broadcast_w, check_truncation
from .layers import (
    LayerSpec,
    Layout,
    count_ws,
    describe_layers,
    layer_resolutions,
    parse_indices,
    presets,
    resolution_groups,
    resolutions_of,
    resolve_layers,
)

__all__ = [
    "SPACES", "LatentCode", "LatentShape", "LayerSpec", "Layout", "broadcast_w", "check_truncation", "count_ws", "describe_layers", "layer_resolutions", "parse_indices",
    "presets", "resolution_groups", "resolutions_of", "resolve_layers",
]
