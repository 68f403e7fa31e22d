"""Is a factor's missing tail rare in W, or absent? Push the samples nearest it further along its boundary.

The model-quality benchmark finds the generator short of a continuous factor's tail (synthfaces64 v2: hair length,
whose shortest renders are short crops, while the generator's shortest wear hats). If the tail were only rare in W,
moving the samples nearest it along the factor's InterFaceGAN boundary would reach it. This fits that boundary on
--n samples (top and bottom 10 % by the predictor), takes the --k samples the predictor reads lowest, moves them by
0 to 6 spreads towards the tail, and reports, at each distance, the share read beyond --below and the binary
factors' rates as the predictor reads them; the picture shows the first 12 of them at each distance, one row each.

    python benchmarks/tail_push.py --model runs/campaign/snapshot-002460.70kimg.safetensors \\
        --out results/tail_push-v2-2460kimg.json --picture docs/tail_push_v2_2460kimg.png
"""

from __future__ import annotations

import numpy as np
import torch

import ganlens
from ganlens.analysis.editability import direction_spread
from ganlens.directions.svm import fit_boundary
from ganlens.edit.linear import move
from ganlens.io import save_image
from ganlens.scorers import load_scorer
from harness import arguments, write_result

DISTANCES = (0, 1, 2, 3, 4, 6)


def main() -> None:
    ap = arguments(__doc__, "tail_push.json")
    ap.add_argument("--model", required=True)
    ap.add_argument("--factor", default="hair_length")
    ap.add_argument("--below", type=float, default=0.15, help="a reading below this counts as in the tail")
    ap.add_argument("--n", type=int, default=3000, help="samples the boundary is fitted on")
    ap.add_argument("--k", type=int, default=300, help="samples pushed (those read lowest)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--picture", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    G = ganlens.load(args.model)
    scorer = load_scorer("synthfaces64")
    codes = G.sample(args.n, seed=args.seed, space="w")
    values = scorer.readable(scorer(G.render(codes)))
    direction = fit_boundary(codes, values[args.factor], attribute=args.factor, ratio=0.1, model=G.name)
    sigma = direction_spread(codes, direction)
    lowest = codes[np.argsort(values[args.factor])[: args.k].tolist()]
    rows, pictures = [], []
    for d in DISTANCES:
        pushed = move(lowest, direction, [-d * sigma / direction.scale], num_ws=G.num_ws)
        images = G.render(pushed)
        read = scorer.readable(scorer(images))
        row = {"spreads": d, f"share_below_{args.below}": float((read[args.factor] < args.below).mean()),
               **{f"{f}_rate": float((read[f] >= 0.5).mean()) for f in scorer.names
                  if scorer.info(f).kind == "binary"}}
        rows.append(row)
        pictures.append(np.concatenate(list(images[:12]), axis=1))
        print(row, flush=True)
    if args.picture:
        save_image(np.concatenate(pictures, axis=0), args.picture, scale=2)
    write_result(args.out, {"model": args.model, "factor": args.factor, "fit_samples": args.n, "pushed": args.k,
                            "sigma": sigma, "boundary_val_accuracy": direction.metrics.get("val_accuracy"),
                            "rows": rows, "picture": args.picture}, [args.model])


if __name__ == "__main__":
    main()
