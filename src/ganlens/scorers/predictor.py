"""The bundled attribute predictor: a small CNN that reads every synthfaces factor from a 64x64 image."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from ..bundled import PREDICTORS
from ..errors import CheckpointError, UnknownModelError
from ..io.tensorfile import peek_document, read_tensor_file, write_tensor_file
from .base import AttributeInfo, Scorer, to_unit_float


class AttributePredictor(nn.Module):
    """Four stride-2 conv stages (64 → 4 px) and an MLP head with one output per attribute.

    Continuous outputs are in normalised units (0..1 over the attribute's range); binary outputs are logits.
    A flattened (not pooled) feature map keeps where things are, which yaw and face size need.
    """

    def __init__(self, num_outputs: int, width: int = 32, resolution: int = 64) -> None:
        super().__init__()
        self.init_kwargs = {"num_outputs": num_outputs, "width": width, "resolution": resolution}
        chans = [3, width, 2 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = []
        for i in range(4):
            layers += [nn.Conv2d(chans[i], chans[i + 1], 3, 2, 1), nn.BatchNorm2d(chans[i + 1]), nn.SiLU()]
        self.features = nn.Sequential(*layers)
        side = resolution // 16
        self.embedding = nn.Sequential(nn.Flatten(), nn.Linear(chans[-1] * side * side, 128), nn.SiLU())
        self.head = nn.Linear(128, num_outputs)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The 128-d feature vector before the head (an embedding network for contrastive training)."""
        return self.embedding(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


class PredictorScorer(Scorer):
    """A trained AttributePredictor with its attribute metadata, behind the Scorer interface."""

    def __init__(self, model: AttributePredictor, attributes: tuple[AttributeInfo, ...], meta: dict | None = None) -> None:
        self.model = model.eval()
        self.attributes = tuple(attributes)
        self.meta = meta or {}
        self.resolution = model.init_kwargs["resolution"]
        lows = torch.tensor([a.low if a.kind == "continuous" else 0.0 for a in attributes])
        spans = torch.tensor([(a.high - a.low) if a.kind == "continuous" else 1.0 for a in attributes])
        self._lows, self._spans = lows, spans

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        x = to_unit_float(images)
        if x.shape[-1] != self.resolution:
            x = torch.nn.functional.interpolate(x, size=(self.resolution, self.resolution), mode="area")
        return x.to(next(self.model.parameters()).device)

    def score_tensor(self, images: torch.Tensor) -> torch.Tensor:
        """Differentiable scores [N, A] in the attributes' units (logits for binary)."""
        out = self.model(self._prepare(images))
        return out * self._spans.to(out.device) + self._lows.to(out.device)

    def embed(self, images) -> torch.Tensor:
        return self.model.embed(self._prepare(images))

    @torch.no_grad()
    def features(self, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
        """The 128-d penultimate features of many images [N, 128] (float64), in batches: the space of the
        domain-aware Fréchet distance and precision / recall."""
        return np.concatenate([self.embed(images[i : i + batch_size]).float().cpu().numpy()
                               for i in range(0, len(images), batch_size)]).astype(np.float64)

    @torch.no_grad()
    def _score_batch(self, images) -> dict[str, np.ndarray]:
        s = self.score_tensor(images).float().cpu().numpy()
        return {a: s[:, i] for i, a in enumerate(self.names)}


FORMAT = "ganlens.predictor"
# Version 1 kept the description in a side-car `stem.json`; version 2 keeps it in the weights file's header, like
# every other ganlens artefact (`ganlens.io.tensorfile`). Both load.
FORMAT_VERSION = 2


def save_predictor(model: AttributePredictor, attributes: tuple[AttributeInfo, ...], meta: dict, stem: str | Path) -> Path:
    """Write `stem`.safetensors: the weights, with the architecture, attributes and metrics in its header."""
    doc = {"format": FORMAT, "version": FORMAT_VERSION, "init_kwargs": model.init_kwargs,
           "attributes": [a.__dict__ for a in attributes], **meta}
    return write_tensor_file(Path(stem).with_suffix(".safetensors"), model.state_dict(), doc)


def load_scorer(name_or_path: str | Path = "synthfaces64", device: str = "cpu") -> PredictorScorer:
    """Load a bundled predictor by name, or a predictor file by path (`.safetensors`, or a version-1 pair of
    `.safetensors` + `.json` given by either file's name or their common stem).

    Raises:
        UnknownModelError: neither a bundled name nor an existing file.
        CheckpointError: a missing side-car, or a file that is corrupt or not a predictor.
    """
    key = str(name_or_path)
    if key in PREDICTORS:
        stem = PREDICTORS[key]
    else:
        p = Path(key)
        stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
        if not stem.with_suffix(".safetensors").exists():
            raise UnknownModelError(f"unknown scorer {key!r}: not bundled ({', '.join(sorted(PREDICTORS))}) and no "
                                    f"{stem.with_suffix('.safetensors')} file")
    weights, side_car = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    if peek_document(weights) is None:  # version 1: the description lives beside the weights
        if not side_car.exists():
            raise CheckpointError(f"{weights} carries no predictor description and {side_car} is missing")
        try:
            doc, state = json.loads(side_car.read_text()), load_file(str(weights))
        except (OSError, ValueError, SafetensorError) as exc:
            raise CheckpointError(f"cannot read scorer {stem}: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise CheckpointError(f"{side_car} is not a predictor description (format {FORMAT!r} expected)")
    else:
        doc, state = read_tensor_file(weights, FORMAT, "ganlens predictor", max_version=FORMAT_VERSION)
    model = AttributePredictor(**doc["init_kwargs"])
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{weights} does not fit the predictor architecture it declares: {exc}") from exc
    attributes = tuple(AttributeInfo(**a) for a in doc["attributes"])
    meta = {k: v for k, v in doc.items() if k not in ("init_kwargs", "attributes")}
    return PredictorScorer(model.to(device), attributes, meta)
