"""`ganlens demo`: the whole pipeline on a bundled model, written as one HTML report.

Samples, the attribute predictors' accuracy, InterFaceGAN boundaries, edit grids (unconditional vs conditional),
the shipped gradient directions with their edit success, conditional editing per sample, the layer heat-map,
SeFa / GANSpace directions with auto-labels, inversion of held-out renders and of a real photo, inpainting, morph and edit animations, and a
crossover grid. Every number is measured in this run, and each section names the command that reproduces it.
`quick=True` (the default) shrinks every sample count (about a minute on two CPU cores) and uses the model's shipped boundaries
instead of fitting new ones.
"""

from __future__ import annotations

import importlib.util
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from ..analysis import autolabel, linearity, measure_edits
from ..analysis.editability import measure_visible
from ..bundled import guard_name
from ..directions import Direction, fit_boundary, ganspace, load_bundled, sefa
from ..edit import ascend, ascend_path, describe_layers, labelled_grid, move, strength_labels
from ..edit.mix import mix_grid
from ..edit.morph import interpolate, pingpong
from ..errors import GanlensError
from ..io import make_grid
from ..io.masks import rect_mask
from ..io.video import save_animation
from ..latents import LatentCode
from ..models import load
from ..models.stylegan2 import Generator
from ..restore import inpaint
from ..scorers import Scorer, load_scorer
from ..scoring import score
from ..synthdata.factors import FACTORS
from .html import Report, Section


@dataclass
class DemoSizes:
    """How much each section samples; `full()` targets <= 10 minutes on 2 CPU cores, `quick()` about one."""

    samples: int
    predictor_renders: int
    boundary_samples: int  # 0: show the shipped boundaries instead of fitting
    edit_attributes: tuple[str, ...]
    leakage_samples: int
    layer_attributes: tuple[str, ...]
    layer_samples: int
    discovered: int
    label_samples: int
    ganspace_samples: int
    inversions: int
    hybrid_steps: int
    photo_steps: int
    inpaint_steps: int
    morph_frames: int
    ascent_samples: int
    ascent_step: float
    visible_samples: int

    @classmethod
    def full(cls) -> "DemoSizes":
        return cls(32, 1000, 4000, ("smile", "age", "glasses", "yaw", "hair_color", "background"), 96,
                   ("yaw", "face_size", "hat", "smile", "background", "light"), 32, 6, 32, 20000, 4, 100, 200, 150, 24,
                   16, 0.5, 200)

    @classmethod
    def quick(cls) -> "DemoSizes":
        return cls(16, 200, 0, ("smile", "glasses", "yaw"), 16, ("yaw", "smile", "background"), 8, 4, 8, 5000, 2,
                   20, 30, 30, 10, 6, 0.5, 64)


# Pairs whose ground-truth factors are correlated by design (docs/synthfaces.md): edit the first, keep the second.
CONDITIONAL_PAIRS = (("glasses", "age"), ("smile", "age"), ("beard", "hair_length"))


@dataclass
class DemoContext:
    G: Generator
    scorer: Scorer
    sizes: DemoSizes
    quick: bool
    model: str
    log: Callable[[str], None]
    directions: dict[str, Direction] = field(default_factory=dict)
    numbers: dict = field(default_factory=dict)

    def flag(self) -> str:
        return "" if self.quick else " --full"


def _spread(scorer: Scorer, scores: dict[str, np.ndarray], name: str) -> float:
    info = scorer.info(name)
    if info.kind == "binary":
        return 1.0  # changes of binary attributes are measured as probabilities
    return float(np.std(scores[name])) or 1.0


def section_samples(ctx: DemoContext, report: Report, s: Section) -> None:
    G = ctx.G
    codes = G.sample(ctx.sizes.samples, seed=0, truncation_psi=0.7)
    report.figure(s, make_grid(G.render(codes), ncols=8), "samples.png",
                  f"{ctx.sizes.samples} samples of {G.name} (seeds 0.., truncation 0.7)", scale=2)
    prov = getattr(G, "provenance", None) or {}
    report.text(s, f"{G.name}: {G.img_resolution}x{G.img_resolution} px, z/w {G.z_dim}/{G.w_dim}, {G.num_ws} "
                   f"w's, {sum(p.numel() for p in G.parameters()):,} parameters.")
    if prov:
        keep = {k: prov[k] for k in ("dataset", "kimg", "hardware", "date", "metrics") if k in prov}
        if keep:
            report.text(s, "Provenance: " + "; ".join(f"{k}: {v}" for k, v in keep.items()), cls="note")
    report.command(s, f"ganlens sample --model {ctx.model} -n {ctx.sizes.samples} --seed 0 --truncation 0.7 --out samples.png")


