"""Bundled models and the one entry point that turns a name or a path into a Generator."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from ..bundled import generator_file
from ..errors import CheckpointError, UnknownModelError, UnknownNameError
from .stylegan2 import Generator


def _random_tiny() -> Generator:
    """A small randomly initialised generator (seed 0) for wiring and tests; it has learned nothing."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        G = Generator(
            z_dim=32, c_dim=0, w_dim=32, img_resolution=32, img_channels=3,
            mapping_kwargs={"num_layers": 2},
            synthesis_kwargs={"channel_base": 512, "channel_max": 32},
        )
        with torch.no_grad():
            G.mapping.w_avg.copy_(G.mapping(G.sample_z(1000, seed=0))[:, 0].mean(0))
    G.name = "random-tiny"
    G.provenance = {"description": "randomly initialised (torch seed 0), untrained: for wiring and tests only",
                    "training": None}
    return G.eval().requires_grad_(False)


def _bundled_file(name: str) -> Callable[[], Generator]:
    def build() -> Generator:
        from .native import load_generator

        path = generator_file(name)
        if not path.exists():
            raise CheckpointError(f"bundled model {name!r} is missing its weights file {path}; reinstall ganlens")
        return load_generator(path)

    return build


BUNDLED: dict[str, Callable[[], Generator]] = {
    "synthfaces64": _bundled_file("synthfaces64"),
    "random-tiny": _random_tiny,
}


def available_models() -> list[str]:
    """Names accepted by `load` besides checkpoint paths."""
    return sorted(BUNDLED)


FORMATS = ("native", "nvidia", "rosinality", "genforce")


def load(name_or_path: str | Path, device: str | torch.device = "cpu", which: str = "G_ema",
         format: str | None = None) -> torch.nn.Module:
    """Load a bundled model by name, or a checkpoint: ganlens `.safetensors`, NVIDIA `.pkl`, rosinality `.pt` or
    genforce `.pth` (PGGAN, StyleGAN, StyleGAN2 model-zoo and training files).

    Args:
        name_or_path: a bundled name (see `available_models()`) or a file path.
        device: where to put the generator.
        which: for files holding several networks, which generator to take ('G_ema' or 'G').
        format: 'native', 'nvidia', 'rosinality' or 'genforce' to read the file as that format whatever its suffix;
            None detects it: by suffix (.safetensors native, .pkl NVIDIA) and, for .pt / .pth, by content
            (genforce's 'generator' / 'generator_smooth' state dicts vs rosinality's 'g_ema').
    Returns:
        The generator in eval mode without gradients: ganlens' StyleGAN2 `Generator`, or a `StyleGAN1Generator` /
        `PGGANGenerator` for genforce StyleGAN / PGGAN files (same latent-space interface; see their `spaces`). On
        the CPU its weights are channels-last, which makes its convolutions (rendering, inversion, PTI) about 1.5x
        faster there (`benchmarks/invert_speed.py`).
    Raises:
        UnknownModelError: neither a bundled name nor an existing file.
        UnknownNameError: `format` is not one of `FORMATS` or None.
        CheckpointError: the file is corrupt, truncated, unsafe, of an unsupported kind or not of the given format.
    """
    if format is not None and format not in FORMATS:
        raise UnknownNameError(
            f"unknown checkpoint format {format!r}; choose one of {', '.join(FORMATS)}, or None to detect it"
        )
    return _cpu_layout(_load(name_or_path, device, which, format))


def _cpu_layout(net: torch.nn.Module) -> torch.nn.Module:
    on_cpu = all(p.device.type == "cpu" for p in net.parameters())
    return net.to(memory_format=torch.channels_last) if on_cpu else net


def _load(name_or_path: str | Path, device: str | torch.device, which: str, format: str | None) -> torch.nn.Module:
    key = str(name_or_path)
    if key in BUNDLED:
        if format not in (None, "native"):
            raise CheckpointError(f"{key!r} is a bundled ganlens model (format 'native'), not {format!r}")
        G = BUNDLED[key]()
        G.name = key
        return G.to(device)
    path = Path(key).expanduser()
    if not path.exists():
        raise UnknownModelError(
            f"unknown model {key!r}: not a bundled model ({', '.join(available_models())}) and no such file"
        )
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory; give a checkpoint file")
    content = None
    if format is None:
        format, content = _detect_format(path)
    if format == "native":
        from .native import load_generator

        return load_generator(path, device)
    if format == "nvidia":
        from .nvidia_pkl import load_nvidia_pickle

        return load_nvidia_pickle(path, which=which).to(device)
    if format == "rosinality":
        from .rosinality import load_rosinality

        return load_rosinality(path, which=which, content=content).to(device)
    from .genforce import load_genforce

    return load_genforce(path, which=which, content=content).to(device)


def _detect_format(path: Path) -> tuple[str, object]:
    """(format, the file's content when it had to be read to tell) for a checkpoint path."""
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        return "native", None
    if suffix == ".pkl":
        return "nvidia", None
    if suffix in (".pt", ".pth"):
        from .genforce import describe_content, genforce_layout, is_rosinality_content
        from .rosinality import read_torch_file

        content = read_torch_file(path)  # weights_only: safe to read before knowing whose file it is
        if genforce_layout(content) is not None:
            return "genforce", content
        if is_rosinality_content(content):
            return "rosinality", content
        raise CheckpointError(
            f"{path}: unknown checkpoint format: a torch file holding neither a genforce generator ('generator' / "
            f"'generator_smooth' state dicts, or a bare PGGAN / StyleGAN / StyleGAN2 state dict) nor a rosinality "
            f"one ('g_ema'); it holds {describe_content(content)}"
        )
    raise CheckpointError(
        f"{path}: unknown checkpoint type {suffix!r}; expected .safetensors (ganlens), .pkl (NVIDIA), .pt (rosinality) "
        "or .pth (genforce), or name the format with format=..."
    )
