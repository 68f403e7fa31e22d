"""Ground-truth disentanglement of each direction-finding method (issue 33, section 4).

Khrulkov et al.'s protocol (ICLR 2021) on the procedural domain, whose renderer knows every factor: --n held-out
renders (factor seed --seed, drawn with the domain's correlations) are mapped to W+ by the model's bundled inversion
encoder; each method's k directions give every code k coordinates (`ganlens.analysis.direction_coordinates`); MIG,
DCI and modularity (`ganlens.metrics.disentanglement`, 20 bins, DCI from random-forest importances) compare them
with the 13 true factors. Methods: the shipped InterFaceGAN boundaries, the same conditioned on the other twelve,
the shipped scorer-gradient directions, SeFa's and GANSpace's top k, and k random directions as the floor.

The control encoders (GAN-Control) are left out: they read attributes from images rather than define directions
in W, so they have no coordinates to score this way.

    python benchmarks/disentanglement.py                 # -> results/disentanglement.json, docs/disentanglement.png
    python benchmarks/disentanglement.py --n 1000 --ganspace-samples 20000 --out /tmp/d.json --figure /tmp/d.png
"""

from __future__ import annotations

import time
from pathlib import Path

from harness import ROOT, arguments, write_result


def main() -> None:
    ap = arguments(__doc__, "disentanglement.json")
    ap.add_argument("--model", default="synthfaces64")
    ap.add_argument("--n", type=int, default=10_000, help="held-out renders (Khrulkov et al. use >= 10,000 points)")
    ap.add_argument("--seed", type=int, default=31, help="factor seed of the renders (the model trained on seed 0)")
    ap.add_argument("--k", type=int, default=13, help="directions per unsupervised method (SeFa, GANSpace, random)")
    ap.add_argument("--ganspace-samples", type=int, default=100_000)
    ap.add_argument("--dci-model", default="forest", choices=["forest", "lasso"])
    ap.add_argument("--figure", default=str(ROOT / "docs" / "disentanglement.png"), help="'' for none")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    import ganlens
    from ganlens.analysis import random_directions, score_directions
    from ganlens.directions import ganspace, sefa
    from ganlens.directions.bundled import load_bundled
    from ganlens.invert import load_encoder
    from ganlens.synthdata import FACTORS, render_batch, sample_factors

    t0 = time.time()
    G = ganlens.load(args.model)
    encoder = load_encoder(G.name)
    factors = sample_factors(args.n, args.seed)
    images = render_batch(factors, size=G.img_resolution, progress=True)
    codes = encoder.invert(images, precision="auto")
    names = [f.name for f in FACTORS]
    boundaries = load_bundled(G.name)
    gradient = load_bundled(G.name, "gradient")
    methods = {
        "interfacegan": [boundaries[a] for a in names if a in boundaries],
        "interfacegan-conditional": [boundaries[a].conditioned_on(*[d for b, d in boundaries.items() if b != a])
                                     for a in names if a in boundaries],
        "gradient": [gradient[a] for a in names if a in gradient],
        "sefa": sefa(G, "all", args.k),
        "ganspace": ganspace(G, num_samples=args.ganspace_samples, num_components=args.k, seed=0, progress=True),
        "random": random_directions("w", G.w_dim, args.k, seed=0),
    }
    rows: dict = {}
    for name, directions in methods.items():
        if not directions:
            print(f"{name}: the model ships none, skipped")
            continue
        rows[name] = score_directions(codes, directions, factors, G.num_ws, dci_model=args.dci_model)
        r = rows[name]
        print(f"{name:>26} (k={r['k']:2d}): MIG {r['mig']:.3f}  DCI {r['dci']['disentanglement']:.3f} / "
              f"{r['dci']['completeness']:.3f} / {r['dci']['informativeness']:.3f}  modularity {r['modularity']:.3f}",
              flush=True)
        write_result(args.out, {
            "model": args.model, "n": args.n, "seed": args.seed, "factors": names, "bins": 20,
            "dci_model": args.dci_model, "codes": f"W+ from the bundled encoder '{encoder.generator_name}' (one pass)",
            "rows": rows, "seconds": round(time.time() - t0, 1)}, generators=[args.model])
    if args.figure:
        from ganlens.analysis.plots import bar_panels
        from ganlens.io import save_image

        labels = list(rows)
        series = {"MIG": [rows[m]["mig"] for m in labels],
                  "DCI disent.": [rows[m]["dci"]["disentanglement"] for m in labels],
                  "DCI complete.": [rows[m]["dci"]["completeness"] for m in labels],
                  "DCI inform.": [rows[m]["dci"]["informativeness"] for m in labels],
                  "modularity": [rows[m]["modularity"] for m in labels]}
        save_image(bar_panels(labels, series, width=110, limits=(0.0, 1.0),
                              title=f"{args.model}: each method's directions as a representation of the 13 true "
                                    f"factors ({args.n:,} renders)"), Path(args.figure))


if __name__ == "__main__":
    main()
