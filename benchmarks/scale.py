"""Scale-out on Ray (issue 29): what sharding a job over Ray workers costs and gains, on this machine.

    python benchmarks/scale.py                     # -> results/scale.json (about two hours on the idle 2-core CPU)
    python benchmarks/scale.py --model runs/campaign/snapshot-....safetensors --precision auto
                                                   # the v2 network's shape in bf16 (what the 30-minute goal means)
    python benchmarks/scale.py --model random-tiny --samples 2000 --big 0 --images 8 --hybrid-steps 5 \\
        --out /tmp/scale.json                      # a smoke run (a minute or two)

Rows, all with the same seed, batch size and scorer (default: the bundled synthfaces64 predictor):
- scoring in one process (1 thread, and one thread per core), then on a local Ray (`ray.init`, a small object
  store) with 1 and 2 workers of one thread each: samples/s, the overhead against the one-thread process, and the
  overhead per shard (worker time not spent computing: dispatch, transfer, the driver's write, actor start, the
  tail), each Ray run checked bit for bit against the one-process codes and scores;
- `--big` samples (500,000) end to end on the local Ray with one worker per core, as `ganlens score --ray` runs
  them: Ray start, scoring, the driver's merge of the shard files, saving the .npz and .csv;
- the driver's cost per shard (writing one shard file and the manifest) and per sample (merging, saving);
- inverting a folder of rendered images (encoder, hybrid) in one process and on Ray: images/s;
- a scaling model for N machines: time = start + ceil(shards / (N x workers)) x (per-shard compute + overhead)
  + merge and save per sample, and the worker count past which the driver's per-shard write is the bottleneck.

Figures depend on the CPU and its load (the JSON records the load average at the start and end).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from harness import arguments, write_result


def _same(a, b) -> bool:
    return torch.equal(a.codes.tensor, b.codes.tensor) and all(np.array_equal(a[k], b[k]) for k in a.names)


def score_rows(G, args, scratch: Path) -> tuple[list[dict], dict]:
    """One-process and Ray scoring throughput; returns the rows and what the scaling model needs."""
    from ganlens.parallel import RayExecutor
    from ganlens.scoring import score

    n, bs, rows = args.samples, args.batch_size, []
    score(G, bs, args.scorer, seed=99, batch_size=bs, precision=args.precision)  # warm-up: first-call allocations, the scorer's load
    single = {}
    for threads in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(threads)
        t0 = time.perf_counter()
        single[threads] = score(G, n, args.scorer, seed=args.seed, batch_size=bs, precision=args.precision)
        dt = time.perf_counter() - t0
        rows.append({"name": f"score, one process, {threads} thread(s)", "samples": n, "seconds": round(dt, 2),
                     "samples_per_s": round(n / dt, 1)})
        print(rows[-1], flush=True)
    torch.set_num_threads(1)
    base_s = rows[0]["seconds"]
    t0 = time.perf_counter()
    ray_ex = RayExecutor(object_store_mb=args.object_store_mb).connect()  # the local Ray every Ray row shares
    startup = time.perf_counter() - t0
    model = {"ray_start_s": round(startup, 2), "cores": os.cpu_count()}
    for k in args.workers:
        infos: list[dict] = []
        work = scratch / f"score_{k}"
        with RayExecutor(workers=k) as ex:  # joins the Ray started above
            t0 = time.perf_counter()
            got = score(G, n, args.scorer, seed=args.seed, batch_size=bs, executor=ex, work_dir=work,
                        shard_size=args.shard_size, on_shard=lambda s, info: infos.append(info),
                        precision=args.precision)
            dt = time.perf_counter() - t0
        compute = sum(i["seconds"] for i in infos)
        row = {"name": f"score, local Ray, {ex.workers} worker(s)", "samples": n, "shards": len(infos),
               "shard_size": args.shard_size, "seconds": round(dt, 2), "samples_per_s": round(n / dt, 1),
               "overhead_vs_one_thread": round(dt * ex.workers / base_s - 1, 4),
               "compute_per_shard_s": round(compute / len(infos), 4),
               "overhead_per_shard_s": round((dt * ex.workers - compute) / len(infos), 4),
               "overhead_per_shard_fraction": round((dt * ex.workers - compute) / compute, 4),
               "identical_to_one_process": _same(single[1], got)}
        rows.append(row)
        print(row, flush=True)
        shutil.rmtree(work, ignore_errors=True)
        if k == 1:
            model |= {"compute_per_shard_s": row["compute_per_shard_s"],
                      "overhead_per_shard_s": row["overhead_per_shard_s"]}
    ray_ex.close()
    model["shard_size"] = args.shard_size
    return rows, model


def big_row(G, args, scratch: Path) -> dict:
    """`--big` samples end to end on a local Ray with one worker per core, timed by phase."""
    from ganlens.parallel import RayExecutor
    from ganlens.scoring import score

    work, out = scratch / "big.shards", scratch / "big.npz"
    t0 = time.perf_counter()
    ex = RayExecutor(object_store_mb=args.object_store_mb).connect()
    started = time.perf_counter()
    last: list[float] = []
    with ex:
        result = score(G, args.big, args.scorer, seed=args.seed, batch_size=args.batch_size, executor=ex,
                       work_dir=work, progress=True, on_shard=lambda s, info: last.append(time.perf_counter()),
                       precision=args.precision)
    merged = time.perf_counter()
    result.save(out)
    saved = time.perf_counter()
    shutil.rmtree(work, ignore_errors=True)
    row = {"name": f"score {args.big} samples end to end, local Ray, {ex.workers} workers", "samples": args.big,
           "shards": len(last), "seconds": round(saved - t0, 1), "samples_per_s": round(args.big / (saved - t0), 1),
           "ray_start_s": round(started - t0, 2), "scoring_s": round(last[-1] - started, 1),
           "merge_s": round(merged - last[-1], 2), "save_s": round(saved - merged, 2),
           "output_bytes": out.stat().st_size + out.with_suffix(".csv").stat().st_size}
    print(row, flush=True)
    return row


def driver_costs(G, args, scratch: Path) -> dict:
    """The driver's serial work: one shard file + manifest per shard; merging and saving per sample."""
    from ganlens.latents import LatentCode
    from ganlens.parallel import ShardStore, plan_shards
    from ganlens.scoring import ScoredCodes

    size, reps = args.shard_size, 8
    shards = plan_shards(size * reps, size)
    store = ShardStore(scratch / "driver", {"job": "driver-cost"}, shards)
    rng = np.random.default_rng(0)
    arrays = {"codes": rng.standard_normal((size, G.w_dim)).astype(np.float32),
              **{f"score.a{i}": rng.standard_normal(size).astype(np.float32) for i in range(13)}}
    t0 = time.perf_counter()
    for s in shards:
        store.save(s, arrays)
    write = (time.perf_counter() - t0) / reps
    t0 = time.perf_counter()
    parts = [store.load(s) for s in shards]
    codes = np.concatenate([p["codes"] for p in parts])
    scores = {k: np.concatenate([p[k] for p in parts]) for k in arrays if k != "codes"}
    merge = (time.perf_counter() - t0) / len(codes)
    t0 = time.perf_counter()
    ScoredCodes(LatentCode("w", torch.from_numpy(codes)), scores).save(scratch / "driver.npz")
    save = (time.perf_counter() - t0) / len(codes)
    store.remove()
    return {"write_per_shard_s": round(write, 5), "merge_per_sample_s": merge, "save_per_sample_s": save}


