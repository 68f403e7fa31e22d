"""FID, KID and factor coverage of several generators against the same held-out renders, side by side.

For deciding between checkpoints (e.g. a fine-tune against the shipped model): the renders' Inception features
are computed once and every model is sampled with the same seed. Run:
    python benchmarks/compare_generators.py --models shipped=synthfaces64 ft=runs/ft/latest.safetensors \
        --n 2000 --out results/compare_generators.json
FID at n = 2000 is biased upwards against the n = 5000 figure of model_quality.py; compare rows of one run only.
"""

from __future__ import annotations

import argparse
import time

import ganlens
from ganlens.metrics.fid import InceptionFeatures, frechet_distance, kernel_inception_distance
from ganlens.synthdata import render_batch, sample_factors
from harness import ROOT, device_label, write_result
from model_quality import coverage_part


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", required=True, help="LABEL=NAME_OR_PATH, one per generator")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0, help="seed of the generator samples")
    ap.add_argument("--data-seed", type=int, default=777, help="seed of the held-out renders")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=str(ROOT / "results" / "compare_generators.json"))
    args = ap.parse_args()
    models = dict(m.split("=", 1) for m in args.models)
    if len(models) != len(args.models) or any(not k or not v for k, v in models.items()):
        ap.error(f"--models wants distinct LABEL=NAME_OR_PATH entries, got {args.models}")

    t0 = time.time()
    net = InceptionFeatures(args.device)
    true_factors = sample_factors(args.n, args.data_seed)
    real = render_batch(true_factors, size=64)
    f_real = net(real, progress=True)
    rows = {}
    for label, source in models.items():
        G = ganlens.load(source, device=args.device)
        fake = G.render(G.sample(args.n, seed=args.seed), noise_mode="const", batch_size=250)
        f_fake = net(fake, progress=True)
        kid, kid_std = kernel_inception_distance(f_fake, f_real)
        row = {"source": source, "kimg": G.provenance.get("training", {}).get("kimg"),
               "fid": frechet_distance(f_fake, f_real), "kid": kid, "kid_std": kid_std}
        cov: dict = {}
        coverage_part(G, fake, real, true_factors, cov)
        row["coverage_passes"] = sum(v["pass"] for v in cov["coverage"].values())
        row["coverage"] = {k: v.get("abs_diff_points", v.get("wasserstein_over_range"))
                           for k, v in cov["coverage"].items()}
        row["correlation_passes"] = sum(p["pass"] for p in cov["correlations"])
        rows[label] = row
        print(f"{label}: FID {row['fid']:.2f}  KID {kid:.4f}  coverage {row['coverage_passes']}/{len(cov['coverage'])}")
    write_result(args.out, {
        "n": args.n, "seed": args.seed, "data_seed": args.data_seed, "device": device_label(args.device),
        "inception": net.source,
        "coverage_units": "binary: |rate difference| in points (bar 3); continuous: 1-D Wasserstein / range (bar 0.05)",
        "models": rows, "seconds": round(time.time() - t0, 1),
    }, generators=models.values())


if __name__ == "__main__":
    main()
