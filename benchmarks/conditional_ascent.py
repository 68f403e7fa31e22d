"""Conditional manipulation by per-sample gradient ascent (issue 4, bar 3): raise one attribute of each correlated
pair while holding the other fixed, sample by sample, and measure how much of the condition's change that cuts.

For each pair of benchmarks/semantics.py (glasses | age, smile | age, beard | hair_length) the same 160 fresh
samples (seed 4) as its sections 3 and 3b climb the target's score gradient over a latent distance of 3 (steps of
0.125, the library's default; `--step 0.5` shows how much coarser steps lose) three times: freely, with
`keep=[condition]` and `restore=False` (every step orthogonal to the sample's own gradient of the condition: a
first-order hold) and with `keep=[condition]` as the library defaults to (each step also pulls the condition's score
back to its start value). In W on all layers, in W on the target's shipped gradient-direction layers, and in Z.
Bar: the condition's change cut by >= 50 % while >= 90 % of the target's change is kept; a row whose free edit
moves the condition by less than 0.1 of its spread has "nothing to cut" (as in semantics.py).

The paths climb the shipped predictor, which also measures them, so every row is re-scored by the independently
trained check predictor (results/check_predictor/, see scorer_crosscheck.py): a hold that only fools the shipped
predictor would not show there.

    python benchmarks/conditional_ascent.py          # -> results/conditional_ascent.json (about 40 min, 2 cores)
"""

from __future__ import annotations

import time

import numpy as np
import torch
from harness import CHECK, DISTANCE, NOTHING_TO_CUT, PAIRS, ROOT, arguments, load_measured, write_result

from ganlens.directions import load_bundled
from ganlens.edit import ascend, describe_layers
from ganlens.scorers import load_scorer


def main() -> None:
    ap = arguments(__doc__, "conditional_ascent.json")
    ap.add_argument("--samples", type=int, default=160)
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--step", type=float, default=0.125)
    args = ap.parse_args()
    t0 = time.time()
    G = load_measured("synthfaces64", args.threads)
    scorer = load_scorer("synthfaces64")
    check = load_scorer(str(CHECK))
    shipped = load_bundled("synthfaces64", "gradient")
    rows = {}
    for space in ("w", "w-layers", "z"):
        codes = G.sample(args.samples, seed=args.seed, space="z" if space == "z" else "w")
        with torch.no_grad():
            images = G.render(codes)
            base = {"main": scorer(images), "check": check(images)}
        for target, cond in PAIRS:
            layers = shipped[target].layers if space == "w-layers" else None
            row = {"layers": describe_layers(layers, G.num_ws)}
            change = {}
            for label, keep, restore in (("free", [], True), ("projected", [cond], False), ("restored", [cond], True)):
                edited = ascend(G, scorer, codes, target, DISTANCE, keep=keep, layers=layers, step=args.step,
                                restore=restore)
                with torch.no_grad():
                    images = G.render(edited)
                    after = {"main": scorer(images), "check": check(images)}
                for judge, sc in (("main", scorer), ("check", check)):
                    change[judge, label] = {
                        a: float(np.mean(sc.readable(after[judge])[a] - sc.readable(base[judge])[a]))
                        for a in (target, cond)}
            for judge, sc in (("main", scorer), ("check", check)):
                spread = {a: float(np.std(sc.readable(base[judge])[a])) for a in (target, cond)}
                free = change[judge, "free"]
                part = {"target_change_free": free[target], "condition_change_free": free[cond],
                        "target_change_free_over_std": free[target] / spread[target],
                        "condition_change_free_over_std": free[cond] / spread[cond]}
                small = abs(part["condition_change_free_over_std"]) < NOTHING_TO_CUT
                for label in ("projected", "restored"):
                    kept = change[judge, label]
                    r = {"target_change": kept[target], "condition_change": kept[cond],
                         "condition_change_over_std": kept[cond] / spread[cond],
                         "target_kept": kept[target] / free[target],
                         "condition_cut": 1 - abs(kept[cond]) / max(abs(free[cond]), 1e-12)}
                    r["pass"] = bool(r["target_kept"] >= 0.9 and r["condition_cut"] >= 0.5)
                    r["verdict"] = "nothing to cut" if small else ("pass" if r["pass"] else "fail")
                    part[label] = r
                row[judge] = part
            rows[f"{space}:{target}|{cond}"] = row
            for label in ("projected", "restored"):
                m, c = row["main"][label], row["check"][label]
                print(f"{space}:{target}|{cond} {label}: kept {m['target_kept']:.2f} cut {m['condition_cut']:.2f} "
                      f"{m['verdict']} (condition {row['main']['condition_change_free_over_std']:+.2f} -> "
                      f"{m['condition_change_over_std']:+.2f} spreads); check predictor: kept {c['target_kept']:.2f} "
                      f"cut {c['condition_cut']:.2f} {c['verdict']} (condition "
                      f"{row['check']['condition_change_free_over_std']:+.2f} -> "
                      f"{c['condition_change_over_std']:+.2f})",
                      flush=True)
    write_result(args.out, {
        "model": "synthfaces64", "distance": DISTANCE, "step": args.step, "samples": args.samples,
        "samples_seed": args.seed, "precision": "bf16", "pairs": rows,
        "check_predictor": str(CHECK.relative_to(ROOT)),
        "passes": {f"{judge}:{label}": sum(r[judge][label]["verdict"] == "pass" for r in rows.values())
                   for judge in ("main", "check") for label in ("projected", "restored")},
        "of": len(rows),
        "seconds": round(time.time() - t0, 1), "threads": args.threads}, generators=["synthfaces64"])


if __name__ == "__main__":
    main()
