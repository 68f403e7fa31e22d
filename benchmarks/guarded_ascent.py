"""Does a per-sample hold generalise beyond the predictor it was made with? (issue 4, bar 3, cross-checked)

`ganlens.edit.ascend(..., keep=[condition])` holds the condition as the shipped predictor reads it; other predictors
do not always agree (benchmarks/conditional_ascent.py). Here each pair of conditional_ascent.py climbs the target
over the same 160 samples (seed 4, distance 3, steps 0.125) four times: freely ("free"), keeping the condition under
the shipped predictor ("kept"), and keeping it under the shipped predictor and a guard at once: the check predictor
("guarded", results/check_predictor/) or a predictor trained on renders with the domain's correlations broken
("guarded_independent", the bundled "synthfaces64-independent"). Five predictors judge every edit: the shipped one (it
steers), check, a third trained apart (results/third_predictor/), the independent one and a second independent one
(results/independent_predictor_2/, other renders and initialisation), which never steers nor guards.
benchmarks/predictor_shortcuts.py measures, on renders where only the target changes, how much of a condition
change each predictor reads that is not there (check and third: up to 0.3 spreads, shipped under 0.1, the
independent ones about 0.01); a guard with such a shortcut makes the hold cancel it, changing the true condition.
Bar as in semantics.py: condition change cut >= 50 % while >= 90 % of the target change is kept; "nothing to cut"
where the free edit moves the condition < 0.1 spread. A judge that also steered or guarded a variant grades its own
hold; the row's "judged_by_itself" lists those.

    python benchmarks/guarded_ascent.py      # W -> results/guarded_ascent.json (about 33 min on 2 cores, Z 34)
    python benchmarks/guarded_ascent.py --spaces z --out results/guarded_ascent_z.json
    python benchmarks/guarded_ascent.py --chart-only   # redraw docs/guarded_ascent.png from the two JSON files
The check, third and independent predictors: commands in benchmarks/train_predictor.py.
"""

from __future__ import annotations

import json
import time

import numpy as np
import torch
from harness import (
    CHECK,
    DISTANCE,
    INDEPENDENT_2,
    NOTHING_TO_CUT,
    PAIRS,
    ROOT,
    THIRD,
    arguments,
    load_measured,
    write_result,
)

from ganlens.analysis.plots import heatmap
from ganlens.edit import ascend
from ganlens.io import save_image
from ganlens.scorers import load_scorer

GUARDS = {"free": None, "kept": (), "guarded": ("check",), "guarded_independent": ("independent",)}
VARIANTS = tuple(GUARDS)
RESULTS = {"W": ROOT / "results" / "guarded_ascent.json", "Z": ROOT / "results" / "guarded_ascent_z.json"}
CHART = ROOT / "docs" / "guarded_ascent.png"
ROW_NAMES = {"free": "free", "kept": "kept (shipped)", "guarded": "+ check guard",
             "guarded_independent": "+ independent guard"}
JUDGE_NAMES = {"main": "shipped (steers)", "check": "check", "third": "third", "independent": "independent",
               "independent_2": "independent 2"}


def chart(results: dict[str, dict]) -> np.ndarray:
    """One heat-map per space, stacked: the condition's change in spreads (rows: pair x hold; columns: judges)."""
    panels = []
    for space, res in results.items():
        labels, values = [], []
        for pair, row in res["pairs"].items():
            for label in VARIANTS:
                labels.append(f"{space} {pair.split(':', 1)[1]}: {ROW_NAMES[label]}")
                values.append([row[j]["condition_change_free_over_std"] if label == "free"
                               else row[j][label]["condition_change_over_std"] for j in JUDGE_NAMES])
        panels.append(heatmap(np.array(values), labels, list(JUDGE_NAMES.values()), diverging=True, vmin=-1, vmax=1,
                              fmt="{:+.2f}", cell=(58, 18),
                              title=f"{space}: change of the held attribute (spreads) as each predictor reads it"))
    width = max(p.shape[1] for p in panels)
    return np.concatenate([np.pad(p, ((0, 8), (0, width - p.shape[1]), (0, 0)), constant_values=255)
                           for p in panels])


