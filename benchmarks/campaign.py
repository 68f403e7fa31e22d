"""The synthfaces64 v2 training campaign: resumable stints on the 2-core CPU, its state committed between them.

    python benchmarks/campaign.py start [--minutes 150]   # first thing in a stint: resume (or begin) in the background
    python benchmarks/campaign.py pack                   # last thing: compact state + the curve so far, to commit
    python benchmarks/campaign.py status
    python benchmarks/campaign.py stop                   # end a stint early: the run snapshots and exits at once
    bash benchmarks/campaign_gpu.sh [MINUTES]           # on a lent GPU (the device tool): one stint, state to $OUT
    python benchmarks/campaign.py adopt DIR              # back here: continue from what the GPU stint returned
                                                         # (or from a fork's run folder, benchmarks/recipe_forks.py)
    python benchmarks/campaign.py ship SNAPSHOT --quality results/model_quality-v2-XXXXkimg.json
                                                         # when the bar holds: it becomes the bundled synthfaces64

Everything lives at one fixed path, replaced each time: campaign/synthfaces64-v2/
- recipe.json: the `ganlens train gan` options of the run (chosen by benchmarks/recipe_probes.py) and the probe
  it continues;
- state.safetensors: G, D, G_ema (fp32) and Adam's moments (ganlens.training.resume: no pickle);
- curve.json: per snapshot, kimg, wall time and the domain yardsticks on 1,000 samples (predictor-feature
  Fréchet distance, glasses / beard rates, yaw distance); docs/campaign_curve.png draws it and
  docs/campaign_latest.png is the latest sample grid.
The working run is runs/campaign (ignored by git); `start` unpacks the committed state there when it is missing,
renders the training set when data/ lacks it, and launches the run with --max-minutes so it snapshots and stops
by itself before the stint ends.

Keep the cores free while it runs: a 2-thread run with anything else busy on the CPU crawls (stint 1: a test run at
nice 19 beside it cut it from about 180 to about 25 kimg/h, its threads waiting on each other), so do CPU-heavy
work before `start` or after the run stops, or give the run `--threads 1` in recipe.json for a stint that must share.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from harness import ROOT
from recipe_probes import snapshot_kimg

HOME = ROOT / "campaign" / "synthfaces64-v2"
RUN = ROOT / "runs" / "campaign"
DATA = ROOT / "data" / "sf100k.npz"
DATA_COMMAND = ["ganlens", "data", "build", "synthfaces", "--n", "100000", "--seed", "0", "--out", str(DATA)]


def recipe() -> dict:
    path = HOME / "recipe.json"
    if not path.exists():
        sys.exit(f"no {path}: choose the recipe first (benchmarks/recipe_probes.py) and write it there")
    return json.loads(path.read_text())


def start(args: argparse.Namespace) -> None:
    rec = recipe()
    if not DATA.exists():
        subprocess.run([sys.executable, "-m", "ganlens", *DATA_COMMAND[1:]], check=True)
    if not (RUN / "state").exists():
        from ganlens.training.resume import unpack_state

        packed = HOME / "state.safetensors"
        if packed.exists():
            unpack_state(packed, RUN)
            print(f"unpacked {packed} into {RUN}")
        elif rec.get("continues"):
            src = ROOT / rec["continues"]
            shutil.copytree(src / "state", RUN / "state")
            print(f"starting from the probe's state {src}")
    cmd = [sys.executable, "-m", "ganlens", "train", "gan", "--data", str(DATA), "--out", str(RUN),
           "--max-minutes", str(args.minutes), *rec["options"]]
    log = open(RUN / "stdout.log", "a")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    (RUN / "pid").write_text(str(proc.pid))
    print(f"started (pid {proc.pid}): {' '.join(cmd)}")
    print(favour(proc.pid))


def training_pid(run: Path) -> int | None:
    """The pid of the run training in `run` (its `pid` file), or None when none is alive."""
    pid_file = run / "pid"
    pid = int(pid_file.read_text()) if pid_file.exists() else None
    return pid if pid is not None and Path(f"/proc/{pid}").exists() else None


def stint_options(batch: int | None) -> list[str]:
    """The recipe's `ganlens train gan` options, with another batch size where asked (a GPU idles at batch 32).
    R1's gamma follows the batch as StyleGAN2-ADA's rule (0.0002 * res^2 / batch) does; the rest stays."""
    options = list(recipe()["options"])
    if batch:
        i, j = options.index("--batch") + 1, options.index("--gamma") + 1
        options[j] = f"{float(options[j]) * int(options[i]) / batch:.6g}"
        options[i] = str(batch)
    return options


def gpu_stint(args: argparse.Namespace) -> None:
    """One stint in the foreground on a lent GPU, then the packed state, the log and the new snapshots to --out.

    Run by benchmarks/campaign_gpu.sh on the device machine from a copy of this tree: the committed state is the
    starting point, the training set is rendered there, and what comes back is what `adopt` continues from.
    """
    from ganlens.training.resume import pack_state, unpack_state

    out, run = Path(args.out), Path(args.run)
    out.mkdir(parents=True, exist_ok=True)
    if not DATA.exists():
        subprocess.run([sys.executable, "-m", "ganlens", *DATA_COMMAND[1:]], check=True)
    if not (run / "state").exists():
        unpack_state(HOME / "state.safetensors", run)
    before = set(run.glob("snapshot-*.safetensors"))
    cmd = [sys.executable, "-m", "ganlens", "train", "gan", "--data", str(DATA), "--out", str(run),
           "--max-minutes", str(args.minutes), "--device", args.device,
           *stint_options(args.batch)]
    print(" ".join(cmd), flush=True)
    with open(out / "stdout.log", "w") as log:  # the progress bar would flood the device tool's output tail
        code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
    # A crash keeps what the last snapshot saved: bring that back too.
    pack_state(run, out / "state.safetensors")
    shutil.copyfile(run / "log.jsonl", out / "log.jsonl")
    new = sorted(set(run.glob("snapshot-*.safetensors")) - before)
    for snap in new[-args.max_snapshots:]:
        shutil.copyfile(snap, out / snap.name)
        grid = run / snap.name.replace("snapshot-", "grid-").replace(".safetensors", ".png")
        if grid.exists():
            shutil.copyfile(grid, out / grid.name)
    print(f"stint ended with code {code}; {len(new)} snapshots, the last {min(len(new), args.max_snapshots)} "
          f"and the packed state in {out}")
    if code:
        sys.exit(code)


def adopt(args: argparse.Namespace) -> None:
    """Continue the campaign from a GPU stint's output or a fork's run folder (benchmarks/recipe_forks.py): its
    state replaces runs/campaign/state, its snapshots and grids join the run folder (so `pack` draws them on the
    curve) and its log is appended."""
    from ganlens.training.resume import unpack_state

    src, run = Path(args.src), Path(args.run)
    packed = (src / "state.safetensors").exists()
    if not packed and not (src / "state").is_dir():
        sys.exit(f"{src} holds neither state.safetensors (a GPU stint's output) nor state/ (a run folder)")
    if (pid := training_pid(run)) is not None:
        sys.exit(f"the run {pid} is training in {run}: stop it first")
    old = run / "state"
    if old.exists():
        if (run / "state.before-adopt").exists():
            sys.exit(f"{run / 'state.before-adopt'} exists from an earlier adopt: remove it first")
        shutil.move(old, run / "state.before-adopt")  # kept, not deleted: the user removes it
    if packed:
        unpack_state(src / "state.safetensors", run)
    else:
        shutil.copytree(src / "state", run / "state")
    for f in sorted(src.glob("snapshot-*.safetensors")) + sorted(src.glob("grid-*.png")):
        shutil.copyfile(f, run / f.name)
    known = (run / "log.jsonl").read_text().splitlines() if (run / "log.jsonl").exists() else []
    seen = {json.loads(line)["kimg"] for line in known}
    extra = [line for line in (src / "log.jsonl").read_text().splitlines() if json.loads(line)["kimg"] not in seen]
    with open(run / "log.jsonl", "a") as fh:
        fh.writelines(line + "\n" for line in extra)
    print(f"adopted {src}: the run continues from its state; {len(extra)} log lines added; "
          f"`campaign.py start` resumes, `campaign.py pack` adds its snapshots to the curve")


# Issue 35's bar for the weights that replace synthfaces64 (model_quality.py's keys)
FID_BAR, FID_MIN_N, BATCH1_MS_BAR = 25.0, 5000, 10.0


def bar_failures(quality: dict) -> list[str]:
    """What keeps a model-quality result (benchmarks/model_quality.py's JSON) below the shipping bar; [] if none."""
    out = []
    fid, n = quality.get("fid"), quality.get("fid_n") or 0
    if fid is None or n < FID_MIN_N:
        out.append(f"no FID on >= {FID_MIN_N} samples (run model_quality.py --parts fid --n {FID_MIN_N})")
    elif fid > FID_BAR:
        out.append(f"FID {fid:.1f} > {FID_BAR:g}")
    if "coverage" not in quality:
        out.append("no coverage part")
    elif not quality.get("all_coverage_pass"):
        out.append("coverage outside its bars: " + ", ".join(k for k, v in quality["coverage"].items()
                                                              if not v.get("pass")))
    ms = (quality.get("synthesis_speed") or {}).get("batch1_ms")
    if ms is None:
        out.append("no speed part")
    elif ms > BATCH1_MS_BAR:
        out.append(f"batch-1 synthesis {ms:.1f} ms > {BATCH1_MS_BAR:g} ms")
    return out


def campaign_summary(curve: dict) -> dict:
    """kimg and training wall time per device, from the curve's points (each interval counted on the device of the
    snapshot that ends it)."""
    per: dict[str, dict] = {}
    last_kimg, last_wall = 0.0, 0.0
    for p in sorted(curve.get("points", []), key=lambda p: p["kimg"]):
        d = per.setdefault(p.get("device") or "cpu (model not recorded)", {"kimg": 0.0, "wall_h": 0.0})
        d["kimg"] = round(d["kimg"] + p["kimg"] - last_kimg, 2)
        d["wall_h"] = round(d["wall_h"] + (p["wall_s"] - last_wall) / 3600, 2)
        last_kimg, last_wall = p["kimg"], p["wall_s"]
    return per


def ship(args: argparse.Namespace) -> None:
    """Install a snapshot's G_ema as the bundled synthfaces64, with its provenance, if its measured quality holds
    the bar (or with --anyway, which records that it did not)."""
    import datetime

    import ganlens
    from ganlens.models.native import save_generator
    from harness import generator_hash

    snapshot, quality_path = Path(args.snapshot), Path(args.quality)
    quality = json.loads(quality_path.read_text())
    digest = generator_hash(snapshot)
    measured = {h for part in quality.get("provenance_by_part", {"all": quality.get("provenance", {})}).values()
                for h in (part.get("generators") or {}).values()}
    if measured != {digest}:
        sys.exit(f"{quality_path} measured other weights than {snapshot} (hashes {sorted(measured)} vs {digest})")
    failures = bar_failures(quality)
    if failures and not args.anyway:
        sys.exit("not shipping, below the bar: " + "; ".join(failures) + " (--anyway ships it regardless)")
    G = ganlens.load(str(snapshot))
    rec = recipe()
    syn = G.init_kwargs["synthesis_kwargs"]
    curve_path = HOME / "curve.json"
    provenance = {
        "training": G.provenance.get("training", {}),
        "description": (f"StyleGAN2 ({G.img_resolution} px, {syn['channel_base'] // G.img_resolution} channels at "
                        f"full resolution up to {syn['channel_max']}, z={G.z_dim}, w={G.w_dim}, "
                        f"{G.init_kwargs['mapping_kwargs']['num_layers']}-layer mapping) trained on the procedural "
                        "synthfaces domain of ganlens.synthdata; G_ema weights"),
        "dataset": {"domain": "synthfaces", "n": 100000, "seed": 0, "size": 64, "command": " ".join(DATA_COMMAND)},
        "recipe": {"summary": rec["recipe"], "options": rec["options"], "why": rec.get("why")},
        "campaign": {"stints_by_device": campaign_summary(json.loads(curve_path.read_text()))
                     if curve_path.exists() else {}, "curve": str(curve_path.relative_to(ROOT))},
        "date": datetime.date.today().isoformat(),
        "metrics": {"source": str(quality_path), "bar_failures": failures,
                    **{k: quality[k] for k in ("fid", "fid_n", "kid", "domain", "all_coverage_pass",
                                               "all_correlations_pass", "synthesis_speed") if k in quality}},
    }
    G.name = "synthfaces64"
    dest = Path(args.to)
    save_generator(G, dest, provenance=provenance)
    print(f"{snapshot} -> {dest} as synthfaces64 ({'below the bar: ' + '; '.join(failures) if failures else 'bar held'})"
          "\nEverything derived from the generator is now stale: `make artefacts` rebuilds it.")


def favour(pid: int, nice: int = -8) -> str:
    """Give the run's scheduling group priority over other work on the machine.

    With the kernel's autogroup scheduling (the default on desktop-style kernels, and on this VM), every terminal
    session is its own group and shares the CPU equally with the others whatever `nice` says inside them: a test run
    under `nice -n 19` in another shell took half of the cores and halved the run's speed (measured 2026-12-06:
    20 -> 47 s/kimg). A negative autogroup nice for the run's group restores the intended order (root only).
    """
    group = Path(f"/proc/{pid}/autogroup")
    try:
        group.write_text(str(nice))
        return f"scheduling: {group.read_text().strip()}"
    except OSError as exc:
        return f"scheduling: could not favour the run ({exc}); keep other work light while it trains"


def curve_point(snapshot: Path, real_feats: np.ndarray, real_scores: dict, scorer, n: int) -> dict:
    import ganlens
    from ganlens.metrics.fid import frechet_distance
    from scipy.stats import wasserstein_distance

    G = ganlens.load(str(snapshot))
    fake = G.render(G.sample(n, seed=0), batch_size=250, precision="auto")
    s = scorer(fake)
    return {"kimg": G.provenance["training"]["kimg"], "wall_s": G.provenance["training"]["wall_time_s"],
            "device": G.provenance["training"].get("device"),
            "predictor_fd": frechet_distance(scorer.features(fake), real_feats),
            "glasses_rate": float((s["glasses"] > 0).mean()), "beard_rate": float((s["beard"] > 0).mean()),
            "yaw_w1_over_range": float(wasserstein_distance(s["yaw"], real_scores["yaw"]) / 2),
            # the one continuous factor outside its bar since 1,000 kimg (factor range 0-1)
            "hair_length_w1_over_range": float(wasserstein_distance(s["hair_length"], real_scores["hair_length"]))}


def pack(args: argparse.Namespace) -> None:
    from ganlens.analysis.plots import line_chart
    from ganlens.io import atomic_write_json, save_image
    from ganlens.scorers import load_scorer
    from ganlens.synthdata import render_batch, sample_factors
    from ganlens.training.resume import pack_state

    HOME.mkdir(parents=True, exist_ok=True)
    pack_state(RUN, HOME / "state.safetensors")
    curve_path = HOME / "curve.json"
    curve = json.loads(curve_path.read_text()) if curve_path.exists() else {"n": args.n, "points": []}
    have = {p["kimg"]: p for p in curve["points"]}
    scorer = load_scorer("synthfaces64")
    real = render_batch(sample_factors(curve["n"], 777), size=64)
    real_feats, real_scores = scorer.features(real), scorer(real)
    snaps = sorted(RUN.glob("snapshot-*.safetensors"))
    # New snapshots, and kept ones read before a yardstick was added to the curve (the same samples: a re-reading)
    todo = [p for p in snaps
            if "hair_length_w1_over_range" not in have.get(round(snapshot_kimg(p), 2), {})]
    for p in todo[-args.max_points:]:
        point = curve_point(p, real_feats, real_scores, scorer, curve["n"])
        have[point["kimg"]] = point
        print(point, flush=True)
    curve["points"] = sorted(have.values(), key=lambda p: p["kimg"])
    curve["renders"] = {"glasses_rate": float((real_scores["glasses"] > 0).mean()),
                        "beard_rate": float((real_scores["beard"] > 0).mean())}
    atomic_write_json(curve_path, curve)
    pts = curve["points"]
    if len(pts) >= 2:
        kimg = [p["kimg"] for p in pts]
        hair = [p for p in pts if "hair_length_w1_over_range" in p]  # recorded from 2600 kimg on
        series = {"predictor FD": (kimg, [p["predictor_fd"] for p in pts])}
        if hair:
            series["hair length W1 / range (bar 0.05)"] = ([p["kimg"] for p in hair],
                                                          [p["hair_length_w1_over_range"] for p in hair])
        save_image(line_chart(series, title="synthfaces64 v2 campaign (1,000 samples per point) vs kimg",
                              xlabel="kimg", log_y=True), ROOT / "docs" / "campaign_curve.png")
    grids = sorted(RUN.glob("grid-*.png"))
    if grids:
        shutil.copyfile(grids[-1], ROOT / "docs" / "campaign_latest.png")


def status(_: argparse.Namespace) -> None:
    lines = (RUN / "log.jsonl").read_text().splitlines() if (RUN / "log.jsonl").exists() else []
    print(lines[-1] if lines else "no snapshot logged yet")
    if (RUN / "pid").exists():
        pid = training_pid(RUN)
        print(f"running {pid}" if pid else f"not running {(RUN / 'pid').read_text().strip()}")


def stop(_: argparse.Namespace) -> None:
    """Ask the run to stop (SIGTERM: it finishes its step, snapshots, saves its state and exits), and wait."""
    import signal
    import time

    pid = training_pid(RUN)
    if pid is None:
        sys.exit("no run is training")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 600
    while training_pid(RUN) == pid and time.monotonic() < deadline:
        time.sleep(1)
    status(argparse.Namespace())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start")
    s.add_argument("--minutes", type=float, default=150, help="the run snapshots and stops itself after this")
    p = sub.add_parser("pack")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--max-points", type=int, default=12, help="curve points computed per pack (newest first)")
    sub.add_parser("status")
    sub.add_parser("stop", help="end the run now: it snapshots and saves its state first")
    g = sub.add_parser("gpu-stint", help="one stint in the foreground on a GPU (benchmarks/campaign_gpu.sh runs it)")
    g.add_argument("--minutes", type=float, default=9)
    g.add_argument("--out", required=True, help="where the packed state, log and new snapshots go")
    g.add_argument("--device", default="cuda")
    g.add_argument("--batch", type=int, default=None, help="batch size instead of the recipe's (gamma follows)")
    g.add_argument("--run", default=str(RUN), help="the run folder on that machine")
    g.add_argument("--max-snapshots", type=int, default=2, help="newest snapshots brought back (4.4 MB each)")
    a = sub.add_parser("adopt", help="continue from what a GPU stint brought back")
    a.add_argument("src", help="the folder the device tool returned ($OUT of campaign_gpu.sh)")
    a.add_argument("--run", default=str(RUN), help="the run folder to continue")
    h = sub.add_parser("ship", help="install a snapshot as the bundled synthfaces64 when its quality holds the bar")
    h.add_argument("snapshot", help="a G_ema snapshot of the run (runs/campaign/snapshot-*.safetensors)")
    h.add_argument("--quality", required=True, help="model_quality.py's JSON measured on that snapshot")
    h.add_argument("--to", default=str(ROOT / "src" / "ganlens" / "assets" / "synthfaces64.safetensors"))
    h.add_argument("--anyway", action="store_true", help="ship below the bar (recorded in the provenance)")
    args = ap.parse_args()
    {"ship": ship, "start": start, "pack": pack, "status": status, "stop": stop, "gpu-stint": gpu_stint,
     "adopt": adopt}[args.cmd](args)


if __name__ == "__main__":
    main()
