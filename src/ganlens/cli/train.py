"""`ganlens train ...`: train the networks ganlens ships or offers."""

from __future__ import annotations

from pathlib import Path

import click

from .common import CONTEXT


@click.group(context_settings=CONTEXT)
def train() -> None:
    """Train a GAN (and, from their own sub-commands, the helper networks)."""


@train.command("gan", context_settings=CONTEXT)
@click.option("--data", required=True, type=click.Path(exists=True, dir_okay=False), help="Dataset .npz (images uint8).")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run folder: snapshots, grids, log, resumable state. Re-running resumes.")
@click.option("--kimg", default=750.0, show_default=True, help="Total training length in thousands of real images shown.")
@click.option("--batch", default=32, show_default=True)
@click.option("--lr", default=0.0025, show_default=True)
@click.option("--gamma", "r1_gamma", default=0.1, show_default=True, help="R1 weight.")
@click.option("--pl-weight", default=0.0, show_default=True,
              help="Path-length regularisation weight (StyleGAN2 trains with 2; synthfaces64 was trained without).")
@click.option("--ema-kimg", default=10.0, show_default=True, help="Half-life of G_ema in kimg.")
@click.option("--mixing", "mixing_prob", default=0.9, show_default=True, help="Style-mixing probability.")
@click.option("--z-dim", default=128, show_default=True)
@click.option("--w-dim", default=128, show_default=True)
@click.option("--map-layers", "mapping_layers", default=8, show_default=True)
@click.option("--cbase", "channel_base", default=8192, show_default=True, help="Channel base: channels(res) = min(cbase/res, cmax).")
@click.option("--cmax", "channel_max", default=128, show_default=True)
@click.option("--snap", "snapshot_kimg", default=25.0, show_default=True, help="kimg between snapshots.")
@click.option("--max-minutes", default=None, type=float, help="Stop cleanly (after a snapshot) past this wall time.")
@click.option("--precision", type=click.Choice(["auto", "bf16", "fp32"]), default="auto", show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--threads", default=None, type=int, help="CPU threads (default: torch's choice).")
@click.option("--seed", default=0, show_default=True)
@click.option("--name", default="synthfaces64", show_default=True, help="Model name stored in the snapshots.")
@click.option("--init", "init_generator", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Fine-tune: start G and G_ema from this native checkpoint (D starts fresh). Ignored on resume.")
@click.option("--d-warmup", "d_warmup_kimg", default=0.0, show_default=True,
              help="With --init: kimg of D-only steps before G moves (a fresh D first learns the trained G's samples).")
def gan(**kw) -> None:
    """Train a StyleGAN2 (logistic loss, lazy R1, optional path-length regularisation, style mixing, G_ema).
    Resumable and time-boxed.

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

    cfg = TrainConfig(data=kw.pop("data"), out=str(kw.pop("out")), total_kimg=kw.pop("kimg"), **kw)
    latest = run(cfg)
    click.echo(f"latest G_ema snapshot: {latest}")