def section_predictors(ctx: DemoContext, report: Report, s: Section) -> None:
    from ..synthdata import FACTOR_NAMES, render_batch, sample_factors

    n = ctx.sizes.predictor_renders
    factors = sample_factors(n, seed=777)
    scores = ctx.scorer(render_batch(factors))
    rows = []
    for i, name in enumerate(FACTOR_NAMES):
        if name not in scores:
            continue
        info, truth, pred = ctx.scorer.info(name), factors[:, i], scores[name].astype(np.float64)
        if info.kind == "binary":
            acc = float(((pred > 0) == (truth > 0.5)).mean())
            rows.append((name, "binary", "accuracy", acc, acc >= 0.98))
        else:
            r2 = float(1 - np.mean((pred - truth) ** 2) / np.var(truth))
            rows.append((name, "continuous", "R²", r2, r2 >= 0.95))
    ctx.numbers["predictors"] = {r[0]: r[3] for r in rows}
    report.text(s, f"The bundled predictors read every factor from a 64x64 image. Measured now on {n} fresh "
                   "procedural renders (seed 777) against their true factors; the bar is accuracy >= 98 % for binary "
                   "and R² >= 0.95 for continuous factors.")
    report.table(s, ["attribute", "kind", "metric", "value", "bar"], rows)
    report.command(s, "python benchmarks/train_predictor.py --help   # how the shipped predictor was trained")


def section_boundaries(ctx: DemoContext, report: Report, s: Section) -> None:
    G, scorer, n = ctx.G, ctx.scorer, ctx.sizes.boundary_samples
    if n == 0:
        ctx.directions = load_bundled(ctx.model)
        if not ctx.directions:
            raise GanlensError(f"{ctx.model} ships no boundaries; run with --full to fit them")
        report.text(s, f"The quick run shows the {len(ctx.directions)} boundaries shipped with {ctx.model}, with the accuracies "
                       "measured when they were fitted (InterFaceGAN recipe, linear SVM in W).")
        source = "shipped"
    else:
        scored = score(G, n, scorer, seed=4242, batch_size=250, precision="bf16")
        codes, sc = scored.codes, scored.scores
        w = codes.tensor.numpy().astype(np.float64)
        for name in scorer.names:
            d = fit_boundary(codes, sc[name], attribute=name, ratio=0.05, binary=scorer.info(name).kind == "binary",
                             model=G.name, num_ws=G.num_ws)
            d.scale = float(np.std(w @ d.vector))
            d.metrics["linearity"] = linearity(codes, sc[name], d.metrics["threshold"]).to_dict()
            ctx.directions[name] = d
        report.text(s, f"Fitted now: {n} samples (seed 4242) scored by the predictors, the top and bottom 5 % of "
                       "each attribute as positives and negatives, 70/30 split, linear SVM (C = 1) in W. 'all' is the "
                       "accuracy on every sample with the mid score as threshold (InterFaceGAN's 'remaining' idea). "
                       "The last two columns ask whether the attribute is linear in W at all: held-out accuracy, on "
                       "the same threshold, of a hyperplane fitted to 70 % of all samples and of a two-layer "
                       "perceptron; where the perceptron is clearly better, no boundary can do well and the gradient "
                       "directions below follow the attribute per sample.")
        source = "fitted"
    rows = [(a, d.metrics.get("val_accuracy", float("nan")), d.metrics.get("all_accuracy", float("nan")),
             d.metrics.get("num_samples", 0), d.scale) for a, d in ctx.directions.items()]
    ctx.numbers["boundaries"] = {"source": source, **{r[0]: {"val": r[1], "all": r[2]} for r in rows}}
    head = ["attribute", "val accuracy", "all accuracy", "samples", "scale (1 strength unit)"]
    if source == "fitted":
        head += ["hyperplane (all samples)", "perceptron"]
        rows = [(*r, ctx.directions[r[0]].metrics["linearity"]["hyperplane"],
                 ctx.directions[r[0]].metrics["linearity"]["perceptron"]) for r in rows]
        for a, d in ctx.directions.items():
            ctx.numbers["boundaries"][a]["linearity"] = {k: d.metrics["linearity"][k] for k in ("hyperplane", "perceptron")}
    report.table(s, head, rows)
    report.command(s, f"ganlens boundary --model {ctx.model} -a all --samples {n or 10000} --space w"
                      f"{'' if ctx.quick else ' --diagnose'} --out boundaries/")


