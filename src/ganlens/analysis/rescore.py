"""Re-scoring verification (HiGAN): move fresh samples along directions and measure what every attribute does.

One pass (`measure_edits`) synthesises N fresh samples and their edits along each direction at each strength and
scores all of them; everything else is read off that pass:
- HiGAN's Δ_i = mean_k max(F_i(G(x_k + λ n_i)) − F_i(G(x_k)), 0) with λ = 2 (binary attributes in probability,
  sigmoid of the logit, so Δ is comparable to the paper's classifier outputs);
- the leakage matrix: the mean change of every attribute when editing along each direction;
- edit success: the fraction of samples whose target attribute rose, also by starting level (ceiling or not),
  and for binary targets how often the edit adds the attribute;
- a null baseline: the same Δ along random unit directions, what a direction that encodes nothing scores;
- the pixel drift of each edit (mean |ΔRGB|), an identity-preservation proxy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch
from tqdm import tqdm

from ..directions.direction import Direction
from ..edit.linear import move
from ..errors import GanlensError
from ..latents import LatentCode, check_truncation
from ..scorers import Scorer

if TYPE_CHECKING:  # pragma: no cover
    from ..models.stylegan2 import Generator
    from ..parallel import Executor


def sample_base(G: Generator, space: str, n: int, seed: int, truncation_psi: float = 1.0) -> LatentCode:
    """Fresh codes for a direction's space: z codes for Z directions, w codes for W / W+ ones (same z either way)."""
    if space == "z":
        return G.sample(n, seed=seed, space="z")
    return G.sample(n, seed=seed, truncation_psi=truncation_psi, space="w")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def random_directions(space: str, dim: int, num: int, seed: int) -> list[Direction]:
    """`num` isotropic random unit directions (the null baseline of re-scoring)."""
    rng = np.random.default_rng(seed)
    return [Direction(rng.standard_normal(dim), "z" if space == "z" else "w", method="random", attribute=f"random{i}")
            for i in range(num)]


