"""Option types shared by the sub-commands."""

from __future__ import annotations

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
batch_option = click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1, 4096),
                            help="Images synthesised and scored at once.")
