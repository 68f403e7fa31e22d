"""The `ganlens` command line: one entry point, one module of sub-commands per area of the library."""

from __future__ import annotations

import sys

import click

from ..errors import GanlensError
from .analyze import analyze
from .ascend import ascend
from .boundary import boundary
from .common import CONTEXT
from .control import control
from .convert import convert
from .data import data
from .demo import demo
from .discover import discover
from .edit import edit
from .invert import align, invert  # also registers `train encoder` on the train group
from .models import info, sample
from .operations import inpaint, local_edit, mix, morph, transfer
from .restore import fix, restore
from .score import score
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
                analyze, invert, align, inpaint, restore, fix, local_edit, serve, control):
    cli.add_command(command)


# click >= 8.2 reports a group called without a command as this usage error (its `show` prints the help).
_HELP_ON_NO_ARGS = getattr(click.exceptions, "NoArgsIsHelpError", ())


def _one_line(text: str) -> str:
    """A message on one line (a user's error is one line, whatever the message's author wrote)."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: bad input becomes one line on stderr and a non-zero exit code.

    Library errors (`GanlensError`, and `NotImplementedError` for features a model lacks) and the operating
    system's refusals about the user's files (`OSError`: permission denied, disk full, ...) exit 1; usage errors
    (a bad option value) exit 2, as click's do, but on one line too.
    """
    try:
        cli.main(args=argv, prog_name="ganlens", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except _HELP_ON_NO_ARGS as exc:  # `ganlens` or `ganlens train` alone: the help, as click prints it
        exc.show()
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"error: {_one_line(exc.format_message())}{hint}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"error: {_one_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except (GanlensError, NotImplementedError) as exc:
        click.echo(f"error: {_one_line(str(exc)) or type(exc).__name__}", err=True)
        sys.exit(1)
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        click.echo(f"error: {exc.strerror or _one_line(str(exc))}{where}", err=True)
        sys.exit(1)
