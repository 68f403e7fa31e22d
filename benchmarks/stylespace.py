"""Are edits in style space S more disentangled than edits in W? (issue 34; StyleSpace's claim, as the GAN-inversion
survey reports it.)

For each attribute of the bundled predictor, on --n fresh samples: the InterFaceGAN W boundary (shipped), the same
boundary conditioned on the other twelve (InterFaceGAN's conditional edit), and S edits of the top 1, 3 and 10
channels found by score sensitivity and by 30 positive examples (`ganlens.directions.stylespace`). Each edit's
strength is raised until --target of the samples that can change show a visible change (the newcomer issue's
measure, `ganlens.analysis.editability.visible_change`, read by the bundled and the independent predictor: a binary
attribute flips, a continuous one rises by >= 15 % of its range on samples with room to move), then at that
strength:
- leakage: the other twelve attributes' change as the bundled predictor reads them (binary: share flipped;
  continuous: mean |change| / range), averaged;
- locality: the share of the pixel change inside the attribute's region (the renderer's part masks of each
  sample's predicted twin, `predicted_regions`, grown by one pixel);
- outside: the mean per-pixel change outside that region (0..255 summed over RGB).
An edit that cannot reach the target within strength --max-strength is reported with the share it reached.

    python benchmarks/stylespace.py --model synthfaces64        # -> results/stylespace.json, docs/stylespace_*.png
    python benchmarks/stylespace.py --attributes glasses --n 16 --out /tmp/ss.json --figures /tmp/ss   # a smoke run
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from harness import ROOT, arguments, write_result

STRENGTH_UNIT = "spreads of the samples along the direction (W) / channel spreads (S)"
FIGURE_SAMPLES = 3


def best(row: dict, prefix: str) -> str | None:
    """The candidate of a kind ('w' or 's') that reached the target with the least leakage."""
    names = [k for k, v in row.items() if k.startswith(prefix) and v["reached_target"]]
    return min(names, key=lambda k: row[k]["leakage_mean"]) if names else None


def edit_figure(attr: str, row: dict, shown: dict) -> np.ndarray:
    """One attribute's rows: originals, then its least-leaking W and S edits at the target's visible share."""
    from ganlens.edit import labelled_grid

    # Where no edit of a kind reached the target, its most visible one at the largest strength stands in.
    picks = ["original"] + [best(row, kind) or max((k for k in row if k.startswith(kind)),
                                                   key=lambda k: row[k]["visible_share"]) for kind in ("w", "s")]
    labels = ["original"] + [f"{k} @ {row[k]['strength']:.1f}" + ("" if row[k]["reached_target"] else
                             f" (share {row[k]['visible_share']:.2f})") for k in picks[1:]]
    tiles = np.concatenate([shown[k] for k in picks])
    return labelled_grid(tiles, FIGURE_SAMPLES, row_labels=labels, scale=2, title=attr)


def save_figures(rows: dict, figures: list[np.ndarray], prefix: Path) -> None:
    """PREFIX_edits.png (each attribute's W and S edit side by side) and PREFIX_bars.png (leakage, locality)."""
    from ganlens.analysis.plots import bar_panels
    from ganlens.io import save_image

    width = max(f.shape[1] for f in figures)
    padded = [np.pad(f, ((0, 0), (0, width - f.shape[1]), (0, 0)), constant_values=255) for f in figures]
    save_image(np.concatenate(padded), prefix.with_name(prefix.name + "_edits.png"))
    labels, series = [], {"leakage (W / S)": [], "locality (W / S)": []}
    for attr, row in rows.items():
        for kind in ("w", "s"):
            k = best(row, kind)
            labels.append(f"{attr} {kind.upper()}")
            series["leakage (W / S)"].append(row[k]["leakage_mean"] if k else float("nan"))
            series["locality (W / S)"].append(row[k]["locality"] if k else float("nan"))
    save_image(bar_panels(labels, series, title="least-leaking W and S edit per attribute, at equal visible change"),
               prefix.with_name(prefix.name + "_bars.png"))


def main() -> None:
    ap = arguments(__doc__, "stylespace.json")
    ap.add_argument("--model", default="synthfaces64")
    ap.add_argument("--n", type=int, default=200, help="fresh samples per attribute")
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--target", type=float, default=0.5, help="visible-change share every edit is brought to")
    ap.add_argument("--max-strength", type=float, default=8.0)
    ap.add_argument("--attributes", default=None, help="comma-separated (default: all of the predictor's)")
    ap.add_argument("--figures", default=str(ROOT / "docs" / "stylespace"),
                    help="prefix of the pictures (PREFIX_edits.png, PREFIX_bars.png); '' for none")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    import ganlens
    from ganlens.analysis.editability import visible_change
    from ganlens.bundled import predictor_name
    from ganlens.directions.bundled import load_bundled
    from ganlens.directions.stylespace import StyleChannels, by_sensitivity, from_examples, locality, predicted_regions
    from ganlens.edit import move
    from ganlens.scorers import load_scorer
    from ganlens.synthdata import region_mask

    G = ganlens.load(args.model)
    G.precision = G.resolve_precision("auto")  # bf16 where the CPU is fast at it: a few grey levels, 3x the speed
    main_name = predictor_name(G.name)
    main, second = load_scorer(main_name), load_scorer(f"{main_name}-independent")
    bundled = load_bundled(G.name)
    attrs = args.attributes.split(",") if args.attributes else list(main.names)
    stats = StyleChannels.fit(G, 2000)
    fresh = G.sample(args.n, seed=args.seed)
    fresh_s = G.to_styles(fresh)
    before = G.render(fresh)
    read0 = {"main": main(before), "second": second(before)}
    regions = predicted_regions(main)(before)
    examples_pool = G.to_styles(G.sample(300, seed=args.seed + 1))
    pool_scores = main.readable(main(G.render(examples_pool)))
    rows: dict = {}
    figures: list[np.ndarray] = []
    t0 = time.time()

    def evaluate(d, codes, a: float, attr: str) -> tuple[float, np.ndarray, dict]:
        after = G.render(move(codes, d, [a], num_ws=G.num_ws))
        reads = {"main": main(after), "second": second(after)}
        ok, el = None, None
        for key, sc in (("main", main), ("second", second)):
            eligible, visible = visible_change(sc, attr, read0[key], reads[key], 1.0)
            ok = eligible & visible if ok is None else ok & eligible & visible
            el = eligible if el is None else el & eligible
        share = float(ok[el].mean()) if el.any() else float("nan")
        return share, after, reads

    for attr in attrs:
        col = list(main.names).index(attr)
        cands = {"w-boundary": bundled[attr],
                 "w-conditional": bundled[attr].conditioned_on(*[d for k, d in bundled.items() if k != attr])}
        sens = by_sensitivity(G, lambda x, c=col: main.score_tensor(x)[:, c], stats, top=10)
        v = pool_scores[attr]
        ex = from_examples(examples_pool, v >= np.sort(v)[-30], stats, top=10)
        for route, ranked in (("sensitivity", sens), ("examples", ex)):
            for k in (1, 3, 10):
                cands[f"s{k}-{route}"] = stats.direction([c for c, _ in ranked[:k]],
                                                         [np.sign(s) or 1.0 for _, s in ranked[:k]], attribute=attr)
        region = region_mask(regions, attr)
        grown = np.maximum.reduce([np.roll(np.roll(region, dy, 1), dx, 2) for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
        row = {}
        shown = {"original": before[:FIGURE_SAMPLES]}
        for name, d in cands.items():
            codes = fresh_s if d.space == "s" else fresh
            # Bisection on the strength that reaches the target share (the share grows with the strength).
            lo, hi = 0.0, args.max_strength
            share_hi, after, reads = evaluate(d, codes, hi, attr)
            reached = share_hi >= args.target
            if reached:
                for _ in range(7):
                    mid = (lo + hi) / 2
                    s_mid, a_mid, r_mid = evaluate(d, codes, mid, attr)
                    if s_mid >= args.target:
                        hi, share_hi, after, reads = mid, s_mid, a_mid, r_mid
                    else:
                        lo = mid
            leak = {}
            for other in main.names:
                if other == attr:
                    continue
                info = main.info(other)
                a0, a1 = main.readable(read0["main"])[other], main.readable(reads["main"])[other]
                leak[other] = float(np.mean((a0 > 0.5) != (a1 > 0.5))) if info.kind == "binary" else \
                    float(np.mean(np.abs(a1 - a0)) / (info.high - info.low))
            change = np.abs(after.astype(np.float64) - before.astype(np.float64)).sum(axis=-1)
            outside = (change * (1 - grown)).sum(axis=(1, 2)) / np.maximum((1 - grown).sum(axis=(1, 2)), 1)
            row[name] = {"reached_target": reached, "strength": hi if reached else args.max_strength,
                         "visible_share": share_hi, "leakage_mean": float(np.mean(list(leak.values()))),
                         "leakage": leak, "locality": float(np.nanmean(locality(before, after, grown))),
                         "outside_change": float(outside.mean()),
                         "channels": [c["channel"] for c in d.metrics.get("channels", [])]}
            shown[name] = after[:FIGURE_SAMPLES]
            print(f"{attr:>12} {name:>18}: share {share_hi:.2f}{'' if reached else ' (target not reached)'} at "
                  f"{row[name]['strength']:.2f}; leakage {row[name]['leakage_mean']:.4f}, locality "
                  f"{row[name]['locality']:.3f}, outside {row[name]['outside_change']:.2f}", flush=True)
        rows[attr] = row
        figures.append(edit_figure(attr, row, shown))
        write_result(args.out, {"model": args.model, "n": args.n, "seed": args.seed, "target": args.target,
                                "precision": G.precision, "strength_unit": STRENGTH_UNIT, "rows": rows,
                                "seconds": round(time.time() - t0, 1)}, generators=[args.model])
    summary = {}
    for attr, row in rows.items():
        w = [row[k] for k in ("w-boundary", "w-conditional") if row[k]["reached_target"]]
        s = [v for k, v in row.items() if k.startswith("s") and v["reached_target"]]
        if w and s:
            bw, bs = row[best(row, "w")], row[best(row, "s")]
            summary[attr] = {"s_leaks_less": bs["leakage_mean"] < bw["leakage_mean"],
                             "s_more_local": max(r["locality"] for r in s) > max(r["locality"] for r in w)}
        else:
            summary[attr] = {"compared": False, "w_reached": bool(w), "s_reached": bool(s)}
    write_result(args.out, {"model": args.model, "n": args.n, "seed": args.seed, "target": args.target,
                            "precision": G.precision, "strength_unit": STRENGTH_UNIT, "rows": rows,
                            "summary": summary, "seconds": round(time.time() - t0, 1)}, generators=[args.model])
    print(summary)
    if args.figures:
        save_figures(rows, figures, Path(args.figures))


if __name__ == "__main__":
    main()
