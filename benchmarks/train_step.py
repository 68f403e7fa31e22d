"""How fast one StyleGAN2 training iteration runs: the loop's own step (ganlens.training.gan.AdversarialStep),
'reference' (the step as it was: a G forward for each of the two steps, two D passes, NCHW, reference layer ops)
against 'fast' (one G forward shared by the D and G steps, fakes and reals in one D pass, channels-last, fused
layer ops), on several network shapes, in one run.

    python benchmarks/train_step.py                       # -> results/train_step-cpu.json
    python benchmarks/train_step.py --device cuda --batch 128 --shapes shipped
    python benchmarks/train_step.py --profile             # + where one fast iteration spends its time

An iteration is a D step and a G step on random weights and random "real" images; lazy R1 runs every 16 and
path-length regularisation (when a shape has it) every 4 iterations, so the figure per iteration is
t(plain) + (t(with R1) - t(plain)) / 16 (+ the same for the path-length step / 4). Each time is the median of
`--repeats` iterations after a warm-up iteration.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from ganlens.training.gan import AdversarialStep, TrainConfig, build_networks, build_optimizers, device_name
from harness import ROOT, write_result

# name -> TrainConfig overrides: the shipped synthfaces64 and the CPU-sized widths the probes compare.
SHAPES = {
    "shipped": dict(channel_base=8192, channel_max=128, mapping_layers=8),    # 128 channels at every resolution
    "c64": dict(channel_base=4096, channel_max=128, mapping_layers=2),        # 64 at 64x64, 128 below
    "c32": dict(channel_base=2048, channel_max=128, mapping_layers=2),        # 32 at 64x64, 64 at 32, 128 below
}


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


def profile_iteration(run, sync, cuda: bool) -> dict:
    """Self time of one iteration by operation kind (shares of the total) and the 12 largest (op, shapes)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    run()
    sync()
    with profile(activities=activities, record_shapes=True) as prof:
        run()
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


def time_step(shape: dict, step: str, dev: torch.device, batch: int, repeats: int, pl_weight: float,
              profile: bool, bf16: bool = True) -> dict:
    """Median milliseconds of plain, R1 and path-length iterations of one step kind on one shape."""
    cfg = TrainConfig(data="", out="", batch=batch, step=step, pl_weight=pl_weight, **shape)
    torch.manual_seed(0)
    G, D = build_networks(cfg, 64, 3)
    G.to(dev).train()
    D.to(dev).train()
    G_opt, D_opt = build_optimizers(cfg, G, D)
    stepper = AdversarialStep(cfg, G, D, G_opt, D_opt, dev, use_bf16=bf16)
    real = torch.randn(batch, 3, 64, 64, device=dev).contiguous(memory_format=torch.channels_last)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def median_ms(step_index: int) -> float:
        stepper(real, step_index)  # warm-up
        sync()
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            stepper(real, step_index)
            sync()
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1000

    # Index 1 runs no regulariser (16 and 4 do not divide it); 16 runs R1 only where pl_interval (4) is off.
    plain = median_ms(1)
    with_r1 = median_ms(16) if pl_weight == 0 else median_ms(16) - (median_ms(4) - plain)
    per_iter = plain + (with_r1 - plain) / cfg.r1_interval
    out = {"params_G": sum(p.numel() for p in G.parameters()), "params_D": sum(p.numel() for p in D.parameters()),
           "ms_plain": round(plain, 1), "ms_with_r1": round(with_r1, 1)}
    if pl_weight > 0:
        with_pl = median_ms(4)
        out["ms_with_pl"] = round(with_pl, 1)
        per_iter += (with_pl - plain) / cfg.pl_interval
    out["ms_per_iteration"] = round(per_iter, 1)
    out["kimg_per_hour"] = round(batch / per_iter * 3600, 1)
    if profile:
        out["profile"] = profile_iteration(lambda: stepper(real, 1), sync, dev.type == "cuda")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--shapes", default=",".join(SHAPES), help=f"comma list of: {', '.join(SHAPES)}")
    ap.add_argument("--steps", default="reference,fast", help="comma list of: reference, fast")
    ap.add_argument("--pl-weight", type=float, default=0.0, help="time the path-length step too (weight > 0)")
    ap.add_argument("--precision", choices=["bf16", "fp32"], default="bf16",
                    help="autocast precision of the step (bf16 is fast only where the CPU has bf16 instructions)")
    ap.add_argument("--out", default=None, help="default: results/train_step-<cpu|cuda>.json")
    ap.add_argument("--profile", action="store_true", help="also split one fast iteration by operation kind")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    result = {"device": device_name(dev), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
              "precision": args.precision, "batch": args.batch, "pl_weight": args.pl_weight, "shapes": {}}
    for name in args.shapes.split(","):
        row = {"config": SHAPES[name]}
        for step in args.steps.split(","):
            row[step] = time_step(SHAPES[name], step, dev, args.batch, args.repeats, args.pl_weight,
                                  args.profile and step == "fast", bf16=args.precision == "bf16")
            print(f"{name:8s} {step:9s} {row[step]['ms_per_iteration']:8.1f} ms/iteration  "
                  f"{row[step]['kimg_per_hour']:7.1f} kimg/h", flush=True)
        if "reference" in row and "fast" in row:
            row["speedup"] = round(row["reference"]["ms_per_iteration"] / row["fast"]["ms_per_iteration"], 2)
            print(f"{name:8s} speed-up {row['speedup']:.2f}x", flush=True)
        result["shapes"][name] = row
    out = Path(args.out or ROOT / "results" / f"train_step-{dev.type}.json")
    write_result(out, result)


if __name__ == "__main__":
    main()
