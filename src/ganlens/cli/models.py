"""`ganlens sample` and `ganlens info`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from .common import CONTEXT, device_option, model_option, overwrite_option


@click.command(context_settings=CONTEXT)
@model_option
@click.option("-n", "--num", "n", default=16, show_default=True, type=click.IntRange(1, 100_000), help="Number of samples.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed of the z draws.")
@click.option("--truncation", "psi", default=1.0, show_default=True, type=float, help="Truncation psi (1 = none).")
@click.option("--space", type=click.Choice(["z", "w", "w+"]), default="w", show_default=True, help="Space of the saved codes.")
@click.option("--noise-mode", type=click.Choice(["const", "random", "none"]), default="const", show_default=True)
@click.option("--cols", type=click.IntRange(1, 100_000), default=None,
              help="Images per grid row (default: near-square).")
@click.option("--scale", type=click.IntRange(1, 16), default=2, show_default=True, help="Enlarge the grid for viewing.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Grid image (.png/.jpg).")
@click.option("--save-latents", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also save the codes (.npz).")
@overwrite_option
@device_option
def sample(model, n, seed, psi, space, noise_mode, cols, scale, out, save_latents, overwrite, device) -> None:
    """Draw random samples and save them as an image grid (and optionally their latent codes).

    \b
    Example:
      ganlens sample --model synthfaces64 -n 16 --seed 0 --truncation 0.7 --out grid.png --save-latents codes.npz
    """
    from .. import load
    from ..io import check_output_path, make_grid, save_image
    from ..io.images import IMAGE_SUFFIXES
    from ..latents import check_truncation

    check_output_path(out, overwrite, IMAGE_SUFFIXES)
    if save_latents:
        check_output_path(save_latents, overwrite, (".npz",))
    check_truncation(space, psi)
    G = load(model, device=device)
    t0 = time.perf_counter()
    code = G.sample(n, seed=seed, truncation_psi=psi, space=space)
    images = G.render(code, noise_mode=noise_mode)
    dt = time.perf_counter() - t0
    save_image(make_grid(images, ncols=cols), out, scale=scale)
    msg = f"wrote {out} ({n} samples of {G.name}, seed {seed}, psi {psi}) in {dt:.2f} s"
    if save_latents:
        code.meta.update({"model": G.name, "noise_mode": noise_mode})
        code.save(save_latents)
        msg += f"; codes ({code.space}, {list(code.tensor.shape)}) in {save_latents}"
    click.echo(msg)


def _channels(G) -> dict[str, int]:
    """Feature maps per synthesis block where the architecture has StyleGAN2's blocks (else empty)."""
    blocks = getattr(G.synthesis, "blocks", None)
    return {f"b{b.resolution}": b.conv1.weight.shape[0] for b in blocks()} if blocks else {}


@click.command(context_settings=CONTEXT)
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--tree", is_flag=True, help="Also print the full module tree.")
@click.option("--format", "fmt", type=click.Choice(["native", "nvidia", "rosinality", "genforce"]), default=None,
              help="Read the file as this format (default: detect by suffix and content).")
def info(model, as_json, tree, fmt) -> None:
    """Describe a model: architecture, parameter count, num_ws, resolution, provenance.

    \b
    Example:
      ganlens info synthfaces64
      ganlens info ffhq.pkl --json
    """
    from .. import load
    from ..bundled import shipped_with

    G = load(model, format=fmt)
    doc = {
        "name": G.name,
        "architecture": G.architecture,
        "spaces": list(G.spaces),
        "resolution": G.img_resolution,
        "img_channels": G.img_channels,
        "z_dim": G.z_dim,
        "w_dim": G.w_dim,
        "num_ws": G.num_ws,
        "mapping_layers": getattr(G.mapping, "num_layers", 0),
        "channels": _channels(G),
        "style_dims": sum(G.style_dims()),
        "parameters": sum(p.numel() for p in G.parameters()),
        "init_kwargs": G.init_kwargs,
        "provenance": G.provenance,
        "ships_with": shipped_with(G.name),
    }
    if as_json:
        click.echo(json.dumps(doc, indent=2, default=str))
    else:
        click.echo(repr(G))
        click.echo(f"  {'spaces':15s} {', '.join(G.spaces)}")
        for k in ("resolution", "z_dim", "w_dim", "num_ws", "mapping_layers", "style_dims"):
            click.echo(f"  {k:15s} {doc[k]}")
        if doc["channels"]:
            click.echo(f"  {'channels':15s} " + ", ".join(f"{k}:{v}" for k, v in doc["channels"].items()))
        click.echo(f"  {'parameters':15s} {doc['parameters']:,}")
        ships = doc["ships_with"]
        parts = [f"predictor {ships['predictor']}" if ships["predictor"] else "",
                 f"guard {ships['guard']}" if ships["guard"] else "", "encoder" if ships["encoder"] else "",
                 f"controls ({', '.join(ships['controls'])})" if ships["controls"] else "",
                 *(f"{n} {name} directions" for name, n in ships["direction_sets"].items())]
        click.echo(f"  {'ships with':15s} {', '.join(p for p in parts if p) or 'nothing else'}")
        click.echo("  provenance:")
        for line in json.dumps(G.provenance, indent=2, default=str).splitlines():
            click.echo("    " + line)
    if tree:
        click.echo(G.describe())
