"""Inversions of image files cached on disk, so commands that take images (morph, mix, transfer) invert each
file once.

The key is the file's bytes, the model (name and a hash of its weights' provenance) and the method: editing the
image, switching models or methods gives a new entry. Entries are ordinary LatentCode files.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..latents import LatentCode
from ..models.stylegan2 import Generator

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def default_cache_dir() -> Path:
    """$GANLENS_CACHE, else $XDG_CACHE_HOME/ganlens/inversions, else ~/.cache/ganlens/inversions."""
    if os.environ.get("GANLENS_CACHE"):
        return Path(os.environ["GANLENS_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "ganlens" / "inversions"


def cache_key(G: Generator, path: str | Path, method: str) -> str:
    """Hex digest of the image bytes, the model identity and the method."""
    h = hashlib.sha256(Path(path).read_bytes())
    ident = {"model": G.name, "provenance": getattr(G, "provenance", None), "kwargs": getattr(G, "init_kwargs", None),
             "method": method}
    h.update(json.dumps(ident, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


def default_method(G: Generator) -> str:
    """'hybrid' when the model ships an encoder, else 'optim' (optimisation from w_avg)."""
    from ..bundled import encoder_file

    return "hybrid" if encoder_file(G.name) is not None else "optim"


def invert_file_cached(G: Generator, path: str | Path, method: str | None = None, cache_dir: str | Path | None = None,
                       log=None) -> tuple[LatentCode, bool]:
    """The code of an image file, from the cache or by inverting it (then cached). Returns (code, was_cached).

    method: 'hybrid', 'encoder' or 'optim'; None picks `default_method(G)`.

    Raises:
        GanlensError: unreadable image or unknown method (nothing is cached then).
    """
    from . import invert

    method = method or default_method(G)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    entry = folder / f"{cache_key(G, path, method)}.npz"
    if entry.exists():
        try:
            return LatentCode.load(entry), True
        except Exception:  # a damaged entry is recomputed, not fatal
            entry.unlink(missing_ok=True)
    from .runner import load_for_inversion

    image, _ = load_for_inversion(Path(path), G.img_resolution)  # an unreadable file fails before any log line
    if log:
        log(f"inverting {path} ({method}) ...")
    code = invert(G, image, method=method)
    code.meta.update({"source": str(path), "method": method, "model": G.name})
    folder.mkdir(parents=True, exist_ok=True)
    code.save(entry)
    return code, False
