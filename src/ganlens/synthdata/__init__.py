"""synthfaces: a procedural cartoon-face domain whose 13 generative factors are known exactly.

See `factors.py` for every factor's range, meaning and sampling, and the deliberate correlations.
"""

from .dataset import SynthDataset, build_dataset, load_dataset
from .factors import FACTOR_NAMES, FACTORS, Factor, sample_factors
from .render import FACTOR_REGIONS, PARTS, part_masks, region_mask, render, render_batch, render_parts

__all__ = ["FACTORS", "FACTOR_NAMES", "FACTOR_REGIONS", "Factor", "PARTS", "SynthDataset", "build_dataset",
           "load_dataset", "part_masks", "region_mask", "render", "render_batch", "render_parts", "sample_factors"]