def _edit_grid(ctx: DemoContext, d: Direction, codes: LatentCode, strengths: list[float], title: str) -> np.ndarray:
    pics = ctx.G.render(move(codes, d, strengths, num_ws=ctx.G.num_ws))
    return labelled_grid(pics, ncols=len(strengths), col_labels=strength_labels(strengths),
                         row_labels=[f"seed {10 + i}" for i in range(len(codes))], scale=2, title=title)


def section_edits(ctx: DemoContext, report: Report, s: Section) -> None:
    G, strengths = ctx.G, [-3.0, -1.5, 0.0, 1.5, 3.0]
    codes = G.sample(3, seed=10)
    report.text(s, "Rows: samples; columns: strength in units of the boundary's spread (std of the samples' "
                   "signed distances).")
    for a in ctx.sizes.edit_attributes:
        if a in ctx.directions:
            report.figure(s, _edit_grid(ctx, ctx.directions[a], codes, strengths, a), f"edit_{a}.png", f"edit: {a}")
    _visible_table(ctx, report, s, {a: ctx.directions[a] for a in ctx.sizes.edit_attributes if a in ctx.directions},
                   "edits")
    report.command(s, f"ganlens edit --model {ctx.model} -d smile --seeds 10-12 --strengths -3,-1.5,0,1.5,3 --out smile.png")


VISIBLE_STRENGTH = 2.5


def _visible_table(ctx: DemoContext, report: Report, s: Section, directions: dict[str, Direction], key: str) -> None:
    """How often each edit changes what a person sees, by the main and the guard predictor (and both)."""
    n, guard = ctx.sizes.visible_samples, guard_name(ctx.model)
    readers = [ctx.model] + ([guard] if guard else [])
    codes = ctx.G.sample(n, seed=1)
    rows, numbers = [], {}
    for a, d in directions.items():
        r = measure_visible(ctx.G, codes, d, a, readers, strength=VISIBLE_STRENGTH)
        per = [r.per_predictor[x] for x in readers]
        rows.append((a, r.eligible, *per, r.share if len(readers) > 1 else per[0]))
        numbers[a] = {"eligible": r.eligible, "visible_share": r.share, "per_predictor": r.per_predictor}
    ctx.numbers[f"visible_{key}"] = numbers
    report.text(s, f"Visible change at +{VISIBLE_STRENGTH} σ (σ: the spread of {n} fresh samples, seed 1, along the "
                   "direction): for a binary attribute, the share of samples lacking it (p < 0.5) that have it after "
                   "(p >= 0.5); for a continuous one, of the samples not within 20 % of the top of the range, the "
                   "share that rises by >= 15 % of the range. 'both': the share where every reader agrees, among the "
                   "samples every reader counts.")
    report.table(s, ["attribute", "samples counted"] + [f"visible ({x})" for x in readers] +
                 (["visible (both)"] if len(readers) > 1 else []), [r if len(readers) > 1 else r[:-1] for r in rows])


def section_gradient(ctx: DemoContext, report: Report, s: Section) -> None:
    G, strengths = ctx.G, [-3.0, -1.5, 0.0, 1.5, 3.0]
    shipped = load_bundled(ctx.model, "gradient")
    if not shipped:
        report.text(s, f"{ctx.model} ships no gradient directions.")
        return
    n = ctx.sizes.leakage_samples
    report.text(s, "The shipped layer-wise gradient directions: each is the mean unit gradient of the predictor's "
                   "score with respect to the w's of its layer range and moves only those. First table: at +3 (W "
                   f"units) over {n} fresh samples (seed 1), the mean move of the target attribute and of the others, "
                   "in spreads of their scores.")
    rep = measure_edits(G, list(shipped.values()), ctx.scorer, strengths=[3.0], num_samples=n, seed=1)
    own, others = rep.selectivity(3.0)
    rows = [(a, describe_layers(d.layers, G.num_ws), float(own[i]), float(others[i]))
            for i, (a, d) in enumerate(shipped.items())]
    ctx.numbers["gradient_directions"] = {r[0]: {"layers": r[1], "target_move_at_3": r[2]} for r in rows}
    report.table(s, ["attribute", "layers", "target move", "others' mean |move|"], rows)
    # The quick run measures what it shows in grids; --full measures every shipped direction.
    shown = shipped if not ctx.quick else {a: d for a, d in shipped.items() if a in ctx.sizes.edit_attributes}
    _visible_table(ctx, report, s, shown, "gradient")
    codes = G.sample(3, seed=10)
    for a in ctx.sizes.edit_attributes:
        if a in shipped:
            report.figure(s, _edit_grid(ctx, shipped[a], codes, strengths, f"{a} (gradient)"), f"edit_gradient_{a}.png",
                          f"edit: {a}, gradient direction, layers {describe_layers(shipped[a].layers, G.num_ws)}")
    report.command(s, f"ganlens edit --model {ctx.model} -d gradient:glasses --seeds 10-12 --strengths -3,-1.5,0,1.5,3 "
                      "--out glasses.png")


