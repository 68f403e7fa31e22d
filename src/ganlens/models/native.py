"""ganlens' own checkpoint format: one .safetensors file whose header metadata carries a JSON document with the
architecture, constructor kwargs and provenance. Loading reads tensors and JSON only; nothing in the file is executed.

Version 1 files hold a StyleGAN2 generator and name no architecture; a generator of another architecture is written
as version 2 with its `architecture` ('stylegan1', 'pggan', 'stylegan3'), so that older readers refuse it by
version instead of mis-reading it."""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import CheckpointError
from ..io.tensorfile import read_tensor_file, write_tensor_file
from .stylegan2 import Generator

FORMAT = "ganlens.generator"
FORMAT_VERSION = 2


def _architectures() -> dict[str, type]:
    from .pggan import PGGANGenerator
    from .stylegan1 import StyleGAN1Generator
    from .stylegan3 import Generator as StyleGAN3Generator

    return {"stylegan2": Generator, "stylegan1": StyleGAN1Generator, "pggan": PGGANGenerator,
            "stylegan3": StyleGAN3Generator}


def save_generator(G: torch.nn.Module, path: str | Path, provenance: dict | None = None) -> Path:
    """Write G's weights and buffers plus {architecture, init_kwargs, provenance, name} to `path` (atomic)."""
    arch = getattr(G, "architecture", "stylegan2")
    doc = {
        "format": FORMAT,
        "version": 1 if arch == "stylegan2" else FORMAT_VERSION,
        "architecture": arch,
        "name": G.name,
        "init_kwargs": G.init_kwargs,
        "provenance": provenance if provenance is not None else G.provenance,
    }
    return write_tensor_file(path, G.state_dict(), doc)


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Rebuild a generator from a native checkpoint (strict: every tensor must match the architecture)."""
    path = Path(path)
    doc, state = read_tensor_file(path, FORMAT, "ganlens generator checkpoint", max_version=FORMAT_VERSION)
    arch = doc.get("architecture", "stylegan2")
    classes = _architectures()
    if arch not in classes:
        raise CheckpointError(f"{path}: unknown generator architecture {arch!r}; this ganlens reads "
                              f"{', '.join(classes)}")
    G = classes[arch](**doc["init_kwargs"])
    load_state_strict(G, state, str(path))
    G.provenance = doc.get("provenance", {})
    G.name = doc.get("name", path.stem)
    return G.eval().requires_grad_(False).to(device)


def load_state_strict(G: torch.nn.Module, state: dict, source: str) -> None:
    """load_state_dict(strict=True) with an error that names the missing/unexpected/mis-shaped keys."""
    problem = state_mismatch(state, {k: v.shape for k, v in G.state_dict().items()})
    if problem:
        raise CheckpointError(f"{source} does not match the architecture: {problem}")
    G.load_state_dict(state, strict=True)


def state_mismatch(state: dict, expected: dict) -> str | None:
    """What differs between a file's tensors and the shapes a model expects under the same names (missing,
    unexpected, mis-shaped keys, a few of each), or None when they match."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [f"{k}: file {list(state[k].shape)} vs model {list(expected[k])}"
              for k in sorted(expected) if k in state and tuple(state[k].shape) != tuple(expected[k])]
    parts = []
    if missing:
        parts.append(f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}")
    if unexpected:
        parts.append(f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}")
    if shapes:
        parts.append(f"shape mismatch {shapes[:3]}")
    return "; ".join(parts) or None
