"""`ganlens score`: sample codes and score their images (the labels InterFaceGAN fits on)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from .common import (
    CONTEXT,
    batch_option,
    device_option,
    model_option,
    overwrite_option,
    precision_option,
    ray_executor,
    ray_option,
    scorer_option,
    shard_option,
    shards_folder,
    workers_option,
)


@click.command(context_settings=CONTEXT)
@model_option
@scorer_option
@click.option("-n", "--samples", "n", default=10_000, show_default=True, type=click.IntRange(1, 10_000_000),
              help="Number of codes to sample and score.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the z draws.")
@click.option("--space", type=click.Choice(["z", "w"]), default="w", show_default=True, help="Space of the saved codes.")
@click.option("--truncation", "psi", default=1.0, show_default=True, type=float, help="Truncation psi for W codes.")
@batch_option
@precision_option
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Codes (.npz); the scores go to the .csv beside it.")
@overwrite_option
@ray_option
@workers_option
@shard_option
@device_option
def score(model, scorer, n, seed, space, psi, batch_size, precision, out, overwrite, ray_address, workers,
          shard_size, device) -> None:
    """Sample codes, synthesise them and score every image; save codes (.npz) and scores (.csv).

    The CSV (one row per code, one column per attribute) is the same format `boundary --labels` reads, so labels
    from your own classifier can replace it.

    With --ray the samples are split by index into shards scored by Ray workers; the codes and scores are bit for
    bit those of the run without it. Finished shards go to OUT.shards/ as they come back (removed after the
    merge): a killed run, re-run with the same command, computes only the missing shards.

    \b
    Examples:
      ganlens score --model synthfaces64 --samples 20000 --seed 0 --out scored/codes.npz
      ganlens score --model mine.pkl --scorer my_scorers.py:smile_score -n 5000 --out codes.npz
      ganlens score --samples 500000 --ray --precision auto --out big/codes.npz   # a local Ray, bf16 if fast
      ganlens score --samples 500000 --ray auto --out big/codes.npz         # the cluster of `ray start`
    """
    import numpy as np

    from .. import load
    from ..io import check_output_path
    from ..latents import check_truncation
    from ..scoring import score as score_codes

    check_output_path(out, overwrite, (".npz",))
    check_output_path(out.with_suffix(".csv"), overwrite)
    check_truncation(space, psi)
    if shard_size is not None and ray_address is None:
        raise click.BadParameter("--shard-size goes with --ray", param_hint="--shard-size")
    G = load(model, device=device)
    t0 = time.perf_counter()
    executor = ray_executor(ray_address, workers)
    if executor is None:
        result = score_codes(G, n, scorer, seed=seed, space=space, truncation_psi=psi, batch_size=batch_size,
                             progress=True, precision=precision)
        where = ""
    else:
        work = shards_folder(out)
        with executor:
            where = f" on {executor.describe()}"
            result = score_codes(G, n, scorer, seed=seed, space=space, truncation_psi=psi, batch_size=batch_size,
                                 progress=True, precision=precision, executor=executor, work_dir=work,
                                 shard_size=shard_size,
                                 fresh=overwrite, log=lambda msg: click.echo(msg, err=True))
    npz, csv_path = result.save(out)
    if executor is not None:
        from ..parallel import ShardStore

        ShardStore.remove_folder(work)  # merged and saved: the shards are no longer needed
    click.echo(f"scored {n} {space} codes of {G.name}{where} in {time.perf_counter() - t0:.1f} s -> {npz}, {csv_path}")
    for name in result.names:
        v = result[name]
        click.echo(f"  {name:14s} mean {np.mean(v):+.3f}  std {np.std(v):.3f}  min {np.min(v):+.3f}  max {np.max(v):+.3f}")
