"""What each generator architecture costs on this machine (issue 30): sampling time per image, peak memory of a
forward pass, and how well optimisation inversion recovers the architecture's own samples.

Per architecture (StyleGAN2, StyleGAN v1, PGGAN, StyleGAN3 config T and R), at the tiny test size and at a
realistic size (256 px, random weights: no pretrained weights of these architectures exist offline), built in its
source project's file layout and loaded through `ganlens.load` like a user's file: batch-1 and batch-8 sampling
ms/image (median of --repeats), the process's peak resident memory growth during a batch-8 forward, and PSNR of
--samples of its own samples after --steps of W+ inversion (Z for PGGAN).

    python benchmarks/architectures.py                 # -> results/architectures.json (about 40 min on 2 cores)
    python benchmarks/architectures.py --sizes tiny    # a quick run
    python benchmarks/architectures.py --device cuda --sizes realistic --archs stylegan3-t,stylegan3-r --samples 2
                                                       # on a lent GPU: rows keyed '<arch>@<res>px on <GPU name>'

On a GPU the memory figure is the peak CUDA allocation of the batch-8 forward instead of the process's RSS growth.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from harness import ROOT, arguments, device_label, write_result

sys.path.insert(0, str(ROOT / "tests"))  # the tests' writers of each project's file layout

SIZES = {"tiny": 32, "realistic": 256}


def build(arch: str, res: int, folder: Path) -> Path:
    """A randomly initialised generator of `arch` at `res` px, written in its project's checkpoint layout."""
    import reference_genforce as RG
    import reference_nvidia as RN
    import reference_nvidia_sg3 as R3

    import ganlens
    from ganlens.models.native import save_generator

    big = res >= 128
    if arch == "stylegan2":
        G = ganlens.models.Generator(z_dim=512 if big else 32, c_dim=0, w_dim=512 if big else 32, img_resolution=res,
                                     img_channels=3, mapping_kwargs={"num_layers": 8 if big else 2},
                                     synthesis_kwargs={"channel_base": 16384 if big else 512,
                                                       "channel_max": 512 if big else 32})
        path = folder / f"stylegan2-{res}.safetensors"
        save_generator(G, path)
        return path
    if arch == "stylegan1":
        sd = RG.stylegan1_state(res=res, z_dim=512 if big else 16, w_dim=512 if big else 16,
                                mapping_layers=8 if big else 2, fmaps_base=16384 if big else 128,
                                fmaps_max=512 if big else 16, seed=1)
        return RG.save_model_zoo(folder / f"stylegan_{res}.pth", sd)
    if arch == "pggan":
        sd = RG.pggan_state(res=res, z_dim=512 if big else 16, fmaps_base=16384 if big else 128,
                            fmaps_max=512 if big else 16, seed=1)
        return RG.save_model_zoo(folder / f"pggan_{res}.pth", sd)
    cfg = arch[-1].upper()
    # Full size as NVIDIA's train.py sets it (--cbase 32768, --cmax 512, R doubled; 14 layers); tiny otherwise.
    full = {"channel_base": 32768 * (2 if cfg == "R" else 1), "channel_max": 512 * (2 if cfg == "R" else 1),
            "num_layers": 14} if big else {}
    G = R3.make_generator(cfg, seed=1, resolution=res, z_dim=512 if big else 16, **full)
    return RN.write_pickle(folder / f"stylegan3-{cfg}-{res}.pkl", R3.snapshot(G, G, resolution=res))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = arguments(__doc__, "architectures.json")
    ap.add_argument("--sizes", default="tiny,realistic")
    ap.add_argument("--archs", default="stylegan2,stylegan1,pggan,stylegan3-t,stylegan3-r")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--device", default="cpu", help="cpu, or cuda on a GPU machine (its rows are keyed by the GPU)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    on_gpu = args.device.startswith("cuda")
    where = device_label(args.device)

    import ganlens
    from ganlens.invert import project
    from ganlens.metrics.quality import psnr

    out = Path(args.out)
    rows = json.loads(out.read_text()).get("rows", {}) if out.exists() else {}  # runs of other sizes add to it
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            res = SIZES[size]
            for arch in args.archs.split(","):
                path = build(arch, res, Path(tmp))
                G = ganlens.load(path, device=args.device)
                space = "w" if "w" in G.spaces else "z"
                times = {}
                for batch in (1, 8):
                    code = G.sample(batch, seed=0, space=space)
                    G.render(code)  # warm-up
                    t = []
                    for _ in range(args.repeats):
                        t0 = time.perf_counter()
                        G.render(code)
                        t.append((time.perf_counter() - t0) / batch * 1000)
                    times[f"batch{batch}_ms_per_image"] = float(np.median(t))
                before = peak_rss_mb()
                if on_gpu:
                    torch.cuda.reset_peak_memory_stats()
                G.render(G.sample(8, seed=1, space=space))
                memory = ({"peak_cuda_mb_batch8": torch.cuda.max_memory_allocated() / 2**20} if on_gpu else
                          {"peak_rss_mb_after_batch8": peak_rss_mb(), "peak_rss_growth_mb": peak_rss_mb() - before})
                target_code = G.sample(args.samples, seed=2, space=space)
                target = G.render(target_code)
                inv_space = "w+" if "w+" in G.spaces else "z"
                t0 = time.perf_counter()
                res_inv = project(G, target, "ganlens", space=inv_space, steps=args.steps,
                                  restarts=4 if inv_space == "z" else 1, progress=True)
                seconds = time.perf_counter() - t0
                quality = psnr(G.render(res_inv.code), target)
                key = f"{arch}@{res}px" + (f" on {where}" if on_gpu else "")
                rows[key] = {
                    "architecture": G.architecture, "resolution": res, "parameters": sum(p.numel() for p in G.parameters()),
                    "num_ws": G.num_ws, "spaces": list(G.spaces), "device": where, **times, **memory,
                    "inversion": {"space": inv_space, "steps": args.steps, "samples": args.samples,
                                  "psnr_mean": float(quality.mean()), "psnr_min": float(quality.min()),
                                  "seconds_per_image": seconds / args.samples},
                }
                print(f"{key:>24}: {times['batch1_ms_per_image']:.1f} ms (batch 1), "
                      f"{times['batch8_ms_per_image']:.1f} ms/img (batch 8); inversion {inv_space} "
                      f"{quality.mean():.1f} dB in {seconds / args.samples:.1f} s/img", flush=True)
                write_result(args.out, {"threads": args.threads, "rows": rows}, generators=[])


if __name__ == "__main__":
    main()
