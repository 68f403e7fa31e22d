"""Data sets of rendered synthfaces: images plus their ground-truth factors in one .npz."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import GanlensError
from ..io.files import atomic_write_bytes
from .factors import FACTORS, sample_factors
from .render import render_batch

VERSION = 1
KEYS = ("images", "factors", "names", "kinds", "levels", "lows", "highs", "seed", "version")


@dataclass
class SynthDataset:
    """Rendered images uint8 [N, H, W, 3] with factors float32 [N, F] and the factor metadata."""

    images: np.ndarray
    factors: np.ndarray
    names: tuple[str, ...]
    kinds: tuple[str, ...]
    levels: tuple[str, ...]
    lows: np.ndarray
    highs: np.ndarray
    seed: int
    independent: bool = False

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        return f"SynthDataset(n={len(self)}, size={self.images.shape[1]}, factors={len(self.names)}, seed={self.seed})"


def build_dataset(n: int, seed: int, out: str | Path, size: int = 64, progress: bool = True, overwrite: bool = False,
                  independent: bool = False) -> Path:
    """Sample n factor vectors from `seed`, render them and write one .npz atomically.

    `independent=True` breaks the domain's factor correlations (see `sample_factors`).
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise GanlensError(f"{out} already exists; pass overwrite=True (--overwrite) to replace it")
    factors = sample_factors(n, seed, independent=independent)
    images = render_batch(factors, size=size, progress=progress)
    buf = io.BytesIO()
    np.savez(
        buf, images=images, factors=factors,
        names=np.array([f.name for f in FACTORS]), kinds=np.array([f.kind for f in FACTORS]),
        levels=np.array([f.level for f in FACTORS]),
        lows=np.array([f.low for f in FACTORS], np.float32), highs=np.array([f.high for f in FACTORS], np.float32),
        seed=np.int64(seed), version=np.int64(VERSION), independent=np.bool_(independent),
    )
    return atomic_write_bytes(out, buf.getvalue())


def load_dataset(path: str | Path) -> SynthDataset:
    """Read a data set written by `build_dataset`; a clear error for a missing, corrupt or foreign file."""
    path = Path(path)
    if not path.exists():
        raise GanlensError(f"data set not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as d:
            missing = [k for k in KEYS if k not in d.files]
            if missing:
                raise GanlensError(f"{path} is not a synthfaces data set: missing {missing}")
            arrays = {k: d[k] for k in KEYS}
            independent = bool(d["independent"]) if "independent" in d.files else False  # older files lack it
    except GanlensError:
        raise
    except Exception as exc:
        raise GanlensError(f"cannot read data set {path}: {exc}") from exc
    images, factors = arrays["images"], arrays["factors"]
    if images.ndim != 4 or images.dtype != np.uint8 or len(images) != len(factors):
        raise GanlensError(f"{path}: images {images.dtype} {list(images.shape)} do not fit factors {list(factors.shape)}")
    return SynthDataset(
        images=images, factors=factors.astype(np.float32),
        names=tuple(str(x) for x in arrays["names"]), kinds=tuple(str(x) for x in arrays["kinds"]),
        levels=tuple(str(x) for x in arrays["levels"]),
        lows=arrays["lows"], highs=arrays["highs"], seed=int(arrays["seed"]), independent=independent,
    )
