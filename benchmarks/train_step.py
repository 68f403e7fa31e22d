"""Where a StyleGAN2 training step's time goes: G, D, R1 and path-length steps of ganlens.training.gan, timed apart.

    python benchmarks/train_step.py --device cuda --batch 512      # -> results/train_step-<device>.json
    python benchmarks/train_step.py --device cpu --batch 32 --threads 2

Each phase calls the loop's own loss functions (generator_loss, discriminator_loss, r1_penalty, path_lengths with
path_length_penalty on half the batch, as the loop runs it) on the synthfaces64 architecture with
random weights and random "real" images; the numbers are milliseconds per call after one warm-up call.
`--profile` adds where one bf16 G + D step spends its time (torch.profiler self time): 3x3 convolutions, the FIR
filters (depthwise convolutions), 1x1 convolutions, everything else; with the largest operations and their shapes.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from ganlens.io import atomic_write_json
from ganlens.training.gan import (
    TrainConfig, build_networks, device_name, discriminator_loss, generator_loss, path_length_penalty, path_lengths,
    r1_penalty,
)

ROOT = Path(__file__).resolve().parent.parent


def op_kind(name: str, shapes: list) -> str:
    """'conv3x3', 'fir' (depthwise, one input channel per group), 'conv1x1' or 'other', from an op and its shapes."""
    if "convolution" not in name:
        return "other"
    weight = next((s for s in shapes if len(s) == 4 and s[2] == s[3] and s[2] <= 4), None)
    if weight is None:
        return "other"
    if weight[1] == 1 and weight[2] > 1:
        return "fir"
    return "conv1x1" if weight[2] == 1 else "conv3x3"


def profile_step(step, sync, cuda: bool) -> dict:
    """Self time of one training step by operation kind (shares of the total) and the 12 largest (op, shapes);
    kernel time on CUDA, CPU time otherwise."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    step()
    sync()
    with profile(activities=activities, record_shapes=True) as prof:
        step()
        sync()
    rows = prof.key_averages(group_by_input_shape=True)
    key = "self_device_time_total" if cuda else "self_cpu_time_total"
    total = sum(getattr(r, key) for r in rows)
    share: dict[str, float] = {}
    for r in rows:
        kind = op_kind(r.key, r.input_shapes)
        share[kind] = share.get(kind, 0.0) + getattr(r, key) / total
    top = sorted(rows, key=lambda r: -getattr(r, key))[:12]
    return {"total_ms": round(total / 1000, 1), "share": {k: round(v, 3) for k, v in sorted(share.items())},
            "top": [{"op": r.key, "shapes": [s for s in r.input_shapes if s][:3], "calls": r.count,
                     "ms": round(getattr(r, key) / 1000, 1)} for r in top],
            "time": "CUDA kernel self time" if cuda else "CPU self time"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None, help="default: results/train_step-<cpu|cuda>.json")
    ap.add_argument("--profile", action="store_true", help="also split one bf16 G + D step by operation kind")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    B = args.batch
    G, D = build_networks(TrainConfig(data="", out=""), 64, 3)
    G.to(dev).train()
    D.to(dev).train()
    real = torch.randn(B, 3, 64, 64, device=dev).contiguous(memory_format=torch.channels_last)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def z() -> torch.Tensor:
        return torch.randn(B, G.z_dim, device=dev)

    def g_step(bf16: bool) -> None:
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            generator_loss(G, D, z(), 0.9).backward()

    def d_step(bf16: bool) -> None:
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            discriminator_loss(G, D, z(), real, 0.9)[0].backward()

    def r1_step(_: bool) -> None:
        r1_penalty(D, real).backward()

    def pl_step(_: bool) -> None:
        lengths = path_lengths(G, z()[: max(1, B // 2)], 0.9)
        path_length_penalty(lengths, lengths.detach().mean(), 0.01)[0].backward()

    result = {"device": device_name(dev), "batch": B, "machine": platform.processor() or platform.machine(),
              "torch": torch.__version__, "ms": {}}
    phases = [("bf16", "G_step", g_step), ("bf16", "D_step", d_step), ("fp32", "G_step", g_step),
              ("fp32", "D_step", d_step), ("fp32", "R1_step", r1_step),
              ("fp32", "PL_step", pl_step)]  # the loop runs R1 and the path-length step in fp32 always
    for prec, name, fn in phases:
        bf16 = prec == "bf16"
        fn(bf16)
        sync()
        t = time.perf_counter()
        for _ in range(args.repeats):
            fn(bf16)
        sync()
        ms = (time.perf_counter() - t) / args.repeats * 1000
        result["ms"][f"{prec}/{name}"] = round(ms, 1)
        print(f"{prec} {name:8s} {ms:8.1f} ms", flush=True)
    ms = result["ms"]
    per_step = ms["bf16/G_step"] + ms["bf16/D_step"] + ms["fp32/R1_step"] / 16
    result["kimg_per_s_bf16_lazy_r1_16"] = round(B / per_step, 5)
    rate = result["kimg_per_s_bf16_lazy_r1_16"]
    print(f"-> about {rate:.3f} kimg/s = {rate * 3600:.0f} kimg/h (bf16, R1 every 16 steps)")
    result["kimg_per_s_bf16_lazy_r1_16_pl_4"] = round(B / (per_step + ms["fp32/PL_step"] / 4), 5)
    print(f"-> {result['kimg_per_s_bf16_lazy_r1_16_pl_4'] * 3600:.0f} kimg/h with a path-length step every 4 steps")
    if args.profile:
        result["profile_bf16_g_plus_d_step"] = profile_step(lambda: (g_step(True), d_step(True)), sync,
                                                                dev.type == "cuda")
        for kind, share in result["profile_bf16_g_plus_d_step"]["share"].items():
            print(f"{kind:16s} {share:6.1%}")
    out = Path(args.out or ROOT / "results" / f"train_step-{dev.type}.json")
    atomic_write_json(out, result)


if __name__ == "__main__":
    main()
