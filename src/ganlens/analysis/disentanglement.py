"""How disentangled a direction-finding method's directions are, against the true factors of known images.

Khrulkov et al. (ICLR 2021, "Disentangled representations from non-disentangled models") score the directions a
method finds in a GAN's latent space as a representation: images whose generative factors are known are mapped to
latent codes, each code's coordinates along the method's k directions form a k-dimensional representation, and the
usual disentanglement scores (MIG, DCI, modularity; `ganlens.metrics.disentanglement`) compare it with the factors.
On synthfaces the renderer knows every factor, so the images are renders and the map to latents is an inversion.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..directions import Direction
from ..errors import InputError
from ..latents import LatentCode
from ..metrics.disentanglement import dci, mig, modularity


def direction_coordinates(codes: LatentCode, directions: Sequence[Direction], num_ws: int) -> np.ndarray:
    """Each code's position along each direction, [N, k]: n · w for W codes; for W+ codes n · (the mean w over
    the direction's layers, all when it names none). Z directions take Z codes."""
    if not directions:
        raise InputError("no directions to take coordinates along")
    out = np.empty((len(codes), len(directions)))
    t = codes.tensor.detach().cpu().double().numpy()
    for j, d in enumerate(directions):
        if d.space == "z" or codes.space == "z":
            if d.space != codes.space:
                raise InputError(f"direction {d.name} is in {d.space!r} but the codes are {codes.space!r}")
            x = t
        elif d.space in ("w", "w+") and codes.space in ("w", "w+"):
            if codes.space == "w":
                x = t
            else:
                if t.shape[1] != num_ws:
                    raise InputError(f"W+ codes have {t.shape[1]} w's, the generator {num_ws}")
                layers = list(d.layers) if d.layers else list(range(num_ws))
                x = t[:, layers].mean(axis=1)
        else:
            raise InputError(f"direction {d.name} is in {d.space!r}: coordinates are taken in Z and W only")
        if x.shape[1] != d.dim:
            raise InputError(f"direction {d.name} has {d.dim} dimensions, the codes {x.shape[1]}")
        out[:, j] = x @ d.vector
    return out


def score_directions(codes: LatentCode, directions: Sequence[Direction], factors: np.ndarray, num_ws: int,
                     bins: int = 20, dci_model: str = "forest", seed: int = 0) -> dict:
    """MIG, DCI and modularity of the codes' coordinates along `directions` against `factors` [N, K] (the true
    factors of the images the codes came from), with the per-factor MIG and DCI importance for the tables."""
    coords = direction_coordinates(codes, directions, num_ws)
    score, gaps = mig(coords, factors, bins)
    d = dci(coords, factors, model=dci_model, seed=seed)
    return {"k": len(directions), "mig": score, "mig_per_factor": [None if np.isnan(g) else float(g) for g in gaps],
            "dci": {"disentanglement": d.disentanglement, "completeness": d.completeness,
                    "informativeness": d.informativeness, "model": dci_model,
                    "importance": d.importance.round(5).tolist()},
            "modularity": modularity(coords, factors, bins)}
