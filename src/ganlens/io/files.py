"""Safe file writing: atomic replace, and no silent overwrite of what the user owns."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import GanlensError


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write to a temporary file beside `path`, then rename: a crash never leaves a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the permissions open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def json_default(obj: object) -> object:
    """`json.dumps(default=...)` for NumPy scalars and arrays, tuples, and anything else as its str."""
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, tuple):
        return list(obj)
    return str(obj)


def atomic_write_json(path: str | Path, doc: object, indent: int | None = 2) -> Path:
    """Write `doc` as JSON (NumPy values converted, a trailing newline) atomically, like `atomic_write_bytes`."""
    return atomic_write_bytes(path, (json.dumps(doc, indent=indent, default=json_default) + "\n").encode())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output_path(path: str | Path, overwrite: bool = False) -> Path:
    """Refuse to replace an existing file unless `overwrite` is set (the CLI's ``--overwrite``)."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise GanlensError(f"{path} already exists; pass --overwrite to replace it")
    if path.exists() and path.is_dir():
        raise GanlensError(f"{path} is a directory; give a file name")
    return path
