"""Demo sections: InterFaceGAN boundaries, edits along them and along the gradient directions, conditional
manipulation (by projection and per sample), and the visible-change table."""

from __future__ import annotations

import numpy as np

from ...analysis import linearity, measure_edits
from ...analysis.editability import measure_visible
from ...bundled import guard_name
from ...directions import Direction, fit_boundary, load_bundled
from ...edit import ascend, ascend_path, describe_layers, labelled_grid, move, strength_labels
from ...errors import GanlensError
from ...latents import LatentCode
from ...scorers import load_scorer
from ...scoring import score
from ..context import CONDITIONAL_PAIRS, DemoContext, spread
from ..html import Report, Section


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
        scored = score(G, n, scorer, seed=4242, batch_size=250, precision="auto")
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
            measured += [float(np.mean(after[a] - base[a])) / spread(scorer, base, a) for a in (edit_a, keep_a)]
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
            change += [float(np.mean(after[a] - base[a])) / spread(scorer, base, a) for a in (edit_a, keep_a)]
            if reader:
                after_2 = reader.readable(reader(edited))
                change_2.append(float(np.mean(after_2[keep_a] - base_2[keep_a])) / spread(reader, base_2, keep_a))
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
