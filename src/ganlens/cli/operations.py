"""`ganlens morph`, `ganlens mix`, `ganlens transfer`: Image2StyleGAN operations on seeds or saved codes."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from .common import CONTEXT, device_option, model_option, overwrite_option

CODE_HELP = "a seed ('seed:3' or '3') or a saved latent file (.npz)"


def resolve_code(G, spec: str, psi: float, space: str = "w"):
    """A seed or a latent file → LatentCode (one code per seed; every code of a file)."""
    from ..errors import GanlensError
    from ..latents import LatentCode

    text = spec.removeprefix("seed:")
    if text.isdigit():
        return G.sample(1, seed=int(text), truncation_psi=psi, space=space)
    path = Path(spec)
    if path.suffix == ".npz":
        code = LatentCode.load(path)
        if space in ("w", "w+") and code.space == "z":
            code = LatentCode("w+", G.mapping(code.tensor.to(G.device)), meta=code.meta)
        return code
    raise GanlensError(f"{spec!r} is neither a seed (seed:N) nor a latent file (.npz); invert images first with "
                       "`ganlens invert` and pass the saved latent")


@click.command(context_settings=CONTEXT)
@click.argument("a")
@click.argument("b")
@model_option
@click.option("--frames", default=30, show_default=True, type=click.IntRange(2, 1000))
@click.option("--space", type=click.Choice(["z", "w"]), default="w", show_default=True,
              help="Interpolate in W (linear; W+ codes stay W+) or Z (spherical; seeds only).")
@click.option("--pingpong", is_flag=True, help="Go there and back (a seamless loop).")
@click.option("--fps", default=15.0, show_default=True)
@click.option("--truncation", "psi", default=1.0, show_default=True)
@click.option("--scale", default=2, show_default=True, type=click.IntRange(1, 16))
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True, help=".gif or .mp4")
@overwrite_option
@device_option
def morph(a, b, model, frames, space, pingpong, fps, psi, scale, out, overwrite, device) -> None:
    """Morph between two codes A and B, each a seed ('seed:3') or a saved latent file (.npz).

    \b
    Example:
      ganlens morph seed:1 seed:7 --frames 30 --pingpong --out morph.gif
    """
    from .. import load
    from ..edit.morph import interpolate
    from ..edit.morph import pingpong as there_and_back
    from ..io import check_output_path
    from ..io.video import save_animation

    check_output_path(out, overwrite)
    G = load(model, device=device)
    ca, cb = resolve_code(G, a, psi, space), resolve_code(G, b, psi, space)
    if ca.space != cb.space:
        ca, cb = ca.to_wplus(G.num_ws), cb.to_wplus(G.num_ws)
    ts = list(np.linspace(0, 1, frames))
    pics = G.render(interpolate(ca[:1], cb[:1], there_and_back(ts) if pingpong else ts))
    save_animation(pics, out, fps=fps, scale=scale)
    click.echo(f"wrote {out} ({len(pics)} frames, {ca.space} interpolation)")


@click.command(context_settings=CONTEXT)
@click.option("--content", required=True, multiple=True, help="Content code(s): " + CODE_HELP + "; repeatable.")
@click.option("--style", required=True, multiple=True, help="Style code(s); repeatable.")
@click.option("--layers", default="fine", show_default=True,
              help="Layers taken from the style: e.g. 4-9, or coarse / middle / fine / all.")
@model_option
@click.option("--truncation", "psi", default=1.0, show_default=True)
@click.option("--scale", default=2, show_default=True, type=click.IntRange(1, 16))
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
@overwrite_option
@device_option
def mix(content, style, layers, model, psi, scale, out, overwrite, device) -> None:
    """Crossover / style mixing: the chosen layers from the style code, the rest from the content code.

    Writes a grid like the StyleGAN style-mixing figure: the first row shows the style codes, the first column
    the content codes, each cell their mix.

    \b
    Example:
      ganlens mix --content seed:1 --content seed:2 --style seed:5 --style seed:6 --layers coarse --out mix.png
    """
    from .. import load
    from ..edit.mix import mix_grid
    from ..latents import LatentCode
    from ..io import check_output_path, make_grid, save_image

    check_output_path(out, overwrite)
    G = load(model, device=device)
    cs = LatentCode.cat([resolve_code(G, s, psi).to_wplus(G.num_ws) for s in content])
    ss = LatentCode.cat([resolve_code(G, s, psi).to_wplus(G.num_ws) for s in style])
    cells = G.render(mix_grid(cs, ss, layers, G.num_ws))
    top, left = G.render(ss), G.render(cs)
    blank = np.full_like(top[:1], 255)
    rows = [np.concatenate([blank, top])]
    for i in range(len(cs)):
        rows.append(np.concatenate([left[i : i + 1], cells[i * len(ss) : (i + 1) * len(ss)]]))
    save_image(make_grid(np.concatenate(rows), ncols=len(ss) + 1), out, scale=scale)
    click.echo(f"wrote {out} ({len(cs)} content x {len(ss)} style, layers {layers})")


@click.command(context_settings=CONTEXT)
@click.option("--target", required=True, help="The code to change: " + CODE_HELP)
@click.option("--from", "source", required=True, help="Code B of the pair B → C that shows the change.")
@click.option("--to", "destination", required=True, help="Code C of the pair B → C.")
@click.option("--strength", default=1.0, show_default=True, help="λ in w_A + λ (w_C − w_B).")
@model_option
@click.option("--truncation", "psi", default=1.0, show_default=True)
@click.option("--scale", default=2, show_default=True, type=click.IntRange(1, 16))
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--save-latents", type=click.Path(dir_okay=False, path_type=Path), default=None)
@overwrite_option
@device_option
def transfer(target, source, destination, strength, model, psi, scale, out, save_latents, overwrite, device) -> None:
    """Attribute / expression transfer by latent arithmetic: w_A + λ (w_C − w_B).

    Writes [B, C, A, result] side by side.

    \b
    Example:
      ganlens transfer --target seed:3 --from seed:10 --to seed:11 --strength 1.0 --out transfer.png
    """
    from .. import load
    from ..edit.morph import arithmetic
    from ..io import check_output_path, make_grid, save_image

    check_output_path(out, overwrite)
    G = load(model, device=device)
    a, b, c = (resolve_code(G, s, psi).to_wplus(G.num_ws)[:1] for s in (target, source, destination))
    result = arithmetic(a, b, c, strength)
    pics = np.concatenate([G.render(b), G.render(c), G.render(a), G.render(result)])
    save_image(make_grid(pics, ncols=4), out, scale=scale)
    if save_latents:
        check_output_path(save_latents, overwrite)
        result.save(save_latents)
    click.echo(f"wrote {out} (B, C, A, A + {strength} (C - B))")
