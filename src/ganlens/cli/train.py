"""`ganlens train ...`: train the networks ganlens ships or offers."""

from __future__ import annotations

from pathlib import Path

import click

from .common import CONTEXT

POSITIVE = click.FloatRange(min=0, min_open=True)


@click.group(context_settings=CONTEXT)
def train() -> None:
    """Train a GAN (and, from their own sub-commands, the helper networks)."""


@train.command("gan", context_settings=CONTEXT)
@click.option("--data", required=True, type=click.Path(exists=True, dir_okay=False), help="Dataset .npz (images uint8).")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run folder: snapshots, grids, log, resumable state. Re-running resumes.")
@click.option("--kimg", default=750.0, show_default=True, type=POSITIVE,
              help="Total training length in thousands of real images shown.")
@click.option("--batch", default=32, show_default=True, type=click.IntRange(1, 65536))
@click.option("--lr", default=0.0025, show_default=True, type=POSITIVE)
@click.option("--gamma", "r1_gamma", default=0.1, show_default=True, type=click.FloatRange(min=0), help="R1 weight.")
@click.option("--pl-weight", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="Path-length regularisation weight (StyleGAN2 trains with 2; synthfaces64 was trained without).")
@click.option("--ema-kimg", default=10.0, show_default=True, type=click.FloatRange(min=0),
              help="Half-life of G_ema in kimg.")
@click.option("--mixing", "mixing_prob", default=0.9, show_default=True, type=click.FloatRange(0, 1),
              help="Style-mixing probability.")
@click.option("--z-dim", default=128, show_default=True, type=click.IntRange(1, 65536))
@click.option("--w-dim", default=128, show_default=True, type=click.IntRange(1, 65536))
@click.option("--map-layers", "mapping_layers", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--cbase", "channel_base", default=8192, show_default=True, type=click.IntRange(1),
              help="Channel base: channels(res) = min(cbase/res, cmax).")
@click.option("--cmax", "channel_max", default=128, show_default=True, type=click.IntRange(1))
@click.option("--d-cbase", "d_channel_base", default=None, type=click.IntRange(1),
              help="The discriminator's channel base (default: --cbase). D does not ship, so a wider one costs "
                   "training time only, never synthesis time.")
@click.option("--d-cmax", "d_channel_max", default=None, type=click.IntRange(1),
              help="The discriminator's channel maximum (default: --cmax).")
@click.option("--snap", "snapshot_kimg", default=25.0, show_default=True, type=POSITIVE, help="kimg between snapshots.")
@click.option("--max-minutes", default=None, type=POSITIVE, help="Stop cleanly (after a snapshot) past this wall time.")
@click.option("--precision", type=click.Choice(["auto", "bf16", "fp32"]), default="auto", show_default=True)
@click.option("--step", type=click.Choice(["fast", "reference"]), default="fast", show_default=True,
              help="The training step: 'reference' is the slower step kept for comparison (benchmarks/train_step.py).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--threads", default=None, type=click.IntRange(1, 256), help="CPU threads (default: torch's choice).")
@click.option("--seed", default=0, show_default=True)
@click.option("--name", default="synthfaces64", show_default=True, help="Model name stored in the snapshots.")
@click.option("--init", "init_generator", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Fine-tune: start G and G_ema from this native checkpoint (D starts fresh). Ignored on resume.")
@click.option("--d-warmup", "d_warmup_kimg", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="With --init: kimg of D-only steps before G moves (a fresh D first learns the trained G's samples).")
@click.option("--widen-d", is_flag=True,
              help="On resume, when the saved D is narrower than --d-cbase / --d-cmax ask: widen it without changing "
                   "what it computes (new channels start with no say in its output); G and the progress carry on.")
def gan(**kw) -> None:
    """Train a StyleGAN2 (logistic loss, lazy R1, optional path-length regularisation, style mixing, G_ema).
    Resumable and time-boxed; Ctrl+C (or SIGTERM) ends the current step, snapshots and saves the state first,
    so the same command resumes from there (a second Ctrl+C stops at once).

    \b
    Example (the recipe of the bundled synthfaces64):
      ganlens data build synthfaces --n 100000 --seed 0 --out data/synthfaces.npz
      ganlens train gan --data data/synthfaces.npz --out runs/sf64 --kimg 1000 --batch 128
    Continue the bundled model (in a checkout) for 500 kimg, a fresh D first trained alone for 20 kimg:
      ganlens train gan --data data/synthfaces.npz --out runs/more --init src/ganlens/assets/synthfaces64.safetensors \\
        --kimg 500 --batch 128 --gamma 0.05 --ema-kimg 20 --d-warmup 20
    """
    from ..training.gan import TrainConfig
    from ..training.gan import train as run

    if kw["init_generator"]:
        _check_generator_checkpoint(Path(kw["init_generator"]))
    _check_training_data(Path(kw["data"]))
    cfg = TrainConfig(data=kw.pop("data"), out=str(kw.pop("out")), total_kimg=kw.pop("kimg"), **kw)
    latest = run(cfg)
    click.echo(f"latest G_ema snapshot: {latest}")


def _check_training_data(path: Path) -> None:
    """Refuse a data set the run could not train on before the run folder is made: not an .npz, no 'images'
    array, or images that are not uint8 [N, R, R, C] with R a power of two (read from the array's header only)."""
    from ..errors import InputError
    from ..io.files import npz_arrays

    arrays = npz_arrays(path, "training data set", "an .npz with uint8 'images' [N, R, R, C] (ganlens data build)")
    if "images" not in arrays:
        raise InputError(f"{path} has no 'images' array (it has {', '.join(arrays) or 'none'}); "
                         "build a data set with `ganlens data build synthfaces`")
    shape, dtype = arrays["images"]
    res = shape[1] if len(shape) == 4 else 0
    if len(shape) != 4 or dtype != "uint8" or shape[1] != shape[2] or res < 4 or res & (res - 1) or not shape[0]:
        raise InputError(f"{path}: 'images' must be uint8 [N, R, R, C] with N >= 1 and R a power of two >= 4, "
                         f"got {dtype} {list(shape)}")


def _check_generator_checkpoint(path: Path) -> None:
    """--init must be a native generator checkpoint (header read only)."""
    from ..errors import CheckpointError
    from ..io.tensorfile import peek_document
    from ..models.native import FORMAT

    doc = peek_document(path)
    if doc is None or doc.get("format") != FORMAT:
        raise CheckpointError(f"--init {path} is not a ganlens generator checkpoint (.safetensors written by ganlens; "
                              "convert NVIDIA .pkl / rosinality .pt files with `ganlens convert` first)")
