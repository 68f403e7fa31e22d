"""Fit the direction sets shipped with a bundled model (src/ganlens/assets/directions/MODEL/[SET/]ATTR.npz).

`--kind svm` (the default set, MODEL/ATTR.npz): InterFaceGAN's recipe in W: N generator samples (psi 1) scored by
the bundled predictor, the top and bottom `--ratio` of each attribute as positives / negatives, 70/30 split, linear
SVM (C = 1). Each direction's `scale` is the spread (std) of the samples' signed distances, so an edit of strength
1 moves one typical spread.

`--kind gradient` (MODEL/gradient/ATTR.npz): layer-wise scorer-gradient directions, the recipe that passed #4's
edit bar for all 13 attributes: for each attribute the layer range chosen by benchmarks/layer_gradient.py (read
from its JSON), the mean unit gradient of the predictor's score w.r.t. those w's over 500 samples (seed 0, bf16,
as that benchmark fitted them). Strengths are W units (scale 1). Each file then records its own edit success,
target move and leakage at +3 on the benchmark's 500 fresh samples (seed 1), measured here on the saved vector.

    PYTHONPATH=src python benchmarks/bundle_directions.py --model synthfaces64 --n 100000
    PYTHONPATH=src python benchmarks/bundle_directions.py --model synthfaces64 --kind gradient   # ~10 min, 2 cores
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

import ganlens
from ganlens.analysis import measure_edits
from ganlens.directions import fit_boundary, gradient_direction
from ganlens.bundled import DIRECTIONS
from ganlens.directions.bundled import SETS
from ganlens.scorers import load_scorer
from ganlens.scoring import score
from harness import ROOT

STRENGTH = 3.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="synthfaces64")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--ratio", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--kind", choices=["svm", "gradient"], default="svm")
    ap.add_argument("--ranges", type=Path, default=ROOT / "results" / "layer_gradient.json",
                    help="gradient: the layer_gradient.py results whose chosen layer ranges to use")
    ap.add_argument("--out", type=Path, default=None, help="default: the package's assets folder")
    args = ap.parse_args()
    out = args.out or DIRECTIONS / args.model / SETS["gradient" if args.kind == "gradient" else "boundary"]
    out.mkdir(parents=True, exist_ok=True)
    G, scorer = ganlens.load(args.model), load_scorer(args.model)
    if args.kind == "gradient":
        bundle_gradient(G, scorer, args.model, json.loads(args.ranges.read_text()), out)
        return
    t0 = time.perf_counter()
    # bf16 synthesis: about twice as fast on the CPU, scores unaffected
    scored = score(G, args.n, scorer, seed=args.seed, batch_size=250, precision="bf16", progress=True)
    codes, s = scored.codes, scored.scores
    w = codes.tensor.numpy().astype(np.float64)
    for name in scorer.names:
        info = scorer.info(name)
        d = fit_boundary(codes, s[name], attribute=name, ratio=args.ratio, binary=info.kind == "binary",
                         model=args.model, num_ws=G.num_ws, seed=0)
        spread = float(np.std(w @ d.vector))
        d = replace(d, scale=spread, provenance=dict(d.provenance, samples_seed=args.seed, truncation_psi=1.0,
                                                     scale="std of the samples' signed distances",
                                                     script="benchmarks/bundle_directions.py"))
        d.save(out / f"{name}.npz")
        m = d.metrics
        print(f"{name:12s} val {m['val_accuracy']:.3f} all {m['all_accuracy']:.3f} spread {spread:.3f}")
    print(f"{len(scorer.names)} directions in {out} ({time.perf_counter() - t0:.0f} s)")


def bundle_gradient(G, scorer, model: str, ranges: dict, out: Path) -> None:
    """Fit, measure and save one layer-wise gradient direction per attribute (see the module docstring)."""
    t0 = time.perf_counter()
    G.precision = "bf16"  # as benchmarks/layer_gradient.py fitted and measured them
    for name in scorer.names:
        label = ranges["attributes"][name]["chosen_range"]
        layers = ranges["ranges"][label]
        d = gradient_direction(G, scorer, name, num_samples=ranges["fit_samples"], seed=0, layers=layers)
        rep = measure_edits(G, [d], scorer, strengths=[STRENGTH], num_samples=ranges["edit_samples"], seed=1)
        own, others = rep.selectivity(STRENGTH)
        measured = {"strength": STRENGTH, "samples": ranges["edit_samples"], "samples_seed": 1,
                    "success": round(rep.success(STRENGTH)[d.name], 3), "target_move_spreads": round(float(own[0]), 3),
                    "others_abs_move_spreads": round(float(others[0]), 3)}
        d = replace(d, metrics=dict(d.metrics, edit_at_3=measured),
                    provenance=dict(d.provenance, layer_range=label, script="benchmarks/bundle_directions.py --kind "
                                    "gradient", layer_range_chosen_by="benchmarks/layer_gradient.py"))
        d.save(out / f"{name}.npz")
        print(f"{name:12s} layers {label:4s} success {measured['success']:.3f} "
              f"move {measured['target_move_spreads']:.2f} others {measured['others_abs_move_spreads']:.2f}", flush=True)
    print(f"{len(scorer.names)} gradient directions in {out} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
