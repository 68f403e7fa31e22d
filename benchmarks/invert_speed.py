"""How fast inversion runs per image on this machine, by memory layout and batch size.

    python benchmarks/invert_speed.py --threads 2        # -> results/invert_speed-cpu.json

For each layout of the bundled synthfaces64 generator (NCHW as built, channels-last as `ganlens.load` gives it on
the CPU) and each batch size, one `project` call with a preset ('ganlens': W+ pixel MSE; 'pti-pivot': W + noise
maps + the MobileNetV2 perceptual distance) over the same images; the figure is wall-clock milliseconds per
image-step, from the call's own clock, after a warm-up call. PTI's generator tuning (one image at a time) and
`render` throughput are timed the same way. Figures depend on the CPU and its load: the JSON records both.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

import ganlens
from ganlens.invert import PTIConfig, invert_pti, project
from ganlens.models import load_generator
from ganlens.bundled import generator_file
from harness import ROOT, write_result


def layouts(name: str) -> dict:
    plain = load_generator(generator_file(name))
    return {"nchw": plain, "channels_last": ganlens.load(name)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="synthfaces64")
    ap.add_argument("--images", type=int, default=32, help="images per project call (a multiple of every batch)")
    ap.add_argument("--batches", default="1,2,4,8,16,32")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=str(ROOT / "results" / "invert_speed-cpu.json"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    batches = [int(b) for b in args.batches.split(",")]
    nets = layouts(args.model)
    imgs = nets["nchw"].render(nets["nchw"].sample(args.images, seed=1))
    doc: dict = {"model": args.model, "images": args.images, "steps": args.steps, "threads": torch.get_num_threads(),
                 "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
                 "unit": "milliseconds per image-step (project) / per step (PTI tuning) / per image (render)",
                 "project": {}, "pti_tune": {}, "render": {}}
    for lay, G in nets.items():
        project(G, imgs[:2], "ganlens", steps=2, batch_size=2)  # warm-up
        for name in ("ganlens", "pti-pivot"):
            row = doc["project"].setdefault(name, {}).setdefault(lay, {})
            for b in batches:
                res = project(G, imgs, name, steps=args.steps, batch_size=b)
                row[str(b)] = round(1000 * res.seconds / (len(imgs) * args.steps), 2)
                print(f"project {name:9s} {lay:13s} batch {b:3d}: {row[str(b)]:6.1f} ms per image-step", flush=True)
        cfg = PTIConfig(pivot_steps=1, tune_steps=args.steps, early_stop=0.0)
        invert_pti(G, imgs[:1], cfg)  # warm-up
        res = invert_pti(G, imgs[:2], cfg)
        pivot_s = res.pivot.seconds
        doc["pti_tune"][lay] = round(1000 * (res.seconds - pivot_s) / (2 * args.steps), 2)
        print(f"pti tune  {lay:13s}: {doc['pti_tune'][lay]:6.1f} ms per step", flush=True)
        code = G.sample(256, seed=2)
        for prec in ("fp32", "bf16"):
            G.render(code[:64], precision=prec)  # warm-up
            t0 = time.perf_counter()
            G.render(code, precision=prec)
            ms = 1000 * (time.perf_counter() - t0) / len(code)
            doc["render"].setdefault(prec, {})[lay] = round(ms, 3)
            print(f"render    {lay:13s} {prec}: {ms:6.2f} ms per image", flush=True)
    best = {name: min(((lay, b, v) for lay, r in rows.items() for b, v in r.items()), key=lambda t: t[2])
            for name, rows in doc["project"].items()}
    doc["fastest"] = {name: {"layout": lay, "batch": int(b), "ms": v} for name, (lay, b, v) in best.items()}
    doc["speedup_vs_nchw_batch16"] = {name: round(doc["project"][name]["nchw"]["16"] / best[name][2], 2)
                                      for name in best if "16" in doc["project"][name]["nchw"]}
    out = write_result(args.out, doc, generators=[args.model])
    print(json.dumps(doc["fastest"]), doc["speedup_vs_nchw_batch16"])
    print("wrote", out)


if __name__ == "__main__":
    main()