def draw_chart() -> None:
    """Redraw docs/guarded_ascent.png from whichever of the two result files exist."""
    found = {s: json.loads(p.read_text()) for s, p in RESULTS.items() if p.exists()}
    if found:
        print(f"wrote {save_image(chart(found), CHART, scale=2)}")


def main() -> None:
    ap = arguments(__doc__, RESULTS["W"])
    ap.add_argument("--samples", type=int, default=160)
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--step", type=float, default=0.125)
    ap.add_argument("--spaces", default="w", help="comma-separated: w, z")
    ap.add_argument("--chart-only", action="store_true", help="only redraw docs/guarded_ascent.png from the results")
    args = ap.parse_args()
    if args.chart_only:
        draw_chart()
        return
    t0 = time.time()
    G = load_measured("synthfaces64", args.threads)
    judges = {"main": load_scorer("synthfaces64"), "check": load_scorer(str(CHECK)), "third": load_scorer(str(THIRD)),
              "independent": load_scorer("synthfaces64-independent"), "independent_2": load_scorer(str(INDEPENDENT_2))}
    main_sc = judges["main"]
    rows = {}
    for space in args.spaces.split(","):
        codes = G.sample(args.samples, seed=args.seed, space=space)
        with torch.no_grad():
            images = G.render(codes)
            base = {j: sc(images) for j, sc in judges.items()}
        for target, cond in PAIRS:
            change = {}
            for label in VARIANTS:
                keep = [] if GUARDS[label] is None else [cond]
                edited = ascend(G, main_sc, codes, target, DISTANCE, keep=keep, step=args.step,
                                guards=[judges[g] for g in GUARDS[label] or ()])
                with torch.no_grad():
                    images = G.render(edited)
                for j, sc in judges.items():
                    after = sc(images)
                    change[j, label] = {a: float(np.mean(sc.readable(after)[a] - sc.readable(base[j])[a]))
                                        for a in (target, cond)}
            row = {}
            for j, sc in judges.items():
                spread = {a: float(np.std(sc.readable(base[j])[a])) for a in (target, cond)}
                free = change[j, "free"]
                part = {"target_change_free_over_std": free[target] / spread[target],
                        "condition_change_free_over_std": free[cond] / spread[cond]}
                small = abs(part["condition_change_free_over_std"]) < NOTHING_TO_CUT
                for label in VARIANTS[1:]:
                    c = change[j, label]
                    r = {"condition_change_over_std": c[cond] / spread[cond], "target_kept": c[target] / free[target],
                         "condition_cut": 1 - abs(c[cond]) / max(abs(free[cond]), 1e-12)}
                    r["verdict"] = "nothing to cut" if small else (
                        "pass" if r["target_kept"] >= 0.9 and r["condition_cut"] >= 0.5 else "fail")
                    part[label] = r
                row[j] = part
            rows[f"{space}:{target}|{cond}"] = row
            for label in VARIANTS[1:]:
                print(f"{space}:{target}|{cond} {label}: " + "; ".join(
                    f"{j} cond {row[j]['condition_change_free_over_std']:+.2f} -> "
                    f"{row[j][label]['condition_change_over_std']:+.2f} cut {row[j][label]['condition_cut']:.2f} "
                    f"kept {row[j][label]['target_kept']:.2f} {row[j][label]['verdict']}" for j in judges),
                    flush=True)
    write_result(args.out, {
        "model": "synthfaces64", "distance": DISTANCE, "step": args.step, "samples": args.samples,
        "samples_seed": args.seed, "precision": "bf16", "steering": "main (shipped predictor)",
        "guards": {k: list(v) if v is not None else None for k, v in GUARDS.items()},
        "judges": {"main": "synthfaces64", "independent": "synthfaces64-independent", **{
            k: str(v.relative_to(ROOT)) for k, v in (("check", CHECK), ("third", THIRD), ("independent_2", INDEPENDENT_2))}},
        "judged_by_itself": {k: ["main", *(v or ())] for k, v in GUARDS.items() if v is not None}, "pairs": rows,
        "passes": {f"{j}:{label}": sum(r[j][label]["verdict"] == "pass" for r in rows.values())
                   for j in judges for label in VARIANTS[1:]},
        "of": len(rows), "seconds": round(time.time() - t0, 1), "threads": args.threads, "spaces": args.spaces},
        generators=["synthfaces64"])
    draw_chart()


if __name__ == "__main__":
    main()
