"""NVIDIA stylegan2-ada-pytorch network pickles (``.pkl``) → ganlens networks, without running their code.

What such a file holds:

* a training snapshot (``network-snapshot-*.pkl``, and the published ``ffhq.pkl`` etc.): a dict
  ``{'G', 'D', 'G_ema', 'augment_pipe', 'training_set_kwargs'}``; files converted from TensorFlow with NVIDIA's
  ``legacy.py`` have the same layout (``augment_pipe``/``training_set_kwargs`` may be None);
* each network is a ``torch_utils.persistence`` record ``{type: 'class', version: 6, module_src, class_name,
  state}``, where ``class_name`` is the bare class name (``'Generator'``, ``'Discriminator'``), ``module_src`` the
  full text of ``training/networks.py`` and ``state`` the module's ``__dict__``: ``_init_args``,
  ``_init_kwargs`` (the constructor arguments), ``_parameters``, ``_buffers``, ``_modules`` (sub-modules, records
  of the same kind) and plain attributes (``conv_clamp``, ``bias_gain``, ...);
* an older tuple ``(G, D, Gs)``, where ``Gs`` is the moving average (ganlens' ``G_ema``).

`load_nvidia_pickle` reads the file with `safe_unpickle.RestrictedUnpickler` (``module_src`` is kept as text and
never executed), collects the state dict from the nested ``_parameters``/``_buffers``/``_modules`` records and
loads it into ganlens' `Generator` (or `Discriminator` for ``which='D'``) with ``strict=True``. The constructor
kwargs come from ``_init_kwargs``, with the settings that changed defaults between NVIDIA's repositories
(``conv_clamp``, mapping ``lr_multiplier``, ...) read from the pickled modules themselves.

StyleGAN3 generators (the stylegan3 repository's ``training/networks_stylegan3.py``: a Fourier-feature
``synthesis.input`` and layers ``L{idx}_{size}_{channels}``) load into `stylegan3.Generator`. Their Generator
takes the synthesis kwargs flat (``channel_base``, ``conv_kernel``, ``use_radial_filters``, ...); the layer names
the file holds are checked against the schedule those kwargs give, and the attributes that steer the forward pass
without being tensors (grid size, sampling rates, bandwidth, paddings, resampling factors) against the rebuilt
modules, before the state is loaded strictly. TensorFlow-era pickles are recognised and refused with advice.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError
from .native import load_state_strict
from .safe_unpickle import PersistentObject, TFNetworkStub, restricted_loads
from .stylegan2 import Generator
from .stylegan3 import Generator as StyleGAN3Generator
from .stylegan3 import synthesis_schedule

WHICH = ("G_ema", "G", "D")
_GEN_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs")
_DISC_ARGS = ("c_dim", "img_resolution", "img_channels", "architecture", "channel_base", "channel_max",
              "num_fp16_res", "conv_clamp", "cmap_dim", "block_kwargs", "mapping_kwargs", "epilogue_kwargs")
# Generator kwargs that only steer how NVIDIA's code runs, not what it computes.
_RUNTIME_ONLY = ("fused_modconv_default",)
# StyleGAN3's Generator(z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs, **synthesis_kwargs).
_SG3_GEN_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs")
# SynthesisNetwork's own kwargs (the rest go to every SynthesisLayer).
_SG3_SCHEDULE_ARGS = ("channel_base", "channel_max", "num_layers", "num_critical", "first_cutoff", "first_stopband",
                      "last_stopband_rel", "margin_size")


def plain(obj: Any, _depth: int = 0) -> Any:
    """JSON-friendly copy: EasyDicts → dicts, tuples → lists, NumPy scalars → Python numbers."""
    if _depth > 32:  # kwargs are shallow; a deeper structure is not worth recursing into
        return "<nested too deep>"
    if isinstance(obj, dict):
        return {str(k): plain(v, _depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v, _depth + 1) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, torch.Tensor):
        return f"<tensor {list(obj.shape)}>"
    return repr(obj)


def read_network_pickle(path: str | Path) -> tuple[Any, str]:
    """The restricted-unpickled content of `path` and the file's sha256."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc}") from exc
    if data[:4] == b"PK\x03\x04":
        raise CheckpointError(
            f"{path} is a zip archive (torch.save format), not an NVIDIA network pickle; "
            "if it is a rosinality checkpoint, give it the .pt suffix"
        )
    return restricted_loads(data, str(path)), hashlib.sha256(data).hexdigest()


