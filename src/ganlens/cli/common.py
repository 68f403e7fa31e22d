"""Option types shared by the sub-commands."""

from __future__ import annotations

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def parse_range(text: str) -> list[int]:
    """'0-7' → [0..7], '1,4,9' → [1, 4, 9], '0-3,10' → [0, 1, 2, 3, 10]."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            if sep:
                a, b = int(lo), int(hi)
                if b < a:
                    raise click.BadParameter(f"range {part!r} runs backwards")
                out.extend(range(a, b + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise click.BadParameter(f"{part!r} is not an integer or a range like 0-7") from None
    if not out:
        raise click.BadParameter("empty list")
    return out


model_option = click.option(
    "--model", "-m", default="synthfaces64", show_default=True,
    help="Bundled model name or checkpoint path (.safetensors, NVIDIA .pkl, rosinality .pt).",
)
overwrite_option = click.option("--overwrite", is_flag=True, help="Replace output files that already exist.")
device_option = click.option("--device", default="cpu", show_default=True, help="torch device, e.g. cpu or cuda.")
