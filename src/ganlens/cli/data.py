"""`ganlens data build`: render the procedural training domain."""

from __future__ import annotations

from pathlib import Path

import click

from .common import CONTEXT, overwrite_option


@click.group(context_settings=CONTEXT)
def data() -> None:
    """Build data sets of the bundled procedural domain."""


@data.command("build", context_settings=CONTEXT)
@click.argument("domain", type=click.Choice(["synthfaces"]))
@click.option("--n", "n", default=50_000, show_default=True, type=click.IntRange(1, 10_000_000), help="Number of images.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the factor sampler.")
@click.option("--size", default=64, show_default=True, type=click.IntRange(16, 1024), help="Image side in pixels.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Output .npz.")
@click.option("--independent", is_flag=True,
              help="Break the domain's factor correlations (glasses|age, smile|age, beard|hair_length).")
@overwrite_option
def build(domain, n, seed, size, out, overwrite, independent) -> None:
    """Render N images with their ground-truth factors into one .npz.

    \b
    Example:
      ganlens data build synthfaces --n 50000 --seed 0 --out data.npz
      ganlens data build synthfaces --n 50000 --seed 7 --independent --out indep.npz
    """
    from ..io import check_output_path
    from ..synthdata import build_dataset

    check_output_path(out, overwrite, (".npz",))
    path = build_dataset(n, seed, out, size=size, progress=True, overwrite=overwrite, independent=independent)
    kind = "independent factors" if independent else "the domain's correlations"
    click.echo(f"wrote {path} ({n} {domain} images at {size}x{size}, seed {seed}, {kind})")