def collect_state(rec: PersistentObject, source: str, prefix: str = "") -> dict[str, torch.Tensor]:
    """The state dict of a pickled module tree: parameters and persistent buffers, recursively."""
    if prefix.count(".") > 32:
        raise CheckpointError(f"{source}: modules nested more than 32 levels deep")
    out: dict[str, torch.Tensor] = {}
    st = rec.state
    skip = st.get("_non_persistent_buffers_set") or set()
    for kind in ("_parameters", "_buffers"):
        entries = st.get(kind) or {}
        if not isinstance(entries, dict):
            raise CheckpointError(f"{source}: {prefix or 'the network'} has a malformed {kind} entry")
        for name, t in entries.items():
            if t is None or (kind == "_buffers" and name in skip):
                continue
            if not isinstance(t, torch.Tensor):
                raise CheckpointError(f"{source}: {prefix}{name} is a {type(t).__name__}, not a tensor")
            out[prefix + name] = t.detach()
    for name, child in (st.get("_modules") or {}).items():
        if child is None:
            continue
        if not isinstance(child, PersistentObject):
            raise CheckpointError(f"{source}: sub-module {prefix}{name} is a {type(child).__name__}, not a network record")
        out.update(collect_state(child, source, f"{prefix}{name}."))
    return out


def _raw_kwargs(rec: PersistentObject, names: tuple[str, ...]) -> dict:
    """Constructor kwargs as recorded by the persistence decorator (positional args named by signature)."""
    args = rec.attr("_init_args") or ()
    kwargs = rec.attr("_init_kwargs") or {}
    if not isinstance(args, (tuple, list)) or not isinstance(kwargs, dict):
        raise CheckpointError(f"{rec.class_name}: malformed _init_args/_init_kwargs")
    out = dict(zip(names, args))
    out.update(kwargs)
    return plain(out)


def _is_stylegan3(rec: PersistentObject) -> bool:
    synth = rec.child("synthesis")
    has_input = synth is not None and synth.child("input") is not None
    return has_input or "class SynthesisInput" in rec.module_src


def _select(data: Any, which: str, path: Path) -> PersistentObject:
    if isinstance(data, (tuple, list)) and len(data) == 3:
        if any(isinstance(x, TFNetworkStub) for x in data):
            raise CheckpointError(
                f"{path} is a TensorFlow-era StyleGAN2 pickle (dnnlib.tflib networks); ganlens reads the PyTorch "
                "format. Convert it once with NVIDIA's stylegan2-ada-pytorch: "
                f"python legacy.py --source={path.name} --dest=converted.pkl, then load converted.pkl"
            )
        rec = data[{"G": 0, "D": 1, "G_ema": 2}[which]]  # legacy (G, D, Gs): Gs is the moving average
    elif isinstance(data, dict):
        if which not in data:
            keys = ", ".join(map(str, list(data)[:10]))
            raise CheckpointError(f"{path} has no {which!r} network (top-level keys: {keys})")
        rec = data[which]
        if rec is None:
            raise CheckpointError(f"{path}: {which} is empty (None) in this snapshot")
    elif isinstance(data, PersistentObject):
        rec = data  # a single pickled network
    else:
        raise CheckpointError(
            f"{path} holds a {type(data).__name__}, not an NVIDIA network snapshot (a dict with G, D, G_ema)"
        )
    if isinstance(rec, TFNetworkStub):
        raise CheckpointError(f"{path} is a TensorFlow-era pickle; convert it with NVIDIA's legacy.py first")
    if not isinstance(rec, PersistentObject):
        raise CheckpointError(f"{path}: {which} is a {type(rec).__name__}, not a pickled network")
    return rec


