"""Demo sections: which layers control what (HiGAN), and unsupervised directions (SeFa, GANSpace)."""

from __future__ import annotations

import numpy as np

from ...analysis import autolabel
from ...directions import ganspace, sefa
from ...edit import labelled_grid, move, strength_labels
from ...synthdata.factors import FACTORS
from ..context import DemoContext
from ..html import Report, Section


def section_layers(ctx: DemoContext, report: Report, s: Section) -> None:
    from ...analysis.layerwise import layerwise
    from ...analysis.plots import heatmap

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
