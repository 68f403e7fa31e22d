"""Linear edits of latent codes along directions: single, joint, jittered, and layer-wise.

All of them follow one rule set:
- a Z direction edits z codes only; a W / W+ direction edits w or w+ codes (map z codes to W first); an S direction
  edits style codes ('s', from `G.to_styles`), whose channels it moves in units of their spread;
- a layer range (given here or carried by the direction) moves only those w's of a W+ code; the other layers are
  copied bit for bit; a plain 'w' code edited on a layer range is promoted to W+ (it needs num_ws for that);
- strengths are in units of the direction's `scale` (1 for boundaries and SeFa, σ for GANSpace).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..directions.direction import Direction
from ..errors import LatentError
from ..latents import LatentCode
from ..latents.layers import LayerSpec, Layout, count_ws, resolve_layers


def _prepare(
    codes: LatentCode, direction: Direction, layers: LayerSpec, num_ws: Layout | None
) -> tuple[LatentCode, tuple[int, ...] | None]:
    """Check that `direction` can edit `codes`; return the codes (promoted to W+ if needed) and the w indices."""
    if not isinstance(direction, Direction):
        raise LatentError(f"expected a Direction, got {type(direction).__name__}")
    if (codes.space == "s") != (direction.space == "s"):
        if direction.space == "s":
            raise LatentError(f"direction {direction.name!r} lives in style space S but the codes are "
                              f"{codes.space!r}: convert them first (G.to_styles(codes))")
        raise LatentError(f"these are style-space ('s') codes; direction {direction.name!r} lives in "
                          f"{direction.space!r}: edit the w codes before G.to_styles, or use an S direction")
    if direction.space == "s":
        if layers is not None:
            raise LatentError(f"direction {direction.name!r} lives in S, whose channels already name their layers; "
                              "drop the layer range")
        _check_dim(codes.tensor.shape[-1], direction)
        return codes, None
    if direction.space == "z":
        if codes.space != "z":
            raise LatentError(
                f"direction {direction.name!r} lives in Z but the codes are in {codes.space!r}: a Z direction cannot "
                "edit W codes (the mapping is non-linear); fit the boundary in W, or edit the z codes"
            )
        if layers is not None:
            raise LatentError(f"direction {direction.name!r} lives in Z, which has no layers; drop the layer range")
        _check_dim(codes.tensor.shape[-1], direction)
        return codes, None
    if codes.space == "z":
        raise LatentError(
            f"direction {direction.name!r} lives in {direction.space!r} but the codes are z: map them to W first "
            "(G.sample(..., space='w') or LatentCode('w', G.ws_of(code)[:, 0]))"
        )
    _check_dim(codes.tensor.shape[-1], direction)
    if codes.space == "w+":
        n_ws = codes.tensor.shape[1]
        if num_ws is not None and count_ws(num_ws) != n_ws:
            raise LatentError(f"these W+ codes have {n_ws} layers but the generator has {count_ws(num_ws)}")
        if direction.num_ws is not None and direction.num_ws != n_ws:
            raise LatentError(
                f"direction {direction.name!r} was found on a generator with num_ws={direction.num_ws}, "
                f"but these W+ codes have {n_ws} layers"
            )
    else:
        n_ws = count_ws(num_ws) if num_ws is not None else direction.num_ws
    spec = layers if layers is not None else direction.layers
    if spec is None:
        return codes, None
    if n_ws is None:
        raise LatentError(
            "a layer-wise edit of 'w' codes needs the generator's num_ws to promote them to W+; pass num_ws=G.w_resolutions"
        )
    idx = resolve_layers(spec, num_ws if num_ws is not None else n_ws)
    if codes.space == "w" and idx == tuple(range(n_ws)):
        return codes, None  # every layer moves alike: the code can stay a plain w
    return codes.to_wplus(n_ws), idx


def _check_dim(dim: int, direction: Direction) -> None:
    if dim != direction.dim:
        raise LatentError(f"direction {direction.name!r} has dim {direction.dim} but the codes have dim {dim}")


def _add(t: torch.Tensor, offset: torch.Tensor, layers: tuple[int, ...] | None) -> torch.Tensor:
    """t + offset ([N, dim]) on every layer, or only on `layers` of a W+ tensor (the rest copied exactly)."""
    if t.ndim == 2:
        return t + offset
    if layers is None:
        return t + offset[:, None, :]
    out = t.clone()
    idx = list(layers)
    out[:, idx] = t[:, idx] + offset[:, None, :]
    return out


def _vec(direction: Direction, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(direction.vector * direction.scale, dtype=like.dtype, device=like.device)


def _repeat_noise(noise: list[torch.Tensor] | None, times: int) -> list[torch.Tensor] | None:
    if noise is None:
        return None
    return [n if n.shape[0] == 1 else n.repeat_interleave(times, dim=0) for n in noise]


def move(
    codes: LatentCode,
    direction: Direction,
    strengths: Sequence[float],
    layers: LayerSpec = None,
    num_ws: Layout | None = None,
) -> LatentCode:
    """Move every code along `direction` by every strength: x + a·scale·n.

    Args:
        codes: N codes (z, w or w+).
        direction: the direction (its `layers` apply unless `layers` is given).
        strengths: S strengths, in units of `direction.scale`.
        layers: w indices / preset / range to move (W and W+ only); overrides the direction's own.
        num_ws: the generator's num_ws, needed to edit 'w' codes layer-wise when the direction does not know it;
            pass `G.w_resolutions` instead to have preset names ('coarse', '16px') follow the generator's architecture.
    Returns:
        N·S codes, sample-major (row k·S + j is sample k at strength j), meta 'strengths' and 'num_samples'.
    Raises:
        LatentError: incompatible space or size, or a layer range that cannot be applied.
    """
    strengths = [float(a) for a in strengths]
    if not strengths:
        raise LatentError("strengths must not be empty")
    base, idx = _prepare(codes, direction, layers, num_ws)
    t = base.tensor
    n, s = t.shape[0], len(strengths)
    rep = t.repeat_interleave(s, dim=0)
    amount = torch.tensor(strengths, dtype=t.dtype, device=t.device).repeat(n)
    out = _add(rep, amount[:, None] * _vec(direction, t)[None, :], idx)
    meta = dict(codes.meta, strengths=strengths, num_samples=n, direction=direction.name)
    return LatentCode(base.space, out, noise=_repeat_noise(base.noise, s), meta=meta)


def move_joint(
    codes: LatentCode,
    edits: Sequence[tuple[Direction, float]],
    layers: LayerSpec = None,
    num_ws: Layout | None = None,
) -> LatentCode:
    """Joint manipulation x + Σ a_i·scale_i·n_i (HiGAN), each direction on its own (or the given) layers.

    Args:
        codes: N codes.
        edits: (direction, strength) pairs.
        layers: a layer range applied to every direction instead of their own.
        num_ws: as in `move`.
    Returns:
        N edited codes (W+ if any direction is layer-wise).
    """
    if not edits:
        raise LatentError("move_joint needs at least one (direction, strength) pair")
    prepared = [_prepare(codes, d, layers, num_ws) for d, _ in edits]
    if any(p[0].space == "w+" for p in prepared):
        n_ws = next(p[0].tensor.shape[1] for p in prepared if p[0].space == "w+")
        base = codes.to_wplus(n_ws) if codes.space == "w" else codes
    else:
        base = codes
    t = base.tensor
    for (direction, strength), (_, idx) in zip(edits, prepared):
        offset = float(strength) * _vec(direction, t)[None, :].expand(t.shape[0], -1)
        t = _add(t, offset, idx)
    meta = dict(codes.meta, joint={d.name: float(a) for d, a in edits})
    return LatentCode(base.space, t, noise=base.noise, meta=meta)


def perturb(codes: LatentCode, sigma: float, seed: int = 0, layers: LayerSpec = None) -> LatentCode:
    """Add seeded Gaussian noise N(0, σ²I) to every code, or only to the w's in `layers` of W+ codes.

    Raises:
        LatentError: negative sigma, or a layer range on codes without layers.
    """
    if sigma < 0:
        raise LatentError(f"sigma must be >= 0, got {sigma}")
    t = codes.tensor
    rng = np.random.default_rng(seed)
    if layers is None:
        out = t + torch.from_numpy(rng.standard_normal(tuple(t.shape)).astype(np.float32)).to(t) * sigma
    else:
        if t.ndim != 3:
            raise LatentError(f"a layer range needs W+ codes; these are {codes.space!r}")
        sel = list(resolve_layers(layers, t.shape[1]))
        out = t.clone()
        shape = (t.shape[0], len(sel), t.shape[2])
        out[:, sel] = t[:, sel] + torch.from_numpy(rng.standard_normal(shape).astype(np.float32)).to(t) * sigma
    return LatentCode(codes.space, out, noise=codes.noise, meta=dict(codes.meta, noise_sigma=sigma, noise_seed=seed))


def jitter(
    codes: LatentCode,
    direction: Direction,
    strength: float,
    sigma: float = 0.1,
    num: int = 4,
    seed: int = 0,
    layers: LayerSpec = None,
    num_ws: Layout | None = None,
) -> LatentCode:
    """Jittering manipulation x + a·n + ε, ε ~ N(0, σ²I) (HiGAN): `num` varied edits per code.

    The noise only touches the moved coordinates, so with a layer range the other layers are still exact copies.

    Returns:
        N·num codes, sample-major.
    """
    if num < 1:
        raise LatentError(f"jitter needs num >= 1, got {num}")
    moved = move(codes, direction, [strength] * num, layers=layers, num_ws=num_ws)
    _, idx = _prepare(codes, direction, layers, num_ws)
    return perturb(moved, sigma, seed=seed, layers=idx)


def parse_strengths(text: str) -> list[float]:
    """'-3:3:7' → 7 evenly spaced strengths from −3 to 3; '-2,0,2' → [−2, 0, 2]; '1.5' → [1.5]."""
    text = text.strip()
    values: list[float] = []
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) == 3 and int(parts[2]) >= 1:
                values = [float(v) for v in np.linspace(float(parts[0]), float(parts[1]), int(parts[2]))]
        else:
            values = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        values = []
    if not values or not all(np.isfinite(values)):
        raise LatentError(f"bad strengths {text!r}: use START:STOP:COUNT (e.g. -3:3:7) or a list (e.g. -2,0,2)")
    return values
