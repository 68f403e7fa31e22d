"""Is bar 1 of issue 4 (separability) a limit of InterFaceGAN's recipe or of the model's latent space?

Bar 1 asks a linear SVM fitted on the top and bottom 2 % of the scored samples for val accuracy >= 95 % and
all-sample accuracy >= 75 % (labels: the predictor's score against a threshold, as in `fit_boundary`). This
benchmark splits --samples scored codes into a fit pool (70 %) and a test pool (30 %) and measures on the test
pool, per attribute, in W and in Z:

- `interfacegan`: `fit_boundary` on the fit pool (top/bottom 2 %, C = 1), its val accuracy on the held-out
  extremes and its accuracy on every test sample;
- other linear recipes on the same extremes (C = 100, the SVM in PCA-whitened coordinates, LDA, the class-mean
  difference), to see whether a better hyperplane was there to find;
- `linear_ceiling` and `mlp`: `ganlens.analysis.linearity` on the same pools: a logistic regression trained on
  every fit-pool sample with the same labels (an approximation of the best hyperplane over the whole population, so
  an attribute far under 75 % here cannot pass the all-sample bar with any boundary) and a two-layer perceptron
  (how much of the attribute the code determines non-linearly).

    python benchmarks/linear_ceiling.py     # -> results/linear_ceiling.json, docs/semantics_linear_ceiling.png
    python benchmarks/linear_ceiling.py --chart-only   # redraw the chart from the JSON
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.svm import SVC

import ganlens
from ganlens.analysis import linearity
from ganlens.analysis.plots import bar_panels
from ganlens.directions.svm import fit_boundary, split_extremes
from ganlens.io import save_image
from ganlens.scorers import load_scorer
from ganlens.scoring import score
from harness import ROOT, write_result

RATIO, SPLIT = 0.02, 0.7


def attribute_row(x: np.ndarray, y: np.ndarray, binary: bool, n_fit: int, seed: int) -> dict:
    """Every recipe's val accuracy (extremes) and test-pool accuracy for one attribute in one space."""
    xf, yf, xt, yt = x[:n_fit], y[:n_fit], x[n_fit:], y[n_fit:]
    ifg = fit_boundary(xf, yf, ratio=RATIO, split=SPLIT, binary=binary, seed=seed)
    thr = ifg.metrics["threshold"]
    truth_t = (yt >= thr).astype(np.int64)
    row = {"threshold": thr, "test_positive_rate": float(truth_t.mean())}

    def test_acc(normal: np.ndarray, bias: float) -> float:
        return float(((xt @ normal + bias > 0).astype(np.int64) == truth_t).mean())

    row["interfacegan"] = {"val_accuracy": ifg.metrics["val_accuracy"], "test_accuracy": test_acc(ifg.vector, ifg.bias)}
    k = int(len(yf) * RATIO)
    _, _, ti, vi, lab = split_extremes(yf, k, int(k * SPLIT), seed)  # the same extremes and split as fit_boundary's
    mean = xf.mean(0)
    evals, evecs = np.linalg.eigh(np.cov(xf.T))
    whiten = evecs / np.sqrt(np.clip(evals, 1e-12, None))
    others = {
        "svm_C100": SVC(kernel="linear", C=100).fit(xf[ti], lab[ti]),
        "svm_whitened": SVC(kernel="linear", C=1).fit((xf[ti] - mean) @ whiten, lab[ti]),
        "lda": LinearDiscriminantAnalysis().fit(xf[ti], lab[ti]),
    }
    for name, clf in others.items():
        w, b = clf.coef_.reshape(-1), float(clf.intercept_[0])
        if name == "svm_whitened":  # back to the code's coordinates
            w, b = whiten @ w, b - mean @ (whiten @ w)
        val = float((((xf[vi] @ w + b) > 0).astype(np.int64) == lab[vi]).mean())
        row[name] = {"val_accuracy": val, "test_accuracy": test_acc(w, b),
                     "cosine_to_interfacegan": float(w @ ifg.vector / np.linalg.norm(w))}
    diff = xf[ti][lab[ti] == 1].mean(0) - xf[ti][lab[ti] == 0].mean(0)
    mid = (xf[ti][lab[ti] == 1].mean(0) + xf[ti][lab[ti] == 0].mean(0)) / 2
    row["mean_difference"] = {"val_accuracy": float((((xf[vi] - mid) @ diff > 0) == lab[vi]).mean()),
                              "test_accuracy": test_acc(diff, float(-mid @ diff)),
                              "cosine_to_interfacegan": float(diff @ ifg.vector / np.linalg.norm(diff))}
    lin = linearity(x, y, thr, split=n_fit / len(y), seed=seed, shuffle=False)  # the same fit and test pools
    assert (lin.num_train, lin.num_test) == (n_fit, len(yt))
    row["linear_ceiling"] = {"test_accuracy": lin.hyperplane}
    row["mlp"] = {"test_accuracy": lin.perceptron}
    row["majority_class"], row["verdict"] = lin.majority, lin.verdict()
    return row


