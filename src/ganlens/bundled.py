"""What ships inside the package, in one place: the files under `ganlens/assets/` and the model each belongs to.

A bundled model may ship its generator weights, an attribute predictor (the scorer named like the model), an
independent guard predictor ('<model>-independent', trained with the domain's factor correlations broken), a
pSp-style encoder, explicit-control files (one per method) and direction sets under `assets/directions/<model>/`.
Every reader asks here and gets None where the model ships no such thing, so adding a model or an asset is one
change in one file.
"""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"
DIRECTIONS = ASSETS / "directions"

# Scorer name -> file stem of its weights (.safetensors) and description (.json). A dict, so tests and users can
# register another predictor under a name.
PREDICTORS: dict[str, Path] = {
    "synthfaces64": ASSETS / "synthfaces64-predictor",
    "synthfaces64-independent": ASSETS / "synthfaces64-independent-predictor",
}
CONTROL_METHODS = ("encoders", "boundary")
# A model derived from a bundled one (a split generator saved as '<model>-control') reads with its parent's assets.
DERIVED_SUFFIXES = ("-control",)


def _existing(path: Path) -> Path | None:
    return path if path.exists() else None


def parent_model(model: str) -> str:
    """The bundled model `model` was derived from ('synthfaces64-control' -> 'synthfaces64'), else `model`."""
    for suffix in DERIVED_SUFFIXES:
        if model.endswith(suffix) and model[: -len(suffix)] in PREDICTORS:
            return model[: -len(suffix)]
    return model


def generator_file(model: str) -> Path:
    """Where a bundled model's generator weights live (the file may be missing from a broken install)."""
    return ASSETS / f"{model}.safetensors"


def predictor_name(model: str) -> str | None:
    """The bundled predictor that reads `model`'s pictures (its own, or its parent's), or None."""
    name = parent_model(model)
    return name if name in PREDICTORS else None


def guard_name(model: str) -> str | None:
    """The bundled guard predictor for `model` ('<model>-independent'), or None where none ships."""
    name = f"{parent_model(model)}-independent"
    return name if name in PREDICTORS else None


def encoder_file(model: str) -> Path | None:
    """The shipped encoder of `model`, or None."""
    return _existing(ASSETS / f"{model}-encoder.safetensors")


def controls_file(model: str, method: str) -> Path | None:
    """The shipped explicit-control file of `model` for `method` ('encoders' or 'boundary'), or None."""
    return _existing(ASSETS / f"{model}-control-{method}.safetensors")


def directions_dir(model: str, subfolder: str = ".") -> Path | None:
    """The folder of one of `model`'s shipped direction sets, or None when it holds no direction file."""
    folder = DIRECTIONS / model / subfolder
    return folder if folder.is_dir() and any(folder.glob("*.npz")) else None


def shipped_with(model: str) -> dict[str, object]:
    """Everything that ships with `model`, by kind (for `ganlens info` and the docs)."""
    sets = {} if not (DIRECTIONS / model).is_dir() else {
        ("boundary" if sub == "." else sub): len(list(folder.glob("*.npz")))
        for sub in [".", *sorted(p.name for p in (DIRECTIONS / model).iterdir() if p.is_dir())]
        if (folder := directions_dir(model, sub)) is not None}
    return {"predictor": predictor_name(model), "guard": guard_name(model),
            "encoder": encoder_file(model) is not None,
            "controls": [m for m in CONTROL_METHODS if controls_file(model, m) is not None],
            "direction_sets": sets}
