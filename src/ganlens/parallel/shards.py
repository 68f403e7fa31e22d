"""Splitting a job by sample index, and keeping its finished shards on disk so a killed job resumes.

A job of N items is cut into shards of consecutive indices, each a multiple of `align` long (the batch size, so a
shard's batches are exactly the batches the single-process run makes). A `ShardStore` folder holds:

- ``manifest.json``: what the job is (its parameters, a digest of the models), the shard bounds, and the shards
  finished so far (with their seconds and the worker process that did them);
- ``shard-00012.npz``: one file per finished shard, written atomically by the driver as the shard comes back.

A re-run of the same job reads the manifest, skips every shard whose file exists and computes the rest; a folder
holding another job's shards is refused (or, with `fresh=True`, cleared). The shard bounds stored in the manifest
win over a new plan, so resuming with another worker count or shard size redoes nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import GanlensError
from ..io.files import atomic_write_bytes, atomic_write_json, json_default

FORMAT = "ganlens-shards"
VERSION = 1
MAX_SHARD = 4096  # samples: a few seconds of work on a GPU, a minute on one CPU core; small enough to resume often


@dataclass(frozen=True)
class Shard:
    """Items [start, stop) of a job; `index` orders the shards."""

    index: int
    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start


def plan_shards(n: int, shard_size: int, align: int = 1) -> list[Shard]:
    """Consecutive shards covering [0, n), each `shard_size` rounded up to a multiple of `align` (the last one
    shorter)."""
    if n < 1:
        raise GanlensError(f"a sharded job needs at least one item, got {n}")
    if shard_size < 1 or align < 1:
        raise GanlensError(f"shard size and alignment must be >= 1, got {shard_size} and {align}")
    size = math.ceil(shard_size / align) * align
    return [Shard(i, start, min(start + size, n)) for i, start in enumerate(range(0, n, size))]


def default_shard_size(n: int, workers: int, align: int = 1, cap: int = MAX_SHARD) -> int:
    """About four shards per worker (so a slow worker does not hold up the end), at most `cap` items, a multiple of
    `align`."""
    size = max(1, min(cap, math.ceil(n / (4 * max(1, workers)))))
    return math.ceil(size / align) * align


def _clean(value: object) -> object:
    """`value` as it reads back from JSON (tuples become lists, NumPy numbers plain), so a manifest compares equal."""
    return json.loads(json.dumps(value, default=json_default))


class ShardStore:
    """A job's folder of finished shards; see the module's description.

    Args:
        folder: where the manifest and shard files live (created).
        job: the job's parameters (JSON values); two runs are the same job when these are equal.
        shards: the plan for a new job (an existing manifest's bounds are kept).
        fresh: clear a folder that holds another job's shards instead of refusing it.
    Raises:
        GanlensError: the folder holds another job's shards (without `fresh`), or its manifest is unreadable.
    """

    def __init__(self, folder: str | Path, job: dict, shards: list[Shard], fresh: bool = False) -> None:
        self.folder = Path(folder)
        self.job = _clean(job)
        manifest = self.folder / "manifest.json"
        if self.folder.exists() and not self.folder.is_dir():
            raise GanlensError(f"{self.folder} is a file; the shards of a job go into a folder")
        doc = None
        if manifest.exists():
            try:
                doc = json.loads(manifest.read_text())
                if doc.get("format") != FORMAT:
                    raise ValueError(f"format {doc.get('format')!r}")
            except (OSError, ValueError, AttributeError) as exc:
                raise GanlensError(f"{manifest} is not a shard manifest ({exc}); remove {self.folder} to start "
                                   "afresh") from None
            if doc["job"] != self.job:
                if not fresh:
                    diff = _differences(doc["job"], self.job)
                    raise GanlensError(f"{self.folder} holds the shards of another job ({diff}); remove it, or "
                                       "pass --overwrite to start afresh")
                shutil.rmtree(self.folder)
                doc = None
        elif self.folder.is_dir() and any(self.folder.glob("shard-*.npz")):
            raise GanlensError(f"{self.folder} holds shard files but no manifest.json; remove it to start afresh")
        elif self.folder.is_dir() and any(p for p in self.folder.iterdir() if not p.name.endswith(".tmp")):
            # The folder is deleted after the merge: never adopt one that holds something else.
            raise GanlensError(f"{self.folder} exists and holds other files; shards need a new or empty folder")
        if doc is None:
            self.shards = list(shards)
            self.done: dict[int, dict] = {}
            self.folder.mkdir(parents=True, exist_ok=True)
            self._write_manifest()
        else:
            self.shards = [Shard(i, a, b) for i, (a, b) in enumerate(doc["shards"])]
            self.done = {int(k): v for k, v in doc.get("done", {}).items()}
            # A shard file written just before a kill, its manifest entry not yet: the file is whole (atomic).
            for s in self.shards:
                if s.index not in self.done and self.path(s).exists():
                    self.done[s.index] = {}
            self.done = {i: v for i, v in self.done.items() if self.path(self.shards[i]).exists()}
        for stale in self.folder.glob(".*.tmp"):  # temporary files of a write a kill interrupted
            stale.unlink(missing_ok=True)

    def path(self, shard: Shard) -> Path:
        return self.folder / f"shard-{shard.index:05d}.npz"

    def pending(self) -> list[Shard]:
        """The shards not finished yet, in index order."""
        return [s for s in self.shards if s.index not in self.done]

    def done_items(self) -> int:
        return sum(len(self.shards[i]) for i in self.done)

    def save(self, shard: Shard, arrays: dict[str, np.ndarray], info: dict | None = None) -> Path:
        """Write one finished shard's arrays (atomic), then record it in the manifest."""
        buf = io.BytesIO()
        np.savez(buf, __range__=np.array([shard.start, shard.stop], dtype=np.int64), **arrays)
        path = atomic_write_bytes(self.path(shard), buf.getvalue())
        self.done[shard.index] = _clean(info or {})
        self._write_manifest()
        return path

    def load(self, shard: Shard) -> dict[str, np.ndarray]:
        """One finished shard's arrays.

        Raises:
            GanlensError: the file is missing, unreadable, or holds another index range.
        """
        path = self.path(shard)
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise GanlensError(f"cannot read shard {path} ({exc}); delete it and re-run to compute it again") from None
        got = arrays.pop("__range__", None)
        if got is None or list(got) != [shard.start, shard.stop]:
            raise GanlensError(f"{path} holds items {None if got is None else list(got)}, expected "
                               f"[{shard.start}, {shard.stop}]; delete it and re-run to compute it again")
        return arrays

    def remove(self) -> None:
        """Delete the folder once its shards are merged into the job's output."""
        self.remove_folder(self.folder)

    @staticmethod
    def remove_folder(folder: str | Path) -> None:
        """Delete a job's shard folder (only one that holds a shard manifest, or nothing)."""
        folder = Path(folder)
        if (folder / "manifest.json").exists():
            shutil.rmtree(folder, ignore_errors=True)

    def _write_manifest(self) -> None:
        atomic_write_json(self.folder / "manifest.json", {
            "format": FORMAT, "version": VERSION, "job": self.job,
            "shards": [[s.start, s.stop] for s in self.shards],
            "done": {str(i): v for i, v in sorted(self.done.items())},
        })


def digest(*objects: object) -> str:
    """A short content digest of models, tensors, arrays and plain values, for telling jobs apart: a torch module by
    its state dict, a function by its qualified name, another object by its type and attributes (two levels)."""
    h = hashlib.sha256()
    for obj in objects:
        _feed(h, obj, 0)
    return h.hexdigest()[:20]


def _feed(h, obj: object, depth: int) -> None:
    import torch

    if isinstance(obj, torch.nn.Module):
        h.update(type(obj).__qualname__.encode())
        for name, value in obj.state_dict().items():
            h.update(name.encode())
            _feed(h, value, depth + 1)
    elif isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous().reshape(-1)
        h.update(f"{t.dtype}{list(obj.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, np.ndarray):
        h.update(f"{obj.dtype}{list(obj.shape)}".encode())
        h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, (str, int, float, bool, type(None))):
        h.update(repr(obj).encode())
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _feed(h, v, depth + 1)
    elif isinstance(obj, dict):
        for k in sorted(obj, key=str):
            h.update(str(k).encode())
            _feed(h, obj[k], depth + 1)
    elif callable(obj) and hasattr(obj, "__qualname__"):  # functions: by name (their repr holds an address)
        h.update(f"{getattr(obj, '__module__', '')}.{obj.__qualname__}".encode())
    elif depth < 3 and hasattr(obj, "__dict__"):
        h.update(type(obj).__qualname__.encode())
        _feed(h, {k: v for k, v in vars(obj).items() if not k.startswith("__")}, depth + 1)
    else:
        h.update(type(obj).__qualname__.encode())


def _differences(old: dict, new: dict) -> str:
    keys = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    return "; ".join(f"{k} {old.get(k)!r} → {new.get(k)!r}" for k in keys[:3]) or "different parameters"
