"""Measuring what directions do: HiGAN re-scoring, layer-wise heat-maps, entanglement, distance effect."""

from .distance import DistanceEffect, distance_effect
from .entanglement import cosine_matrix, score_correlation
from .layerwise import LayerwiseReport, layerwise
from .rescore import EditReport, measure_edits, random_directions, rescore, sample_base

__all__ = [
    "DistanceEffect", "EditReport", "LayerwiseReport", "cosine_matrix", "distance_effect", "layerwise",
    "measure_edits", "random_directions", "rescore", "sample_base", "score_correlation",
]
