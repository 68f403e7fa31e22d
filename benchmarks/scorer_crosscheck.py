"""Do edits raise the attribute, or only the score of the predictor that found them? (issue 4)

A scorer-gradient direction climbs the bundled predictor's score, so part of what it finds may be that network's
shortcuts rather than the attribute. This re-scores the edits with a second predictor trained independently
(other renders, width and initialisation; `benchmarks/train_predictor.py`, command in its docstring) and reports:
  - how well the two predictors agree on generator samples (Pearson r per attribute, 2,000 samples of seed 2);
  - for the shipped SVM boundaries (moved in W units like the others, not in their files' spread units), the
    gradient directions of the bundled predictor and those of the check predictor: edit success (+3 in W, 500 fresh
    samples of seed 1) and the target's move in spreads as each predictor sees it, and for binary attributes the
    flip rate.

    python benchmarks/scorer_crosscheck.py          # -> results/scorer_crosscheck.json (about 10 min, 2 cores)
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from harness import CHECK, ROOT, arguments, load_measured, write_result

from ganlens.analysis import measure_edits
from ganlens.directions import gradient_direction
from ganlens.directions.bundled import load_bundled
from ganlens.scorers import AttributeInfo, Scorer, load_scorer

STRENGTH = 3.0
PREFIX = "check:"


class PairScorer(Scorer):
    """Both predictors at once: the bundled one's attributes, then the check one's under `PREFIX`."""

    def __init__(self, main: Scorer, check: Scorer) -> None:
        self.main, self.check = main, check
        self.attributes = main.attributes + tuple(AttributeInfo(PREFIX + a.name, a.kind, a.low, a.high)
                                                  for a in check.attributes)

    def _score_batch(self, images) -> dict[str, np.ndarray]:
        out = self.main(images)
        out.update({PREFIX + k: v for k, v in self.check(images).items()})
        return out


def per_predictor(rep, names: list[str]) -> dict[str, dict]:
    """Per direction (named after its attribute): success, target move (spreads) and flip rate, by each predictor:
    the check predictor's view is the same report with each direction's target read from its `PREFIX` column."""
    views = {"bundled": rep, "check": replace(rep, targets=[PREFIX + t for t in rep.targets])}
    out: dict[str, dict] = {a: {} for a in names}
    for who, view in views.items():
        success, flips, (own, _) = view.success(STRENGTH), view.flip_rate(STRENGTH), view.selectivity(STRENGTH)
        for d, a in enumerate(names):
            out[a][who] = {"success": round(success[a], 3), "target_move": round(float(own[d]), 3)}
            if a in flips:
                out[a][who]["flip_rate"] = round(flips[a], 3)
    return out


def main() -> None:
    ap = arguments(__doc__, "scorer_crosscheck.json")
    ap.add_argument("--model", default="synthfaces64")
    ap.add_argument("--check", default=str(CHECK), help="the independent predictor (.safetensors)")
    ap.add_argument("--gradient-samples", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=500)
    args = ap.parse_args()
    t0 = time.time()
    G = load_measured(args.model, args.threads)
    main_scorer, check = load_scorer(args.model), load_scorer(args.check)
    pair = PairScorer(main_scorer, check)
    names = [a for a in main_scorer.names if a in check.names]

    with torch.no_grad():
        imgs = G.synthesize(G.sample(2000, seed=2)).clamp(-1, 1)
    a_scores, b_scores = main_scorer(imgs), check(imgs)
    agreement = {a: round(float(np.corrcoef(a_scores[a], b_scores[a])[0, 1]), 3) for a in names}
    print("agreement r:", agreement, flush=True)

    shipped = load_bundled(args.model)
    recipes = {
        # scale 1: every direction moves the same W distance (the shipped files' scale is the samples' spread)
        "shipped svm boundaries": [replace(shipped[a], scale=1.0) for a in names],
        "gradient of the bundled predictor": [gradient_direction(G, main_scorer, a, num_samples=args.gradient_samples,
                                                                 seed=0) for a in names],
        "gradient of the check predictor": [gradient_direction(G, check, a, num_samples=args.gradient_samples, seed=0)
                                            for a in names],
    }
    rows = {}
    for label, dirs in recipes.items():
        rep = measure_edits(G, dirs, pair, strengths=[STRENGTH], num_samples=args.samples, seed=1)
        rows[label] = per_predictor(rep, names)
        print(label, {a: (r["bundled"]["success"], r["check"]["success"]) for a, r in rows[label].items()}, flush=True)
    passes = {label: {who: sum(r[who]["success"] >= 0.95 for r in rows[label].values()) for who in ("bundled", "check")}
              for label in rows}
    cos = {a: round(float(g.vector @ h.vector), 3) for a, g, h in zip(
        names, recipes["gradient of the bundled predictor"], recipes["gradient of the check predictor"])}
    result = {"model": args.model, "check_predictor": str(Path(args.check).relative_to(ROOT))
              if Path(args.check).is_relative_to(ROOT) else args.check,
              "check_predictor_held_out": check.meta.get("held_out") if hasattr(check, "meta") else None,
              "agreement_on_samples_r": agreement, "strength": STRENGTH, "edit_samples": args.samples,
              "gradient_samples": args.gradient_samples, "rows": rows, "passes_95": passes,
              "cosine_gradient_bundled_vs_check": cos, "seconds": round(time.time() - t0, 1),
              "threads": args.threads}
    write_result(args.out, result, generators=[args.model])
    print("passes (>= 95 %):", passes)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
