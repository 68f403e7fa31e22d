"""Option types shared by the sub-commands."""

from __future__ import annotations

from pathlib import Path

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def parse_range(text: str, param_hint: str | None = None) -> list[int]:
    """'0-7' → [0..7], '1,4,9' → [1, 4, 9]; a bad list is a usage error naming the part (and the option)."""
    from ..latents.layers import parse_indices

    try:
        out = parse_indices(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=param_hint) from None
    if not out:
        raise click.BadParameter("empty list", param_hint=param_hint)
    return out


model_option = click.option(
    "--model", "-m", default="synthfaces64", show_default=True,
    help="Bundled model name or checkpoint path (.safetensors, NVIDIA .pkl, rosinality .pt, genforce .pth).",
)
overwrite_option = click.option("--overwrite", is_flag=True, help="Replace output files that already exist.")
device_option = click.option("--device", default="cpu", show_default=True, help="torch device, e.g. cpu or cuda.")
scorer_option = click.option(
    "--scorer", default="synthfaces64", show_default=True,
    help="Bundled scorer name, or a Python scorer as module:function or path/to/file.py:function.",
)
precision_option = click.option(
    "--precision", type=click.Choice(["fp32", "bf16", "auto"]), default="fp32", show_default=True,
    help="Synthesis precision. 'auto': bf16 where the device is fast at it (a GPU, or a CPU with bf16 instructions, "
         "where it is about 3x faster), else fp32; bf16 images differ from fp32 by a few grey levels.")
batch_option = click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1, 4096),
                            help="Images synthesised and scored at once.")


def _check_ray_address(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse a --ray value that is no Ray address (e.g. an input folder the flag swallowed) before any work."""
    if value is None:
        return None
    from ..errors import GanlensError
    from ..parallel.executors import check_address

    try:
        check_address(value)
    except GanlensError as exc:
        raise click.BadParameter(f"{exc}; --ray takes an optional value, so write --ray=ADDRESS or put --ray after "
                                 "the arguments", param_hint="--ray") from None
    return value


ray_option = click.option(
    "--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
    callback=_check_ray_address,
    help="Run on Ray (pip install 'ganlens[ray]'): alone, a local Ray with one worker per core; with ADDRESS an "
         "existing cluster ('auto' for the one this machine joined, HOST:PORT, ray://HOST:PORT). Same result as "
         "without it; finished shards are kept on disk and a re-run resumes.",
)
workers_option = click.option("--workers", type=click.IntRange(1), default=None,
                              help="With --ray: workers at once  [default: one per CPU the cluster has]")
shard_option = click.option("--shard-size", type=click.IntRange(1), default=None,
                            help="With --ray: samples per shard, rounded up to a multiple of --batch-size  "
                                 "[default: about 4 shards per worker, at most 4096]")


def ray_executor(address: str | None, workers: int | None):
    """The executor of a command's --ray / --workers (joined now, so a wrong address fails before any work), or
    None without --ray."""
    if address is None:
        if workers is not None:
            raise click.BadParameter("--workers goes with --ray", param_hint="--workers")
        return None
    from ..parallel import RayExecutor

    return RayExecutor(None if address == "local" else address, workers=workers).connect()


def shards_folder(out: Path) -> Path:
    """Where a --ray job keeps its finished shards: OUT.shards beside a file, NAME.shards beside a folder."""
    out = Path(out)
    return out.with_suffix(".shards") if out.suffix else out.parent / f"{out.name}.shards"
