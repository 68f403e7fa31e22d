"""GAN-Control's factorised contrastive loss, the pair batches it is computed on, and the embeddings M_k.

For attribute k with embedding M_k and d_k(i, j) = ‖M_k(I_i) − M_k(I_j)‖:

    l_k(i, j) = max(d_k − τ_k⁺, 0) / C_k⁺   if images i and j share sub-vector k,
              = max(τ_k⁻ − d_k, 0) / C_k⁻   otherwise;        L_c = Σ_{i≠j} Σ_k l_k(i, j),

with C_k⁺ / C_k⁻ the numbers of ordered pairs that share / do not share sub-vector k, so every attribute and both
kinds of pair weigh the same however the batch is built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch

from ..errors import GanlensError
from ..scorers.predictor import PredictorScorer


@dataclass
class PairBatch:
    """z [2B, z_dim] where rows p and B + p share exactly sub-vector `shared[p]`; `same` [2B, 2B, N] says, for
    every ordered pair and controlled sub-vector, whether the two codes hold the same values there."""

    z: torch.Tensor
    shared: torch.Tensor
    same: torch.Tensor


def subvector_slices(sizes: Sequence[int]) -> list[slice]:
    """Column slices of the sub-vectors of sizes `sizes` laid out one after another."""
    out, start = [], 0
    for s in sizes:
        if s < 1:
            raise GanlensError(f"sub-vector sizes must be positive, got {list(sizes)}")
        out.append(slice(start, start + s))
        start += s
    return out


def same_mask(z: torch.Tensor, sizes: Sequence[int], num_controlled: int) -> torch.Tensor:
    """[M, M, num_controlled] bool: codes i and j hold identical values in controlled sub-vector k."""
    slices = subvector_slices(sizes)[:num_controlled]
    return torch.stack([(z[:, None, sl] == z[None, :, sl]).all(dim=-1) for sl in slices], dim=-1)


def make_pair_batch(
    num_pairs: int,
    sizes: Sequence[int],
    num_controlled: int | None = None,
    generator: torch.Generator | None = None,
    shared: Sequence[int] | None = None,
) -> PairBatch:
    """Draw `num_pairs` pairs of standard-normal codes that share exactly one controlled sub-vector.

    Args:
        num_pairs: B; the batch holds 2B codes.
        sizes: sizes of the N + 1 sub-vectors in z order (the controlled ones first, the rest last).
        num_controlled: how many leading sub-vectors are controlled (default: all but the last).
        generator: torch RNG, for reproducible batches.
        shared: which sub-vector each pair shares (default: cycle through the controlled ones, so each
            attribute gets the same number of pairs).
    Raises:
        GanlensError: a shared index outside the controlled sub-vectors, or a bad size list.
    """
    slices = subvector_slices(sizes)
    n_ctrl = len(sizes) - 1 if num_controlled is None else num_controlled
    if not 1 <= n_ctrl <= len(sizes):
        raise GanlensError(f"num_controlled must be in [1, {len(sizes)}], got {n_ctrl}")
    if shared is None:
        shared = [p % n_ctrl for p in range(num_pairs)]
    shared_t = torch.as_tensor(list(shared), dtype=torch.long)
    if len(shared_t) != num_pairs or (len(shared_t) and (shared_t.min() < 0 or shared_t.max() >= n_ctrl)):
        raise GanlensError(f"shared must list {num_pairs} sub-vector indices in [0, {n_ctrl}), got {list(shared)}")
    dim = sum(sizes)
    a = torch.randn([num_pairs, dim], generator=generator)
    b = torch.randn([num_pairs, dim], generator=generator)
    for p, k in enumerate(shared_t.tolist()):
        b[p, slices[k]] = a[p, slices[k]]
    z = torch.cat([a, b])
    return PairBatch(z=z, shared=shared_t, same=same_mask(z, sizes, n_ctrl))


def contrastive_loss(
    embeddings: Sequence[torch.Tensor],
    same: torch.Tensor,
    tau_pos: float | Sequence[float],
    tau_neg: float | Sequence[float],
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """L_c over all ordered pairs i ≠ j.

    Args:
        embeddings: N tensors, M_k of the M images, each [M, d_k].
        same: [M, M, N] bool, from `same_mask` / `make_pair_batch`.
        tau_pos: τ⁺ (one value or one per attribute): same-sub-vector images may differ by this much for free.
        tau_neg: τ⁻: images with different sub-vectors must differ by at least this much.
    Returns:
        (L_c, {"pos": [N], "neg": [N]}) with the two normalised terms per attribute.
    """
    n_attr = len(embeddings)
    if same.ndim != 3 or same.shape[2] != n_attr or same.shape[0] != same.shape[1]:
        raise GanlensError(f"same must be [M, M, {n_attr}], got {list(same.shape)}")
    m = same.shape[0]
    taus_p = _per_attribute(tau_pos, n_attr, "tau_pos")
    taus_n = _per_attribute(tau_neg, n_attr, "tau_neg")
    off_diag = ~torch.eye(m, dtype=torch.bool, device=same.device)
    pos, neg = [], []
    for k, e in enumerate(embeddings):
        if e.ndim != 2 or e.shape[0] != m:
            raise GanlensError(f"embedding {k} must be [{m}, d], got {list(e.shape)}")
        diff = e[:, None, :] - e[None, :, :]
        d = (diff.square().sum(-1) + 1e-12).sqrt()  # eps: the gradient of sqrt at exactly 0 is infinite
        s = same[:, :, k] & off_diag
        o = ~same[:, :, k] & off_diag
        pos.append(torch.clamp(d - taus_p[k], min=0)[s].sum() / s.sum().clamp(min=1))
        neg.append(torch.clamp(taus_n[k] - d, min=0)[o].sum() / o.sum().clamp(min=1))
    pos_t, neg_t = torch.stack(pos), torch.stack(neg)
    return pos_t.sum() + neg_t.sum(), {"pos": pos_t.detach(), "neg": neg_t.detach()}


def _per_attribute(value: float | Sequence[float], n: int, name: str) -> list[float]:
    vals = [float(value)] * n if isinstance(value, (int, float)) else [float(v) for v in value]
    if len(vals) != n or any(v < 0 for v in vals):
        raise GanlensError(f"{name} must be one non-negative value or {n} of them, got {value!r}")
    return vals


def predictor_embeddings(
    scorer: PredictorScorer, groups: Mapping[str, Sequence[str]]
) -> Callable[[torch.Tensor], list[torch.Tensor]]:
    """M_k from the bundled predictor: for each group, its attributes' outputs in range units (0..1 for
    continuous, probabilities for binary), so one τ means the same fraction of every attribute's range.

    Args:
        scorer: a PredictorScorer (differentiable).
        groups: controlled attribute → the predictor attributes that make up its embedding (often just itself).
    Returns:
        images [M, 3, H, W] in [-1, 1] → list of [M, d_k] (gradients flow to the images).
    """
    names = list(scorer.names)
    cols = {}
    for key, members in groups.items():
        unknown = [a for a in members if a not in names]
        if unknown or not members:
            raise GanlensError(f"embedding group {key!r}: unknown predictor attributes {unknown or list(members)}; "
                               f"known: {names}")
        cols[key] = [names.index(a) for a in members]
    binary = torch.tensor([a.kind == "binary" for a in scorer.attributes])

    def embed(images: torch.Tensor) -> list[torch.Tensor]:
        raw = scorer.model(scorer._prepare(images)).float()  # normalised units; binary columns are logits
        out = torch.where(binary.to(raw.device), torch.sigmoid(raw), raw)
        return [out[:, c] for c in cols.values()]

    return embed
