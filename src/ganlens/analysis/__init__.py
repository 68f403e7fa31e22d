"""Measuring what directions do: HiGAN re-scoring, layer-wise heat-maps, entanglement, distance effect, and
whether an attribute is linear in a space at all."""

from .distance import DistanceEffect, distance_effect
from .entanglement import cosine_matrix, score_correlation
from .layerwise import LayerwiseReport, layerwise
from .linearity import Linearity, linearity
from .rescore import EditReport, measure_edits, random_directions, rescore, sample_base

__all__ = [
    "DistanceEffect", "EditReport", "LayerwiseReport", "Linearity", "cosine_matrix", "distance_effect", "layerwise",
    "linearity", "measure_edits", "random_directions", "rescore", "sample_base", "score_correlation",
]
