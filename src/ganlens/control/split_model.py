"""A StyleGAN2 whose z and w are split into N + 1 sub-vectors: one per controlled attribute, one for the rest.

GAN-Control trains such a model from scratch with one mapping network per sub-vector. On a CPU budget we build it
from a trained generator instead, so that it starts out producing the same images:

- z = [z¹ … zᴺ, z_rest]: one scalar per controlled attribute (every synthfaces factor is a scalar) followed by
  the base model's z;
- W keeps the base model's coordinates, split into sub-spaces: the sub-vector of attribute k is a coordinate t_k
  read by a row r_k (t = R(w − w̄)), and changing it moves w along a column m_k with R M = I, so one attribute's
  coordinate never moves another's. Two choices of axes from directions d_k (rows of D):
  'dual' (default, for InterFaceGAN boundaries): R = D, M = Dᵀ(DDᵀ)⁻¹: t_k is the distance to boundary k and moving it
  leaves the other boundaries' distances alone; 'vector': M = Dᵀ, R = (DDᵀ)⁻¹D: t_k moves w along d_k itself
  (for directions that say where w goes when the attribute changes, e.g. the mean shift Cov(w, y));
  the rest is w − w̄ minus its component in span(M);
- the mapping draws each t_k from its own small network t_k = center_k + spread_k·(zᵏ + mlp_k(zᵏ)) (zero-initialised
  residual, so the start is a Gaussian with the base model's mean and spread) and the rest from the base mapping
  network on z_rest, with its t-coordinates replaced: w = w_rest + M (t − R(w_rest − w̄)).

By construction, changing zᵏ moves w only along m_k, which the other sub-vectors' coordinates do not see; whether
the *images* see it is up to the synthesis network, and that is what the contrastive fine-tune
(`ganlens.training.control`) trains for.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..directions.direction import Direction
from ..errors import GanlensError, LatentError
from ..io.tensorfile import peek_document, read_tensor_file, write_tensor_file
from ..models.native import load_state_strict
from ..models.stylegan2 import Generator, MappingNetwork, broadcast_truncated

FORMAT = "ganlens.split_generator"
FORMAT_VERSION = 1


class SubMapping(nn.Module):
    """zᵏ (scalar) → u = zᵏ + mlp(zᵏ); the last layer starts at zero so u = zᵏ before training."""

    def __init__(self, hidden: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(1, hidden), nn.SiLU(), nn.Linear(hidden, 1))
        nn.init.zeros_(self.net[2].weight)
        nn.init.zeros_(self.net[2].bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.net(z)


class SplitMapping(nn.Module):
    """[z¹ … zᴺ, z_rest] → ws [n, num_ws, w_dim] in the base model's W (see the module docstring)."""

    def __init__(self, rest: MappingNetwork, num_attributes: int, hidden: int = 16) -> None:
        super().__init__()
        self.rest = rest
        self.sub = nn.ModuleList(SubMapping(hidden) for _ in range(num_attributes))
        self.num_attributes = num_attributes
        self.rest_z_dim, self.w_dim, self.num_ws = rest.z_dim, rest.w_dim, rest.num_ws
        self.z_dim = num_attributes + rest.z_dim
        self.c_dim = 0
        # normals: the rows R that read t from w; duals: the columns M that w moves along (R M = I).
        self.register_buffer("normals", torch.zeros([num_attributes, rest.w_dim]))
        self.register_buffer("duals", torch.zeros([rest.w_dim, num_attributes]))
        self.register_buffer("center", torch.zeros([num_attributes]))
        self.register_buffer("spread", torch.ones([num_attributes]))

    @property
    def w_avg(self) -> torch.Tensor:
        # The split's origin is the base model's w̄; it is never updated, so sub-vector values keep their meaning.
        return self.rest.w_avg

    def set_basis(self, directions: torch.Tensor, center: torch.Tensor, spread: torch.Tensor, axes: str = "dual") -> None:
        """Install the attributes' directions [N, w_dim] as 'dual' or 'vector' axes (see the module docstring), and
        the mean / spread of their coordinates."""
        d = directions.to(torch.float64)
        gram = d @ d.T
        if torch.linalg.matrix_rank(gram) < len(d):
            raise GanlensError("the attribute directions are linearly dependent; choose attributes with distinct ones")
        if axes == "dual":
            read, move = d, d.T @ torch.linalg.inv(gram)
        elif axes == "vector":
            read, move = torch.linalg.inv(gram) @ d, d.T
        else:
            raise GanlensError(f"axes must be 'dual' or 'vector', got {axes!r}")
        self.normals.copy_(read.float())
        self.duals.copy_(move.float())
        self.center.copy_(center)
        self.spread.copy_(spread)

    def subvectors(self, w: torch.Tensor) -> torch.Tensor:
        """The attribute coordinates t [n, N] of w [n, w_dim]."""
        return (w - self.w_avg) @ self.normals.T

    def with_subvectors(self, w: torch.Tensor, t: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """w [n, w_dim] with its attribute coordinates replaced by t [n, N] (only where `mask` [N] is true)."""
        delta = t - self.subvectors(w)
        if mask is not None:
            delta = delta * mask.to(delta.dtype)
        return w + delta @ self.duals.T

    def t_of_z(self, z_sub: torch.Tensor) -> torch.Tensor:
        """Attribute coordinates t [n, N] from the attribute part of z [n, N]."""
        u = torch.cat([m(z_sub[:, k : k + 1]) for k, m in enumerate(self.sub)], dim=1)
        return self.center + self.spread * u

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
    ) -> torch.Tensor:
        """Map split z [n, N + rest_z_dim] to ws [n, num_ws, w_dim]; truncation as in MappingNetwork."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise LatentError(f"z must have shape [N, {self.z_dim}] ({self.num_attributes} attribute scalars + "
                              f"{self.rest_z_dim} rest), got {list(z.shape)}")
        z = z.to(torch.float32)
        w_rest = self.rest(z[:, self.num_attributes :])[:, 0]
        w = self.with_subvectors(w_rest, self.t_of_z(z[:, : self.num_attributes]))
        return broadcast_truncated(w, self.w_avg, self.num_ws, truncation_psi, truncation_cutoff)


class SplitGenerator(Generator):
    """A Generator with a `SplitMapping`: `attributes` names the N controlled sub-vectors, in z and t order."""

    def __init__(self, base_kwargs: dict, attributes: Sequence[str], hidden: int = 16) -> None:
        super().__init__(**base_kwargs)
        if not attributes or len(set(attributes)) != len(attributes):
            raise GanlensError(f"a split generator needs distinct attribute names, got {list(attributes)}")
        self.attributes = tuple(attributes)
        self.mapping = SplitMapping(self.mapping, len(self.attributes), hidden)
        self.z_dim = self.mapping.z_dim
        self.init_kwargs = {"base_kwargs": base_kwargs, "attributes": list(self.attributes), "hidden": hidden}

    def index(self, attribute: str) -> int:
        """Position of `attribute`'s sub-vector (in z and in t)."""
        if attribute not in self.attributes:
            raise GanlensError(f"attribute {attribute!r} has no sub-vector in this model; it has {list(self.attributes)}")
        return self.attributes.index(attribute)

    def subvector_sizes(self) -> list[int]:
        """Sizes of the N + 1 sub-vectors of z, in order (the attribute scalars, then the rest)."""
        return [1] * len(self.attributes) + [self.mapping.rest_z_dim]

    @classmethod
    def from_base(
        cls, G: Generator, directions: Mapping[str, Direction], attributes: Sequence[str],
        num_samples: int = 4000, seed: int = 0, hidden: int = 16, axes: str = "dual",
    ) -> SplitGenerator:
        """Split a trained generator along W directions of `attributes` (it keeps all of G's weights).

        Args:
            directions: per attribute an all-layer W direction (InterFaceGAN boundaries, or mean shifts).
            axes: 'dual' (sub-vector = distance to the boundary) or 'vector' (sub-vector moves w along it).
            num_samples, seed: base samples that set each coordinate's mean and spread.

        Raises:
            GanlensError: an attribute without a W boundary in `directions`, or a generator of another kind.
        """
        if isinstance(G, SplitGenerator) or type(G.mapping) is not MappingNetwork:
            raise GanlensError("from_base needs an ordinary StyleGAN2 generator")
        missing = [a for a in attributes if a not in directions]
        if missing:
            raise GanlensError(f"no boundary for {missing}; available: {sorted(directions)}")
        for a in attributes:
            d = directions[a]
            if d.space != "w" or d.layers is not None or d.dim != G.w_dim:
                raise GanlensError(f"boundary {a!r} must be an all-layer W direction of dim {G.w_dim}, got "
                                   f"space={d.space!r} layers={d.layers} dim={d.dim}")
        S = cls(copy.deepcopy(G.init_kwargs), attributes, hidden)
        S.mapping.rest.load_state_dict(G.mapping.state_dict())
        S.synthesis.load_state_dict(G.synthesis.state_dict())
        vectors = torch.tensor(np.stack([directions[a].vector for a in attributes]), dtype=torch.float32)
        S.mapping.set_basis(vectors, torch.zeros(len(attributes)), torch.ones(len(attributes)), axes)
        with torch.no_grad():
            t = S.mapping.subvectors(G.mapping(G.sample_z(num_samples, seed))[:, 0])
        S.mapping.set_basis(vectors, t.mean(0), t.std(0), axes)
        S.name = f"{G.name}-split"
        S.provenance = {"split_from": G.name, "attributes": list(attributes), "basis_samples": num_samples,
                        "basis_seed": seed, "axes": axes,
                        "base_provenance": G.provenance}
        return S.eval().requires_grad_(False).to(G.device)


