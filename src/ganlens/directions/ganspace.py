"""GANSpace: principal components of sampled w as edit directions (Härkönen et al.).

IncrementalPCA over many mapped z (the reference uses 300,000 samples and 80 components). Each component keeps
its standard deviation σ as the Direction's `scale`, so an edit of strength 2 moves 2σ along it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from sklearn.decomposition import IncrementalPCA
from tqdm import tqdm

from ..errors import GanlensError
from ..latents.layers import LayerSpec, resolve_layers
from .direction import Direction

if TYPE_CHECKING:  # pragma: no cover
    from ..models.stylegan2 import Generator


@torch.no_grad()
def ganspace(
    G: Generator,
    num_samples: int = 300_000,
    num_components: int = 80,
    layers: LayerSpec = "all",
    seed: int = 0,
    batch_size: int = 10_000,
    progress: bool = False,
) -> list[Direction]:
    """PCA directions of W, sorted by explained variance.

    Args:
        G: a Generator.
        num_samples: how many z to map (the reference: 300,000).
        num_components: how many components to keep (at most w_dim).
        layers: the w's an edit along them moves (GANSpace applies components to a layer range).
        seed: seed of the z draws.
        batch_size: z per IncrementalPCA step (must be >= num_components).
        progress: show a progress bar.
    Returns:
        Directions with scale = σ of the component and metrics sigma, explained_variance_ratio, rank.
    """
    if not 1 <= num_components <= G.w_dim:
        raise GanlensError(f"num_components must be between 1 and w_dim={G.w_dim}, got {num_components}")
    batch_size = min(batch_size, num_samples)
    if batch_size < num_components:
        raise GanlensError(f"need at least num_components={num_components} samples per batch, got {batch_size}")
    idx = resolve_layers(layers, G.w_resolutions)
    pca = IncrementalPCA(n_components=num_components)
    rng = np.random.default_rng(seed)
    starts = range(0, num_samples, batch_size)
    for start in tqdm(starts, desc="ganspace", disable=not progress, unit="batch"):
        n = min(batch_size, num_samples - start)
        if n < num_components:  # IncrementalPCA refuses a batch smaller than n_components; drop the remainder
            break
        z = torch.from_numpy(rng.standard_normal((n, G.z_dim)).astype(np.float32)).to(G.device)
        pca.partial_fit(G.mapping(z)[:, 0].double().cpu().numpy())
    sigmas = np.sqrt(pca.explained_variance_)
    out = []
    for rank in range(num_components):
        out.append(Direction(
            vector=pca.components_[rank], space="w", layers=None if len(idx) == G.num_ws else idx,
            scale=float(sigmas[rank]), method="ganspace", attribute=f"pc{rank}",
            metrics={"sigma": float(sigmas[rank]), "explained_variance_ratio": float(pca.explained_variance_ratio_[rank]),
                     "rank": rank},
            model=getattr(G, "name", None), num_ws=G.num_ws,
            provenance={"num_samples": int(pca.n_samples_seen_), "seed": seed, "layers_spec": str(layers)},
        ))
    return out