def section_conditional(ctx: DemoContext, report: Report, s: Section) -> None:
    G, scorer, m = ctx.G, ctx.scorer, ctx.sizes.leakage_samples
    codes, shown = G.sample(m, seed=99), G.sample(3, seed=10)
    base = scorer.readable(scorer(G.render(codes)))
    rows = []
    report.text(s, "Attributes correlated in the data are entangled in the boundaries. Conditional manipulation "
                   "projects the condition's normal out of the edit direction. Left: unconditional; right: "
                   f"conditioned. The table measures, over {m} samples (seed 99) moved by +3, the change of the edited "
                   "attribute and of the one that should stay (probability for binary attributes, units of the "
                   "samples' std for continuous ones).")
    for edit_a, keep_a in CONDITIONAL_PAIRS:
        if edit_a not in ctx.directions or keep_a not in ctx.directions:
            continue
        d, keep = ctx.directions[edit_a], ctx.directions[keep_a]
        cond = d.conditioned_on(keep)
        measured = []
        for dd in (d, cond):
            after = scorer.readable(scorer(G.render(move(codes, dd, [3.0], num_ws=G.num_ws))))
            measured += [float(np.mean(after[a] - base[a])) / _spread(scorer, base, a) for a in (edit_a, keep_a)]
        rows.append((f"{edit_a} (keep {keep_a})", measured[0], measured[1], measured[2], measured[3],
                     float(np.degrees(np.arccos(np.clip(abs(d.vector @ keep.vector), 0, 1))))))
        strengths = [-3.0, 0.0, 3.0]
        left = _edit_grid(ctx, d, shown, strengths, f"{edit_a}")
        right = _edit_grid(ctx, cond, shown, strengths, f"{edit_a} | {keep_a} fixed")
        h = max(left.shape[0], right.shape[0])
        pad = lambda im: np.pad(im, ((0, h - im.shape[0]), (0, 0), (0, 0)), constant_values=255)  # noqa: E731
        both = np.concatenate([pad(left), np.full((h, 16, 3), 255, np.uint8), pad(right)], axis=1)
        report.figure(s, both, f"conditional_{edit_a}_{keep_a}.png", f"{edit_a}: unconditional (left) vs {keep_a} kept fixed (right)")
    ctx.numbers["conditional"] = {r[0]: r[1:] for r in rows}
    report.table(s, ["edit", "Δ edited (uncond.)", "Δ kept (uncond.)", "Δ edited (cond.)", "Δ kept (cond.)",
                     "angle between normals °"], rows)
    worse = [f"{r[0]}: {abs(r[4]):.2f} vs {abs(r[2]):.2f}" for r in rows if abs(r[4]) > abs(r[2])]
    if worse:
        report.text(s, "Not reproduced here (InterFaceGAN: conditioning leaves the kept attribute alone): the kept "
                       "attribute moved more with conditioning than without, " + "; ".join(worse) + ".", cls="note")
    report.command(s, f"ganlens edit --model {ctx.model} -d glasses -c age --seeds 10-12 --strengths -3,0,3 --out glasses_not_age.png")


