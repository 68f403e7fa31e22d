"""The bundled attribute predictor: a small CNN that reads every synthfaces factor from a 64x64 image."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import CheckpointError, UnknownModelError
from ..io.files import atomic_write_bytes, atomic_write_json
from .base import AttributeInfo, Scorer, to_unit_float

ASSETS = Path(__file__).resolve().parent.parent / "assets"
# "-independent" was trained on renders with the domain's factor correlations broken, so it does not read one factor
# as a cue for another (a guard for per-sample holds: docs/results.md, "Conditioning per sample").
BUNDLED = {"synthfaces64": ASSETS / "synthfaces64-predictor",
           "synthfaces64-independent": ASSETS / "synthfaces64-independent-predictor"}


def default_guard(model_name: str) -> str | None:
    """The bundled guard predictor for a model ('<model>-independent'), or None where none is bundled."""
    name = f"{model_name}-independent"
    return name if name in BUNDLED else None


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


def save_predictor(model: AttributePredictor, attributes: tuple[AttributeInfo, ...], meta: dict, stem: str | Path) -> Path:
    """Write `stem`.safetensors (weights) and `stem`.json (architecture, attributes, metrics), atomically."""
    stem = Path(stem)
    doc = {"format": "ganlens.predictor", "version": 1, "init_kwargs": model.init_kwargs,
           "attributes": [a.__dict__ for a in attributes], **meta}
    tmp = stem.with_name(stem.name + ".tmp.safetensors")
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp))
    atomic_write_bytes(stem.with_suffix(".safetensors"), tmp.read_bytes())
    tmp.unlink()
    atomic_write_json(stem.with_suffix(".json"), doc)
    return stem.with_suffix(".safetensors")


def load_scorer(name_or_path: str | Path = "synthfaces64", device: str = "cpu") -> PredictorScorer:
    """Load a bundled predictor by name, or a `.safetensors` + `.json` pair by path (either file's name)."""
    key = str(name_or_path)
    if key in BUNDLED:
        stem = BUNDLED[key]
    else:
        p = Path(key)
        stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
        if not stem.with_suffix(".safetensors").exists():
            raise UnknownModelError(f"unknown scorer {key!r}: not bundled ({', '.join(sorted(BUNDLED))}) and no "
                                    f"{stem.with_suffix('.safetensors')} file")
    weights, meta_path = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    if not weights.exists() or not meta_path.exists():
        raise CheckpointError(f"scorer files missing: need {weights} and {meta_path}")
    try:
        doc = json.loads(meta_path.read_text())
        state = load_file(str(weights))
    except (OSError, ValueError, SafetensorError) as exc:
        raise CheckpointError(f"cannot read scorer {stem}: {exc}") from exc
    model = AttributePredictor(**doc["init_kwargs"])
    model.load_state_dict(state, strict=True)
    attributes = tuple(AttributeInfo(**a) for a in doc["attributes"])
    meta = {k: v for k, v in doc.items() if k not in ("init_kwargs", "attributes")}
    return PredictorScorer(model.to(device), attributes, meta)
