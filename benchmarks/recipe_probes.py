"""Choose synthfaces64 v2's recipe by probes of equal wall-clock time on the same data.

    python benchmarks/recipe_probes.py run --data data/sf100k.npz --minutes 50     # all probes at once
    python benchmarks/recipe_probes.py evaluate                                      # -> results/recipe_probes.json

`run` starts every probe at the same moment, one thread each (the 2-core machine shares its cores among them
evenly), each stopping itself after --minutes; `evaluate` reads every probe's last G_ema with the domain
yardsticks (benchmarks/model_quality.py's predictor-feature Fréchet distance, precision/recall, factor
coverage), its batch-1 synthesis time and its editability (visible-edit share along quick InterFaceGAN
boundaries), and draws the probes' sample grids side by side in docs/recipe_probes.png.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from harness import ROOT, write_result

# The StyleGAN2-ADA settings below 128 px: a 2-layer mapping, R1 gamma = 0.0002 * res^2 / batch, EMA 10 kimg.
ADA_LOW_RES = ["--map-layers", "2", "--gamma", "0.0256", "--ema-kimg", "10"]
PROBES = {
    "shipped": ["--cbase", "8192", "--cmax", "128", "--map-layers", "8", "--gamma", "0.1", "--ema-kimg", "10"],
    "c64": ["--cbase", "4096", "--cmax", "128", *ADA_LOW_RES],
    "c32": ["--cbase", "2048", "--cmax", "128", *ADA_LOW_RES],
    "c32-pl": ["--cbase", "2048", "--cmax", "128", *ADA_LOW_RES, "--pl-weight", "2"],
}


def run(args: argparse.Namespace) -> None:
    runs = []
    for name in args.probes.split(","):
        out = Path(args.runs) / f"probe-{name}"
        cmd = [sys.executable, "-m", "ganlens", "train", "gan", "--data", args.data, "--out", str(out),
               "--kimg", "10000", "--batch", "32", "--snap", str(args.snap), "--max-minutes", str(args.minutes),
               "--threads", "1", "--seed", "0", "--name", f"probe-{name}", *PROBES[name]]
        out.mkdir(parents=True, exist_ok=True)
        runs.append((name, out, cmd))
    start_together(runs)


def start_together(runs: list[tuple[str, Path, list[str]]]) -> None:
    """Start every (name, run folder, command) at once, its command in command.txt and its output in stdout.log in
    the folder, and wait for all of them: runs compared at equal wall clock."""
    procs = []
    for name, out, cmd in runs:
        (out / "command.txt").write_text(" ".join(cmd) + "\n")
        procs.append((name, subprocess.Popen(cmd, stdout=open(out / "stdout.log", "w"), stderr=subprocess.STDOUT)))
        print("started", name, flush=True)
    for name, p in procs:
        print(name, "exit", p.wait(), flush=True)


def snapshot_kimg(path: Path) -> float:
    return float(path.stem.split("-")[1].removesuffix("kimg"))


def predictor_fd(G, real_feats: np.ndarray, n: int, embed) -> float:
    from ganlens.metrics.fid import frechet_distance

    fake = G.render(G.sample(n, seed=0), batch_size=250, precision="bf16")
    return frechet_distance(embed(fake), real_feats)


def evaluate(args: argparse.Namespace) -> None:
    import ganlens
    from ganlens.analysis.plots import line_chart
    from ganlens.io import make_grid, save_image
    from ganlens.scorers import load_scorer
    from ganlens.synthdata import render_batch, sample_factors
    from model_quality import coverage_part, domain_part, edits_part, speed_part

    scorer = load_scorer("synthfaces64")
    embed = scorer.features
    factors = sample_factors(args.n, 777)
    real = render_batch(factors, size=64)
    other = render_batch(sample_factors(args.n, 778), size=64)
    real_curve = embed(real[: args.curve_n])
    out_path = Path(args.out)
    results = json.loads(out_path.read_text()) if out_path.exists() else {}
    results.update({"n": args.n, "data_seed": 777, "probes": results.get("probes", {})})
    grids, curves = [], {}
    for name in args.probes.split(","):
        run_dir = Path(args.runs) / f"probe-{name}"
        snaps = sorted(run_dir.glob("snapshot-*.safetensors"), key=snapshot_kimg)
        if not snaps:
            print(f"{name}: no snapshot in {run_dir}", flush=True)
            continue
        log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
        G = ganlens.load(str(snaps[-1]))
        row = {"command": (run_dir / "command.txt").read_text().strip(), "kimg": snapshot_kimg(snaps[-1]),
               "wall_s": log[-1]["wall_s"], "params_G": sum(p.numel() for p in G.parameters())}
        fake = G.render(G.sample(args.n, seed=0), batch_size=250, precision="bf16")
        domain_part(fake, real, other, row)
        coverage_part(G, fake, real, factors, row)
        speed_part(G, row)
        edits_part(G, row, attributes=("glasses", "smile"), test_samples=args.edit_n)
        on_curve = snaps[:: max(1, len(snaps) // 8)]
        on_curve += [] if on_curve[-1] == snaps[-1] else [snaps[-1]]
        row["curve"] = [{"kimg": snapshot_kimg(p), "predictor_fd": predictor_fd(ganlens.load(str(p)), real_curve,
                                                                                   args.curve_n, embed)}
                        for p in on_curve]
        curves[name] = ([c["kimg"] for c in row["curve"]], [c["predictor_fd"] for c in row["curve"]])
        results["probes"][name] = row
        grids.append(make_grid(fake[:16], ncols=4))
        print(name, {k: v for k, v in row.items() if k in ("kimg", "domain")}, flush=True)
        write_result(out_path, results, generators=[snaps[-1]], parts=[name])
    if grids:
        save_image(make_grid(np.stack(grids), ncols=len(grids), pad=6), ROOT / "docs" / "recipe_probes.png", scale=2)
        save_image(line_chart(curves, title=f"probes: predictor-feature FD ({args.curve_n} samples) vs kimg, "
                              f"{'/'.join(curves)}", xlabel="kimg", ylabel="predictor FD", log_y=True),
                   ROOT / "docs" / "recipe_probes_curve.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--data", default="data/sf100k.npz")
    r.add_argument("--runs", default="runs")
    r.add_argument("--minutes", type=float, default=50)
    r.add_argument("--snap", type=float, default=10)
    r.add_argument("--probes", default=",".join(PROBES))
    e = sub.add_parser("evaluate")
    e.add_argument("--runs", default="runs")
    e.add_argument("--probes", default=",".join(PROBES))
    e.add_argument("--n", type=int, default=2000, help="samples for the distances and coverage")
    e.add_argument("--curve-n", type=int, default=1000, help="samples per snapshot on the curve")
    e.add_argument("--edit-n", type=int, default=300, help="fresh samples per visible-edit share")
    e.add_argument("--out", default=str(ROOT / "results" / "recipe_probes.json"))
    args = ap.parse_args()
    if args.cmd == "run":
        run(args)
    else:
        evaluate(args)


if __name__ == "__main__":
    main()
