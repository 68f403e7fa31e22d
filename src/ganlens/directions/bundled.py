"""Direction sets shipped with a bundled model, one direction per scored attribute in each set.

- 'boundary' (the default): InterFaceGAN SVM boundaries in W; strengths in spreads of the samples along the normal.
  `ganlens edit`, `ganlens demo`, the control baseline and the web UI's conditioning use them.
- 'gradient': layer-wise scorer-gradient directions (each moves only its attribute's chosen w's); strengths in
  W units. On synthfaces64 they pass #4's edit bar (+3 raises the attribute for >= 95 % of fresh samples) for all
  13 attributes, the boundaries for 3 (docs/results.md, "What the directions find").
`benchmarks/bundle_directions.py` fits both; each file's header keeps its metrics and provenance.
"""

from __future__ import annotations

from pathlib import Path

from ..bundled import directions_dir
from .direction import Direction

SETS = {"boundary": ".", "gradient": "gradient"}  # set name -> sub-folder of assets/directions/MODEL


def bundled_directions_dir(model: str, kind: str = "boundary") -> Path | None:
    """The folder of `model`'s shipped directions of set `kind`, or None when it ships none."""
    return directions_dir(model, _subfolder(kind))


def load_bundled(model: str, kind: str = "boundary") -> dict[str, Direction]:
    """The shipped directions of set `kind` ('boundary' or 'gradient') of `model` keyed by attribute name (empty
    when the model ships none)."""
    folder = bundled_directions_dir(model, kind)
    if folder is None:
        return {}
    return {(d := Direction.load(f)).attribute or f.stem: d for f in sorted(folder.glob("*.npz"))}


def resolve_direction(spec: str | Path, model: str) -> Direction:
    """A direction from a file path, or a shipped one of `model` by attribute name: 'smile' (the boundary set)
    or 'SET:ATTRIBUTE', e.g. 'gradient:smile'.

    Raises:
        GanlensError: neither an existing file nor a shipped direction of `model` (the names are listed).
    """
    from ..errors import GanlensError

    path = Path(spec)
    if path.suffix.lower() in (".npz", ".npy") or path.exists():
        return Direction.load(path)
    kind, _, name = str(spec).rpartition(":")
    if kind and kind not in SETS:
        raise GanlensError(f"direction {str(spec)!r}: unknown set {kind!r}; shipped sets are {', '.join(SETS)}")
    shipped = load_bundled(model, kind or "boundary")
    if name in shipped:
        return shipped[name]
    known = ", ".join(sorted(shipped)) if shipped else f"none ship with {model!r}"
    raise GanlensError(f"direction {str(spec)!r} is not a file and not a shipped {kind or 'boundary'} direction of "
                       f"{model!r} (shipped: {known}; other sets as SET:NAME, sets: {', '.join(SETS)})")


def _subfolder(kind: str) -> str:
    from ..errors import GanlensError

    if kind not in SETS:
        raise GanlensError(f"unknown direction set {kind!r}; shipped sets are {', '.join(SETS)}")
    return SETS[kind]
