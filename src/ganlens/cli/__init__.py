"""The `ganlens` command line: one entry point, one module of sub-commands per area of the library."""

from __future__ import annotations

import sys

import click

from ..errors import GanlensError
from .common import CONTEXT
from .control import control
from .convert import convert
from .data import data
from .demo import demo
from .directions import analyze, ascend, boundary, discover, edit, score
from .invert import align, invert  # also registers `train encoder` on the train group
from .models import info, sample
from .operations import inpaint, local_edit, mix, morph, transfer
from .serve import serve
from .train import train


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="ganlens")
def cli() -> None:
    """ganlens: look inside a GAN's latent space and steer it.

    \b
    Examples:
      ganlens info synthfaces64
      ganlens sample --model synthfaces64 -n 16 --seed 0 --out grid.png
    """


for command in (demo, sample, info, data, train, convert, morph, mix, transfer, score, boundary, edit, ascend, discover,
                analyze, invert, align, inpaint, local_edit, serve, control):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: library errors become one line on stderr and exit code 1."""
    try:
        cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (GanlensError, NotImplementedError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
