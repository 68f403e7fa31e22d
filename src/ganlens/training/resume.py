"""A compact, pickle-free copy of a training state, small enough to commit between working stints.

`train` keeps its full state in `<run>/state/` (torch files, both optimisers in fp32). `pack_state` writes the
part a resumed run needs into one safetensors file: G, D and G_ema in fp32 (bit-exact), Adam's second moments in
bf16 (a running average of squared gradients; 8 bits of mantissa are plenty for a step-size normaliser), and
Adam's first moments only where beta1 > 0 (with beta1 = 0, StyleGAN2's setting, the first moment is just the last
gradient and is recomputed at the next step). Progress, the RNG state, the run's config and the optimisers' param
groups travel in the file's JSON metadata. `unpack_state` turns it back into a state folder `train` resumes from.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError, GanlensError
from .gan import load_state, save_state

FORMAT = "ganlens.train-state/1"
NETS = ("G", "D", "G_ema")


def pack_state(run_dir: str | Path, out_file: str | Path) -> Path:
    """Write `run_dir`'s training state compactly to `out_file` (atomically); returns its path."""
    run_dir, out_file = Path(run_dir), Path(out_file)
    state = load_state(run_dir / "state")
    if state is None:
        raise GanlensError(f"no training state in {run_dir / 'state'}: nothing to pack")
    config = json.loads((run_dir / "config.json").read_text())
    tensors: dict[str, torch.Tensor] = {}
    for net in NETS:
        for k, v in state[net].items():
            tensors[f"{net}.{k}"] = v.detach().float().contiguous()
    groups = {}
    for opt in ("G_opt", "D_opt"):
        sd = state[opt]
        groups[opt] = sd["param_groups"]
        beta1 = sd["param_groups"][0]["betas"][0]
        for idx, s in sd["state"].items():
            tensors[f"{opt}.{idx}.exp_avg_sq"] = s["exp_avg_sq"].to(torch.bfloat16).contiguous()
            if beta1 > 0:
                tensors[f"{opt}.{idx}.exp_avg"] = s["exp_avg"].to(torch.bfloat16).contiguous()
            groups.setdefault(f"{opt}.steps", {})[str(idx)] = float(s["step"])
    progress = dict(state["progress"])
    rng = progress.pop("rng", None)
    if rng is not None:
        tensors["rng"] = rng.contiguous()
    meta = {"format": FORMAT, "progress": json.dumps(progress), "config": json.dumps(config),
            "optimizers": json.dumps(groups)}
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_name(out_file.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, out_file)
    return out_file


def unpack_state(packed: str | Path, run_dir: str | Path) -> dict:
    """Recreate `run_dir/state/` (and `config.json`) from a packed file; returns the run's config dict.

    Refuses to overwrite a run folder that already holds a state: resume that one instead.
    """
    packed, run_dir = Path(packed), Path(run_dir)
    if (run_dir / "state").exists():
        raise GanlensError(f"{run_dir / 'state'} already exists; resume it, or unpack into another folder")
    try:
        with open(packed, "rb") as fh:
            header_len = int.from_bytes(fh.read(8), "little")
            meta = json.loads(fh.read(header_len)).get("__metadata__", {})
        tensors = load_file(str(packed))
    except (OSError, ValueError, SafetensorError) as exc:
        raise CheckpointError(f"cannot read packed training state {packed}: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{packed} is not a packed ganlens training state (format {meta.get('format')!r})")
    groups = json.loads(meta["optimizers"])
    parts: dict = {net: {k[len(net) + 1 :]: v for k, v in tensors.items() if k.split(".", 1)[0] == net}
                   for net in NETS}
    for opt in ("G_opt", "D_opt"):
        state = {}
        for idx, step in groups[f"{opt}.steps"].items():
            v = tensors[f"{opt}.{idx}.exp_avg_sq"].float()
            m = tensors.get(f"{opt}.{idx}.exp_avg")
            state[int(idx)] = {"step": torch.tensor(step), "exp_avg": torch.zeros_like(v) if m is None else m.float(),
                               "exp_avg_sq": v}
        parts[opt] = {"state": state, "param_groups": groups[opt]}
    progress = json.loads(meta["progress"])
    if "rng" in tensors:
        progress["rng"] = tensors["rng"]
    parts["progress"] = progress
    run_dir.mkdir(parents=True, exist_ok=True)
    save_state(run_dir / "state", parts)
    config = json.loads(meta["config"])
    (run_dir / "config.json").write_text(json.dumps(config, indent=2))
    return config
