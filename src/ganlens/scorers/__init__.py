"""Attribute scorers behind one interface: the bundled predictor, user callables, (and CSV labels via scoring)."""

from .base import AttributeInfo, CallableScorer, Scorer, to_uint8_nhwc, to_unit_float
from .predictor import AttributePredictor, PredictorScorer, load_scorer, save_predictor

__all__ = ["AttributeInfo", "AttributePredictor", "CallableScorer", "PredictorScorer", "Scorer",
           "load_scorer", "save_predictor", "to_uint8_nhwc", "to_unit_float"]
