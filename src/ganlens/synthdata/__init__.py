"""synthfaces: a procedural cartoon-face domain whose 13 generative factors are known exactly.

See `factors.py` for every factor's range, meaning and sampling, and the deliberate correlations.
"""

from .dataset import SynthDataset, build_dataset, load_dataset
from .factors import FACTOR_NAMES, FACTORS, Factor, sample_factors
from .render import render, render_batch

__all__ = ["FACTORS", "FACTOR_NAMES", "Factor", "SynthDataset", "build_dataset", "load_dataset", "render",
           "render_batch", "sample_factors"]
