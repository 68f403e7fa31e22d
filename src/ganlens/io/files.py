"""Safe file writing: atomic replace, and no silent overwrite of what the user owns."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import GanlensError, InputError


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


def check_output_path(path: str | Path, overwrite: bool = False, suffixes: tuple[str, ...] | None = None) -> Path:
    """Refuse to replace an existing file unless `overwrite` is set (the CLI's ``--overwrite``), a folder, and
    (given `suffixes`, e.g. ('.png', '.jpg')) a file kind that will not be written: all before any work starts."""
    path = Path(path)
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise InputError(f"{path}: cannot write a {path.suffix or 'suffix-less'} file here; use "
                         f"{', '.join(suffixes)}")
    if path.exists() and path.is_dir():
        raise GanlensError(f"{path} is a directory; give a file name")
    if path.exists() and not overwrite:
        raise GanlensError(f"{path} already exists; pass --overwrite to replace it")
    return path


def npz_arrays(path: str | Path, what: str, expected: str) -> dict[str, tuple[tuple[int, ...], str]]:
    """{name: (shape, dtype)} of every array in an .npz, from the arrays' headers only (nothing is loaded).

    Args:
        what: how messages name the file (e.g. 'training data set'); expected: what the file should be.
    Raises:
        InputError: the file is missing, a folder, not an .npz archive (a text file, a .npy, ...), or damaged.
    """
    import zipfile

    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} not found: {path}")
    if not path.is_file():
        raise InputError(f"{path} is a folder; expected {expected}")
    try:
        with zipfile.ZipFile(path) as zf:
            out = {}
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read_header(f)
                out[info.filename[: -len(".npy")]] = (tuple(shape), str(dtype))
    except zipfile.BadZipFile:
        raise InputError(f"cannot read {what} {path}: not an .npz archive; expected {expected}") from None
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"cannot read {what} {path}: damaged ({exc}); expected {expected}") from None
    return out


def npz_problem(path: str | Path) -> str | None:
    """Why `path` cannot be an .npz archive ('not an .npz archive', 'it is a .npy array', 'it is empty'), judged
    from its first bytes; None if it may be one. Lets readers say what a file is instead of numpy's
    'allow_pickle' message for text and other files."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == b"PK\x03\x04":  # every .npz is a zip archive
        return None
    return "it is a .npy array" if magic == b"\x93NUM" else "it is empty" if not magic else "not an .npz archive"


def vet_archive(path: Path, what: str, expected: str, error: type[Exception], problem=npz_problem) -> None:
    """Raise `error` naming `path` and what was expected when it is missing, a folder, unreadable, or (by
    `problem`, default `npz_problem`) not the kind of file wanted; `what` names it ('latent file')."""
    if not path.exists():
        raise error(f"{what} not found: {path}")
    if not path.is_file():
        raise error(f"{path} is a folder; {expected}")
    try:
        found = problem(path)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    if found:
        raise error(f"cannot read {what} {path}: {found}; {expected}")


def package_file(package: str, relative: str, digest: str, install_hint: str, algorithm: str = "sha256") -> Path:
    """Locate a data file inside an installed package without importing it, and verify its hash.

    Args:
        digest: the expected hex digest under `algorithm` (a `hashlib` name; 'sha1' where the upstream publishes
            only that).
    Raises:
        GanlensError: the package is not installed, the file is missing, or its hash differs (an altered file).
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise GanlensError(f"package {package!r} is not installed: {install_hint}")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.exists():
        raise GanlensError(f"{path} is missing from the installed package {package!r}; reinstall it ({install_hint})")
    found = hashlib.new(algorithm, path.read_bytes()).hexdigest()
    if found != digest:
        raise GanlensError(f"{path} has {algorithm.upper()} {found}, expected {digest}; refusing an altered weights file")
    return path
