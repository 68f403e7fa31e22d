"""Demo sections: morph and edit animations, and crossover (style mixing)."""

from __future__ import annotations

import numpy as np

from ...edit import move
from ...edit.mix import mix_grid
from ...edit.morph import interpolate, pingpong
from ...io import make_grid
from ...io.video import save_animation
from ..context import DemoContext
from ..html import Report, Section


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
        cells = G.render(mix_grid(content, style, layers, G.w_resolutions))
        blank = np.full_like(cells[:1], 255)
        rows = [np.concatenate([blank, G.render(style)])]
        left = G.render(content)
        for i in range(3):
            rows.append(np.concatenate([left[i:i + 1], cells[3 * i:3 * i + 3]]))
        report.figure(s, make_grid(np.concatenate(rows), ncols=4), f"mix_{layers}.png",
                      f"crossover, {layers} layers from the style (top row) into the content (left column)", scale=2)
    report.command(s, f"ganlens mix --model {ctx.model} --content seed:30 --content seed:31 --style seed:40 --layers coarse --out mix.png")
