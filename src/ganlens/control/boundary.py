"""The boundary-distance baseline: reach a requested value by moving along InterFaceGAN boundaries.

Per attribute k a linear model y ≈ α_k·d_k + β_k links the score to the signed distance d_k = n_k·w + b_k (fitted by
least squares on sampled codes and their scores). A request y* becomes a target distance d* = (y* − β)/α. With one
attribute the code moves along n_k by d* − d_k(w); with several, it moves in the span of their normals by the
least change that puts every requested distance on target (the linear model's exact answer, so setting one
attribute does not undo another through non-orthogonal normals).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..directions.direction import Direction
from ..errors import GanlensError
from ..io.tensorfile import read_tensor_file, write_tensor_file
from ..scorers.base import AttributeInfo
from .encoders import (
    FORMAT_VERSION,
    ControlledAttribute,
    Target,
    check_targets,
)

FORMAT = "ganlens.control_boundary"


@dataclass(frozen=True)
class Calibration:
    """y ≈ slope·d + intercept, and how well that line fits (R²) on the fitting samples."""

    slope: float
    intercept: float
    r2: float


class BoundaryControl:
    """Unit normals [N, w_dim], biases, calibrations and ranges of N attributes."""

    def __init__(self, attributes: Sequence[ControlledAttribute], normals: torch.Tensor, biases: torch.Tensor,
                 calibrations: Sequence[Calibration], model: str, meta: dict | None = None) -> None:
        self.attributes = {a.name: a for a in attributes}
        self.order = [a.name for a in attributes]
        self.normals = normals.to(torch.float32)
        self.biases = biases.to(torch.float32)
        self.calibrations = dict(zip(self.order, calibrations))
        self.model, self.meta = model, dict(meta or {})
        flat = [c.name for c, cal in zip(attributes, calibrations) if abs(cal.slope) < 1e-6]
        if flat:
            raise GanlensError(f"the scores of {flat} do not change along their boundaries; they cannot be controlled")

    def __repr__(self) -> str:
        return f"BoundaryControl(model={self.model!r}, attributes={self.order})"

    def target_distance(self, name: str, value: torch.Tensor) -> torch.Tensor:
        """The signed distance at which the linear model predicts `value`."""
        cal = self.calibrations[name]
        return (value - cal.intercept) / cal.slope

    @torch.no_grad()
    def apply(self, w: torch.Tensor, targets: Mapping[str, Target]) -> torch.Tensor:
        """Codes w [n, w_dim] moved so that every attribute in `targets` sits at its value's distance.

        Args:
            w: codes [n, w_dim].
            targets: {attribute: one value, or one value per code}.
        Raises:
            GanlensError: unknown attribute or a value out of range.
        """
        if not targets:
            return w
        checked = check_targets(self.attributes, targets, len(w))
        idx = [self.order.index(name) for name in checked]
        d_star = torch.stack([self.target_distance(name, v) for name, v in checked.items()], dim=1).to(w.device)
        N = self.normals[idx].to(w.device)
        d_now = w.float() @ N.T + self.biases[idx].to(w.device)
        gap = d_star - d_now  # [n, K]
        coef = torch.linalg.solve(N @ N.T, gap.T).T  # min-norm move in span(N) that closes every gap
        return w.float() + coef @ N

    def save(self, path: str | Path) -> Path:
        """One safetensors file (normals, biases) with a JSON header (atomic)."""
        doc = {"format": FORMAT, "version": FORMAT_VERSION, "model": self.model,
               "attributes": [asdict(self.attributes[a]) for a in self.order],
               "calibrations": [asdict(self.calibrations[a]) for a in self.order], "meta": self.meta}
        state = {"normals": self.normals.contiguous(), "biases": self.biases.contiguous()}
        return write_tensor_file(path, state, doc)

    @classmethod
    def load(cls, path: str | Path) -> BoundaryControl:
        """Read what `save` wrote."""
        doc, state = read_tensor_file(path, FORMAT, "ganlens.control_boundary file", max_version=FORMAT_VERSION)
        return cls([ControlledAttribute(**a) for a in doc["attributes"]], state["normals"], state["biases"],
                   [Calibration(**c) for c in doc["calibrations"]], doc["model"], doc.get("meta"))


def fit_boundary_control(
    directions: Mapping[str, Direction], w: torch.Tensor, scores: Mapping[str, np.ndarray],
    attributes: Sequence[AttributeInfo], model: str, meta: dict | None = None,
) -> BoundaryControl:
    """Calibrate the boundaries of `attributes` on codes w [n, w_dim] and their scores.

    Raises:
        GanlensError: an attribute without a W boundary or without scores.
    """
    missing = [a.name for a in attributes if a.name not in directions]
    if missing:
        raise GanlensError(f"no boundary for {missing}; available: {sorted(directions)}")
    w64 = w.detach().cpu().double().numpy()
    normals, biases, cals, attrs = [], [], [], []
    for info in attributes:
        d = directions[info.name]
        if d.space != "w" or d.layers is not None:
            raise GanlensError(f"boundary {info.name!r} must move every layer of W (space 'w', layers None); got "
                               f"space={d.space!r} layers={d.layers}")
        if info.name not in scores:
            raise GanlensError(f"no scores for {info.name!r}; the scorer gave {sorted(scores)}")
        dist = d.distance(w64)
        y = np.asarray(scores[info.name], dtype=np.float64)
        slope, intercept = np.polyfit(dist, y, 1)
        resid = y - (slope * dist + intercept)
        r2 = 1 - resid.var() / max(y.var(), 1e-12)
        normals.append(d.vector)
        biases.append(d.bias or 0.0)
        cals.append(Calibration(float(slope), float(intercept), float(r2)))
        lo, hi = np.quantile(y, [0.005, 0.995])
        attrs.append(ControlledAttribute(info.name, info.kind, float(info.low), float(info.high), float(lo), float(hi)))
    return BoundaryControl(attrs, torch.tensor(np.stack(normals)), torch.tensor(biases), cals, model,
                           dict(meta or {}, num_samples=len(w64)))
