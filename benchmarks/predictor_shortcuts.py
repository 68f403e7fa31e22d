"""Do the attribute predictors read one factor as a cue for another? Ground truth from the renderer (issue 4, bar 3).

Bar 3 measures how much an edit of a target (glasses, smile, beard) moves its condition (age, hair_length), as a
predictor reads both. In the synthfaces domain glasses come with age, smiles go with youth and beards with short
hair, so a predictor trained on the domain may have learnt the target as evidence of the condition (a shortcut);
then an edit that adds glasses reads as ageing even where the face did not age, and "holding age" under that
predictor changes the face to cancel the shortcut. The renderer knows the truth: each of N factor vectors is drawn
from the domain and rendered twice, with only the target changed (binary 0 -> 1; smile from the domain's 10th to
its 90th percentile), so the condition's true change is exactly 0. Every predictor reads both renders:

- `condition_change_over_std`: the mean read change of the condition, in spreads of that predictor's reading of the
  condition over 160 GAN samples (seed 4), the unit of benchmarks/conditional_ascent.py and guarded_ascent.py;
  |value| >= 0.1 (the benchmarks' "nothing to cut" line) counts as a shortcut;
- `target_change`: the read change of the target (probability for binary attributes), as a sanity check;
- `held_out`: accuracy / R^2 on renders of the domain and on renders with the factors drawn independently.

Predictors: the shipped one, the check and third predictors of the other benchmarks, and two trained on renders with
the correlations broken (`--independent`): the bundled "synthfaces64-independent" and results/independent_predictor_2/
(commands in benchmarks/train_predictor.py).
    python benchmarks/predictor_shortcuts.py      # -> results/predictor_shortcuts.json (a few minutes, 2 cores)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import ganlens
from ganlens.scorers import load_scorer
from ganlens.synthdata import render_batch, sample_factors
from ganlens.synthdata.factors import INDEX
from harness import CHECK, INDEPENDENT_2, NOTHING_TO_CUT, PAIRS, ROOT, THIRD, write_result

PREDICTORS = {"main": "synthfaces64", "check": CHECK, "third": THIRD, "independent": "synthfaces64-independent",
              "independent_2": INDEPENDENT_2}
ATTRIBUTES = ("glasses", "beard", "smile", "age", "hair_length")


def held_out(scorer, images: np.ndarray, factors: np.ndarray) -> dict[str, float]:
    """Accuracy (binary) or R^2 (continuous) of `scorer` against the true factors, for ATTRIBUTES."""
    scores = scorer(images)
    out = {}
    for a in ATTRIBUTES:
        truth = factors[:, INDEX[a]].astype(np.float64)
        if scorer.info(a).kind == "binary":
            out[a] = float(np.mean((scores[a] > 0) == (truth > 0.5)))
        else:
            out[a] = float(1 - np.mean((scores[a] - truth) ** 2) / np.var(truth))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="factor vectors per pair")
    ap.add_argument("--seed", type=int, default=21, help="seed of the factor vectors (held-out sets: +1, +2)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "results" / "predictor_shortcuts.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    scorers = {k: load_scorer(str(v)) for k, v in PREDICTORS.items()}
    G = ganlens.load("synthfaces64").eval()
    with torch.no_grad():
        gan_images = G.render(G.sample(160, seed=4, space="w"))
    spread = {k: {a: float(np.std(sc.readable(sc(gan_images))[a])) for a in ATTRIBUTES} for k, sc in scorers.items()}

    base = sample_factors(args.n, args.seed)
    smile = base[:, INDEX["smile"]]
    levels = {"glasses": (0.0, 1.0), "beard": (0.0, 1.0),
              "smile": (float(np.percentile(smile, 10)), float(np.percentile(smile, 90)))}
    pairs = {}
    for target, cond in PAIRS:
        lo, hi = base.copy(), base.copy()
        lo[:, INDEX[target]], hi[:, INDEX[target]] = levels[target]
        images_lo, images_hi = render_batch(lo, size=64), render_batch(hi, size=64)
        row = {"target_levels": levels[target]}
        for k, sc in scorers.items():
            before, after = sc.readable(sc(images_lo)), sc.readable(sc(images_hi))
            cond_change = float(np.mean(after[cond] - before[cond]))
            row[k] = {"target_change": float(np.mean(after[target] - before[target])),
                      "condition_change": cond_change,
                      "condition_change_over_std": cond_change / spread[k][cond],
                      "shortcut": abs(cond_change / spread[k][cond]) >= NOTHING_TO_CUT}
        pairs[f"{target}|{cond}"] = row
        print(f"{target}|{cond} (true change 0): " + "; ".join(
            f"{k} {row[k]['condition_change_over_std']:+.3f} spreads (target {row[k]['target_change']:+.2f})"
            for k in scorers), flush=True)

    sets = {"domain": sample_factors(args.n, args.seed + 1),
            "independent": sample_factors(args.n, args.seed + 2, independent=True)}
    accuracy = {}
    for name, factors in sets.items():
        images = render_batch(factors, size=64)
        accuracy[name] = {k: held_out(sc, images, factors) for k, sc in scorers.items()}
        for k in scorers:
            print(f"held out on {name} renders, {k}: " + ", ".join(f"{a} {v:.3f}" for a, v in accuracy[name][k].items()))

    write_result(args.out, {
        "predictors": {k: str(v if isinstance(v, str) else v.relative_to(ROOT)) for k, v in PREDICTORS.items()},
        "n": args.n, "seed": args.seed, "shortcut_line_spreads": NOTHING_TO_CUT,
        "spread_of": "std of each predictor's reading over 160 GAN samples (seed 4, W)", "spread": spread,
        "pairs": pairs, "held_out": accuracy,
        "held_out_measure": "accuracy for binary attributes, R^2 for continuous ones",
        "seconds": round(time.time() - t0, 1), "threads": args.threads}, generators=["synthfaces64"])


if __name__ == "__main__":
    main()
