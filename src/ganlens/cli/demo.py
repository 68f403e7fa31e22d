"""`ganlens demo`: the whole pipeline on a bundled model, as one HTML report."""

from __future__ import annotations

from pathlib import Path

import click

from .common import CONTEXT


@click.command(context_settings=CONTEXT)
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), default=Path("demo"), show_default=True,
              help="Folder for index.html and its pictures (img/).")
@click.option("--model", "-m", default="synthfaces64", show_default=True,
              help="A bundled model with a scorer, encoder and boundaries.")
@click.option("--full", is_flag=True, help="Larger sample counts, boundaries fitted in the run, the linearity check "
              "(a few minutes); default: the quick run (about a minute on 2 CPU cores).")
@click.option("--quick", is_flag=True, hidden=True, help="The default now; kept so older commands still run.")
@click.option("--overwrite", is_flag=True, help="Replace a report already in --out.")
def demo(out, model, full, quick, overwrite) -> None:
    """Run everything ganlens does on the bundled model and write one HTML report.

    Samples, predictor accuracy, boundaries, edits (plain, along the shipped gradient directions, conditional,
    conditional per sample), the layer heat-map, SeFa / GANSpace with auto-labels, inversion of renders and a
    photo, inpainting, morph / edit GIFs, crossover. Open OUT/index.html in a browser. The default run takes about
    a minute on 2 CPU cores; --full a few minutes.

    \b
    Example:
      ganlens demo --out demo/
      ganlens demo --full --out demo_full/
    """
    from ..errors import GanlensError
    from ..report import run_demo

    if (out / "index.html").exists() and not overwrite:
        raise GanlensError(f"{out / 'index.html'} exists; pass --overwrite to replace it or choose another --out")
    if full and quick:
        raise GanlensError("--full and --quick contradict each other; the quick run is the default")
    run_demo(out, model=model, quick=not full, log=lambda m: click.echo(m, err=True))
    click.echo(f"open {out / 'index.html'}")
