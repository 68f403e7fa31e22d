"""ganlens' own checkpoint format: one .safetensors file whose header metadata carries a JSON document with the
constructor kwargs and provenance. Loading reads tensors and JSON only; nothing in the file is executed."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load_bytes
from safetensors.torch import save as st_save_bytes

from ..errors import CheckpointError
from ..io.files import atomic_write_bytes
from .stylegan2 import Generator

FORMAT = "ganlens.generator"
FORMAT_VERSION = 1


def save_generator(G: Generator, path: str | Path, provenance: dict | None = None) -> Path:
    """Write G's weights and buffers plus {init_kwargs, provenance, name} to `path` (atomic)."""
    doc = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "name": G.name,
        "init_kwargs": G.init_kwargs,
        "provenance": provenance if provenance is not None else G.provenance,
    }
    state = {k: v.detach().cpu().contiguous() for k, v in G.state_dict().items()}
    data = st_save_bytes(state, metadata={"ganlens": json.dumps(doc)})
    return atomic_write_bytes(path, data)


def read_header(path: str | Path) -> dict:
    """The JSON document of a native checkpoint, without loading the tensors."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if n <= 0 or n > 100_000_000:
                raise CheckpointError(f"{path} is not a safetensors file (bad header length {n})")
            header = json.loads(f.read(n))
        doc = json.loads(header.get("__metadata__", {}).get("ganlens", "null"))
    except CheckpointError:
        raise
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read checkpoint header of {path}: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a ganlens generator (no 'ganlens' metadata)")
    if doc.get("version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path} was written by a newer ganlens (format version {doc['version']})")
    return doc


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> Generator:
    """Rebuild a Generator from a native checkpoint (strict: every tensor must match the architecture)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    doc = read_header(path)
    try:
        state = st_load_bytes(path.read_bytes())
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path} is corrupt or truncated: {exc}") from exc
    G = Generator(**doc["init_kwargs"])
    load_state_strict(G, state, str(path))
    G.provenance = doc.get("provenance", {})
    G.name = doc.get("name", path.stem)
    return G.eval().requires_grad_(False).to(device)


def load_state_strict(G: torch.nn.Module, state: dict, source: str) -> None:
    """load_state_dict(strict=True) with an error that names the missing/unexpected/mis-shaped keys."""
    own = G.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: file {list(state[k].shape)} vs model {list(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}")
        if shapes:
            parts.append(f"shape mismatch {shapes[:3]}")
        raise CheckpointError(f"{source} does not match the architecture: " + "; ".join(parts))
    G.load_state_dict(state, strict=True)
