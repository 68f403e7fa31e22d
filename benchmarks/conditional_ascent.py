"""Conditional manipulation by per-sample gradient ascent (issue 4, bar 3): raise one attribute of each correlated
pair while holding the other fixed, sample by sample, and measure how much of the condition's change that cuts.

For each pair of benchmarks/semantics.py (glasses | age, smile | age, beard | hair_length) the same 160 fresh
samples (seed 4) as its sections 3 and 3b climb the target's score gradient over a latent distance of 3 (steps of
0.125, the library's default; `--step 0.5` shows how much coarser steps lose), once freely and once with
`keep=[condition]` (`ganlens.edit.ascend`: every step orthogonal to the sample's own gradient of the condition). In
W on all layers, in W on the target's shipped gradient-direction layers, and in Z. Bar: the condition's change cut
by >= 50 % while >= 90 % of the target's change is kept; a row whose free edit moves the condition by less than 0.1
of its spread has "nothing to cut" (as in semantics.py).

    python benchmarks/conditional_ascent.py          # -> results/conditional_ascent.json (about 25 min, 2 cores)
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch

import ganlens
from ganlens.directions import load_bundled
from ganlens.edit import ascend, describe_layers
from ganlens.io import atomic_write_json
from ganlens.scorers import load_scorer

ROOT = Path(__file__).resolve().parent.parent
PAIRS = [("glasses", "age"), ("smile", "age"), ("beard", "hair_length")]
DISTANCE = 3.0
NOTHING_TO_CUT = 0.1


def readable(scorer, scores: dict[str, np.ndarray], name: str) -> np.ndarray:
    """Scores as semantics.py compares them: probability for binary attributes, raw units otherwise."""
    s = scores[name].astype(np.float64)
    return 1 / (1 + np.exp(-s)) if scorer.info(name).kind == "binary" else s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=160)
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--step", type=float, default=0.125)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "results" / "conditional_ascent.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    G = ganlens.load("synthfaces64").eval()
    G.precision = "bf16"
    scorer = load_scorer("synthfaces64")
    shipped = load_bundled("synthfaces64", "gradient")
    rows = {}
    for space in ("w", "w-layers", "z"):
        codes = G.sample(args.samples, seed=args.seed, space="z" if space == "z" else "w")
        with torch.no_grad():
            base = scorer(G.render(codes))
        for target, cond in PAIRS:
            layers = shipped[target].layers if space == "w-layers" else None
            spread = {a: float(np.std(readable(scorer, base, a))) for a in (target, cond)}
            change = {}
            for label, keep in (("free", []), ("kept", [cond])):
                edited = ascend(G, scorer, codes, target, DISTANCE, keep=keep, layers=layers, step=args.step)
                with torch.no_grad():
                    after = scorer(G.render(edited))
                change[label] = {a: float(np.mean(readable(scorer, after, a) - readable(scorer, base, a)))
                                 for a in (target, cond)}
            row = {"layers": describe_layers(layers, G.num_ws),
                   "target_change_free": change["free"][target], "target_change_kept": change["kept"][target],
                   "condition_change_free": change["free"][cond], "condition_change_kept": change["kept"][cond],
                   "condition_change_free_over_std": change["free"][cond] / spread[cond],
                   "target_change_free_over_std": change["free"][target] / spread[target]}
            row["target_kept"] = row["target_change_kept"] / row["target_change_free"]
            row["condition_cut"] = 1 - abs(row["condition_change_kept"]) / max(abs(row["condition_change_free"]), 1e-12)
            row["pass"] = bool(row["target_kept"] >= 0.9 and row["condition_cut"] >= 0.5)
            small = abs(row["condition_change_free_over_std"]) < NOTHING_TO_CUT
            row["verdict"] = "nothing to cut" if small else ("pass" if row["pass"] else "fail")
            rows[f"{space}:{target}|{cond}"] = row
            print(f"{space}:{target}|{cond}: kept {row['target_kept']:.2f} cut {row['condition_cut']:.2f} "
                  f"(condition moved {row['condition_change_free_over_std']:+.2f} spreads freely) {row['verdict']}",
                  flush=True)
    atomic_write_json(Path(args.out), {
        "model": "synthfaces64", "distance": DISTANCE, "step": args.step, "samples": args.samples,
        "samples_seed": args.seed, "precision": "bf16", "pairs": rows,
        "passes": sum(r["verdict"] == "pass" for r in rows.values()), "of": len(rows),
        "seconds": round(time.time() - t0, 1), "threads": args.threads, "machine": platform.machine(),
        "torch": torch.__version__,
        "command": "python benchmarks/conditional_ascent.py" + (f" --step {args.step}" if args.step != 0.125 else "")})


if __name__ == "__main__":
    main()
