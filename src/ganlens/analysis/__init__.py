"""Measuring what directions do: HiGAN re-scoring, auto-labels, layer-wise heat-maps, entanglement, distance effect,
whether an attribute is linear in a space at all, and how disentangled a method's directions are against known
factors."""

from .autolabel import autolabel, correlations
from .disentanglement import direction_coordinates, score_directions
from .distance import DistanceEffect, distance_effect
from .entanglement import cosine_matrix, score_correlation
from .layerwise import LayerwiseReport, layerwise
from .linearity import Linearity, linearity
from .rescore import EditReport, measure_edits, random_directions, rescore, sample_base

__all__ = [
    "DistanceEffect", "EditReport", "LayerwiseReport", "Linearity", "autolabel", "correlations", "cosine_matrix", "direction_coordinates", "distance_effect", "layerwise",
    "linearity", "measure_edits", "random_directions", "rescore", "sample_base", "score_correlation", "score_directions",
]
