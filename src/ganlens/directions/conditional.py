"""Conditional manipulation: project condition normals out of a direction (InterFaceGAN §2).

With several conditions the projection is onto the orthogonal complement of their *span* (not repeated pairwise
subtraction, which is only right when the conditions are mutually orthogonal).
"""

from __future__ import annotations

import numpy as np

from ..errors import GanlensError


def project_out(
    vector: np.ndarray, conditions: np.ndarray, tol: float = 1e-6, name: str = "direction"
) -> tuple[np.ndarray, float]:
    """Remove from `vector` its component in span(`conditions`) and renormalise.

    Args:
        vector: the primary direction [dim] (any length; unit expected).
        conditions: condition normals [k, dim] (need not be orthogonal or independent).
        tol: the refused residual: if |v − P v| / |v| < tol, the direction lies in the span.
        name: used in the error message.
    Returns:
        (the unit residual [dim], |v − P v| / |v|: the fraction of the direction's length kept).
    Raises:
        GanlensError: wrong shapes, or the direction lies inside the span of the conditions.
    """
    v = np.asarray(vector, dtype=np.float64)
    c = np.atleast_2d(np.asarray(conditions, dtype=np.float64))
    if v.ndim != 1:
        raise GanlensError(f"vector must be 1-D [dim], got shape {list(v.shape)}")
    if c.ndim != 2 or c.shape[1] != v.shape[0]:
        raise GanlensError(f"conditions must have shape [k, {v.shape[0]}], got {list(c.shape)}")
    # An orthonormal basis of the span from the SVD copes with dependent conditions (rank < k).
    u, s, _ = np.linalg.svd(c.T, full_matrices=False)
    rank = int((s > s.max() * 1e-10).sum()) if s.size and s.max() > 0 else 0
    basis = u[:, :rank]
    residual = v - basis @ (basis.T @ v)
    kept = float(np.linalg.norm(residual) / np.linalg.norm(v))
    if kept < tol:
        raise GanlensError(
            f"{name} lies in the span of its condition directions (only {kept:.2e} of it is left after projection); "
            "conditioning on them would leave nothing to move along"
        )
    return residual / np.linalg.norm(residual), kept
