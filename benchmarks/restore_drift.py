"""How far does a per-sample hold leave the kept score from its start? (issue 4, bar 3: the restoring hold)

`ganlens.edit.ascend(..., keep=[...])` makes every step orthogonal to each kept gradient and pulls the kept scores
back to their start values (restore); after the last step restore-only passes run until every kept score is within
RESTORE_TOLERANCE. This measures what is left: glasses raised by each distance on --samples fresh W samples, age
kept, and the absolute age change of every sample read from the 8-bit renders by the steering predictor (raw
predictor units, age normalised to 0..1) and from the float synthesis (what the restore itself sees). The largest
drift, not the mean, is what the restore passes are for: one sample far off is a visible change of age.

    python benchmarks/restore_drift.py      # -> results/restore_drift.json (about 3 min on 2 cores)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import ganlens
from ganlens.edit import ascend
from ganlens.edit.ascent import RESTORE_PASSES, RESTORE_TOLERANCE
from ganlens.scorers import load_scorer
from harness import ROOT, write_result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--distances", default="0.75,3")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "results" / "restore_drift.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    G = ganlens.load("synthfaces64").eval()
    scorer = load_scorer("synthfaces64")
    age = list(scorer.names).index("age")
    codes = G.sample(args.samples, seed=args.seed)

    def float_age(c) -> np.ndarray:
        with torch.no_grad():
            return scorer.score_tensor(G.synthesize(c).clamp(-1, 1))[:, age].double().numpy()

    start_render, start_float = scorer(G.render(codes))["age"], float_age(codes)
    rows = {}
    for d in (float(v) for v in args.distances.split(",")):
        edited = ascend(G, scorer, codes, "glasses", d, keep=["age"])
        drift = {"render": np.abs(scorer(G.render(edited))["age"] - start_render),
                 "float": np.abs(float_age(edited) - start_float)}
        rows[f"{d:g}"] = {k: {"max": float(v.max()), "mean": float(v.mean()), "worst_sample": int(v.argmax()),
                              "over_0.01": int((v > 0.01).sum())} for k, v in drift.items()}
        print(f"distance {d:g}: " + "; ".join(f"{k} max {r['max']:.4f} mean {r['mean']:.5f} (sample "
                                              f"{r['worst_sample']}), {r['over_0.01']} over 0.01"
                                              for k, r in rows[f'{d:g}'].items()), flush=True)
    write_result(args.out, {
        "model": "synthfaces64", "edit": "glasses", "keep": ["age"], "space": "w", "step": 0.125,
        "samples": args.samples, "seed": args.seed, "restore_passes": RESTORE_PASSES,
        "restore_tolerance": RESTORE_TOLERANCE, "age_drift": rows, "seconds": round(time.time() - t0, 1),
        "threads": args.threads}, generators=["synthfaces64"])


if __name__ == "__main__":
    main()
