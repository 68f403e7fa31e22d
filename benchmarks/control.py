"""Explicit control on synthfaces64 (issue 9): how close does a requested value land, and what else moves?

Three (plus one) ways to set an attribute to a value, compared on the same requests:
  - boundary:        move along the InterFaceGAN W boundary by the distance a linear model predicts;
  - encoders/base:   control encoders E_k: y -> w on the bundled model (GAN-Control on an ordinary StyleGAN2);
  - encoders/split0: E_k: y -> t_k on the split-latent model before any training (the construction alone);
  - encoders/split:  E_k on the split-latent model after the contrastive fine-tune (runs/control/ft).
For each controlled attribute, REQUESTS random targets (uniform between the 5th and 95th percentile of the base
model's scores) are applied to the same REQUESTS samples. Error: |requested - predicted| where the bundled
predictor reads the generated image. Drift: mean change of the 12 other attributes, each in fractions of its range
(probability change for the binary ones). Realism proxy: Frechet distance between predictor embeddings of 2000
generated and 1000 real synthfaces (lower is better; the base model is the reference).

Run (about 20-30 min on 2 busy CPU cores, bf16 synthesis):
    python benchmarks/control.py                      # -> results/control.json, docs/control_*.png
    python benchmarks/control.py --quick              # smoke run with tiny counts
    python benchmarks/control.py --ship [DIR]         # also write the synthfaces64 control assets (to DIR)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import ganlens
from ganlens import LatentCode
from ganlens.analysis.plots import bar_panels
from ganlens.bundled import ASSETS
from ganlens.control import (
    SplitGenerator,
    fit_boundary_control,
    fit_from_samples,
    load_split_generator,
)
from ganlens.directions.bundled import load_bundled
from ganlens.edit import labelled_grid
from ganlens.io import save_image, to_uint8
from ganlens.metrics.fid import frechet_distance
from ganlens.scorers import load_scorer
from ganlens.synthdata import FACTORS, render_batch, sample_factors
from harness import ROOT, write_result

CONTROLLED = ["yaw", "smile", "age", "hair_color"]  # layout, attribute (x2, correlated in the data), colour
LEVELS = {f.name: f.level for f in FACTORS}
FULL = {"fit": 2000, "fit_split": 1000, "requests": 500, "realism": 1000}
QUICK = {"fit": 200, "fit_split": 200, "requests": 40, "realism": 200}


def fast_render(G):
    """code -> uint8 images with synthesis under bf16 autocast (2-3x faster on CPU; scores move < 0.01)."""

    @torch.no_grad()
    def render(code: LatentCode) -> np.ndarray:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return to_uint8(G.synthesize(code).float())

    return render


def read(render, scorer, w: torch.Tensor, batch: int = 100) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Scores and predictor embeddings of the images of codes w."""
    scores: dict[str, list] = {}
    embs = []
    for i in range(0, len(w), batch):
        img = render(LatentCode("w", w[i : i + batch]))
        for k, v in scorer(img).items():
            scores.setdefault(k, []).append(v)
        with torch.no_grad():
            embs.append(scorer.embed(img).numpy())
    return {k: np.concatenate(v) for k, v in scores.items()}, np.concatenate(embs)


def normalised(scorer, name: str, x: np.ndarray) -> np.ndarray:
    """Scores in fractions of the attribute's range (continuous) or probabilities (binary)."""
    info = scorer.info(name)
    if info.kind == "binary":
        return 1 / (1 + np.exp(-x.astype(np.float64)))
    return x / (info.high - info.low)


def evaluate(name, apply, render, scorer, w0, before, targets) -> dict:
    """Apply every attribute's requests (one target per sample) to the samples w0; measure error and drift."""
    out = {}
    for attr, y in targets.items():
        moved = apply(w0, {attr: y})
        after, _ = read(render, scorer, moved)
        err = np.abs(after[attr] - y)
        others = [a for a in scorer.names if a != attr]
        drift = {o: float(np.mean(np.abs(normalised(scorer, o, after[o]) - normalised(scorer, o, before[o]))))
                 for o in others}
        info = scorer.info(attr)
        out[attr] = {
            "mae": float(err.mean()),
            "mae_fraction_of_range": float(err.mean() / (info.high - info.low)),
            "median_abs_error": float(np.median(err)),
            "mae_if_unchanged": float(np.abs(before[attr] - y).mean()),
            # How much of the distance to the request the method closed (1: all of it, 0: none, < 0: worse).
            "error_reduction": float(1 - err.mean() / np.abs(before[attr] - y).mean()),
            "drift_mean_others": float(np.mean(list(drift.values()))),
            "drift_other_controlled": float(np.mean([drift[o] for o in CONTROLLED if o != attr])),
            "drift_max_attribute": max(drift, key=drift.get),
            "drift": drift,
            "latent_step": float((moved - w0).norm(dim=1).mean()),
        }
        print(f"  {name:16s} {attr:10s} MAE {out[attr]['mae']:.3f} (unchanged {out[attr]['mae_if_unchanged']:.3f}) "
              f"drift {out[attr]['drift_mean_others']:.4f}", flush=True)
    return out