def section_ascent(ctx: DemoContext, report: Report, s: Section) -> None:
    G, scorer, n, step = ctx.G, ctx.scorer, ctx.sizes.ascent_samples, ctx.sizes.ascent_step
    # A second reader that never steers: trained on renders without the domain's factor correlations, so it does
    # not read the edited attribute as a change of the kept one (benchmarks/predictor_shortcuts.py).
    reader_name = guard_name(ctx.model)
    reader = load_scorer(reader_name) if reader_name else None
    codes = G.sample(n, seed=99)
    pictures = G.render(codes)
    base = scorer.readable(scorer(pictures))
    base_2 = reader.readable(reader(pictures)) if reader else None
    report.text(s, "The same pairs, conditioned per sample: each sample climbs its own gradient of the edited "
                   "attribute's score over a latent distance of 3, once freely and once keeping the other attribute "
                   "(every step orthogonal to the sample's own gradient of it, plus a correction back to its start "
                   f"score). Measured now over {n} samples (seed 99), steps of {step:g}; changes in probability "
                   "(binary) or std units (continuous); 'cut' is the share of the kept attribute's free change that "
                   "conditioning removes, 'target kept' the share of the edited attribute's change that remains. "
                   "The path follows the predictor, so the predictor's blind spots can show in the pictures"
                   + ("; the last three columns read the kept attribute with a second predictor that did not steer, "
                      "trained on renders "
                      f"whose factors were drawn independently (bundled as {reader_name}; `ganlens ascend` "
                      "also holds under it unless given `--guard none`)." if reader else "."))
    rows = []
    for edit_a, keep_a in CONDITIONAL_PAIRS:
        change, change_2 = [], []
        for keep in ([], [keep_a]):
            edited = G.render(ascend(G, scorer, codes, edit_a, 3.0, keep=keep, step=step))
            after = scorer.readable(scorer(edited))
            change += [float(np.mean(after[a] - base[a])) / _spread(scorer, base, a) for a in (edit_a, keep_a)]
            if reader:
                after_2 = reader.readable(reader(edited))
                change_2.append(float(np.mean(after_2[keep_a] - base_2[keep_a])) / _spread(reader, base_2, keep_a))
        cut = 1 - abs(change[3]) / max(abs(change[1]), 1e-12)
        row = (f"{edit_a} (keep {keep_a})", *change, cut, change[2] / change[0])
        if reader:  # a cut of a free change under 0.1 std is noise, as in the benchmarks
            cut_2 = 1 - abs(change_2[1]) / abs(change_2[0]) if abs(change_2[0]) >= 0.1 else "nothing to cut"
            row += (*change_2, cut_2)
        rows.append(row)
    ctx.numbers["ascent"] = {r[0]: {"cut": r[5], "target_kept": r[6], **({"second_reader": r[7:]} if reader else {})}
                             for r in rows}
    report.table(s, ["edit", "Δ edited (free)", "Δ kept (free)", "Δ edited (kept)", "Δ kept (kept)", "cut",
                     "target kept"] + (["Δ kept (free), 2nd reader", "Δ kept (kept), 2nd reader", "cut, 2nd reader"]
                                       if reader else []), rows)
    worse = [f"{r[0]} ({r[8]:+.2f} std with it kept vs {r[7]:+.2f} free)" for r in rows
             if reader and abs(r[8]) > max(abs(r[7]), 0.1)]  # 0.1 std: noise, as above
    if worse:
        report.text(s, "Not reproduced under the second reader: holding the attribute under the predictor it climbs "
                       "moved it more, as the reader that did not steer sees it, for " + "; ".join(worse) + ".",
                    cls="note")
    shown, distances = G.sample(3, seed=10), [0.0, 1.5, 3.0]
    grids = []
    for keep in ([], ["age"]):
        path = ascend_path(G, scorer, shown, "glasses", distances, keep=keep, step=step)
        tiles = LatentCode.cat([path[j][i:i + 1].to_wplus(G.num_ws) for i in range(3) for j in range(3)])
        grids.append(labelled_grid(G.render(tiles), ncols=3, col_labels=[f"{v:+g}" for v in distances],
                                   row_labels=[f"seed {i}" for i in (10, 11, 12)],
                                   title="glasses" + (" | age kept" if keep else ""), scale=2))
    gap = np.full((grids[0].shape[0], 16, 3), 255, np.uint8)
    report.figure(s, np.concatenate([grids[0], gap, grids[1]], axis=1), "ascent_glasses_age.png",
                  "glasses by per-sample ascent: free (left) vs age kept (right); seeds 10-12, distances 0, 1.5, 3")
    report.command(s, f"ganlens ascend --model {ctx.model} -a glasses -k age --guard none --seeds 10-12 "
                      "--distances 0:3:3 --out glasses_keep_age.png",
                   "python benchmarks/conditional_ascent.py")


def section_layers(ctx: DemoContext, report: Report, s: Section) -> None:
    from ..analysis.layerwise import layerwise
    from ..analysis.plots import heatmap

    dirs = [ctx.directions[a] for a in ctx.sizes.layer_attributes if a in ctx.directions]
    rep = layerwise(ctx.G, dirs, ctx.scorer, strength=2.0, num_samples=ctx.sizes.layer_samples, seed=1)
    pic = heatmap(rep.relative(), rep.directions, rep.groups, title="relative change when only one resolution group moves",
                  vmin=0, vmax=1, highlight_max=True)
    report.figure(s, pic, "layers.png", "HiGAN layer-wise analysis: each attribute's boundary applied to one group of "
                  "layers at a time (strength 2); 1 = the group that changes the attribute most", scale=2)
    best = rep.best()
    ctx.numbers["layers"] = best
    levels = {f.name: f.level for f in FACTORS}
    rows, misses = [], []
    for a, group in best.items():
        level = levels.get(a)
        want = HIGAN_BAND.get(level)
        got = _band(rep.groups.index(group), len(rep.groups))
        rows.append((a, group, level or "?", want or "?", "yes" if want == got else "no" if want else "?"))
        if want and want != got:
            misses.append(f"{a} ({level}) is strongest at {group}, in the {got} layers, where HiGAN puts "
                          f"{level} in the {want} ones")
    report.table(s, ["attribute", "strongest layer group", "level", "HiGAN's layers for it", "agrees"], rows,
                 caption=f"{ctx.sizes.layer_samples} fresh samples per cell; early / late: the resolution groups in "
                         "the first / last 40 % of the way from the lowest to the highest resolution")
    report.text(s, "HiGAN found layout in the early (low-resolution) layers, objects and attributes in the middle and "
                   "the colour scheme in the late ones.")
    if misses:
        report.text(s, "Not reproduced on this model: " + "; ".join(misses) + ".", cls="note")
    report.command(s, f"ganlens analyze --model {ctx.model} --directions boundaries/ --out analysis/")


