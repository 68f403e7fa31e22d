"""Explicit control (GAN-Control, METHODS.md section 7): set an attribute to a named value.

- `fit` / `ControlEncoders`: per-attribute encoders E_k from values to latent codes, on any generator;
- `BoundaryControl`: the baseline that moves along an InterFaceGAN boundary by the distance a linear model predicts;
- `SplitGenerator`: a generator whose z and w are split into one sub-vector per attribute plus the rest;
- `contrastive_loss` / `make_pair_batch`: the factorised contrastive loss and its pair batches.
"""


from .boundary import BoundaryControl, Calibration, fit_boundary_control
from .contrastive import (
    PairBatch,
    contrastive_loss,
    make_pair_batch,
    predictor_embeddings,
    same_mask,
)
from .encoders import (
    ControlEncoders,
    ControlledAttribute,
    fit,
    fit_from_samples,
    sample_and_score,
)
from .split_model import SplitGenerator, load_split_generator, save_split_generator

METHODS = {"encoders": ControlEncoders, "boundary": BoundaryControl}


__all__ = [
    "METHODS",
    "BoundaryControl",
    "Calibration",
    "ControlEncoders",
    "ControlledAttribute",
    "PairBatch",
    "SplitGenerator",
    "contrastive_loss",
    "fit",
    "fit_boundary_control",
    "fit_from_samples",
    "load_split_generator",
    "make_pair_batch",
    "predictor_embeddings",
    "same_mask",
    "sample_and_score",
    "save_split_generator",
]
