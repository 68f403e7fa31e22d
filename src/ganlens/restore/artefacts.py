"""Artefact correction (InterFaceGAN §3.4): a linear boundary in W between poor and good samples, and samples moved
across it, away from their artefacts.

InterFaceGAN labelled 4,000 bad samples by hand. Here a realism score labels them: the distance of a sample's
features to its nearest neighbours among real images of the domain (improved precision's k-NN manifold, used as a
continuous score: near real images is good, far from all of them is an artefact). The boundary between the worst
and the best share of samples is fitted like any attribute's, optionally conditioned on the attributes' own
boundaries so that the correction leaves them where they were.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from ..directions.direction import Direction
from ..directions.svm import fit_boundary
from ..edit.linear import move
from ..errors import InputError, ShapeError
from ..latents import LatentCode, Layout
from ..models.stylegan2 import Generator

Embed = Callable[[np.ndarray], np.ndarray]  # uint8 images [N, H, W, 3] → features [N, D]


class RealismScore:
    """Higher = more like the reference images: minus the mean distance of an image's features to its k nearest
    reference features, in units of the references' own typical k-NN distance (so 0 is "as close as real images are
    to each other" and −1 is twice as far).

    Args:
        embed: images → features (e.g. a predictor's `features`, trained on the domain).
        reference: uint8 real images [M, H, W, 3] of the domain (M > k).
        k: neighbours.
    """

    def __init__(self, embed: Embed, reference: np.ndarray, k: int = 3) -> None:
        if reference.ndim != 4 or reference.shape[-1] != 3 or reference.dtype != np.uint8:
            raise ShapeError(f"reference images must be uint8 [M, H, W, 3], got {reference.dtype} {list(reference.shape)}")
        if len(reference) <= k:
            raise InputError(f"a realism score with k={k} needs more than {k} reference images, got {len(reference)}")
        self.embed, self.k = embed, k
        self.reference = torch.as_tensor(np.asarray(embed(reference), np.float32))
        own = self._knn(self.reference, skip_self=True)
        self.unit = float(own.mean())

    def _knn(self, feats: torch.Tensor, skip_self: bool = False) -> torch.Tensor:
        out = []
        for start in range(0, len(feats), 1024):
            d = torch.cdist(feats[start : start + 1024], self.reference)
            k = self.k + (1 if skip_self else 0)
            out.append(d.topk(k, dim=1, largest=False).values[:, 1 if skip_self else 0 :].mean(dim=1))
        return torch.cat(out)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        feats = torch.as_tensor(np.asarray(self.embed(images), np.float32))
        return (1.0 - self._knn(feats) / self.unit).double().numpy()


def mobilenet_embed(batch_size: int = 64) -> Embed:
    """Domain-agnostic features: the ImageNet MobileNetV2's feature maps (the perceptual distance's taps), each
    averaged over the image and unit-normalised, concatenated."""
    from ..io.images import from_uint8
    from ..metrics.perceptual import get_perceptual

    net = get_perceptual("mobilenet")

    @torch.no_grad()
    def embed(images: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(images), batch_size):
            taps = net.features(from_uint8(images[i : i + batch_size]))
            pooled = [torch.nn.functional.normalize(t.mean(dim=(2, 3)), dim=1) for t in taps]
            out.append(torch.cat(pooled, dim=1).numpy())
        return np.concatenate(out)

    return embed


def realism_of(G: Generator, codes: LatentCode, realism: RealismScore, batch_size: int = 250,
               progress: bool = False) -> np.ndarray:
    """The realism score of each code's render [N]."""
    parts = []
    for i in tqdm(range(0, len(codes), batch_size), disable=not progress, desc="realism", unit="batch", leave=False):
        parts.append(realism(G.render(codes[i : i + batch_size])))
    return np.concatenate(parts)


def quality_boundary(G: Generator, realism: RealismScore, n: int = 5000, seed: int = 0, ratio: float = 0.1,
                     keep: dict[str, Direction] | None = None, progress: bool = False) -> Direction:
    """Fit the boundary between the worst and the best `ratio` of n samples by realism (W space).

    Args:
        G: the generator. realism: the score that labels the samples.
        n, seed: the samples drawn. ratio: the share taken at each end (InterFaceGAN's 'bad' and 'good').
        keep: attribute boundaries (W) the correction must not move: the quality direction is conditioned on them.
    Returns:
        A Direction named 'realism' pointing towards more realistic samples; its metrics hold the SVM's accuracy
        and the realism of the two ends.
    """
    codes = G.sample(n, seed=seed)
    scores = realism_of(G, codes, realism, progress=progress)
    d = fit_boundary(codes, scores, attribute="realism", ratio=ratio, seed=seed, model=G.name, num_ws=G.num_ws)
    order = np.sort(scores)
    m = int(n * ratio)
    d.metrics.update({"realism_worst_mean": float(order[:m].mean()), "realism_best_mean": float(order[-m:].mean()),
                      "samples": n})
    if keep:
        d = d.conditioned_on(*keep.values())
    # Strength 1 = one spread of the samples along the (conditioned) normal, as for the shipped boundaries.
    return replace(d, scale=float(np.std(codes.tensor.double().numpy() @ d.vector)))


def correct(codes: LatentCode, direction: Direction, strength: float = 1.0, num_ws: Layout | None = None) -> LatentCode:
    """Move codes along the quality direction by `strength` spreads (towards realism for strength > 0)."""
    out = move(codes, direction, [strength], num_ws=num_ws)
    out.meta["corrected"] = {"direction": direction.name, "strength": strength}
    return out