def realism(render, scorer, G, n: int, seed: int, real_emb: np.ndarray) -> float:
    w = G.sample(n, seed=seed, space="w").tensor
    _, emb = read(render, scorer, w)
    return frechet_distance(emb, real_emb)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--split-model", default="runs/control/ft/latest.safetensors")
    ap.add_argument("--out", default=str(ROOT / "results" / "control.json"))
    ap.add_argument("--figures", default=str(ROOT / "docs"))
    ap.add_argument("--ship", nargs="?", const=str(ASSETS), default=None, metavar="DIR",
                    help="write the base model's fitted encoders and boundary calibration (all 13 attributes) to "
                         "DIR/synthfaces64-control-{encoders,boundary}.safetensors (default DIR: the package's "
                         "assets, src/ganlens/assets)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    n = QUICK if args.quick else FULL
    t_start = time.time()
    scorer = load_scorer("synthfaces64")
    infos = list(scorer.attributes)
    base = ganlens.load("synthfaces64")
    directions = load_bundled("synthfaces64")

    real = render_batch(sample_factors(n["realism"], seed=777))
    with torch.no_grad():
        real_emb = np.concatenate([scorer.embed(real[i : i + 200]).numpy() for i in range(0, len(real), 200)])

    result: dict = {"controlled": CONTROLLED, "levels": {a: LEVELS[a] for a in CONTROLLED}, "counts": n,
                    "threads": torch.get_num_threads(), "quick": args.quick,
                    "scorer": "synthfaces64 predictor", "precision": "bf16 autocast synthesis", "methods": {}}

    # --- base model: one set of fitting samples for the boundary calibration and the encoders.
    render = fast_render(base)
    w_fit = base.sample(n["fit"], seed=1, space="w").tensor
    fit_scores, _ = read(render, scorer, w_fit)
    boundary = fit_boundary_control(directions, w_fit, fit_scores, infos, base.name,
                                    meta={"sample_seed": 1, "script": "benchmarks/control.py"})
    encoders = fit_from_samples(w_fit, fit_scores, infos, base.name,
                                meta={"sample_seed": 1, "script": "benchmarks/control.py", "scorer": "synthfaces64"})
    print(f"fitted boundary calibration and encoders on {n['fit']} samples ({time.time() - t_start:.0f} s)", flush=True)
    if args.ship:
        Path(args.ship).mkdir(parents=True, exist_ok=True)
        boundary.save(Path(args.ship) / "synthfaces64-control-boundary.safetensors")
        encoders.save(Path(args.ship) / "synthfaces64-control-encoders.safetensors")

    rng = np.random.default_rng(3)
    ranges = {i.name: (i.low, i.high) for i in infos}  # the predictor can read a little past a factor's range
    lo_hi = {a: np.clip(np.quantile(fit_scores[a], [0.05, 0.95]), *ranges[a]) for a in CONTROLLED}
    targets = {a: rng.uniform(*lo_hi[a], n["requests"]).astype(np.float32) for a in CONTROLLED}
    result["target_ranges"] = {a: [float(v) for v in lo_hi[a]] for a in CONTROLLED}
    w0 = base.sample(n["requests"], seed=2, space="w").tensor
    before, _ = read(render, scorer, w0)
    controls = {"boundary": (base, boundary.apply),
                "encoders/base": (base, lambda w, t: encoders.apply(base, w, t))}
    result["methods"]["boundary"] = {
        "model": base.name, "calibration_r2": {a: boundary.calibrations[a].r2 for a in CONTROLLED},
        "per_attribute": evaluate("boundary", boundary.apply, render, scorer, w0, before, targets)}
    result["methods"]["encoders/base"] = {
        "model": base.name, "fit": {a: encoders.meta["fit"][a] for a in CONTROLLED},
        "per_attribute": evaluate("encoders/base", controls["encoders/base"][1], render, scorer, w0, before, targets)}
    result["realism_fd"] = {"base": realism(render, scorer, base, n["realism"], 9, real_emb)}

    # --- split-latent models: the construction alone, and after the contrastive fine-tune.
    splits = {"encoders/split0": SplitGenerator.from_base(base, directions, CONTROLLED, seed=0)}
    split_path = Path(args.split_model)
    if split_path.exists():
        splits["encoders/split"] = load_split_generator(split_path)
    else:
        result["missing"] = f"no fine-tuned split model at {split_path}; run ganlens.training.control first"
    for key, S in splits.items():
        r = fast_render(S)
        w_fit_s = S.sample(n["fit_split"], seed=1, space="w").tensor
        s_scores, _ = read(r, scorer, w_fit_s)
        t = S.mapping.subvectors(w_fit_s)
        enc_s = fit_from_samples(w_fit_s, s_scores, [scorer.info(a) for a in CONTROLLED], S.name, subvectors=t)
        ws0 = S.sample(n["requests"], seed=2, space="w").tensor
        before_s, _ = read(r, scorer, ws0)
        controls[key] = (S, lambda w, tg, S=S, e=enc_s: e.apply(S, w, tg))
        training = S.provenance.get("training") or {}
        result["methods"][key] = {
            "model": S.name, "fine_tune_steps": training.get("step", 0), "images_seen": training.get("images_seen", 0),
            "fit": {a: enc_s.meta["fit"][a] for a in CONTROLLED},
            "per_attribute": evaluate(key, controls[key][1], r, scorer, ws0, before_s, targets)}
        result["realism_fd"][key.split("/")[1]] = realism(r, scorer, S, n["realism"], 9, real_emb)

    # --- summary table and figures.
    summary = {}
    for key, m in result["methods"].items():
        pa = m["per_attribute"]
        summary[key] = {"mae": {a: round(pa[a]["mae"], 4) for a in CONTROLLED},
                        "mean_mae_fraction_of_range": round(float(np.mean([pa[a]["mae_fraction_of_range"] for a in CONTROLLED])), 4),
                        "error_reduction": {a: round(pa[a]["error_reduction"], 3) for a in CONTROLLED},
                        "mean_drift": round(float(np.mean([pa[a]["drift_mean_others"] for a in CONTROLLED])), 4)}
    result["summary"] = summary
    result["wall_time_s"] = round(time.time() - t_start, 1)
    write_result(args.out, result, ["synthfaces64", *([split_path] if "encoders/split" in splits else [])])
    print(json.dumps(summary, indent=2))
    figures(Path(args.figures), result, controls, args.quick)
    print(f"done in {time.time() - t_start:.0f} s")


def figures(folder: Path, result: dict, controls: dict, quick: bool) -> None:
    """control_samples.png: one sample per attribute set to five values by every method; control_bars.png."""
    suffix = "_quick" if quick else ""
    tiles, rows = [], []
    for attr in CONTROLLED:
        lo, hi = result["target_ranges"][attr]
        values = np.linspace(lo, hi, 5, dtype=np.float32)
        for key, (G, apply) in controls.items():
            w = G.sample(1, seed=4, space="w").tensor
            moved = apply(w.repeat(5, 1), {attr: values})
            tiles.append(fast_render(G)(LatentCode("w", torch.cat([w, moved]))))
            rows.append(f"{attr}: {key}")
    cols = ["sample", "5th pct", "27.5th", "50th", "72.5th", "95th pct"]
    save_image(labelled_grid(np.concatenate(tiles), ncols=6, col_labels=cols, row_labels=rows, scale=2,
                             title="each row: one sample, the attribute requested from its 5th to 95th percentile"),
               folder / f"control_samples{suffix}.png")
    keys = list(result["summary"])
    series = {f"MAE {a}": [result["methods"][k]["per_attribute"][a]["mae"] for k in keys] for a in CONTROLLED}
    series["drift (mean)"] = [result["summary"][k]["mean_drift"] for k in keys]
    save_image(bar_panels(keys, series, title="explicit control: error of the requested value and drift of the others",
                          width=90, fmt="{:.3f}"), folder / f"control_bars{suffix}.png")


if __name__ == "__main__":
    main()