@dataclass
class EditReport:
    """Raw scores of N base samples and of their edits, plus the derived summaries.

    Attributes:
        directions: direction names (rows), in order.
        attributes: the scorer's attribute names.
        binary: which attributes are binary (scores are logits; summaries use probabilities).
        strengths: the strengths S.
        base: raw scores [A, N].
        edited: raw scores [D, A, S, N].
        pixel_change: mean |ΔRGB| (in [-1, 1] image units) per direction, strength and sample [D, S, N].
        null_edited: raw scores along random directions, per space: {space: [R, A, S, N]}.
        direction_spaces: the space of each direction.
        targets: each direction's own attribute (its `attribute` if the scorer has it, else its auto-label).
    """

    directions: list[str]
    attributes: list[str]
    binary: list[bool]
    strengths: list[float]
    base: np.ndarray
    edited: np.ndarray
    pixel_change: np.ndarray
    null_edited: dict[str, np.ndarray] = field(default_factory=dict)
    direction_spaces: list[str] = field(default_factory=list)
    targets: list[str | None] = field(default_factory=list)

    def changes(self, probability: bool = True) -> np.ndarray:
        """Per-sample change F(edit) − F(base) [D, A, S, N]; binary attributes in probability by default."""
        base, edited = self.base, self.edited
        if probability:
            b = np.asarray(self.binary)[:, None]
            base = np.where(b, _sigmoid(base), base)
            edited = np.where(b[None, :, :, None], _sigmoid(edited), edited)
        return edited - base[None, :, None, :]

    def null_changes(self, space: str, probability: bool = True) -> np.ndarray:
        """Per-sample change along the random directions of `space` [R, A, S, N]."""
        if space not in self.null_edited:
            raise GanlensError(f"no null directions were measured in space {space!r}")
        base, edited = self.base, self.null_edited[space]
        if probability:
            b = np.asarray(self.binary)[:, None]
            base = np.where(b, _sigmoid(base), base)
            edited = np.where(b[None, :, :, None], _sigmoid(edited), edited)
        return edited - base[None, :, None, :]

    def _strength_index(self, strength: float | None) -> int:
        if strength is None:
            return len(self.strengths) - 1
        for i, a in enumerate(self.strengths):
            if abs(a - strength) < 1e-9:
                return i
        raise GanlensError(f"strength {strength} was not measured; measured {self.strengths}")

    def target_index(self, d: int) -> int:
        """Index in `attributes` of direction d's own attribute."""
        name = self.targets[d] if self.targets else None
        if name is None or name not in self.attributes:
            raise GanlensError(
                f"direction {self.directions[d]!r} has no target attribute among the scorer's {self.attributes}"
            )
        return self.attributes.index(name)

    def has_target(self, d: int) -> bool:
        """Whether direction d names one of the scorer's attributes (its own, or an auto-label)."""
        return bool(self.targets) and self.targets[d] in self.attributes

    def delta(self, strength: float | None = None) -> dict[str, float]:
        """HiGAN Δ of each direction's own attribute: mean positive change (probability for binary).

        Directions without a target attribute are left out.
        """
        s = self._strength_index(strength)
        ch = self.changes()
        return {name: float(np.maximum(ch[d, self.target_index(d), s], 0).mean())
                for d, name in enumerate(self.directions) if self.has_target(d)}

    def null_delta(self, space: str, strength: float | None = None) -> dict[str, float]:
        """Δ of every attribute along random directions (mean over them): what 'no semantics' scores."""
        s = self._strength_index(strength)
        ch = self.null_changes(space)
        return {a: float(np.maximum(ch[:, i, s], 0).mean()) for i, a in enumerate(self.attributes)}

    def success(self, strength: float | None = None) -> dict[str, float]:
        """Fraction of samples whose own attribute rose (the edit-success rate); targetless directions left out."""
        return {name: float(up.mean()) for name, up in self.raised(strength).items()}

    def raised(self, strength: float | None = None) -> dict[str, np.ndarray]:
        """Per direction with a target: which samples' own attribute rose [N] (bool)."""
        s = self._strength_index(strength)
        ch = self.changes(probability=False)
        return {name: ch[d, self.target_index(d), s] > 0
                for d, name in enumerate(self.directions) if self.has_target(d)}

    def success_by_level(self, strength: float | None = None, groups: int = 5) -> dict[str, list[float]]:
        """Edit success within `groups` equal-count groups of samples ordered by their own starting score (lowest
        first). Failures confined to the top group are a ceiling — those samples already show the attribute near
        its most — while failures at every level point at the direction itself."""
        raised = self.raised(strength)
        out = {}
        for d, name in enumerate(self.directions):
            if name in raised:
                order = np.argsort(self.base[self.target_index(d)], kind="stable")
                out[name] = [float(part.mean()) for part in np.array_split(raised[name][order], groups)]
        return out

    def flip_rate(self, strength: float | None = None) -> dict[str, float]:
        """For binary targets: the fraction of samples without the attribute (logit < 0) that have it after the
        edit (logit >= 0), i.e. how often the edit adds it rather than only nudging the score."""
        s = self._strength_index(strength)
        out = {}
        for d, name in enumerate(self.directions):
            if self.has_target(d) and self.binary[(i := self.target_index(d))]:
                without = self.base[i] < 0
                out[name] = float((self.edited[d, i, s][without] >= 0).mean()) if without.any() else float("nan")
        return out

    def leakage(self, strength: float | None = None, normalize: bool = True) -> np.ndarray:
        """Mean change of every attribute [D, A] when editing along each direction.

        With `normalize`, each column is divided by that attribute's standard deviation over the base samples
        (probability for binary), so 1.0 means "moves the attribute by one natural spread".
        """
        s = self._strength_index(strength)
        m = self.changes()[:, :, s].mean(axis=-1)
        return m / self.attribute_std()[None, :] if normalize else m

    def selectivity(self, strength: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per direction [D]: the mean move of its own attribute and the mean |move| of the other attributes, both
        in spreads (as `leakage`), so a strong direction and a clean one can be told apart; NaN without a target."""
        leak = self.leakage(strength)
        own, others = np.full(len(self.directions), np.nan), np.full(len(self.directions), np.nan)
        for d in range(len(self.directions)):
            if self.has_target(d):
                t = self.target_index(d)
                own[d], others[d] = leak[d, t], np.abs(np.delete(leak[d], t)).mean()
        return own, others

    def attribute_std(self) -> np.ndarray:
        """Spread of each attribute over the base samples [A] (probability for binary)."""
        b = np.asarray(self.binary)[:, None]
        base = np.where(b, _sigmoid(self.base), self.base)
        return np.maximum(base.std(axis=1), 1e-12)

    def to_dict(self, strength: float | None = None) -> dict:
        """JSON-ready summaries at one strength (default: the last)."""
        s = self.strengths[self._strength_index(strength)]
        out = {"strength": s, "directions": self.directions, "attributes": self.attributes,
               "num_samples": int(self.base.shape[1]),
               "leakage_normalized": self.leakage(s).round(4).tolist(),
               "leakage_raw": self.leakage(s, normalize=False).round(4).tolist(),
               "pixel_change": self.pixel_change[:, self._strength_index(s)].mean(axis=-1).round(4).tolist()}
        out["targets"] = self.targets
        out["delta"] = self.delta(s)
        out["success"] = self.success(s)
        for space in self.null_edited:
            out[f"null_delta_{space}"] = self.null_delta(space, s)
        return out


@torch.no_grad()
def measure_edits(
    G: Generator,
    directions: Sequence[Direction],
    scorer: Scorer | str,
    strengths: Sequence[float] = (2.0,),
    num_samples: int = 1000,
    seed: int = 1,
    layers=None,
    null_directions: int = 0,
    truncation_psi: float = 1.0,
    batch_size: int = 64,
    progress: bool = False,
    executor: Executor | str | None = None,
) -> EditReport:
    """Score N fresh samples and their edits along every direction at every strength.

    Args:
        G: the generator.
        directions: the directions to move along (Z and W may be mixed: Z ones edit the z, W ones the w of the
            same samples).
        scorer: a Scorer or anything `ganlens.scoring.resolve_scorer` accepts.
        strengths: strengths in each direction's units.
        num_samples: N fresh samples (HiGAN: K = 1000).
        seed: seed of the fresh samples (use one not used for fitting).
        layers: move only these w's (overrides the directions' own).
        null_directions: how many random directions per space to measure as a baseline.
        truncation_psi: truncation of the fresh W samples.
        batch_size: samples per synthesis batch.
        progress: show a tqdm bar.
        executor: None: every batch in this process; otherwise the samples are split into shards of whole batches
            run by this executor ('ray', a Ray address or an Executor: `ganlens.parallel.resolve_executor`), with
            the same scores as in this process.
    Returns:
        An EditReport.
    """
    return _measure(G, directions, scorer, strengths, num_samples, seed, [layers], null_directions, truncation_psi,
                    batch_size, progress, executor)[0]


def _measure(G: Generator, directions: Sequence[Direction], scorer: Scorer | str, strengths: Sequence[float],
             num_samples: int, seed: int, layer_sets: list, null_directions: int, truncation_psi: float,
             batch_size: int, progress: bool, executor: Executor | str | None) -> list[EditReport]:
    """`measure_edits` once per entry of `layer_sets` (None: the directions' own layers), on the same fresh samples,
    all (layer set, shard) pairs in one run of the executor (so Ray workers load the models once)."""
    from ..parallel import Executor as _Executor
    from ..parallel import default_shard_size, plan_shards, resolve_executor
    from ..scoring import resolve_scorer

    scorer = resolve_scorer(scorer)
    directions = list(directions)
    if not directions:
        raise GanlensError("measure_edits needs at least one direction")
    strengths = [float(a) for a in strengths]
    names = list(scorer.names)
    binary = [scorer.info(a).kind == "binary" for a in names]
    spaces = sorted({"z" if d.space == "z" else "w" for d in directions})
    if "z" in spaces:
        check_truncation("z", truncation_psi)
    nulls = {sp: random_directions(sp, G.z_dim if sp == "z" else G.w_dim, null_directions, seed + 7919)
             for sp in spaces} if null_directions else {}
    base_codes = {sp: sample_base(G, sp, num_samples, seed, truncation_psi) for sp in spaces}
    n, a_num, s_num = num_samples, len(names), len(strengths)
    per_sample = 1 + (len(directions) + sum(len(v) for v in nulls.values())) * s_num
    owned = not isinstance(executor, _Executor)
    ex = resolve_executor(executor)
    try:
        ex.connect()
        # In this process a shard is one batch (a fine progress bar); on workers whole batches, a few per worker.
        size = batch_size if executor is None else default_shard_size(n, ex.workers, batch_size)
        shards = plan_shards(n, size, batch_size)
        items = [(j, sh, {sp: c[sh.start : sh.stop] for sp, c in base_codes.items()})
                 for j in range(len(layer_sets)) for sh in shards]
        out = [{"base": np.zeros((a_num, n)), "edited": np.zeros((len(directions), a_num, s_num, n)),
                "pixel": np.zeros((len(directions), s_num, n)),
                "null": {sp: np.zeros((len(v), a_num, s_num, n)) for sp, v in nulls.items()}} for _ in layer_sets]
        worker = partial(_EditWorker, G, directions, nulls, scorer, strengths, layer_sets, batch_size)
        with tqdm(total=len(layer_sets) * n * per_sample, desc="editing+scoring", unit="img",
                  disable=not progress) as bar:
            for (j, sh, _), res in ex.run(worker, items):
                part, cols = out[j], slice(sh.start, sh.stop)
                part["base"][:, cols], part["edited"][..., cols], part["pixel"][..., cols] = (
                    res["base"], res["edited"], res["pixel"])
                for sp, v in res["null"].items():
                    part["null"][sp][..., cols] = v
                bar.update(len(sh) * per_sample)
    finally:
        if owned:
            ex.close()
    return [EditReport(
        directions=[d.name for d in directions], attributes=names, binary=binary, strengths=strengths, base=p["base"],
        edited=p["edited"], pixel_change=p["pixel"], null_edited=p["null"],
        direction_spaces=[d.space for d in directions],
        targets=[d.attribute if d.attribute in names else d.metrics.get("autolabel") for d in directions],
    ) for p in out]


class _EditWorker:
    """A worker of `measure_edits`: holds the generator, scorer and directions; scores a shard of base samples and
    their edits, batch by batch as the single-process loop does."""

    def __init__(self, G: Generator, directions: list[Direction], nulls: dict[str, list[Direction]], scorer: Scorer,
                 strengths: list[float], layer_sets: list, batch_size: int) -> None:
        self.G, self.directions, self.nulls, self.scorer = G, directions, nulls, scorer
        self.strengths, self.layer_sets, self.batch_size = strengths, layer_sets, batch_size
        self.names = list(scorer.names)

    @torch.no_grad()
    def __call__(self, item: tuple[int, object, dict[str, LatentCode]]) -> dict:
        j, shard, codes = item
        layers, bs, s_num, G = self.layer_sets[j], self.batch_size, len(self.strengths), self.G
        n = len(shard)
        base = np.zeros((len(self.names), n))
        edited = np.zeros((len(self.directions), len(self.names), s_num, n))
        pixel = np.zeros((len(self.directions), s_num, n))
        null = {sp: np.zeros((len(v), len(self.names), s_num, n)) for sp, v in self.nulls.items()}

        def run(chunk: LatentCode, d: Direction, ref: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
            moved = move(chunk, d, self.strengths, layers=layers if d.space != "z" else None, num_ws=G.num_ws)
            imgs = G.synthesize(moved, batch_size=bs).clamp(-1, 1)  # what the rendered picture shows
            sc = self.scorer(imgs)
            b = len(chunk)
            scores = np.stack([np.asarray(sc[a], dtype=np.float64).reshape(b, s_num).T for a in self.names])  # [A, S, b]
            diff = (imgs.reshape(b, s_num, *imgs.shape[1:]) - ref[:, None]).abs().mean(dim=(2, 3, 4))
            return scores, diff.T.double().cpu().numpy()

        for start in range(0, n, bs):
            stop = min(start + bs, n)
            ref_code = codes["w"][start:stop] if "w" in codes else codes["z"][start:stop]
            ref = G.synthesize(ref_code, batch_size=bs).clamp(-1, 1)
            sc = self.scorer(ref)
            base[:, start:stop] = np.stack([np.asarray(sc[a], dtype=np.float64) for a in self.names])
            for i, d in enumerate(self.directions):
                sp = "z" if d.space == "z" else "w"
                edited[i, :, :, start:stop], pixel[i, :, start:stop] = run(codes[sp][start:stop], d, ref)
            for sp, rnd in self.nulls.items():
                for r, d in enumerate(rnd):
                    null[sp][r, :, :, start:stop], _ = run(codes[sp][start:stop], d, ref)
        return {"base": base, "edited": edited, "pixel": pixel, "null": null}


def rescore(
    G: Generator, directions: Sequence[Direction], scorer: Scorer | str, strength: float = 2.0, num_samples: int = 1000,
    seed: int = 1, **kwargs,
) -> dict[str, float]:
    """HiGAN re-scoring Δ for each direction's own attribute (λ = 2, K = 1000 fresh samples by default).

    Every direction must name its attribute (`direction.attribute`) among the scorer's attributes.
    """
    report = measure_edits(G, directions, scorer, strengths=[strength], num_samples=num_samples, seed=seed, **kwargs)
    return report.delta(strength)
