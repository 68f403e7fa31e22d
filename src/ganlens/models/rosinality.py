"""rosinality/stylegan2-pytorch checkpoints (``.pt``) → ganlens `Generator`, read with ``weights_only=True``.

What such a file holds (``torch.save`` of a dict):

* converted from TensorFlow by ``convert_weight.py``: ``{'g_ema': state_dict, 'latent_avg': [style_dim]}``
  (optionally also ``'g'``/``'d'``);
* written by ``train.py``: ``{'g', 'd', 'g_ema', 'g_optim', 'd_optim', 'args' (argparse.Namespace),
  'ada_aug_p'}`` — no ``latent_avg``;
* a bare generator state dict.

Generator state-dict names (rosinality's ``model.py``) and their ganlens/NVIDIA counterparts:

* ``style.{1..n_mlp}.weight/bias`` — EqualLinear (lr_mul 0.01, fused lrelu; ``style.0`` is PixelNorm) →
  ``mapping.fc{i-1}``; PixelNorm = ``normalize_2nd_moment``.
* ``input.input`` [1, C, 4, 4] → ``synthesis.b4.const``.
* ``conv1`` / ``to_rgb1`` → ``b4.conv1`` / ``b4.torgb``; ``convs.{2j}`` (2x up) / ``convs.{2j+1}`` /
  ``to_rgbs.{j}`` → ``b{2**(j+3)}.conv0`` / ``.conv1`` / ``.torgb``.
* StyledConv: ``conv.weight`` [1, out, in, k, k] → ``weight`` (the 1/sqrt(fan_in) runtime scale cancels under
  demodulation, and equals ToRGB's ``weight_gain``), ``conv.modulation.weight/bias`` (EqualLinear, bias_init 1)
  → ``affine``, ``noise.weight`` [1] → ``noise_strength`` [], ``activate.bias`` (FusedLeakyReLU: bias, lrelu,
  x sqrt 2) → ``bias``. The up-sampling conv is ``conv_transpose2d(x, w.transpose(0, 1), stride=2)`` followed
  by a Blur with pad (1, 1) and gain 4 — exactly NVIDIA's transposed-conv path, so the kernel is not flipped.
* ToRGB: ``conv.weight`` [1, 3, C, 1, 1], ``bias`` [1, 3, 1, 1]; its ``upsample.kernel`` (and each up-conv's
  ``conv.blur.kernel``) is the FIR filter x 4, checked against ganlens' ``resample_filter``.
* ``noises.noise_{i}`` [1, 1, r, r] → ``noise_const`` of the i-th noisy layer; ``latent_avg`` → ``mapping.w_avg``.

The channel table (512 up to 32 px, then 256·m, 128·m, ... for channel multiplier m) is re-expressed as NVIDIA's
``min(channel_base // res, channel_max)``; a table that cannot be is refused. Training checkpoints hold no
``latent_avg``; ganlens then estimates ``w_avg`` from 10,000 seeded z and records that in the provenance.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError, UnsafeCheckpointError
from .layers import seeded_normal
from .native import load_state_strict
from .stylegan2 import Generator

_WHICH_KEY = {"G_ema": "g_ema", "G": "g"}
W_AVG_SAMPLES = 10_000


def read_torch_file(path: str | Path) -> Any:
    """``torch.load(weights_only=True)`` (plus ``argparse.Namespace``, which rosinality's train.py stores)."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes)")
    with open(path, "rb") as f:
        head = f.read(3)
    if head[:1] == b"\x80" and head != b"\x80\x02\x8a":  # a pickle, but not torch's legacy magic-number header
        raise CheckpointError(
            f"{path} is a plain Python pickle, not a torch.save checkpoint; if it is an NVIDIA network pickle, "
            "give it the .pkl suffix"
        )
    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals([argparse.Namespace]):
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        msg = str(exc)
        m = re.search(r"GLOBAL ([\w.]+)", msg)
        if m:
            name = m.group(1) if "." in m.group(1) else f"builtins.{m.group(1)}"  # torch drops 'builtins.'
            hint = ""
            if name.startswith(("torch_utils.", "dnnlib.")):
                hint = "; it looks like an NVIDIA network pickle: give it the .pkl suffix"
            raise UnsafeCheckpointError(
                f"{path}: refusing to load: it asks for the global {name}, which torch's weights-only loader "
                f"does not allow (unpickling it could run arbitrary code){hint}"
            ) from None
        detail = re.search(r"(Unsupported operand \d+|invalid load key[^.\n]*)", msg)
        raise CheckpointError(
            f"{path} is not a plain tensor checkpoint (corrupt or truncated: {detail.group(1) if detail else 'unpickling failed'})"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError, zipfile.BadZipFile, KeyError, TypeError, AttributeError,
            IndexError, MemoryError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise CheckpointError(f"{path} is corrupt or truncated ({type(exc).__name__}: {first})") from None


def fit_channel_table(channels: dict[int, int]) -> tuple[int, int]:
    """(channel_base, channel_max) with ``min(channel_base // res, channel_max) == channels[res]`` for every res.

    Common values are tried first (32768 = rosinality's multiplier 2 and NVIDIA config-f, 16384 = multiplier 1).
    Raises CheckpointError when no pair reproduces the table.
    """
    cmax = max(channels.values())
    cands = [32768, 16384, 65536] + [c * r for r, c in channels.items()] + [cmax * max(channels)]
    for base in cands:
        if all(min(base // r, cmax) == c for r, c in channels.items()):
            return base, cmax
    table = ", ".join(f"{r}:{c}" for r, c in sorted(channels.items()))
    raise CheckpointError(
        f"the channel table {{{table}}} cannot be written as min(channel_base // res, channel_max), which is how "
        "ganlens' (NVIDIA's) generator sizes its layers"
    )


def _filter_taps(kernel: torch.Tensor, source: str, name: str) -> list[float]:
    """Recover the 1-D FIR taps from a rosinality blur/upsample kernel (outer(k, k) / sum² x 4)."""
    k = kernel.detach().float() / 4
    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise CheckpointError(f"{source}: {name} is not a square 2-D filter (shape {list(kernel.shape)})")
    t = k.sum(dim=1)
    t = t / t.sum()
    if not torch.allclose(torch.outer(t, t), k, atol=1e-6):
        raise CheckpointError(f"{source}: {name} is not a separable FIR filter")
    if torch.allclose(t, torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8, atol=1e-6):
        return [1, 3, 3, 1]
    scaled = t / t[t.abs() > 1e-8].abs().min()
    return [int(round(v)) if abs(v - round(v)) < 1e-5 else float(v) for v in scaled.tolist()]


def infer_architecture(sd: dict[str, torch.Tensor], source: str) -> dict:
    """size, style_dim, n_mlp, channels per resolution, img_channels and FIR taps, from tensor shapes alone."""
    try:
        n_mlp = len([k for k in sd if re.fullmatch(r"style\.\d+\.weight", k)])
        style_dim = sd["style.1.weight"].shape[1]
        n_blocks = len([k for k in sd if re.fullmatch(r"to_rgbs\.\d+\.conv\.weight", k)])
        channels = {4: sd["input.input"].shape[1]}
        for j in range(n_blocks):
            channels[2 ** (j + 3)] = sd[f"convs.{2 * j}.conv.weight"].shape[1]
        img_channels = sd["to_rgb1.conv.weight"].shape[1]
        ksize = sd["conv1.conv.weight"].shape[-1]
    except KeyError as exc:
        raise CheckpointError(f"{source} is not a rosinality StyleGAN2 generator state dict (no {exc.args[0]!r})") from None
    if ksize != 3:
        raise CheckpointError(f"{source}: {ksize}x{ksize} convolutions are not supported (rosinality uses 3x3)")
    taps = [1, 3, 3, 1]
    if n_blocks:
        taps = _filter_taps(sd["convs.0.conv.blur.kernel"], source, "convs.0.conv.blur.kernel")
    return dict(size=4 * 2**n_blocks, style_dim=style_dim, n_mlp=n_mlp, channels=channels,
                img_channels=img_channels, blur_kernel=taps)


def convert_state(sd: dict[str, torch.Tensor], G: Generator, source: str) -> dict[str, torch.Tensor]:
    """Rename/reshape a rosinality generator state dict into G's names; every file tensor must be used."""
    sd = dict(sd)
    out: dict[str, torch.Tensor] = {}
    filt4 = G.synthesis.b4.resample_filter * 4

    def take(name: str) -> torch.Tensor:
        try:
            return sd.pop(name)
        except KeyError:
            raise CheckpointError(f"{source}: missing {name!r} for a rosinality generator of this size") from None

    def check_filter(name: str) -> None:
        k = take(name)
        if k.shape != filt4.shape or not torch.allclose(k.float(), filt4, atol=1e-6):
            raise CheckpointError(f"{source}: {name} differs from the FIR filter of the other layers")

    n_mlp = G.mapping.num_layers
    for i in range(n_mlp):
        out[f"mapping.fc{i}.weight"] = take(f"style.{i + 1}.weight")
        out[f"mapping.fc{i}.bias"] = take(f"style.{i + 1}.bias")

    def styled(src: str, dst: str, noise_idx: int) -> None:
        out[f"{dst}.weight"] = take(f"{src}.conv.weight")[0]
        out[f"{dst}.affine.weight"] = take(f"{src}.conv.modulation.weight")
        out[f"{dst}.affine.bias"] = take(f"{src}.conv.modulation.bias")
        out[f"{dst}.noise_strength"] = take(f"{src}.noise.weight").reshape([])
        out[f"{dst}.noise_const"] = take(f"noises.noise_{noise_idx}")[0, 0]
        out[f"{dst}.bias"] = take(f"{src}.activate.bias")

    def to_rgb(src: str, dst: str) -> None:
        out[f"{dst}.weight"] = take(f"{src}.conv.weight")[0]
        out[f"{dst}.affine.weight"] = take(f"{src}.conv.modulation.weight")
        out[f"{dst}.affine.bias"] = take(f"{src}.conv.modulation.bias")
        out[f"{dst}.bias"] = take(f"{src}.bias").reshape(-1)

    out["synthesis.b4.const"] = take("input.input")[0]
    styled("conv1", "synthesis.b4.conv1", 0)
    to_rgb("to_rgb1", "synthesis.b4.torgb")
    for j, block in enumerate(G.synthesis.blocks()[1:]):
        dst = f"synthesis.b{block.resolution}"
        styled(f"convs.{2 * j}", f"{dst}.conv0", 2 * j + 1)
        check_filter(f"convs.{2 * j}.conv.blur.kernel")
        styled(f"convs.{2 * j + 1}", f"{dst}.conv1", 2 * j + 2)
        to_rgb(f"to_rgbs.{j}", f"{dst}.torgb")
        check_filter(f"to_rgbs.{j}.upsample.kernel")
    leftover = sorted(sd)
    if leftover:
        raise CheckpointError(
            f"{source}: tensors that a rosinality StyleGAN2 generator does not have: {leftover[:5]}"
            f"{'...' if len(leftover) > 5 else ''} (a SWAGAN or modified model?)"
        )
    # ganlens keeps a copy of the FIR filter in every resampling module; those come from the taps checked above.
    for k, v in G.state_dict().items():
        if k.endswith("resample_filter"):
            out[k] = v
    return out


def _state_of(obj: Any, key: str, source: str) -> dict[str, torch.Tensor]:
    sd = obj.get(key)
    if sd is None:
        raise CheckpointError(f"{source}: the file has no {key!r} (keys: {', '.join(map(str, obj))})")
    if not isinstance(sd, dict):
        raise CheckpointError(f"{source}: {key!r} is a {type(sd).__name__}, not a state dict")
    out = {}
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            raise CheckpointError(f"{source}: {key}[{k!r}] is a {type(v).__name__}, not a tensor")
        out[k[len("module."):] if str(k).startswith("module.") else str(k)] = v  # DataParallel prefixes
    return out


def load_rosinality(path: str | Path, which: str = "G_ema", content: Any = None) -> Generator:
    """Load a rosinality/stylegan2-pytorch generator (eval mode, frozen).

    Args:
        path: the ``.pt`` checkpoint.
        which: 'G_ema' (``g_ema``, default) or 'G' (``g``, training checkpoints only).
        content: the file's content when already read with `read_torch_file` (the registry reads a ``.pt`` /
            ``.pth`` once to tell rosinality files from genforce ones); None reads `path`.
    Raises:
        UnsafeCheckpointError: the file asks for a global torch's weights-only loader refuses.
        CheckpointError: corrupt file, missing network, or a layout ganlens cannot express.
    """
    path = Path(path)
    if which == "D":
        raise CheckpointError(f"{path}: rosinality discriminators are not supported; which must be 'G_ema' or 'G'")
    if which not in _WHICH_KEY:
        raise CheckpointError(f"which must be 'G_ema' or 'G', got {which!r}")
    obj = read_torch_file(path) if content is None else content
    source = f"{path} ({which})"
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, not a rosinality checkpoint dict")
    if "g_ema" in obj or "g" in obj:
        sd = _state_of(obj, _WHICH_KEY[which], source)
        file_kind = "training" if "g_optim" in obj or "args" in obj else "converted"
    elif "style.1.weight" in obj or "input.input" in obj:
        if which != "G_ema":
            raise CheckpointError(f"{path} is a bare generator state dict; only which='G_ema' applies")
        sd, file_kind = _state_of({"g_ema": obj}, "g_ema", source), "state_dict"
    else:
        raise CheckpointError(
            f"{path} is not a rosinality StyleGAN2 checkpoint (no 'g_ema'; keys: {', '.join(map(str, list(obj)[:10]))})"
        )
    arch = infer_architecture(sd, source)
    args = obj.get("args")
    lr_mlp = float(getattr(args, "lr_mlp", 0.01)) if isinstance(args, argparse.Namespace) else 0.01
    channel_base, channel_max = _fit(arch["channels"], source)
    kwargs = dict(
        z_dim=arch["style_dim"], c_dim=0, w_dim=arch["style_dim"], img_resolution=arch["size"],
        img_channels=arch["img_channels"],
        mapping_kwargs=dict(num_layers=arch["n_mlp"], lr_multiplier=lr_mlp),
        synthesis_kwargs=dict(channel_base=channel_base, channel_max=channel_max, resample_filter=arch["blur_kernel"]),
    )
    try:
        G = Generator(**kwargs)
    except (TypeError, ValueError, NotImplementedError) as exc:
        raise CheckpointError(f"{source}: cannot build a ganlens Generator for {kwargs}: {exc}") from None
    state = convert_state(sd, G, source)
    latent_avg = obj.get("latent_avg") if which == "G_ema" else None
    w_avg_note = "latent_avg from the file"
    if latent_avg is not None:
        state["mapping.w_avg"] = _w_avg_from(latent_avg, arch["style_dim"], source)
    else:
        state["mapping.w_avg"] = torch.zeros([arch["style_dim"]])
    load_state_strict(G, state, source)
    G.eval().requires_grad_(False)
    if latent_avg is None:
        with torch.no_grad():
            z = seeded_normal([W_AVG_SAMPLES, G.z_dim], seed=0)
            G.mapping.w_avg.copy_(G.mapping(z)[:, 0].mean(0))
        w_avg_note = f"estimated as the mean of mapping(z) over {W_AVG_SAMPLES} z (seed 0): the file has no latent_avg"
    G.name = path.stem
    G.provenance = {
        "source_format": f"rosinality-stylegan2-pt ({file_kind})",
        "source_file": str(path),
        "source_sha256": _sha256(path),
        "which": which,
        "state_key": _WHICH_KEY[which],
        "inferred": {**{k: v for k, v in arch.items() if k != "channels"},
                     "channels": {str(r): c for r, c in arch["channels"].items()}, "lr_mlp": lr_mlp},
        "w_avg": w_avg_note,
        "init_kwargs": G.init_kwargs,
    }
    return G


def _fit(channels: dict[int, int], source: str) -> tuple[int, int]:
    try:
        return fit_channel_table(channels)
    except CheckpointError as exc:
        raise CheckpointError(f"{source}: {exc}") from None


def _w_avg_from(latent_avg: Any, dim: int, source: str) -> torch.Tensor:
    if not isinstance(latent_avg, torch.Tensor) or latent_avg.numel() % dim:
        raise CheckpointError(f"{source}: latent_avg is not a tensor of {dim}-vectors")
    rows = latent_avg.detach().float().reshape(-1, dim)
    if not torch.allclose(rows, rows[:1].expand_as(rows)):
        raise CheckpointError(f"{source}: latent_avg has {rows.shape[0]} different rows; expected one W average")
    return rows[0].clone()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