def generator_kwargs(rec: PersistentObject, source: str) -> tuple[dict, dict]:
    """(ganlens Generator kwargs, the kwargs as found in the file) for a pickled StyleGAN2 Generator."""
    raw = _raw_kwargs(rec, _GEN_ARGS)
    mapping, synthesis = rec.child("mapping"), rec.child("synthesis")
    if mapping is None or synthesis is None:
        raise CheckpointError(f"{source}: the Generator has no mapping/synthesis sub-networks")
    kw = {k: raw.get(k, rec.attr(k)) for k in _GEN_ARGS[:5]}
    if any(v is None for v in kw.values()):
        raise CheckpointError(f"{source}: the Generator record lacks {[k for k, v in kw.items() if v is None]}")
    if kw["c_dim"]:
        raise CheckpointError(f"{source}: conditional generators (c_dim={kw['c_dim']}) are not supported yet")
    map_kw = dict(raw.get("mapping_kwargs") or {})
    syn_kw = dict(raw.get("synthesis_kwargs") or {})
    # The stylegan3 repository's StyleGAN2 Generator takes its synthesis kwargs flat (**synthesis_kwargs).
    syn_kw.update({k: v for k, v in raw.items() if k not in _GEN_ARGS})
    for k in _RUNTIME_ONLY:
        syn_kw.pop(k, None)
    # Read what the modules actually were: defaults differ between NVIDIA's repositories (e.g. conv_clamp
    # defaults to None in stylegan2-ada-pytorch but 256 in stylegan3's networks_stylegan2.py).
    map_kw["num_layers"] = plain(mapping.attr("num_layers", map_kw.get("num_layers", 8)))
    if mapping.attr("w_avg_beta") is not None:
        map_kw["w_avg_beta"] = plain(mapping.attr("w_avg_beta"))
    fc0 = mapping.child("fc0")
    if fc0 is not None:
        if fc0.attr("bias_gain") is not None:
            map_kw["lr_multiplier"] = plain(fc0.attr("bias_gain"))
        if fc0.attr("activation") is not None:
            map_kw["activation"] = fc0.attr("activation")
    b4 = synthesis.child("b4")
    layer = b4.child("conv1") if b4 is not None else None
    if b4 is not None and b4.attr("architecture") is not None:
        syn_kw["architecture"] = b4.attr("architecture")
    if layer is not None:
        for key in ("conv_clamp", "use_noise", "activation"):
            if key in layer.state:
                syn_kw[key] = plain(layer.attr(key))
    if syn_kw.get("architecture", "skip") != "skip":
        raise CheckpointError(
            f"{source}: synthesis architecture {syn_kw['architecture']!r} is not supported; ganlens implements "
            "'skip' (the StyleGAN2 config-f default)"
        )
    for key, act in (("mapping", map_kw.get("activation", "lrelu")), ("synthesis", syn_kw.get("activation", "lrelu"))):
        if act not in ("lrelu", "linear"):
            raise CheckpointError(f"{source}: {key} activation {act!r} is not supported (ganlens has lrelu and linear)")
    kw["mapping_kwargs"], kw["synthesis_kwargs"] = map_kw, syn_kw
    return plain(kw), raw


def discriminator_kwargs(rec: PersistentObject, source: str) -> tuple[dict, dict]:
    """(ganlens Discriminator kwargs, the kwargs as found in the file) for a pickled StyleGAN2 Discriminator."""
    raw = _raw_kwargs(rec, _DISC_ARGS)
    c_dim = raw.get("c_dim", rec.attr("c_dim"))
    if c_dim:
        raise CheckpointError(f"{source}: conditional discriminators (c_dim={c_dim}) are not supported yet")
    arch = raw.get("architecture", "resnet")
    if arch != "resnet":
        raise CheckpointError(f"{source}: discriminator architecture {arch!r} is not supported (ganlens has 'resnet')")
    epilogue = rec.child("b4")
    mbstd = epilogue.child("mbstd") if epilogue is not None else None
    epi_kw = raw.get("epilogue_kwargs") or {}
    group = plain(mbstd.attr("group_size")) if mbstd is not None else epi_kw.get("mbstd_group_size", 4)
    channels = plain(mbstd.attr("num_channels")) if mbstd is not None else epi_kw.get("mbstd_num_channels", 1)
    if mbstd is None or channels != 1 or group is None:
        raise CheckpointError(
            f"{source}: minibatch-stddev layer with group_size={group}, num_channels={channels} is not supported "
            "(ganlens has a fixed group size and 1 channel)"
        )
    kw = dict(
        c_dim=0, img_resolution=raw.get("img_resolution", rec.attr("img_resolution")),
        img_channels=raw.get("img_channels", rec.attr("img_channels")),
        channel_base=raw.get("channel_base", 32768), channel_max=raw.get("channel_max", 512),
        mbstd_group_size=group, conv_clamp=raw.get("conv_clamp"),
    )
    return plain(kw), raw


