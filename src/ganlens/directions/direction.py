"""`Direction`: a unit vector in a latent space, where it applies, and where it came from.

Whatever found it (an SVM boundary, SeFa, GANSpace, a conditional projection), a direction is saved the same way:
``NAME.npz`` (the vector plus a JSON header, never pickled) and ``NAME.json`` beside it, a human-readable copy of
the header. `ganlens.edit` consumes it.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import GanlensError
from ..io.files import atomic_write_bytes, json_default, npz_problem, vet_archive
from ..latents.layers import describe_layers

SPACES = ("z", "w", "w+", "s")
FORMAT = "ganlens.Direction"
FORMAT_VERSION = 1


def _family(space: str) -> str:
    """Spaces whose vectors can be combined: Z alone, W with W+ (one w per layer), S alone."""
    return "w" if space in ("w", "w+") else space


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class Direction:
    """A unit vector `vector` [dim] in latent space `space`, applied to the w's in `layers` (None = all).

    Attributes:
        vector: the unit normal / component, float64 [dim] (normalised on construction).
        space: 'z', 'w', 'w+' (a W vector fitted on one layer's w of W+ codes; needs `layers`), or 's' (style
            space: usually a few channels, named in ``metrics['channels']``; see `directions.stylespace`).
        layers: w indices an edit moves (W / W+ only); None means every layer.
        bias: offset b of a boundary n·x + b = 0 (signed distance of a code = n·x + b); None when not a boundary.
        scale: latent length of one strength unit (GANSpace: the component's σ, so strengths are in σ units).
        method: 'svm', 'sefa', 'ganspace', 'manual', ...
        attribute: what it changes (the scored attribute, or an auto-label).
        metrics: numbers from fitting (accuracies, eigenvalue, explained variance, correlations).
        model: name of the generator it was found on.
        num_ws: the generator's number of w's, when known (lets a 'w' code be promoted to W+ for layer edits).
        date: ISO time of creation.
        provenance: anything else worth keeping (conditioned_on, sample counts, seeds, source files).
    """

    vector: np.ndarray
    space: str
    layers: tuple[int, ...] | None = None
    bias: float | None = None
    scale: float = 1.0
    method: str = "manual"
    attribute: str | None = None
    metrics: dict = field(default_factory=dict)
    model: str | None = None
    num_ws: int | None = None
    date: str = field(default_factory=_now)
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        v = np.asarray(self.vector, dtype=np.float64)
        if v.ndim == 2 and v.shape[0] == 1:  # InterFaceGAN's boundary files are [1, dim]
            v = v[0]
        if v.ndim != 1 or v.size == 0:
            raise GanlensError(f"a direction vector must be 1-D [dim], got shape {list(v.shape)}")
        if not np.isfinite(v).all():
            raise GanlensError("a direction vector must be finite (it contains NaN or inf)")
        norm = float(np.linalg.norm(v))
        if norm < 1e-12:
            raise GanlensError("a direction vector must be non-zero")
        # Leave an already-unit vector untouched, so a save/load round trip is bit-exact.
        self.vector = v if abs(norm - 1) < 1e-12 else v / norm
        if self.space not in SPACES:
            raise GanlensError(f"unknown direction space {self.space!r}; expected one of {SPACES}")
        if self.layers is not None:
            layers = tuple(sorted({int(i) for i in self.layers}))
            if not layers or layers[0] < 0:
                raise GanlensError(f"direction layers must be non-empty, non-negative w indices, got {self.layers}")
            if self.num_ws is not None and layers[-1] >= self.num_ws:
                raise GanlensError(f"direction layers {layers} out of range for num_ws={self.num_ws}")
            self.layers = layers
        if self.space in ("z", "s") and self.layers is not None:
            raise GanlensError(f"a {self.space.upper()}-space direction has no layers (layers apply to W / W+ directions)")
        if self.space == "w+" and self.layers is None:
            raise GanlensError("a 'w+' direction must say which layers it was fitted on (layers=...)")
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise GanlensError(f"direction scale must be a positive number, got {self.scale}")

    @property
    def dim(self) -> int:
        return int(self.vector.shape[0])

    @property
    def name(self) -> str:
        """The attribute if known, else the method (used for file names and labels)."""
        return self.attribute or self.method

    def __repr__(self) -> str:
        parts = [repr(self.name), f"space={self.space!r}", f"dim={self.dim}",
                 f"layers={describe_layers(self.layers, self.num_ws)}", f"method={self.method!r}"]
        for key in ("val_accuracy", "all_accuracy", "eigenvalue", "sigma", "label_r"):
            if key in self.metrics and isinstance(self.metrics[key], (int, float)):
                parts.append(f"{key}={self.metrics[key]:.3g}")
        if "autolabel" in self.metrics:
            parts.append(f"autolabel={self.metrics['autolabel']!r}")
        if self.provenance.get("conditioned_on"):
            parts.append(f"conditioned_on={self.provenance['conditioned_on']}")
        return f"Direction({', '.join(parts)})"

    def distance(self, x: np.ndarray) -> np.ndarray:
        """Signed distance n·x + b of codes x [N, dim] to the boundary (b = 0 when there is no bias)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise GanlensError(f"codes must have shape [N, {self.dim}] for this direction, got {list(x.shape)}")
        return x @ self.vector + (self.bias or 0.0)

    def conditioned_on(self, *others: "Direction", tol: float = 1e-6) -> "Direction":
        """This direction with the span of `others` projected out (InterFaceGAN conditional manipulation).

        The result is n − P n renormalised, where P is the orthogonal projection onto span{others}: it is
        orthogonal to every condition normal, so moving along it leaves their distances unchanged.

        Raises:
            GanlensError: no conditions, a condition of another space or size, or this direction lying in
                (numerically) the span of the conditions.
        """
        from .conditional import project_out

        if not others:
            raise GanlensError("conditioned_on needs at least one condition direction")
        for o in others:
            if not isinstance(o, Direction):
                raise GanlensError(f"conditions must be Direction objects, got {type(o).__name__}")
            if _family(o.space) != _family(self.space) or o.dim != self.dim:
                raise GanlensError(
                    f"cannot condition a {self.space!r} direction of dim {self.dim} on {o.name!r} "
                    f"({o.space!r}, dim {o.dim}): both must be in the same space"
                )
        vec, kept = project_out(self.vector, np.stack([o.vector for o in others]), tol=tol, name=self.name)
        names = [o.name for o in others]
        prov = dict(self.provenance)
        prov["conditioned_on"] = list(prov.get("conditioned_on", [])) + names
        prov["cosines_before"] = {o.name: float(self.vector @ o.vector) for o in others}
        prov["norm_kept"] = kept
        return replace(self, vector=vec, bias=None, metrics=dict(self.metrics), provenance=prov, date=_now())

    def header(self) -> dict:
        """Everything but the vector, JSON-ready."""
        return {
            "format": FORMAT, "version": FORMAT_VERSION, "space": self.space, "dim": self.dim,
            "layers": None if self.layers is None else list(self.layers), "bias": self.bias, "scale": self.scale,
            "method": self.method, "attribute": self.attribute, "metrics": self.metrics, "model": self.model,
            "num_ws": self.num_ws, "date": self.date, "provenance": self.provenance,
        }

    def save(self, path: str | Path) -> Path:
        """Write ``path`` (.npz: vector + header) and a readable ``.json`` sidecar beside it; atomic."""
        path = Path(path)
        if path.suffix.lower() != ".npz":
            raise GanlensError(f"a direction file must end in .npz, got {path.name!r}")
        header = json.dumps(self.header(), default=json_default, indent=2)
        buf = io.BytesIO()
        np.savez(buf, vector=self.vector, header=np.frombuffer(header.encode(), dtype=np.uint8))
        atomic_write_bytes(path, buf.getvalue())
        atomic_write_bytes(path.with_suffix(".json"), (header + "\n").encode())
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Direction":
        """Read a ganlens direction file, or a bare InterFaceGAN boundary ``.npy`` ([1, dim]; space from the name).

        Raises:
            GanlensError: missing file, unreadable file, or not a direction.
        """
        path = Path(path)
        expected = "expected a ganlens direction file (.npz from `ganlens boundary` / `discover`) or an .npy vector"
        vet_archive(path, "direction file", expected, GanlensError,
                    problem=_npy_problem if path.suffix.lower() == ".npy" else npz_problem)
        try:
            if path.suffix.lower() == ".npy":
                vec = np.load(path, allow_pickle=False)
                # InterFaceGAN names its boundaries e.g. stylegan_ffhq_smile_w_boundary.npy.
                space = "w" if "_w_" in path.name or "_w." in path.name else "z"
                return cls(vec, space, method="imported", attribute=path.stem, provenance={"source": str(path)})
            with np.load(path, allow_pickle=False) as data:
                if "vector" not in data.files or "header" not in data.files:
                    raise GanlensError(f"{path} is not a ganlens direction file (keys {data.files}; need 'vector', 'header')")
                vector = data["vector"].astype(np.float64)
                h = json.loads(bytes(data["header"]).decode())
        except GanlensError:
            raise
        except Exception as exc:  # zip, npy and json errors all mean the same to the user
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise GanlensError(f"cannot read direction file {path}: damaged or not a direction ({reason}); "
                               f"{expected}") from exc
        if h.get("format") != FORMAT:
            raise GanlensError(f"{path} is not a ganlens direction file (format {h.get('format')!r})")
        return cls(
            vector=vector, space=h["space"], layers=None if h.get("layers") is None else tuple(h["layers"]),
            bias=h.get("bias"), scale=h.get("scale", 1.0), method=h.get("method", "manual"),
            attribute=h.get("attribute"), metrics=h.get("metrics") or {}, model=h.get("model"),
            num_ws=h.get("num_ws"), date=h.get("date") or _now(), provenance=h.get("provenance") or {},
        )


def load_directions(folder: str | Path) -> list[Direction]:
    """Every ``*.npz`` direction in `folder`, sorted by file name.

    Raises:
        GanlensError: the folder is missing or holds no direction files.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise GanlensError(f"directions folder not found: {folder}")
    files = sorted(folder.glob("*.npz"))
    if not files:
        raise GanlensError(f"no direction files (*.npz) in {folder}")
    return [Direction.load(f) for f in files]


def _npy_problem(path: Path) -> str | None:
    """Why `path` cannot be a .npy array (judged from its magic bytes), None if it may be one."""
    with open(path, "rb") as f:
        return None if f.read(6) == b"\x93NUMPY" else "not a .npy array"