def invert_rows(G, args, scratch: Path) -> tuple[list[dict], str]:
    """Inverting a folder of renders (encoder, hybrid) in one process and on a local Ray."""
    from ganlens.invert import Encoder, RunSettings, invert_images, load_encoder, save_encoder
    from ganlens.io import save_image
    from ganlens.latents import LatentCode
    from ganlens.parallel import RayExecutor

    try:
        load_encoder(G.name)
        encoder, note = None, f"the bundled {G.name} encoder"
    except Exception:  # no bundled encoder (random-tiny): an untrained one times the same work
        torch.manual_seed(0)
        encoder = str(save_encoder(Encoder(G.img_resolution, G.num_ws, G.w_dim).attach(G),
                                   scratch / "encoder.safetensors", {"benchmark": "scale"}))
        note = "an untrained encoder of the model's shape (no bundled one)"
    src = scratch / "images"
    for i, img in enumerate(G.render(G.sample(args.images, seed=7))):
        save_image(img, src / f"img{i:05d}.png")
    rows = []
    ray_ex = RayExecutor(object_store_mb=args.object_store_mb).connect()
    for method, steps in (("encoder", None), ("hybrid", args.hybrid_steps)):
        settings = RunSettings(method=method, steps=steps, batch_size=args.invert_batch, encoder=encoder)
        runs: dict[str, float] = {}
        for label, workers in [("one process, 1 thread", None)] + [(f"local Ray, {k} worker(s)", k)
                                                                   for k in args.workers]:
            out = scratch / f"inv_{method}_{workers}"
            t0 = time.perf_counter()
            if workers is None:
                invert_images(G, [src], out, settings, log=lambda m: None, progress=False)
            else:
                with RayExecutor(workers=workers) as ex:
                    invert_images(G, [src], out, settings, log=lambda m: None, progress=False, executor=ex)
            runs[label] = time.perf_counter() - t0
            first = scratch / f"inv_{method}_None"
            same = all(torch.equal(LatentCode.load(p).tensor, LatentCode.load(out / p.name).tensor)
                       for p in sorted(first.glob("*.npz")))
            rows.append({"name": f"invert ({method}{'' if steps is None else f', {steps} steps'}), {label}",
                         "images": args.images, "seconds": round(runs[label], 2),
                         "images_per_s": round(args.images / runs[label], 3), "identical_to_one_process": same})
            print(rows[-1], flush=True)
    ray_ex.close()
    for method in ("encoder", "hybrid"):
        shutil.rmtree(scratch / f"inv_{method}_None", ignore_errors=True)
    return rows, note


