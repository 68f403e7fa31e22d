"""ganlens tensor files: one .safetensors file whose header metadata carries a JSON document under the key
'ganlens' ({"format": ..., "version": ..., ...}). Generators, encoders, PTI deltas, control encoders and split
generators all use it. Reading parses JSON and tensors only; nothing in a file is ever executed.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load_bytes
from safetensors.torch import save as st_save_bytes

from ..errors import CheckpointError
from .files import atomic_write_bytes

MAX_HEADER_BYTES = 100_000_000


def write_tensor_file(path: str | Path, tensors: dict[str, torch.Tensor], doc: dict) -> Path:
    """Write `tensors` (moved to CPU, contiguous) with the JSON document `doc` to `path`, atomically."""
    state = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    return atomic_write_bytes(path, st_save_bytes(state, metadata={"ganlens": json.dumps(doc, default=str)}))


def _document(header: dict) -> dict | None:
    doc = json.loads(header.get("__metadata__", {}).get("ganlens", "null"))
    return doc if isinstance(doc, dict) else None


def peek_document(path: str | Path) -> dict | None:
    """The JSON document from the header alone (tensors are not read); None for anything that is not a ganlens
    tensor file or cannot be read."""
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 0 < n <= MAX_HEADER_BYTES:
                return None
            return _document(json.loads(f.read(n)))
    except (OSError, ValueError):
        return None


def read_tensor_file(path: str | Path, fmt: str, what: str, max_version: int | None = None
                     ) -> tuple[dict, dict[str, torch.Tensor]]:
    """The document and tensors of a ganlens tensor file of format `fmt`.

    Args:
        what: how errors name the file's kind (e.g. 'PTI delta').
        max_version: newest format version this ganlens reads (None: any).
    Raises:
        CheckpointError: the file is missing, unreadable or truncated, of another format, or newer than supported.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{what} not found: {path}")
    try:
        data = path.read_bytes()
        n = int.from_bytes(data[:8], "little")
        if not 0 < n <= min(MAX_HEADER_BYTES, len(data) - 8):
            raise CheckpointError(f"cannot read {what} {path}: not a .safetensors file (or corrupt or truncated)")
        doc = _document(json.loads(data[8 : 8 + n]))
        tensors = st_load_bytes(data)
    except (OSError, ValueError, SafetensorError, RuntimeError) as exc:
        raise CheckpointError(f"cannot read {what} {path}: corrupt or truncated ({exc})") from exc
    if doc is None or doc.get("format") != fmt:
        found = None if doc is None else doc.get("format")
        raise CheckpointError(f"{path} is not a {what} (format {found!r}, expected {fmt!r})")
    if max_version is not None and doc.get("version", 0) > max_version:
        raise CheckpointError(f"{path} was written by a newer ganlens ({what} format version {doc['version']})")
    return doc, tensors