HIGAN_BAND = {"layout": "early", "object": "middle", "attribute": "middle", "colour": "late"}


def _band(index: int, count: int) -> str:
    """'early', 'middle' or 'late': where the `index`-th of `count` resolution groups sits in the synthesis
    network (early / late: the first / last 40 % of the way from the lowest to the highest resolution)."""
    at = index / max(count - 1, 1)
    return "early" if at < 0.4 else "late" if at > 0.6 else "middle"


def section_discovery(ctx: DemoContext, report: Report, s: Section) -> None:
    G, k, z = ctx.G, ctx.sizes.discovered, ctx.sizes.label_samples
    found = {"SeFa (all layers)": sefa(G, "all", num=k),
             "GANSpace (all layers)": ganspace(G, num_samples=ctx.sizes.ganspace_samples, num_components=k, seed=0)}
    codes = G.sample(1, seed=21)
    ctx.numbers["discovery"] = {}
    for title, dirs in found.items():
        labelled = autolabel(G, dirs, ctx.scorer, num_samples=z)
        strengths = [-3.0, 0.0, 3.0] if title.startswith("GANSpace") else [-5.0, 0.0, 5.0]
        pics = np.concatenate([G.render(move(codes, d, strengths, num_ws=G.num_ws)) for d in labelled])
        names = [f"#{i} {d.metrics['autolabel']} (r {d.metrics['label_r']:+.2f})" for i, d in enumerate(labelled)]
        grid = labelled_grid(pics, ncols=len(strengths), col_labels=strength_labels(strengths), row_labels=names,
                             scale=2, title=title)
        key = "sefa" if title.startswith("SeFa") else "ganspace"
        report.figure(s, grid, f"discover_{key}.png", f"{title}: top {k} directions, auto-labelled from {z} samples")
        ctx.numbers["discovery"][key] = [(d.metrics["autolabel"], round(float(d.metrics["label_r"]), 3)) for d in labelled]
    report.text(s, "Auto-label: the attribute whose predicted change correlates best with the strength (Pearson r), "
                   "so a user learns what an unsupervised direction does without looking.")
    report.command(s, f"ganlens discover --model {ctx.model} --method sefa --num {k} --scorer {ctx.model} --out sefa/",
                   f"ganlens discover --model {ctx.model} --method ganspace --samples {ctx.sizes.ganspace_samples} --num {k} --scorer {ctx.model} --out ganspace/")


