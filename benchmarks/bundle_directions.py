"""Fit the attribute boundaries shipped with a bundled model (src/ganlens/assets/directions/MODEL/ATTR.npz).

InterFaceGAN's recipe in W: N generator samples (psi 1) scored by the bundled predictor, the top and bottom
`--ratio` of each attribute as positives / negatives, 70/30 split, linear SVM (C = 1). Each direction's `scale`
is the spread (std) of the samples' signed distances, so an edit of strength 1 moves one typical spread.

    PYTHONPATH=src python benchmarks/bundle_directions.py --model synthfaces64 --n 100000
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

import ganlens
from ganlens.directions import fit_boundary
from ganlens.directions.bundled import ASSETS
from ganlens.scorers import load_scorer
from ganlens.scoring import score


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="synthfaces64")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--ratio", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--out", type=Path, default=None, help="default: the package's assets folder")
    args = ap.parse_args()
    out = args.out or ASSETS / args.model
    out.mkdir(parents=True, exist_ok=True)
    G, scorer = ganlens.load(args.model), load_scorer(args.model)
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


if __name__ == "__main__":
    main()
