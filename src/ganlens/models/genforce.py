"""genforce (github.com/genforce/genforce) checkpoints (``.pth``) → ganlens generators, read with ``weights_only=True``.

What such a file holds (``torch.save`` of a dict of state dicts; nothing in it is code):

* model zoo (``pggan_celebahq1024.pth``, ``stylegan_ffhq1024.pth``, ``stylegan2_church256.pth``, ... written by
  genforce's converters): ``{'generator', 'discriminator', 'generator_smooth'}``; ``generator_smooth`` is the
  moving average (ganlens' ``G_ema``), the one genforce's ``synthesize.py`` loads (falling back to ``generator``);
* a training checkpoint (``BaseRunner.save``): ``{'models': {'generator', 'discriminator', ['generator_smooth']},
  'running_metadata', 'optimizers', 'learning_rates'}``;
* a bare generator state dict. Keys may carry DataParallel's ``module.`` prefix.

The architecture is recognised from the generator's keys and every constructor argument that shapes tensors is
inferred from them:

* PGGAN (``layer0.weight`` [C, z_dim, 4, 4], ``output{b}.weight``, ``lod``) → `pggan.PGGANGenerator`; names map
  by prefixing ``synthesis.``;
* StyleGAN (``mapping.dense{i}``, ``truncation.w_avg``, ``synthesis.layer{j}.style``/``apply_noise``/``blur``) →
  `stylegan1.StyleGAN1Generator`; names map one to one except ``truncation.w_avg`` → ``mapping.w_avg``;
* StyleGAN2 (``synthesis.early_layer.const``, ``synthesis.layer{j}``, ``synthesis.output{b}``) → ganlens'
  StyleGAN2 `Generator` through the name map in `convert_stylegan2`. genforce's layer j reads w j, its
  ``output{b}`` reads w 2b + 1, exactly NVIDIA's order; its style layers add a constant 1 to the affine output
  at run time (NVIDIA stores it in the bias); its up-sampling conv flips the kernel at run time (NVIDIA's
  converted weights are stored flipped); its FIR kernels (``filter.kernel``, ``synthesis.upsample.kernel``) are
  the [1, 3, 3, 1] filter x 4 and are checked against ganlens' ``resample_filter``.

Settings that leave no trace in a state dict take genforce's defaults (all of its model-zoo entries use them):
mapping lr multiplier 0.01, no final tanh, StyleGAN's fused up-scaling from 128 px ('auto'), PGGAN's non-fused
up-scaling unless weight shapes show otherwise; the provenance records them under ``assumed``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ..errors import CheckpointError
from .native import load_state_strict, state_mismatch
from .pggan import PGGANGenerator
from .rosinality import _filter_taps, _sha256, _state_of, fit_channel_table, read_torch_file
from .stylegan1 import StyleGAN1Generator
from .stylegan2 import Generator

ARCHITECTURES = ("pggan", "stylegan1", "stylegan2")
NETWORKS = ("generator_smooth", "generator")
_WHICH = {"G_ema": "generator_smooth", "generator_smooth": "generator_smooth", "G": "generator", "generator": "generator"}
MAPPING_LR = 0.01  # genforce's mapping_lr_mul default; a state dict does not record it
TRUNCATION_CUTOFF = 8  # the original StyleGAN's truncation_cutoff (genforce's synthesize.py --trunc_layers 8)


def _keys(sd: dict) -> set[str]:
    return {k[len("module."):] if k.startswith("module.") else k for k in sd if isinstance(k, str)}


def detect_architecture(sd: Any) -> str | None:
    """'pggan', 'stylegan1' or 'stylegan2' for a genforce generator state dict (from its keys), else None."""
    if not isinstance(sd, dict):
        return None
    keys = _keys(sd)
    if "synthesis.early_layer.const" in keys or "synthesis.early_layer.weight" in keys:
        return "stylegan2"
    if "truncation.w_avg" in keys and "synthesis.layer0.style.weight" in keys:
        return "stylegan1"
    if "layer0.weight" in keys and "output0.weight" in keys and not any(k.startswith("mapping.") for k in keys):
        return "pggan"
    return None


def genforce_layout(obj: Any) -> str | None:
    """How a loaded file holds genforce networks: 'model zoo', 'training', 'state_dict' (bare), or None."""
    if not isinstance(obj, dict):
        return None
    models = obj.get("models")
    if isinstance(models, dict) and any(isinstance(models.get(k), dict) for k in NETWORKS):
        return "training"
    if any(isinstance(obj.get(k), dict) for k in NETWORKS):
        return "model zoo"
    if detect_architecture(obj):
        return "state_dict"
    return None


def is_rosinality_content(obj: Any) -> bool:
    """True for what rosinality/stylegan2-pytorch saves: {'g_ema', ...} or a bare generator state dict."""
    return isinstance(obj, dict) and any(k in obj for k in ("g_ema", "g", "style.1.weight", "input.input"))


def describe_content(obj: Any) -> str:
    """A short account of a loaded object for error messages (its type, a dict's first keys)."""
    if isinstance(obj, dict):
        keys = [str(k) for k in list(obj)[:8]]
        return f"a dict with keys {keys}{'...' if len(obj) > 8 else ''}"
    return f"a {type(obj).__name__}"


def load_genforce(path: str | Path, which: str = "G_ema", content: Any = None) -> nn.Module:
    """Load a genforce generator (PGGAN, StyleGAN or StyleGAN2), in eval mode and frozen.

    Args:
        path: the ``.pth`` checkpoint.
        which: 'G_ema' (``generator_smooth``, default; ``generator`` when the file has no smoothed copy, as
            genforce's synthesize.py does) or 'G' (``generator``); genforce's own names are accepted too.
        content: the file's content when already read with `read_torch_file` (the registry reads a file once to
            detect its format); None reads `path`.
    Returns:
        `PGGANGenerator`, `StyleGAN1Generator` or ganlens' StyleGAN2 `Generator`.
    Raises:
        UnsafeCheckpointError: the file asks for a global torch's weights-only loader refuses.
        CheckpointError: corrupt file, not a genforce checkpoint, missing network, unknown or unsupported layout,
            or tensors that do not match the inferred architecture (the message names them).
    """
    path = Path(path)
    if which in ("D", "discriminator"):
        raise CheckpointError(f"{path}: genforce discriminators are not supported; which must be 'G_ema' or 'G'")
    if which not in _WHICH:
        raise CheckpointError(f"which must be 'G_ema' ('generator_smooth') or 'G' ('generator'), got {which!r}")
    obj = read_torch_file(path) if content is None else content
    layout = genforce_layout(obj)
    if layout is None:
        if is_rosinality_content(obj):
            raise CheckpointError(
                f"{path} is a rosinality StyleGAN2 checkpoint ('g_ema' / rosinality names), not a genforce one: "
                "load it with format='rosinality', or format=None to detect the format"
            )
        raise CheckpointError(
            f"{path} is not a genforce checkpoint (expected 'generator' / 'generator_smooth' state dicts, a training "
            f"checkpoint's 'models', or a bare PGGAN / StyleGAN / StyleGAN2 generator state dict); it holds "
            f"{describe_content(obj)}"
        )
    want = _WHICH[which]
    note = None
    if layout == "state_dict":
        if want != "generator_smooth":
            raise CheckpointError(f"{path} is a bare generator state dict; only which='G_ema' applies")
        key, sd = None, _state_of({"state dict": obj}, "state dict", str(path))
    else:
        nets = obj["models"] if layout == "training" else obj
        key = want
        if want == "generator_smooth" and not isinstance(nets.get(want), dict) and isinstance(nets.get("generator"), dict):
            key = "generator"
            note = "the file has no 'generator_smooth'; took 'generator' (as genforce's synthesize.py does)"
        sd = _state_of(nets, key, f"{path} ({which})")
    source = f"{path} ({key or 'state dict'})"
    arch = detect_architecture(sd)
    if arch is None:
        raise CheckpointError(
            f"{source}: not a genforce generator ganlens knows (PGGAN: 'layer0.weight', 'output0.weight'; StyleGAN: "
            f"'truncation.w_avg', 'synthesis.layer0.style.weight'; StyleGAN2: 'synthesis.early_layer.const'); its "
            f"keys begin {sorted(sd)[:6]}"
        )
    build = {"pggan": _build_pggan, "stylegan1": _build_stylegan1, "stylegan2": _build_stylegan2}[arch]
    G, inferred, assumed = build(sd, source)
    G.eval().requires_grad_(False)
    G.name = path.stem
    G.provenance = {
        "source_format": f"genforce-{arch} ({layout})",
        "source_file": str(path),
        "source_sha256": _sha256(path),
        "which": which,
        "state_key": key,
        "inferred": inferred,
        "assumed": assumed,
        "init_kwargs": G.init_kwargs,
    }
    if note:
        G.provenance["note"] = note
    return G


# ------------------------------------------------------------------------------------------------ helpers


def _count(sd: dict, pattern: str) -> int:
    """How many consecutive indices 0, 1, ... have a key matching `pattern` (with one '{}' for the index)."""
    n = 0
    while pattern.format(n) in sd:
        n += 1
    return n


def _tensor(sd: dict, key: str, source: str, ndim: int | None = None) -> torch.Tensor:
    try:
        t = sd[key]
    except KeyError:
        raise CheckpointError(f"{source}: missing {key!r}") from None
    if ndim is not None and t.ndim != ndim:
        raise CheckpointError(f"{source}: {key} has shape {list(t.shape)}; expected a {ndim}-D tensor")
    return t


def _fit(channels: dict[int, int], source: str) -> tuple[int, int]:
    try:
        return fit_channel_table(channels)
    except CheckpointError as exc:
        raise CheckpointError(f"{source}: {exc}") from None


def _load_renamed(G: nn.Module, sd: dict[str, torch.Tensor], to_model: Callable[[str], str],
                  to_file: Callable[[str], str], source: str, what: str) -> None:
    """Strict loading through a one-to-one name map; errors name the file's keys, not ganlens'."""
    problem = state_mismatch(sd, {to_file(k): v.shape for k, v in G.state_dict().items()})
    if problem:
        raise CheckpointError(f"{source} does not match a genforce {what} of the inferred size: {problem}")
    G.load_state_dict({to_model(k): v for k, v in sd.items()}, strict=True)


def _construct(cls: type, kwargs: dict, source: str) -> nn.Module:
    try:
        return cls(**kwargs)
    except (TypeError, ValueError, NotImplementedError) as exc:
        raise CheckpointError(f"{source}: cannot build a {cls.__name__} for {kwargs}: {exc}") from None


def _mapping_dims(sd: dict, source: str) -> tuple[int, int, int, int]:
    """(num_layers, z_dim, hidden features, w_dim) of a genforce StyleGAN / StyleGAN2 mapping network."""
    if "mapping.label_weight" in sd or "mapping.label_embed.weight" in sd:
        raise CheckpointError(f"{source}: a label-conditional generator; ganlens supports unconditional ones only")
    n = _count(sd, "mapping.dense{}.weight")
    if n == 0:
        raise CheckpointError(f"{source}: missing 'mapping.dense0.weight'")
    first = _tensor(sd, "mapping.dense0.weight", source, ndim=2)
    w_dim = _tensor(sd, "truncation.w_avg", source, ndim=1).shape[0]
    last = _tensor(sd, f"mapping.dense{n - 1}.weight", source, ndim=2).shape[0]
    if last != w_dim:
        raise CheckpointError(
            f"{source}: the mapping network ends in {last} features but w_avg has {w_dim}; a generator with "
            "repeat_w=False (one w per layer from the mapping) is not supported"
        )
    hidden = first.shape[0] if n > 1 else w_dim
    return n, first.shape[1], hidden, w_dim


# ------------------------------------------------------------------------------------------------ PGGAN


def _build_pggan(sd: dict, source: str) -> tuple[nn.Module, dict, dict]:
    n = _count(sd, "output{}.weight")
    nf = {4 * 2**b: _tensor(sd, f"output{b}.weight", source, ndim=4).shape[1] for b in range(n)}
    img_channels = sd["output0.weight"].shape[0]
    first = _tensor(sd, "layer0.weight", source, ndim=4)
    if first.shape[2:] != (4, 4):
        raise CheckpointError(f"{source}: layer0.weight has shape {list(first.shape)}; PGGAN's first layer is 4x4")
    fused = None  # fused up-scaling stores [in, out, 3, 3]; it shows where a block changes the channel count
    for b in range(1, n):
        r = 4 * 2**b
        lo, hi = nf[r // 2], nf[r]
        shape = tuple(_tensor(sd, f"layer{2 * b}.weight", source, ndim=4).shape[:2])
        if lo != hi and shape in ((hi, lo), (lo, hi)):
            fused = shape == (lo, hi)
            break
    channel_base, channel_max = _fit(nf, source)
    kwargs = dict(z_dim=first.shape[1], img_resolution=4 * 2 ** (n - 1), img_channels=img_channels,
                  channel_base=channel_base, channel_max=channel_max, fused_scale=bool(fused))
    G = _construct(PGGANGenerator, kwargs, source)
    _load_renamed(G, sd, lambda k: f"synthesis.{k}", lambda k: k[len("synthesis."):], source, "PGGAN generator")
    inferred = {**kwargs, "channels": {str(r): c for r, c in nf.items()}}
    assumed = {"final_tanh": False}
    if fused is None:
        assumed["fused_scale"] = False  # genforce's default; the shapes cannot tell when channels never change
    return G, inferred, assumed


# ------------------------------------------------------------------------------------------------ StyleGAN


def _build_stylegan1(sd: dict, source: str) -> tuple[nn.Module, dict, dict]:
    n_map, z_dim, hidden, w_dim = _mapping_dims(sd, source)
    n = _count(sd, "synthesis.output{}.weight")
    nf = {4 * 2**b: _tensor(sd, f"synthesis.output{b}.weight", source, ndim=4).shape[1] for b in range(n)}
    img_channels = sd["synthesis.output0.weight"].shape[0]
    noise_w = _tensor(sd, "synthesis.layer0.apply_noise.weight", source)
    if noise_w.ndim != 1:
        raise CheckpointError(f"{source}: per-channel noise (noise_type='channel') is not supported; ganlens "
                              "implements StyleGAN's per-pixel ('spatial') noise")
    channel_base, channel_max = _fit(nf, source)
    mapping_kwargs = dict(num_layers=n_map, lr_multiplier=MAPPING_LR, truncation_cutoff=TRUNCATION_CUTOFF)
    if hidden != w_dim:
        mapping_kwargs["layer_features"] = hidden
    synthesis_kwargs = dict(channel_base=channel_base, channel_max=channel_max, fused_scale="auto",
                            const_input="synthesis.layer0.const" in sd)
    kwargs = dict(z_dim=z_dim, w_dim=w_dim, img_resolution=4 * 2 ** (n - 1), img_channels=img_channels,
                  mapping_kwargs=mapping_kwargs, synthesis_kwargs=synthesis_kwargs)
    G = _construct(StyleGAN1Generator, kwargs, source)

    def to_model(k: str) -> str:
        return "mapping.w_avg" if k == "truncation.w_avg" else k

    def to_file(k: str) -> str:
        return "truncation.w_avg" if k == "mapping.w_avg" else k

    _load_renamed(G, sd, to_model, to_file, source, "StyleGAN generator")
    inferred = {k: v for k, v in kwargs.items() if k not in ("mapping_kwargs", "synthesis_kwargs")}
    inferred.update(num_mapping_layers=n_map, mapping_features=hidden, channels={str(r): c for r, c in nf.items()},
                    const_input=synthesis_kwargs["const_input"])
    assumed = {"mapping_lr_multiplier": MAPPING_LR, "fused_scale": "auto (fused up-scaling from 128 px)",
               "final_tanh": False, "truncation_cutoff": TRUNCATION_CUTOFF}
    return G, inferred, assumed


# ------------------------------------------------------------------------------------------------ StyleGAN2


def _build_stylegan2(sd: dict, source: str) -> tuple[nn.Module, dict, dict]:
    if "synthesis.early_layer.weight" in sd:
        raise CheckpointError(f"{source}: a StyleGAN2 generator without constant input (const_input=False) is not "
                              "supported; ganlens' StyleGAN2 starts from a learned constant")
    if any(k.startswith("synthesis.skip_layer") for k in sd):
        raise CheckpointError(f"{source}: genforce StyleGAN2 'resnet' synthesis is not supported; ganlens implements "
                              "'skip' (genforce's and NVIDIA's default)")
    n_map, z_dim, hidden, w_dim = _mapping_dims(sd, source)
    n = _count(sd, "synthesis.output{}.weight")
    n_layers = _count(sd, "synthesis.layer{}.weight")
    if n == 0 or n_layers != 2 * n - 1:
        raise CheckpointError(f"{source}: {n_layers} conv layers but {n} to-RGB layers; only the 'skip' synthesis "
                              "(one to-RGB per resolution) is supported")
    channels = {4: _tensor(sd, "synthesis.early_layer.const", source, ndim=4).shape[1]}
    for b in range(1, n):
        channels[4 * 2**b] = _tensor(sd, f"synthesis.layer{2 * b - 1}.weight", source, ndim=4).shape[0]
    ksize = sd["synthesis.layer0.weight"].shape[-1]
    if ksize != 3:
        raise CheckpointError(f"{source}: {ksize}x{ksize} convolutions are not supported (StyleGAN2 uses 3x3)")
    taps = [1, 3, 3, 1]
    if n > 1:
        kernel = _tensor(sd, "synthesis.layer1.filter.kernel", source, ndim=4)
        taps = _filter_taps(kernel[0, 0], source, "synthesis.layer1.filter.kernel")
    channel_base, channel_max = _fit(channels, source)
    mapping_kwargs = dict(num_layers=n_map, lr_multiplier=MAPPING_LR)
    if hidden != w_dim:
        mapping_kwargs["layer_features"] = hidden
    kwargs = dict(z_dim=z_dim, c_dim=0, w_dim=w_dim, img_resolution=4 * 2 ** (n - 1),
                  img_channels=sd["synthesis.output0.weight"].shape[0], mapping_kwargs=mapping_kwargs,
                  synthesis_kwargs=dict(channel_base=channel_base, channel_max=channel_max, resample_filter=taps))
    G = _construct(Generator, kwargs, source)
    load_state_strict(G, convert_stylegan2(sd, G, source), source)
    inferred = {k: v for k, v in kwargs.items() if k not in ("mapping_kwargs", "synthesis_kwargs")}
    inferred.update(num_mapping_layers=n_map, mapping_features=hidden, resample_filter=taps,
                    channels={str(r): c for r, c in channels.items()})
    assumed = {"mapping_lr_multiplier": MAPPING_LR, "final_tanh": False}
    return G, inferred, assumed


def convert_stylegan2(sd: dict[str, torch.Tensor], G: Generator, source: str) -> dict[str, torch.Tensor]:
    """Rename/reshape a genforce StyleGAN2 generator state dict into G's (NVIDIA's) names; every tensor of the
    file must be used, and its FIR kernels must equal G's filter."""
    sd = dict(sd)
    out: dict[str, torch.Tensor] = {}
    origin: dict[str, str] = {}  # ganlens name → the file's name, for error messages
    filt4 = G.synthesis.b4.resample_filter * 4

    def take(name: str, dst: str | None = None) -> torch.Tensor:
        try:
            t = sd.pop(name)
        except KeyError:
            raise CheckpointError(f"{source}: missing {name!r} for a genforce StyleGAN2 generator of this size") from None
        if dst is not None:
            origin[dst] = name
        return t

    def check_filter(name: str) -> None:
        k = take(name)
        if k.shape != (1, 1, *filt4.shape) or not torch.allclose(k[0, 0].float(), filt4, atol=1e-6):
            raise CheckpointError(f"{source}: {name} differs from the FIR filter of the other layers")

    def move(src: str, dst: str) -> torch.Tensor:
        out[dst] = take(src, dst)
        return out[dst]

    def affine(src: str, dst: str) -> None:
        move(f"{src}.style.weight", f"{dst}.affine.weight")
        out[f"{dst}.affine.bias"] = take(f"{src}.style.bias", f"{dst}.affine.bias") + 1  # genforce adds 1 at run time

    def modulated(src: str, dst: str, up: bool = False) -> None:
        w = move(f"{src}.weight", f"{dst}.weight")
        if up:
            out[f"{dst}.weight"] = w.flip([2, 3]) if w.ndim == 4 else w  # genforce flips this kernel at run time
        move(f"{src}.bias", f"{dst}.bias")
        affine(src, dst)
        noise = take(f"{src}.noise", f"{dst}.noise_const")
        if noise.ndim != 4 or noise.shape[:2] != (1, 1):
            raise CheckpointError(f"{source}: {src}.noise has shape {list(noise.shape)}; only per-pixel noise "
                                  "[1, 1, r, r] is supported")
        out[f"{dst}.noise_const"] = noise[0, 0]
        strength = take(f"{src}.noise_strength", f"{dst}.noise_strength")
        out[f"{dst}.noise_strength"] = strength.reshape([]) if strength.numel() == 1 else strength

    def to_rgb(src: str, dst: str) -> None:
        move(f"{src}.weight", f"{dst}.weight")
        move(f"{src}.bias", f"{dst}.bias")
        affine(src, dst)

    for i in range(G.mapping.num_layers):
        move(f"mapping.dense{i}.weight", f"mapping.fc{i}.weight")
        move(f"mapping.dense{i}.bias", f"mapping.fc{i}.bias")
    move("truncation.w_avg", "mapping.w_avg")
    const = take("synthesis.early_layer.const", "synthesis.b4.const")
    out["synthesis.b4.const"] = const[0] if const.ndim == 4 else const
    modulated("synthesis.layer0", "synthesis.b4.conv1")
    to_rgb("synthesis.output0", "synthesis.b4.torgb")
    for b, block in enumerate(G.synthesis.blocks()[1:], start=1):
        dst = f"synthesis.b{block.resolution}"
        modulated(f"synthesis.layer{2 * b - 1}", f"{dst}.conv0", up=True)
        check_filter(f"synthesis.layer{2 * b - 1}.filter.kernel")
        modulated(f"synthesis.layer{2 * b}", f"{dst}.conv1")
        to_rgb(f"synthesis.output{b}", f"{dst}.torgb")
    check_filter("synthesis.upsample.kernel")
    leftover = sorted(sd)
    if leftover:
        raise CheckpointError(
            f"{source}: tensors that a genforce StyleGAN2 generator of this size does not have: {leftover[:5]}"
            f"{'...' if len(leftover) > 5 else ''}"
        )
    own = G.state_dict()
    shapes = [f"{origin.get(k, k)}: file {list(v.shape)} vs model {list(own[k].shape)}"
              for k, v in out.items() if k in own and v.shape != own[k].shape]
    if shapes:
        raise CheckpointError(f"{source} does not match a genforce StyleGAN2 generator of the inferred size: shape "
                              f"mismatch {shapes[:3]}")
    # ganlens keeps a copy of the FIR filter in every resampling module; those come from the taps checked above.
    for k, v in own.items():
        if k.endswith("resample_filter"):
            out[k] = v
    return out

