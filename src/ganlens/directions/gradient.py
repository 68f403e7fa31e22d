"""Scorer-gradient directions: the direction in which a differentiable scorer's attribute rises, averaged over samples.

InterFaceGAN models an attribute as linear in the latent code, f(G(z)) ≈ λ·nᵀz; under that model the gradient of
the score is λ·n at every sample. This module measures that gradient directly: for N sampled codes it backpropagates
the score through the generator, normalises each sample's gradient to unit length and averages them. The mean's
length (`consistency`, 1 when every sample agrees, about 1/√N for N unrelated ones) tells whether one direction
can move the attribute everywhere; the share of samples whose own gradient points within 90° of the mean
(`agreement`) tells for how many a small step along it raises the score.

Unlike an SVM normal, which follows how positives and negatives differ in the data, the gradient follows what the
generator and scorer respond to, so the two can disagree where the latent distribution has directions the
generator ignores. It needs a scorer with `score_tensor` (a torch model); labels from a CSV or a function on uint8
pictures can only make SVM boundaries.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..errors import GanlensError
from ..latents import LatentCode, broadcast_w, check_truncation
from ..models.stylegan2 import Generator
from ..scorers.base import Scorer
from .direction import Direction


def is_differentiable(scorer: Scorer) -> bool:
    """Whether `scorer` overrides `Scorer.score_tensor` (gives scores that gradients flow through)."""
    return type(scorer).score_tensor is not Scorer.score_tensor


def unit_gradients(
    G: Generator,
    scorer: Scorer,
    attribute: str,
    codes: LatentCode,
    layers: Sequence[int] | None = None,
    batch_size: int = 32,
    progress: bool = False,
) -> np.ndarray:
    """Per code, the unit-length gradient of `attribute`'s score with respect to the code [N, dim].

    Z codes: the gradient in Z. W codes: the gradient with respect to w, i.e. summed over the w's of `layers`
    (None: all), which is the direction a layer-wise edit of those layers should take.
    """
    if codes.space not in ("z", "w"):
        raise GanlensError(f"gradient directions are fitted on 'z' or 'w' codes, got {codes.space!r}")
    if layers is not None and codes.space != "w":
        raise GanlensError("layers apply to W codes only")
    index = list(scorer.names).index(attribute)
    sel = None if codes.space == "z" else list(range(G.num_ws)) if layers is None else list(layers)
    out = []
    for start in tqdm(range(0, len(codes), batch_size), desc=f"gradients {attribute}", unit="batch",
                      disable=not progress):
        x = codes.tensor[start:start + batch_size].to(G.device, torch.float32)
        if codes.space == "w":
            x = broadcast_w(x, G.num_ws)
        (grad,) = score_gradients(G, scorer, x, [index], sel)
        out.append((grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-30)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, codes.tensor.shape[-1]))


def score_gradients(G: Generator, scorer: Scorer, x: torch.Tensor, columns: Sequence[int],
                    layers: Sequence[int] | None) -> list[torch.Tensor]:
    """Gradients (float64, [N, dim]) of the scorer's `columns` at the codes `x`, from one synthesis.

    `layers` None: `x` holds z codes [N, z_dim]; else W+ codes [N, num_ws, w_dim], and each gradient is summed
    over those w's (the gradient of a move that shifts them all by the same vector).
    """
    return scores_and_gradients(G, scorer, x, columns, layers)[1]


def scores_and_gradients(G: Generator, scorer: Scorer | Sequence[Scorer], x: torch.Tensor, columns: Sequence[int],
                         layers: Sequence[int] | None) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """`score_gradients`, plus the scores of those columns at `x` (float64, [N, len(columns)]).

    Several scorers read the same synthesis; `columns` then index their outputs side by side.
    """
    scorers = [scorer] if isinstance(scorer, Scorer) else list(scorer)
    with torch.enable_grad():  # callers often hold torch.no_grad() for the renders around this
        leaf = x.detach().requires_grad_(True)
        code = LatentCode("z" if layers is None else "w+", leaf)
        images = G.synthesize(code, batch_size=len(leaf)).clamp(-1, 1)  # the scorer sees what a render shows
        scores = torch.cat([sc.score_tensor(images).float() for sc in scorers], dim=1)
        grads = []
        for i, c in enumerate(columns):
            (g,) = torch.autograd.grad(scores[:, c].sum(), leaf, retain_graph=i < len(columns) - 1)
            grads.append((g if layers is None else g[:, list(layers)].sum(dim=1)).double())
    return scores[:, list(columns)].detach().double(), grads


def gradient_direction(
    G: Generator,
    scorer: Scorer,
    attribute: str,
    *,
    space: str = "w",
    num_samples: int = 1000,
    seed: int = 0,
    layers: Sequence[int] | None = None,
    truncation_psi: float = 1.0,
    batch_size: int = 32,
    progress: bool = False,
) -> Direction:
    """The mean unit gradient of `attribute`'s score over `num_samples` sampled codes, as a unit Direction.

    Args:
        G: the generator.
        scorer: a differentiable scorer (one with `score_tensor`, e.g. the bundled predictor).
        attribute: one of the scorer's attributes; the direction points to higher scores.
        space: 'w' or 'z'.
        num_samples: codes to average over.
        seed: seed of the codes (use another one to measure the edits).
        layers: W only: fit for a layer-wise edit of these w's (the Direction keeps them).
        truncation_psi: truncation of the sampled W codes.
        batch_size: codes per backward pass.
        progress: show a tqdm bar.
    Returns:
        A Direction (method 'gradient') whose metrics hold `consistency` (length of the mean unit gradient) and
        `agreement` (share of samples whose gradient has a positive dot product with the direction).
    Raises:
        GanlensError: a scorer that is not differentiable, an unknown attribute, a bad space or sample count.
    """
    if not is_differentiable(scorer):
        raise GanlensError(
            f"{type(scorer).__name__} is not differentiable (it scores uint8 pictures), so it has no gradient to "
            "follow; fit an SVM boundary with its scores instead (ganlens boundary --method svm)")
    if attribute not in scorer.names:
        raise GanlensError(f"the scorer has no attribute {attribute!r}; it has {list(scorer.names)}")
    if space not in ("z", "w"):
        raise GanlensError(f"gradient directions live in 'z' or 'w', got space {space!r}")
    if num_samples < 1:
        raise GanlensError(f"num_samples must be at least 1, got {num_samples}")
    check_truncation(space, truncation_psi)
    with torch.no_grad():
        codes = G.sample(num_samples, seed=seed, truncation_psi=truncation_psi, space=space)
    grads = unit_gradients(G, scorer, attribute, codes, layers=layers, batch_size=batch_size, progress=progress)
    mean = grads.mean(axis=0)
    consistency = float(np.linalg.norm(mean))
    if consistency < 1e-12:
        raise GanlensError(f"the gradients of {attribute!r} cancel out over {num_samples} samples: no common direction")
    vector = mean / consistency
    return Direction(
        vector, space, layers=None if layers is None else tuple(int(i) for i in layers), method="gradient",
        attribute=attribute, model=G.name, num_ws=G.num_ws,
        metrics={"consistency": consistency, "agreement": float((grads @ vector > 0).mean()),
                 "num_samples": num_samples},
        provenance={"seed": seed, "truncation_psi": truncation_psi, "scorer": type(scorer).__name__},
    )