def _metrics(a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    from ..metrics.quality import fidelity

    return fidelity(a, b, with_perceptual=False, with_ssim=importlib.util.find_spec("skimage") is not None)


def section_inversion(ctx: DemoContext, report: Report, s: Section) -> None:
    from ..invert import invert_hybrid, load_encoder
    from ..synthdata import render_batch, sample_factors

    G, n = ctx.G, ctx.sizes.inversions
    targets = render_batch(sample_factors(n, seed=31337))
    t0 = time.perf_counter()
    enc_code = load_encoder(G.name, device=G.device).invert(targets, G=G, iterations=2)
    t_enc = time.perf_counter() - t0
    enc = G.render(enc_code)
    hyb_res = invert_hybrid(G, targets, steps=ctx.sizes.hybrid_steps)
    hyb = G.render(hyb_res.code)
    rows = []
    for name, rec, secs in (("encoder (pSp + 1 ReStyle step)", enc, t_enc),
                            (f"hybrid (encoder + {ctx.sizes.hybrid_steps} W+ steps)", hyb, hyb_res.seconds)):
        m = _metrics(targets, rec)
        rows.append((name, float(m["psnr"].mean()), float(m["ssim"].mean()) if "ssim" in m else float("nan"), secs / n))
    ctx.numbers["inversion"] = {r[0]: {"psnr": r[1], "ssim": r[2]} for r in rows}
    report.figure(s, labelled_grid(np.concatenate([targets, enc, hyb]), n, scale=3,
                                   row_labels=["held-out render", "encoder", "hybrid"]), "inversion.png",
                  "held-out renders (never seen in training) and their inversions by the encoder and the hybrid")
    report.table(s, ["method", "PSNR dB", "SSIM", "s / image"], rows, caption=f"{n} renders, seed 31337")
    report.command(s, f"ganlens invert renders/ --model {ctx.model} --method hybrid --steps {ctx.sizes.hybrid_steps} --out inverted/")
    ctx.numbers["_inverted"] = hyb_res.code

    photo, how = _photo(G.img_resolution)
    res = invert_hybrid(G, photo[None], steps=ctx.sizes.photo_steps)
    rec = G.render(res.code)
    m = _metrics(photo[None], rec)
    ctx.numbers["photo"] = {"psnr": float(m["psnr"][0]), "how": how}
    report.figure(s, labelled_grid(np.stack([photo, rec[0]]), 2, col_labels=["photo", "W+ inversion"], scale=3),
                  "photo.png",
                  f"a real photo (skimage's astronaut, {how}) and its W+ inversion into the cartoon-face model: "
                  f"PSNR {float(m['psnr'][0]):.1f} dB")
    report.text(s, "A photo lies far outside this model's domain: W+ keeps layout and colours but the result is a "
                   "cartoon; editing such a code is not meaningful (Image2StyleGAN §3.2 saw the same for FFHQ).", cls="note")


def _photo(resolution: int) -> tuple[np.ndarray, str]:
    """skimage's astronaut, FFHQ-aligned when dlib is installed, else a fixed square crop around her face."""
    from PIL import Image
    from skimage import data

    image = data.astronaut()
    if importlib.util.find_spec("dlib") is not None:
        try:
            from ..invert.align import FaceAligner

            face = FaceAligner().align(image, size=256).image
            return np.asarray(Image.fromarray(face).resize((resolution, resolution), Image.LANCZOS)), "aligned with dlib"
        except Exception:  # no face found or landmark model missing: the fixed crop still makes the point
            pass
    crop = Image.fromarray(image[40:220, 135:315]).resize((resolution, resolution), Image.LANCZOS)
    return np.asarray(crop), "fixed crop of the face (install ganlens[faces] for alignment)"


def section_inpaint(ctx: DemoContext, report: Report, s: Section) -> None:
    from ..synthdata import render_batch, sample_factors

    G = ctx.G
    target = render_batch(sample_factors(2, seed=2024))
    r = G.img_resolution
    hole = rect_mask("0.25,0.52,0.75,0.85", r)
    holed = target.copy()
    holed[:, hole > 0.5] = 0
    res = inpaint(G, holed, hole, steps=ctx.sizes.inpaint_steps, feather_px=2.0)
    inside = hole > 0.5
    err_fill = float(np.abs(res.blended[:, inside].astype(float) - target[:, inside]).mean())
    err_hole = float(np.abs(holed[:, inside].astype(float) - target[:, inside]).mean())
    ctx.numbers["inpaint"] = {"mae_filled": err_fill, "mae_hole": err_hole}
    report.figure(s, make_grid(np.concatenate([target, holed, res.reconstruction, res.blended]), ncols=2),
                  "inpaint.png", "rows: original render, hole punched in, generator fitted to the known pixels, "
                  "filled", scale=3)
    report.text(s, f"Masked W+ inversion (Image2StyleGAN++): the loss sees only the pixels outside the hole. Mean "
                   f"absolute error inside the hole vs the original: {err_fill:.1f} filled, {err_hole:.1f} as punched "
                   "(0..255 scale).")
    report.command(s, f"ganlens inpaint face.png --rect 0.25,0.52,0.75,0.85 --steps {ctx.sizes.inpaint_steps} --out filled.png")


def section_animations(ctx: DemoContext, report: Report, s: Section) -> None:
    G, f = ctx.G, ctx.sizes.morph_frames
    codes = ctx.numbers.get("_inverted")
    if codes is None or len(codes) < 2:
        codes = G.sample(2, seed=5).to_wplus(G.num_ws)
        what = "samples 5 and 6"
    else:
        what = "two inverted renders"
    frames = G.render(interpolate(codes[:1], codes[1:2], pingpong(list(np.linspace(0, 1, f)))))
    save_animation(frames, report.images / "morph.gif", fps=12, scale=3)
    report.figure(s, report.images / "morph.gif", "morph.gif", f"morph between {what} (linear in W+, there and back)")
    if "smile" in ctx.directions:
        sweep = pingpong(list(np.linspace(-3, 3, f)))
        clip = G.render(move(G.sample(1, seed=12), ctx.directions["smile"], sweep, num_ws=G.num_ws))
        save_animation(clip, report.images / "edit_smile.gif", fps=12, scale=3)
        report.figure(s, report.images / "edit_smile.gif", "edit_smile.gif", "smile boundary, strength -3 .. +3 and back")
    report.command(s, f"ganlens morph inverted/a.npz inverted/b.npz --frames {f} --pingpong --out morph.gif",
                   f"ganlens edit --model {ctx.model} -d smile --seeds 12 --out smile.png --video smile.gif")


def section_mixing(ctx: DemoContext, report: Report, s: Section) -> None:
    G = ctx.G
    content, style = G.sample(3, seed=30).to_wplus(G.num_ws), G.sample(3, seed=40).to_wplus(G.num_ws)
    for layers in ("coarse", "middle", "fine"):
        cells = G.render(mix_grid(content, style, layers, G.num_ws))
        blank = np.full_like(cells[:1], 255)
        rows = [np.concatenate([blank, G.render(style)])]
        left = G.render(content)
        for i in range(3):
            rows.append(np.concatenate([left[i:i + 1], cells[3 * i:3 * i + 3]]))
        report.figure(s, make_grid(np.concatenate(rows), ncols=4), f"mix_{layers}.png",
                      f"crossover, {layers} layers from the style (top row) into the content (left column)", scale=2)
    report.command(s, f"ganlens mix --model {ctx.model} --content seed:30 --content seed:31 --style seed:40 --layers coarse --out mix.png")


SECTIONS: tuple[tuple[str, str, Callable], ...] = (
    ("samples", "Samples", section_samples),
    ("predictors", "Attribute predictors", section_predictors),
    ("boundaries", "InterFaceGAN boundaries", section_boundaries),
    ("edits", "Edits along the boundaries", section_edits),
    ("gradient", "Edits along the shipped gradient directions", section_gradient),
    ("conditional", "Conditional manipulation", section_conditional),
    ("ascent", "Conditional manipulation per sample", section_ascent),
    ("layers", "Which layers control what", section_layers),
    ("discovery", "Unsupervised directions: SeFa and GANSpace", section_discovery),
    ("inversion", "Inversion", section_inversion),
    ("inpaint", "Inpainting", section_inpaint),
    ("animations", "Morph and edit animations", section_animations),
    ("mixing", "Crossover (style mixing)", section_mixing),
)


def run_demo(out: str | Path, model: str = "synthfaces64", quick: bool = True,
             log: Callable[[str], None] = print, progress: bool = True) -> Path:
    """Run every section on `model` and write `out/index.html`; returns its path (`quick=False`: the full run).

    A section that fails is reported in the page (with its error) and the rest still run.

    Raises:
        GanlensError: the model has no bundled scorer.
    """
    torch.manual_seed(0)
    t_start = time.perf_counter()
    G = load(model)
    ctx = DemoContext(G, load_scorer(model), DemoSizes.quick() if quick else DemoSizes.full(), quick, model, log)
    report = Report(out, f"ganlens demo — {model}",
                    f"Everything below was computed by `ganlens demo{ctx.flag()}` on this machine "
                    f"({torch.get_num_threads()} torch threads, torch {torch.__version__}).")
    failed = []
    bar = tqdm(SECTIONS, desc="demo", unit="section", disable=not progress)
    for i, (key, title, fn) in enumerate(bar, 1):
        bar.set_postfix_str(title)
        log(f"[{i}/{len(SECTIONS)}] {title} ...")
        s = report.section(key, title)
        t0 = time.perf_counter()
        try:
            with torch.no_grad() if key not in ("inversion", "inpaint") else torch.enable_grad():
                fn(ctx, report, s)
        except Exception as exc:  # one broken section must not cost the others
            failed.append(key)
            report.error(s, f"{type(exc).__name__}: {exc}")
            log(f"    failed: {exc}\n{traceback.format_exc(limit=3)}")
        s.seconds = time.perf_counter() - t0
        report.write()
        log(f"    done in {s.seconds:.1f} s")
    bar.close()
    total = time.perf_counter() - t_start
    end = report.section("timing", "Timing")
    report.table(end, ["section", "seconds"], [(x.title, float(x.seconds or 0)) for x in report.sections[:-1]] +
                 [("total", total)])
    report.write()
    log(f"wrote {report.path} in {total:.0f} s" + (f" ({len(failed)} section(s) failed: {', '.join(failed)})" if failed else ""))
    return report.path
