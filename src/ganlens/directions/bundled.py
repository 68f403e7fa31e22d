"""Attribute boundaries shipped with a bundled model (InterFaceGAN SVMs in W, one per scored attribute).

They are what `ganlens edit`, `ganlens demo` and the web UI's sliders use when the user brings no directions.
`benchmarks/bundle_directions.py` fits them; each file's header keeps its accuracies and sample counts.
"""

from __future__ import annotations

from pathlib import Path

from .direction import Direction

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "directions"


def bundled_directions_dir(model: str) -> Path | None:
    """The folder of `model`'s shipped directions, or None when it ships none."""
    folder = ASSETS / model
    return folder if folder.is_dir() and any(folder.glob("*.npz")) else None


def load_bundled(model: str) -> dict[str, Direction]:
    """The shipped boundaries of `model` keyed by attribute name (empty when the model ships none)."""
    folder = bundled_directions_dir(model)
    if folder is None:
        return {}
    return {(d := Direction.load(f)).attribute or f.stem: d for f in sorted(folder.glob("*.npz"))}


def resolve_direction(spec: str | Path, model: str) -> Direction:
    """A direction from a file path, or by attribute name from `model`'s shipped boundaries (e.g. 'smile').

    Raises:
        GanlensError: neither an existing file nor a shipped attribute of `model` (the names are listed).
    """
    from ..errors import GanlensError

    path = Path(spec)
    if path.suffix.lower() in (".npz", ".npy") or path.exists():
        return Direction.load(path)
    shipped = load_bundled(model)
    if str(spec) in shipped:
        return shipped[str(spec)]
    known = ", ".join(sorted(shipped)) if shipped else f"none ship with {model!r}"
    raise GanlensError(f"direction {str(spec)!r} is not a file and not a shipped boundary of {model!r} (shipped: {known})")