def scaling_model(model: dict, driver: dict, n: int, machines=(1, 2, 4, 8, 16, 32)) -> dict:
    """Predicted wall time and throughput of n samples on N machines of `cores` workers each."""
    shard, cores = model["shard_size"], model["cores"]
    per_shard = model["compute_per_shard_s"] + max(model["overhead_per_shard_s"], 0.0)
    shards = math.ceil(n / shard)
    tail = n * (driver["merge_per_sample_s"] + driver["save_per_sample_s"])
    rows = []
    for m in machines:
        workers = m * cores
        t = model["ray_start_s"] + math.ceil(shards / workers) * per_shard + tail
        rows.append({"machines": m, "workers": workers, "predicted_s": round(t, 1),
                     "predicted_samples_per_s": round(n / t, 1)})
    return {"samples": n, "shards": shards, "per_shard_s": round(per_shard, 4),
            "formula": "ray_start + ceil(shards / (machines x cores)) x (compute + overhead per shard) "
                       "+ samples x (merge + save per sample)",
            # The driver writes one shard at a time: past this many workers, results queue behind its writes.
            "driver_bound_workers": int(model["compute_per_shard_s"] / max(driver["write_per_shard_s"], 1e-9)),
            "rows": rows}


def main() -> None:
    ap = arguments(__doc__, "scale.json", threads=1)
    ap.add_argument("--model", default="synthfaces64")
    ap.add_argument("--scorer", default="synthfaces64", help="a bundled predictor, or module:function")
    ap.add_argument("--samples", type=int, default=16384, help="samples of each throughput row")
    ap.add_argument("--shard-size", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--workers", default="1,2", help="Ray worker counts to measure")
    ap.add_argument("--big", type=int, default=500_000, help="samples of the end-to-end run (0: skip it)")
    ap.add_argument("--images", type=int, default=64, help="images of the inversion rows (0: skip them)")
    ap.add_argument("--invert-batch", type=int, default=8)
    ap.add_argument("--hybrid-steps", type=int, default=100)
    ap.add_argument("--object-store-mb", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--precision", choices=["fp32", "bf16", "auto"], default="fp32",
                    help="synthesis precision of the scoring rows ('auto': bf16 where this CPU has bf16 instructions)")
    args = ap.parse_args()
    args.workers = [int(k) for k in args.workers.split(",")]

    import ganlens

    torch.set_num_threads(args.threads)
    G = ganlens.load(args.model)
    doc: dict = {"model": args.model, "scorer": args.scorer, "batch_size": args.batch_size, "seed": args.seed,
                 "precision": G.resolve_precision(args.precision),
                 "cores": os.cpu_count(), "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    scratch = Path(tempfile.mkdtemp(prefix="ganlens_scale_"))
    try:
        doc["rows"], model = score_rows(G, args, scratch)
        doc["driver"] = driver_costs(G, args, scratch)
        if args.big:
            doc["rows"].append(big_row(G, args, scratch))
        if args.images:
            inv, doc["inversion_encoder"] = invert_rows(G, args, scratch)
            doc["rows"] += inv
        doc["scaling_model"] = scaling_model(model, doc["driver"], args.big or args.samples)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    doc["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"-> {write_result(args.out, doc, generators=[args.model])}")


if __name__ == "__main__":
    main()