def save_split_generator(G: SplitGenerator, path: str | Path, provenance: dict | None = None) -> Path:
    """Write a split generator as one safetensors file with a JSON header (atomic)."""
    doc = {"format": FORMAT, "version": FORMAT_VERSION, "name": G.name, "init_kwargs": G.init_kwargs,
           "provenance": provenance if provenance is not None else G.provenance}
    state = {k: v.detach().cpu().contiguous() for k, v in G.state_dict().items()}
    return write_tensor_file(path, state, doc)


def is_split_checkpoint(path: str | Path) -> bool:
    """Whether `path` is a split generator file (reads the safetensors header only)."""
    doc = peek_document(path)
    return doc is not None and doc.get("format") == FORMAT


def load_split_generator(path: str | Path, device: str | torch.device = "cpu") -> SplitGenerator:
    """Read what `save_split_generator` wrote (strict: every tensor must match)."""
    path = Path(path)
    doc, state = read_tensor_file(path, FORMAT, "ganlens split generator", max_version=FORMAT_VERSION)
    G = SplitGenerator(**doc["init_kwargs"])
    load_state_strict(G, state, str(path))
    G.name = doc.get("name", path.stem)
    G.provenance = doc.get("provenance", {})
    return G.eval().requires_grad_(False).to(device)
