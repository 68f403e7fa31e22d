"""Per-sample edits by gradient ascent on a scorer, optionally holding other attributes fixed.

A linear edit moves every sample along one direction; where the attribute is not linear in the latent space
(on synthfaces64, glasses, beard, eye_open: docs/results.md, "What the directions find") that direction misses many
samples, and projecting a condition's direction out of it (InterFaceGAN's conditional manipulation) holds the
condition only on average. Here each sample climbs its own score gradient in equal steps, and with `keep` each
step is first made orthogonal to that sample's own gradients of the kept attributes, so they stay fixed to first
order, and (`restore`, the default) a Gauss-Newton correction inside the span of those gradients pulls their scores
back to the sample's start values, so the second-order drift does not pile up along the path; a few restore-only
passes after the last step close what is left. `guards` hold the
kept attributes under further predictors too. It needs a differentiable scorer (`Scorer.score_tensor`), e.g. the
bundled predictor.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from tqdm import tqdm

from ..directions.gradient import is_differentiable, scores_and_gradients
from ..errors import GanlensError
from ..latents import LatentCode
from ..latents.layers import LayerSpec, resolve_layers
from ..models.stylegan2 import Generator
from ..scorers import Scorer

# After the last step (and at every stop of a path) one restore-only pass always runs, and more follow while any kept
# score is further than this from its start value (raw scorer units), RESTORE_PASSES in all: one pass, capped at one
# step, can leave a sample whose kept score drifted far (measured: 2 of 64 samples off by > 0.02 after 0.75 units).
RESTORE_PASSES = 8
RESTORE_TOLERANCE = 1e-3


def ascend(
    G: Generator,
    scorer: Scorer,
    codes: LatentCode,
    attribute: str,
    distance: float = 3.0,
    *,
    keep: Sequence[str] = (),
    layers: LayerSpec = None,
    step: float = 0.125,
    restore: bool = True,
    guards: Sequence[Scorer] = (),
    batch_size: int = 32,
    progress: bool = False,
) -> LatentCode:
    """Move each code `distance` latent units up (negative: down) its own gradient of `attribute`'s score.

    Args:
        G: the generator.
        scorer: a differentiable scorer with `attribute` (and every `keep` attribute).
        codes: 'z', 'w' or 'w+' codes.
        attribute: the attribute to raise (or lower).
        distance: path length in latent units, split into ceil(|distance| / step) equal steps along the unit
            gradient.
        keep: attributes held fixed: each step is orthogonal to the sample's own gradients of them.
        layers: W codes only: move only these w's (a layer spec as in `move`), all by the same step.
        step: the longest step. Without `restore` the hold of `keep` is first-order and tightens with shorter
            steps: on synthfaces64, glasses | age over a distance of 3 cut the age change by 15 % with steps of 0.5
            and by 77 % with steps of 0.125 (160 samples); with `restore` by 100 % at 0.125, as the steering
            predictor reads it (an independently trained predictor reads less: docs/results.md, "Conditioning per sample").
        restore: with `keep`, add to every step (and after the last: once, then again, up to RESTORE_PASSES in
            all, while a kept score is further than RESTORE_TOLERANCE from its start) the least-norm move within the
            span of the kept gradients that would bring the kept scores back to their start values (a Gauss-Newton
            step, at most one step long), so the hold does not drift; a restore-only pass that would leave a sample
            further off is undone for it and its next move halved. The extra moves do not count towards `distance`.
        guards: further differentiable scorers under which every `keep` attribute is held as well, so that the
            hold is not a blind spot of one network. A guard that reads the edited attribute as a change of the
            kept one (a predictor trained where the two are correlated) makes the hold change the kept attribute
            to cancel that reading; on synthfaces64, `load_scorer("synthfaces64-independent")` was trained without
            the correlations (docs/results.md, "Conditioning per sample").
        batch_size: codes per forward/backward pass.
        progress: show a tqdm bar over batches.
    Returns:
        The edited codes: 'z' for 'z' codes, 'w' for 'w' codes moved on every layer, else 'w+'.
    Raises:
        GanlensError: a scorer or guard without gradients, unknown or repeated attributes, a guard lacking a kept
            attribute, guards without `keep`, layers with Z codes, step <= 0.
    """
    return ascend_path(G, scorer, codes, attribute, [distance], keep=keep, layers=layers, step=step,
                       restore=restore, guards=guards, batch_size=batch_size, progress=progress)[0]


def ascend_path(
    G: Generator,
    scorer: Scorer,
    codes: LatentCode,
    attribute: str,
    distances: Sequence[float],
    *,
    keep: Sequence[str] = (),
    layers: LayerSpec = None,
    step: float = 0.125,
    restore: bool = True,
    guards: Sequence[Scorer] = (),
    batch_size: int = 32,
    progress: bool = False,
) -> list[LatentCode]:
    """`ascend` to several distances along one path per direction: the codes at each of `distances`, in order.

    The positive distances are stops on one climb and the negative ones on one descent, each continued from the
    previous stop (so a grid costs one path, not one per column), and every stop holds `keep` at the start
    values of the original codes, not of the previous stop. A distance of 0 returns the codes unchanged. Arguments
    and errors as in `ascend`.
    """
    names = list(scorer.names)
    keep = list(keep)
    for a in [attribute, *keep]:
        if a not in names:
            raise GanlensError(f"the scorer has no attribute {a!r}; it has {names}")
    if attribute in keep:
        raise GanlensError(f"cannot raise {attribute!r} while keeping it fixed")
    if not step > 0:
        raise GanlensError(f"step must be positive, got {step}")
    if not is_differentiable(scorer):
        raise GanlensError(f"{type(scorer).__name__} is not differentiable (it scores uint8 pictures), so there is "
                           "no gradient to climb; fit a boundary with its scores and move along it instead")
    if codes.space == "z" and layers is not None:
        raise GanlensError("layers apply to W codes; Z codes move as a whole")
    cols, offset = [names.index(a) for a in [attribute, *keep]], len(names)
    for i, guard in enumerate(guards, 1):
        if not is_differentiable(guard):
            raise GanlensError(f"guard {i} ({type(guard).__name__}) is not differentiable, so it cannot hold anything")
        missing = [a for a in keep if a not in guard.names]
        if missing:
            raise GanlensError(f"guard {i} has no attribute {missing[0]!r} to hold; it has {list(guard.names)}")
        cols += [offset + list(guard.names).index(a) for a in keep]
        offset += len(guard.names)
    if guards and not keep:
        raise GanlensError("guards hold the --keep attributes; name at least one attribute to keep")
    codes.validate_for(G)
    scorers = [scorer, *guards]
    sel = None if codes.space == "z" else list(resolve_layers(layers, G.w_resolutions))
    legs = [sorted({d for d in distances if d * sign > 0}, key=abs) for sign in (1, -1)]
    stops: dict[float, list[torch.Tensor]] = {float(d): [] for d in distances}
    for start in tqdm(range(0, len(codes), batch_size), desc=f"ascend {attribute}", unit="batch",
                      disable=not progress):
        batch = codes[start:start + batch_size]
        x0 = (batch.tensor if codes.space == "z" else batch.to_wplus(G.num_ws).tensor).to(G.device, torch.float32)
        if 0.0 in stops:
            stops[0.0].append(x0.cpu())
        start_scores = None  # the kept scores of the original codes, shared by both legs
        for leg in legs:
            x, at = x0, 0.0
            for d in leg:
                steps = max(1, math.ceil(abs(d - at) / step - 1e-9))
                for _ in range(steps):
                    move, held = _move(G, scorers, x, codes.space == "z", cols, sel, (d - at) / steps,
                                       start_scores if restore else None, step)
                    start_scores = held if start_scores is None else start_scores
                    x = x + move
                if restore and keep:
                    x = _restore(G, scorers, x, codes.space == "z", cols, sel, start_scores, step)
                stops[float(d)].append(x.detach().cpu())
                at = d
    return [_as_code(G, codes, torch.cat(stops[float(d)]) if stops[float(d)] else torch.zeros(0), sel)
            for d in distances]


def _as_code(G: Generator, codes: LatentCode, moved: torch.Tensor, sel: list[int] | None) -> LatentCode:
    """Moved tensors as codes: 'z' for 'z' codes, 'w' for 'w' codes moved on every layer, else 'w+'."""
    if codes.space == "z":
        return LatentCode("z", moved, noise=codes.noise, meta=dict(codes.meta))
    if codes.space == "w" and len(sel) == G.num_ws:
        return LatentCode("w", moved[:, 0], noise=codes.noise, meta=dict(codes.meta))
    return LatentCode("w+", moved, noise=codes.noise, meta=dict(codes.meta))


def _restore(G: Generator, scorers: Scorer | list[Scorer], x: torch.Tensor, is_z: bool, cols: list[int],
             sel: list[int] | None, start: torch.Tensor, cap: float) -> torch.Tensor:
    """Restore-only passes (no move along the target) that bring the kept scores at x back to `start`.

    A pass that leaves a sample's largest gap bigger than before is undone for that sample and its cap halved: where
    a kept score bends sharply, full-length moves overshoot and the gap bounces (measured: one of 64 samples swung
    between 0.09 and 0.17 for eight passes).
    """
    caps = torch.full((x.shape[0], 1), float(cap), dtype=torch.float64, device=x.device)
    kept_x, kept_gap = x, None
    for p in range(RESTORE_PASSES + 1):  # the last round only checks the last move
        move, held = _move(G, scorers, x, is_z, cols, sel, 0.0, start, caps)
        gap = (held - start).abs().amax(dim=1).double()
        if kept_gap is not None:
            worse = gap > kept_gap
            caps[worse] /= 2
            x = torch.where(worse.view(-1, *[1] * (x.dim() - 1)), kept_x, x)
            move[worse] = 0  # computed at the undone point; the next pass starts again from kept_x
            gap = torch.where(worse, kept_gap, gap)
        if p == RESTORE_PASSES or (p > 0 and float(gap.max()) < RESTORE_TOLERANCE):
            break  # the first pass always runs; later ones only while a score is still off
        kept_x, kept_gap = x, gap
        x = x + move
    return x


def _move(G: Generator, scorers: Scorer | list[Scorer], x: torch.Tensor, is_z: bool, cols: list[int],
          sel: list[int] | None, length: float, start: torch.Tensor | None,
          cap: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One step per sample (same shape as x; for W+ the same vector on every selected layer, zero elsewhere) and
    the kept attributes' scores at x [N, K].

    `cols` index the scorers' outputs side by side. The step is `length` along the first column's gradient with
    the others' gradients projected out; with `start`
    (kept scores to return to) it adds the least-norm move in the span of the kept gradients that closes the gap
    to first order, at most `cap` long (a number, or one per sample [N, 1]) so that a flat kept gradient cannot
    throw the code far.
    """
    scores, grads = scores_and_gradients(G, scorers, x, cols, None if is_z else sel)
    target = grads[0]
    delta = torch.zeros_like(target)
    if len(grads) > 1:
        held = torch.stack(grads[1:], dim=1)  # [N, K, d]
        gram = held @ held.transpose(1, 2) + 1e-12 * torch.eye(held.shape[1], dtype=held.dtype)
        coef = torch.linalg.solve(gram, held @ target.unsqueeze(-1))  # least-squares projection onto their span
        target = target - (held.transpose(1, 2) @ coef).squeeze(-1)
        if start is not None:
            gap = scores[:, 1:] - start
            fix = -(held.transpose(1, 2) @ torch.linalg.solve(gram, gap.unsqueeze(-1))).squeeze(-1)
            delta = fix * (cap / fix.norm(dim=1, keepdim=True).clamp_min(cap))
    delta = delta + length * target / target.norm(dim=1, keepdim=True).clamp_min(1e-30)
    delta = delta.float()
    if is_z:
        return delta, scores[:, 1:]
    step = torch.zeros_like(x)
    step[:, sel] = delta.unsqueeze(1)
    return step, scores[:, 1:]