def load_nvidia_pickle(path: str | Path, which: str = "G_ema") -> Generator | StyleGAN3Generator:
    """Load one network of an NVIDIA stylegan2-ada-pytorch or stylegan3 pickle (eval mode, frozen) without
    running its code.

    Args:
        path: the ``.pkl`` file.
        which: 'G_ema' (the moving-average generator, what NVIDIA samples with), 'G', or 'D' (returns a
            ganlens `Discriminator`).
    Returns:
        a StyleGAN2 `Generator`, a `stylegan3.Generator` (configs T and R) or a `Discriminator`.
    Raises:
        UnsafeCheckpointError: the pickle names a global outside the allow-list.
        CheckpointError: corrupt/truncated file, TensorFlow network, an architecture ganlens does not implement,
            or tensors/attributes that do not match the architecture the file's kwargs describe.
    """
    path = Path(path)
    if which not in WHICH:
        raise CheckpointError(f"which must be one of {WHICH}, got {which!r}")
    data, sha = read_network_pickle(path)
    rec = _select(data, which, path)
    source = f"{path} ({which})"
    if which == "D":
        if rec.class_name != "Discriminator":
            raise CheckpointError(f"{source} is a {rec.class_name!r}, not a Discriminator")
        net, raw = _build_discriminator(rec, source)
    else:
        if rec.class_name != "Generator":
            raise CheckpointError(f"{source} is a {rec.class_name!r}, not a Generator")
        if _is_stylegan3(rec):
            net, raw = _build_stylegan3(rec, source)
        else:
            net, raw = _build_generator(rec, source)
    net.name = path.stem
    tsk = data.get("training_set_kwargs") if isinstance(data, dict) else None
    stylegan3 = isinstance(net, StyleGAN3Generator)
    net.provenance = {
        "source_format": "nvidia-stylegan3-pkl" if stylegan3 else "nvidia-stylegan2-ada-pkl",
        "source_file": str(path),
        "source_sha256": sha,
        "which": which,
        "class_name": rec.class_name,
        "persistence_version": rec.version,
        "module_src_sha256": hashlib.sha256(rec.module_src.encode("utf-8", "replace")).hexdigest(),
        "init_kwargs_found": raw,
        "init_kwargs": plain(net.init_kwargs),
        "training_set_kwargs": plain(tsk) if isinstance(tsk, dict) else None,
    }
    return net.eval().requires_grad_(False)


def _build_generator(rec: PersistentObject, source: str) -> tuple[Generator, dict]:
    kw, raw = generator_kwargs(rec, source)
    try:
        G = Generator(**kw)
    except (TypeError, ValueError, NotImplementedError) as exc:
        raise CheckpointError(f"{source}: cannot build a ganlens Generator from the file's kwargs {kw}: {exc}") from None
    load_state_strict(G, collect_state(rec, source), source)
    return G, raw


def stylegan3_kwargs(rec: PersistentObject, source: str) -> tuple[dict, dict]:
    """(`stylegan3.Generator` kwargs, the kwargs as found in the file) for a pickled StyleGAN3 Generator."""
    raw = _raw_kwargs(rec, _SG3_GEN_ARGS)
    mapping, synthesis = rec.child("mapping"), rec.child("synthesis")
    if mapping is None or synthesis is None or synthesis.child("input") is None:
        raise CheckpointError(f"{source}: the StyleGAN3 Generator lacks its mapping, synthesis or synthesis.input "
                              "sub-network")
    kw = {k: raw.get(k, rec.attr(k)) for k in _SG3_GEN_ARGS[:5]}
    if any(v is None for v in kw.values()):
        raise CheckpointError(f"{source}: the Generator record lacks {[k for k, v in kw.items() if v is None]}")
    if kw["c_dim"]:
        raise CheckpointError(f"{source}: conditional generators (c_dim={kw['c_dim']}) are not supported yet")
    map_kw = dict(raw.get("mapping_kwargs") or {})
    syn_kw = {k: v for k, v in raw.items() if k not in _SG3_GEN_ARGS and k not in _RUNTIME_ONLY}
    # What the modules actually were, whatever defaults the kwargs left out.
    for key in ("num_layers", "w_avg_beta"):
        if mapping.attr(key) is not None:
            map_kw[key] = plain(mapping.attr(key))
    fc0 = mapping.child("fc0")
    if fc0 is not None and fc0.attr("bias_gain") is not None:
        map_kw["lr_multiplier"] = plain(fc0.attr("bias_gain"))
    for key in ("num_layers", "num_critical", "margin_size", "output_scale", "num_fp16_res"):
        if synthesis.attr(key) is not None:
            syn_kw[key] = plain(synthesis.attr(key))
    layers = [child for name, child in (synthesis.state.get("_modules") or {}).items()
              if name != "input" and isinstance(child, PersistentObject)]
    if layers:
        for key in ("conv_kernel", "conv_clamp", "magnitude_ema_beta"):
            if key in layers[0].state:  # layer 0 is never ToRGB, whose conv_kernel is always 1
                syn_kw[key] = plain(layers[0].attr(key))
        if any(layer.attr("down_radial") for layer in layers):
            syn_kw["use_radial_filters"] = True
    kw["mapping_kwargs"], kw["synthesis_kwargs"] = map_kw, syn_kw
    return plain(kw), raw


