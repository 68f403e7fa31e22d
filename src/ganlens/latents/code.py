"""`LatentCode`: a batch of latent codes that knows which space it lives in.

Spaces and shapes (N = batch):
- ``z``  [N, z_dim]          input Gaussian;
- ``w``  [N, w_dim]          mapping output, one w shared by every layer;
- ``w+`` [N, num_ws, w_dim]  one w per synthesis layer;
- ``s``  [N, sum(style dims)] style space: every modulated layer's affine output, concatenated.
Conversions go one way (z → w → w+ → s) through the generator (`Generator.ws_of`, `Generator.to_styles`);
`to_wplus` needs no generator.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from ..errors import LatentError
from ..io.files import atomic_write_bytes, vet_archive

SPACES = ("z", "w", "w+", "s")
FORMAT_VERSION = 1


def broadcast_w(w: torch.Tensor, num_ws: int) -> torch.Tensor:
    """w [N, w_dim] -> ws [N, num_ws, w_dim]: the same w fed to every synthesis layer (a copy; gradients flow)."""
    if w.ndim != 2:
        raise LatentError(f"a w batch is [N, w_dim]; got shape {list(w.shape)}")
    return w.unsqueeze(1).repeat(1, num_ws, 1)


def check_truncation(space: str, psi: float) -> None:
    """Refuse truncation of codes in Z: the truncation trick pulls w towards the average w, so it exists in W only.

    Raises:
        LatentError: space 'z' with psi != 1.
    """
    if space == "z" and psi != 1:
        raise LatentError(f"truncation (psi {psi:g}) is defined in W, not for codes in Z: use space 'w' or 'w+' to "
                          "truncate, or psi 1 in Z")


class LatentShape(Protocol):
    """What a code must fit: the sizes of a generator's spaces (`ganlens.Generator` is one)."""

    z_dim: int
    w_dim: int
    num_ws: int
    device: torch.device

    def style_dims(self) -> list[int]: ...


