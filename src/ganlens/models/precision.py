"""Which float precision runs fastest on a device: bf16 autocast pays off on CUDA and on CPUs with bf16
instructions (AVX512-BF16, AMX); elsewhere PyTorch emulates it, and it is far slower than fp32 (one c32 training
step took 15x as long in bf16 on an AVX2-only AMD EPYC; `benchmarks/train_step.py --precision`)."""

from __future__ import annotations

import functools
import platform
from pathlib import Path

import torch

BF16_FLAGS = {"avx512_bf16", "amx_bf16"}


@functools.lru_cache(maxsize=None)
def cpu_has_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU's flags (Linux's /proc/cpuinfo) include a bf16 instruction set."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:  # not Linux: no cheap way to ask, and fp32 is never the slow choice
        return False
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return bool(BF16_FLAGS & set(flags.split()))


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model name (Linux's /proc/cpuinfo; elsewhere what `platform` knows)."""
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def bf16_is_fast(device: torch.device | str) -> bool:
    """Whether bf16 autocast speeds work up on `device` (CUDA, or a CPU with bf16 instructions)."""
    kind = torch.device(device).type
    return kind == "cuda" or (kind == "cpu" and cpu_has_bf16())


def fast_precision(device: torch.device | str) -> str:
    """'bf16' where it is fast (see `bf16_is_fast`), else 'fp32': what precision 'auto' means."""
    return "bf16" if bf16_is_fast(device) else "fp32"