def _check_stylegan3_layout(G: StyleGAN3Generator, synthesis: PersistentObject, source: str) -> None:
    """The plain attributes that steer the forward pass (they are not in the state dict) against the rebuilt
    network: a kwarg read wrongly would otherwise go unnoticed."""
    expected = G.synthesis.layer_names
    checks = [(synthesis.child("input"), G.synthesis.input, "synthesis.input", ("size", "sampling_rate", "bandwidth"))]
    checks += [(synthesis.child(name), getattr(G.synthesis, name), f"synthesis.{name}",
                ("in_size", "out_size", "in_sampling_rate", "out_sampling_rate", "up_factor", "down_factor", "padding",
                 "conv_kernel", "is_torgb")) for name in expected]
    for rec, module, prefix, attrs in checks:
        if rec is None:  # not a network record: collect_state names it
            continue
        for attr in attrs:
            theirs = rec.attr(attr)
            if theirs is None:
                continue
            ours = getattr(module, attr)
            try:  # NumPy arrays (sizes), NumPy scalars (rates), lists (padding), bools
                theirs = np.asarray(theirs, dtype=np.float64)
                same = theirs.shape == np.shape(ours) and np.allclose(theirs, np.asarray(ours, dtype=np.float64),
                                                                      rtol=1e-6, atol=1e-9)
            except (TypeError, ValueError):
                theirs, same = plain(theirs), False
            if not same:
                shown = theirs.tolist() if isinstance(theirs, np.ndarray) else theirs
                raise CheckpointError(
                    f"{source}: {prefix}.{attr} is {shown} in the file but {plain(ours)} in the network its "
                    f"kwargs describe (kwargs {G.init_kwargs['synthesis_kwargs']})"
                )


def _build_stylegan3(rec: PersistentObject, source: str) -> tuple[StyleGAN3Generator, dict]:
    kw, raw = stylegan3_kwargs(rec, source)
    synthesis = rec.child("synthesis")
    schedule_kw = {k: v for k, v in kw["synthesis_kwargs"].items() if k in _SG3_SCHEDULE_ARGS}
    try:
        # The names alone first: a mismatch is reported without building a network of the wrong size.
        names = synthesis_schedule(kw["img_resolution"], kw["img_channels"], **schedule_kw)["names"]
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: cannot lay out a StyleGAN3 synthesis network from {kw}: {exc}") from None
    found = [name for name in (synthesis.state.get("_modules") or {}) if name != "input"]
    if found != names:
        raise CheckpointError(
            f"{source}: the StyleGAN3 synthesis layers in the file {found} are not those its kwargs give {names} "
            f"(kwargs {kw['synthesis_kwargs']})"
        )
    try:
        G = StyleGAN3Generator(**kw)
    except (TypeError, ValueError, NotImplementedError) as exc:
        raise CheckpointError(f"{source}: cannot build a ganlens StyleGAN3 generator from the file's kwargs {kw}: "
                              f"{exc}") from None
    _check_stylegan3_layout(G, synthesis, source)
    load_state_strict(G, collect_state(rec, source), source)
    return G, raw


def _build_discriminator(rec: PersistentObject, source: str):
    from .discriminator import Discriminator

    kw, raw = discriminator_kwargs(rec, source)
    try:
        D = Discriminator(**kw)
    except (TypeError, ValueError, NotImplementedError) as exc:
        raise CheckpointError(f"{source}: cannot build a ganlens Discriminator from {kw}: {exc}") from None
    state = collect_state(rec, source)
    # NVIDIA's DiscriminatorBlock keeps its own copy of the resample filter, used only by the 'skip'
    # architecture to downsample the image; ganlens' resnet blocks have no such buffer, so it is dropped
    # (every conv layer's own filter is still loaded strictly).
    for res in getattr(D, "block_resolutions", []):
        state.pop(f"b{res}.resample_filter", None)
    load_state_strict(D, state, source)
    return D, raw