def chart(rows: dict) -> np.ndarray:
    """Test-pool accuracy per attribute, W then Z: InterFaceGAN's boundary, the best hyperplane, the perceptron."""
    names = list(rows["w"])
    kinds = [("InterFaceGAN 2 %", "interfacegan"), ("best hyperplane", "linear_ceiling"), ("perceptron", "mlp")]
    series = {f"{space.upper()} {label}": [rows[space][a][key]["test_accuracy"] for a in names]
              for space in ("w", "z") for label, key in kinds}
    return bar_panels(names, series, reference={k: 0.75 for k in series}, limits=(0.5, 1.0), width=120, fmt="{:.3f}",
                      title="accuracy on held-out samples of a hyperplane fitted as InterFaceGAN does, of the best "
                            "hyperplane, and of a two-layer perceptron (axes 0.5 to 1; dashed: bar 1's 75 %)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=30_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "results" / "linear_ceiling.json"))
    ap.add_argument("--chart", default=str(ROOT / "docs" / "semantics_linear_ceiling.png"))
    ap.add_argument("--chart-only", action="store_true", help="only redraw --chart from the --out file")
    args = ap.parse_args()
    if args.chart_only:
        save_image(chart(json.loads(Path(args.out).read_text())["rows"]), Path(args.chart), scale=2)
        return
    torch.set_num_threads(args.threads)
    t0 = time.time()
    G = ganlens.load("synthfaces64").eval()
    scorer = load_scorer("synthfaces64")
    res = score(G, args.samples, scorer, seed=args.seed, batch_size=64, progress=True)
    t_score = time.time() - t0
    codes = {"w": res.codes.tensor.double().numpy(),
             "z": G.sample(args.samples, seed=args.seed, space="z").tensor.double().numpy()}  # the same draws
    n_fit = int(args.samples * SPLIT)
    rows: dict = {"w": {}, "z": {}}
    for space in ("w", "z"):
        for info in scorer.attributes:
            r = attribute_row(codes[space], res[info.name].astype(np.float64), info.kind == "binary", n_fit, args.seed)
            rows[space][info.name] = r
            print(f"{space} {info.name:12s} InterFaceGAN val {r['interfacegan']['val_accuracy']:.3f} test "
                  f"{r['interfacegan']['test_accuracy']:.3f} | best other linear "
                  f"{max(r[k]['test_accuracy'] for k in ('svm_C100', 'svm_whitened', 'lda', 'mean_difference')):.3f}"
                  f" | hyperplane ceiling {r['linear_ceiling']['test_accuracy']:.3f} | mlp {r['mlp']['test_accuracy']:.3f}",
                  flush=True)
    summary = {space: {
        "interfacegan_passes_bar1": sorted(a for a, r in rows[space].items() if r["interfacegan"]["val_accuracy"] >= 0.95
                                           and r["interfacegan"]["test_accuracy"] >= 0.75),
        "ceiling_below_0.75": sorted(a for a, r in rows[space].items() if r["linear_ceiling"]["test_accuracy"] < 0.75),
        "mlp_minus_ceiling_over_0.05": sorted(a for a, r in rows[space].items()
                                              if r["mlp"]["test_accuracy"] - r["linear_ceiling"]["test_accuracy"] > 0.05),
    } for space in rows}
    save_image(chart(rows), Path(args.chart), scale=2)
    write_result(args.out, {
        "model": "synthfaces64", "scorer": "synthfaces64", "samples": args.samples, "fit_pool": n_fit,
        "test_pool": args.samples - n_fit, "ratio": RATIO, "seed": args.seed, "rows": rows, "summary": summary,
        "seconds": {"scoring": round(t_score, 1), "total": round(time.time() - t0, 1)}, "threads": args.threads},
        generators=["synthfaces64"])
    print(summary)


if __name__ == "__main__":
    main()