@dataclass
class LatentCode:
    """Latent codes of one space, batch first, with optional per-layer noise maps and free-form metadata."""

    space: str
    tensor: torch.Tensor
    noise: list[torch.Tensor] | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.space not in SPACES:
            raise LatentError(f"unknown latent space {self.space!r}; expected one of {SPACES}")
        if not isinstance(self.tensor, torch.Tensor):
            self.tensor = torch.as_tensor(np.asarray(self.tensor), dtype=torch.float32)
        want_ndim = 3 if self.space == "w+" else 2
        if self.tensor.ndim != want_ndim:
            raise LatentError(
                f"a {self.space!r} code must be a {want_ndim}-D tensor (batch first), got shape {list(self.tensor.shape)}"
            )

    def __len__(self) -> int:
        return self.tensor.shape[0]

    def __getitem__(self, idx) -> "LatentCode":
        if isinstance(idx, int):
            idx = slice(idx, idx + 1 if idx != -1 else None)
        noise = None if self.noise is None else [n if n.shape[0] == 1 else n[idx] for n in self.noise]
        return LatentCode(self.space, self.tensor[idx], noise=noise, meta=dict(self.meta))

    def __repr__(self) -> str:
        extra = f", noise={len(self.noise)} maps" if self.noise else ""
        return f"LatentCode(space={self.space!r}, shape={list(self.tensor.shape)}{extra})"

    @staticmethod
    def cat(codes: list["LatentCode"]) -> "LatentCode":
        """Concatenate codes of one space along the batch."""
        if not codes:
            raise LatentError("nothing to concatenate")
        spaces = {c.space for c in codes}
        if len(spaces) != 1:
            raise LatentError(f"cannot concatenate codes of different spaces {sorted(spaces)}")
        noise = None
        if all(c.noise is not None for c in codes):
            noise = [torch.cat(parts) for parts in zip(*[c.noise for c in codes])]
        return LatentCode(codes[0].space, torch.cat([c.tensor for c in codes]), noise=noise, meta=dict(codes[0].meta))

    def to_wplus(self, num_ws: int) -> "LatentCode":
        """A 'w' code repeated over `num_ws` layers (a 'w+' code is returned as is)."""
        if self.space == "w+":
            return self
        if self.space != "w":
            raise LatentError(f"only 'w' codes broadcast to 'w+'; this code is in {self.space!r} (map it first)")
        return LatentCode("w+", broadcast_w(self.tensor, num_ws), noise=self.noise, meta=dict(self.meta))

    def validate_for(self, G: LatentShape) -> None:
        """Raise LatentError if the shape does not fit `G` or any value is NaN/inf."""
        t = self.tensor
        want = {
            "z": [G.z_dim],
            "w": [G.w_dim],
            "w+": [G.num_ws, G.w_dim],
            "s": [sum(G.style_dims())],
        }[self.space]
        if list(t.shape[1:]) != want:
            raise LatentError(
                f"a {self.space!r} code for this generator must have shape [N, {', '.join(map(str, want))}], "
                f"got {list(t.shape)}"
            )
        if not torch.isfinite(t).all():
            bad = (~torch.isfinite(t)).reshape(t.shape[0], -1).any(dim=1).nonzero().flatten().tolist()
            raise LatentError(f"latent code contains NaN or inf values (rows {bad[:10]})")

    def split_styles(self, G: LatentShape) -> list[torch.Tensor]:
        """Split an 's' code back into one tensor per modulated layer."""
        if self.space != "s":
            raise LatentError(f"split_styles needs an 's' code, got {self.space!r}")
        self.validate_for(G)
        return list(torch.split(self.tensor.to(G.device, torch.float32), G.style_dims(), dim=1))

    def save(self, path: str | Path) -> Path:
        """Write the codes (and noise maps) to an .npz with a JSON metadata entry; atomic."""
        path = Path(path)
        arrays = {"tensor": self.tensor.detach().cpu().float().numpy()}
        for i, n in enumerate(self.noise or []):
            arrays[f"noise_{i}"] = n.detach().cpu().float().numpy()
        header = {"format": "ganlens.LatentCode", "version": FORMAT_VERSION, "space": self.space,
                  "num_noise": len(self.noise or []), "meta": self.meta}
        arrays["header"] = np.frombuffer(json.dumps(header, default=str).encode(), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(path, buf.getvalue())
        return path

    @classmethod
    def load(cls, path: str | Path, G: LatentShape | None = None) -> "LatentCode":
        """Read a file written by `save` (never unpickles: object arrays are refused); with `G`, also check that
        the codes fit that generator (`validate_for`).

        Raises:
            LatentError: the file is missing, a folder, not an .npz archive (e.g. a text or image file), not a
                ganlens latent file, or damaged; the message names the file and what was expected.
        """
        path = Path(path)
        expected = "expected a ganlens latent file (.npz written by `ganlens sample --save-latents`, `invert`, ...)"
        vet_archive(path, "latent file", expected, LatentError)
        try:
            with np.load(path, allow_pickle=False) as data:
                if "tensor" not in data.files or "header" not in data.files:
                    raise LatentError(f"{path} is an .npz but not a ganlens latent file (keys {data.files}; "
                                      "need 'tensor' and 'header')")
                header = json.loads(bytes(data["header"]).decode())
                if not isinstance(header, dict) or "space" not in header:
                    raise LatentError(f"{path}: the header names no latent space; {expected}")
                tensor = torch.from_numpy(data["tensor"].astype(np.float32))
                noise = [torch.from_numpy(data[f"noise_{i}"]) for i in range(header.get("num_noise", 0))] or None
        except LatentError:
            raise
        except Exception as exc:  # zip/npy/json errors all mean the same thing to the user
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise LatentError(f"cannot read latent file {path}: damaged or not written by ganlens ({reason})") from exc
        try:
            code = cls(header["space"], tensor, noise=noise, meta=header.get("meta", {}))
            if G is not None:
                code.validate_for(G)
        except LatentError as exc:
            raise LatentError(f"{path}: {exc}") from None
        return code
