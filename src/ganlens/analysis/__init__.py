"""Measuring what directions do: HiGAN re-scoring, auto-labels, layer-wise heat-maps, entanglement, distance effect, and
whether an attribute is linear in a space at all."""

from .autolabel import autolabel, correlations
from .distance import DistanceEffect, distance_effect
from .entanglement import cosine_matrix, score_correlation
from .layerwise import LayerwiseReport, layerwise
from .linearity import Linearity, linearity
from .rescore import EditReport, measure_edits, random_directions, rescore, sample_base

__all__ = [
    "DistanceEffect", "EditReport", "LayerwiseReport", "Linearity", "autolabel", "correlations", "cosine_matrix", "distance_effect", "layerwise",
    "linearity", "measure_edits", "random_directions", "rescore", "sample_base", "score_correlation",
]
