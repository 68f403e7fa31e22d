"""`ganlens convert`: a foreign checkpoint → ganlens' native .safetensors generator."""

from __future__ import annotations

from pathlib import Path

import click

from .common import CONTEXT, overwrite_option


@click.command(context_settings=CONTEXT)
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output file (.safetensors).")
@click.option("--which", type=click.Choice(["G_ema", "G"]), default="G_ema", show_default=True,
              help="Which generator of a training snapshot to take (G_ema = the moving average).")
@click.option("--format", "fmt", type=click.Choice(["native", "nvidia", "rosinality", "genforce"]), default=None,
              help="Read the source as this format (default: detect by suffix and content).")
@overwrite_option
def convert(source: Path, out: Path, which: str, fmt: str | None, overwrite: bool) -> None:
    """Convert an NVIDIA .pkl (StyleGAN2 / StyleGAN3), rosinality .pt or genforce .pth (PGGAN, StyleGAN,
    StyleGAN2) generator to ganlens' .safetensors format.

    The source is read without executing anything in it (restricted unpickler / weights-only load); the
    output holds only tensors plus a JSON header with the constructor kwargs and the provenance (source
    file, its sha256, format, the kwargs found in it).

    \b
    Example:
      ganlens convert network-snapshot-001000.pkl --out ffhq256.safetensors
      ganlens convert 550000.pt --which G --out rosinality-g.safetensors
      ganlens convert stylegan_ffhq1024.pth --out stylegan-ffhq.safetensors
      ganlens convert weights.bin --format genforce --out model.safetensors
    """
    from ..io import check_output_path
    from ..models import load, save_generator

    if out.suffix.lower() != ".safetensors":
        raise click.BadParameter(f"{out.name}: the output must be a .safetensors file", param_hint="--out")
    check_output_path(out, overwrite)
    G = load(source, which=which, format=fmt)
    provenance = dict(G.provenance)
    provenance["converted_by"] = "ganlens convert"
    save_generator(G, out, provenance=provenance)
    n = sum(p.numel() for p in G.parameters())
    fmt = provenance.get("source_format", fmt or "native")
    click.echo(f"wrote {out} ({which} of {source.name}, {fmt}, {G.architecture}: {G.img_resolution}px, "
               f"num_ws {G.num_ws}, "
               f"{n:,} parameters)")
