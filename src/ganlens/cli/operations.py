"""Image2StyleGAN operations (`morph`, `mix`, `transfer`, `inpaint`, `local-edit`) on seeds, saved codes or images."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from .common import CONTEXT, device_option, model_option, overwrite_option

CODE_HELP = ("a seed ('seed:3' or '3'), a saved latent file (.npz), or an image file (inverted with the model's "
             "encoder + optimisation, cached)")


def resolve_code(G, spec: str, psi: float, space: str = "w"):
    """A seed, a latent file or an image file → LatentCode (one code per seed or image; every code of a file)."""
    from ..errors import GanlensError
    from ..invert.cache import IMAGE_SUFFIXES, invert_file_cached
    from ..latents import LatentCode

    text = spec.removeprefix("seed:")
    if text.isdigit():
        return G.sample(1, seed=int(text), truncation_psi=psi, space=space)
    path = Path(spec)
    if path.suffix.lower() == ".npz":
        code = LatentCode.load(path, G)
        if space in ("w", "w+") and code.space == "z":
            code = LatentCode("w+", G.mapping(code.tensor.to(G.device)), meta=code.meta)
        return code
    if path.suffix.lower() in IMAGE_SUFFIXES:
        if not path.is_file():
            raise GanlensError(f"image not found: {path}")
        if space == "z":
            raise GanlensError(f"{path}: an inverted image has no z code; use --space w")
        code, cached = invert_file_cached(G, path, log=lambda m: click.echo(m, err=True))
        if cached:
            click.echo(f"{path}: inversion taken from the cache", err=True)
        return code
    raise GanlensError(f"{spec!r} is neither a seed (seed:N), a latent file (.npz) nor an image "
                       f"({', '.join(IMAGE_SUFFIXES)})")


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
    """Morph between A and B, each a seed ('seed:3'), a saved latent file (.npz) or an image (inverted, cached).

    \b
    Example:
      ganlens morph seed:1 seed:7 --frames 30 --pingpong --out morph.gif
      ganlens morph face_a.png face_b.png --frames 30 --out morph.mp4
    """
    from .. import load
    from ..edit.morph import interpolate
    from ..edit.morph import pingpong as there_and_back
    from ..io import check_output_path
    from ..io.video import ANIMATION_SUFFIXES, save_animation

    check_output_path(out, overwrite, ANIMATION_SUFFIXES)
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
    from ..io import check_output_path, make_grid, save_image
    from ..io.images import IMAGE_SUFFIXES
    from ..latents import LatentCode

    check_output_path(out, overwrite, IMAGE_SUFFIXES)
    G = load(model, device=device)
    cs = LatentCode.cat([resolve_code(G, s, psi).to_wplus(G.num_ws) for s in content])
    ss = LatentCode.cat([resolve_code(G, s, psi).to_wplus(G.num_ws) for s in style])
    cells = G.render(mix_grid(cs, ss, layers, G.w_resolutions))
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
    from ..io.images import IMAGE_SUFFIXES

    check_output_path(out, overwrite, IMAGE_SUFFIXES)
    if save_latents:
        check_output_path(save_latents, overwrite, (".npz",))
    G = load(model, device=device)
    a, b, c = (resolve_code(G, s, psi).to_wplus(G.num_ws)[:1] for s in (target, source, destination))
    result = arithmetic(a, b, c, strength)
    pics = np.concatenate([G.render(b), G.render(c), G.render(a), G.render(result)])
    save_image(make_grid(pics, ncols=4), out, scale=scale)
    if save_latents:
        result.save(save_latents)
    click.echo(f"wrote {out} (B, C, A, A + {strength} (C - B))")


def _region(G, mask, rect, what: str):
    from ..io.masks import load_mask, rect_mask

    if (mask is None) == (rect is None):
        raise click.UsageError(f"give the {what} either as --mask PNG or as --rect x0,y0,x1,y1 (exactly one)")
    return load_mask(mask, G.img_resolution) if mask is not None else rect_mask(rect, G.img_resolution)


@click.command(context_settings=CONTEXT)
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mask", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="PNG whose white pixels are the hole to fill (resized to the model's resolution).")
@click.option("--rect", default=None, help="The hole as a rectangle x0,y0,x1,y1 (pixels, or fractions 0..1).")
@model_option
@click.option("--steps", default=300, show_default=True, type=click.IntRange(1, 100000), help="Optimisation steps.")
@click.option("--space", type=click.Choice(["w", "w+"]), default="w+", show_default=True)
@click.option("--feather", "feather_px", default=1.0, show_default=True, help="Soft edge of the paste, in pixels.")
@click.option("--scale", default=4, show_default=True, type=click.IntRange(1, 16))
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The filled image; a strip [input | hole | generator | filled] goes beside it as *_compare.png.")
@click.option("--save-latents", type=click.Path(dir_okay=False, path_type=Path), default=None)
@overwrite_option
@device_option
def inpaint(image, mask, rect, model, steps, space, feather_px, scale, out, save_latents, overwrite, device) -> None:
    """Fill a hole in an image: invert with the loss on the known pixels only, paste the generator's content.

    \b
    Example:
      ganlens inpaint face.png --rect 16,30,48,56 --out filled.png
      ganlens inpaint face.png --mask hole.png --steps 500 --out filled.png --save-latents filled.npz
    """
    from .. import load
    from ..io import check_output_path, load_image, make_grid, save_image
    from ..io.images import IMAGE_SUFFIXES
    from ..restore import inpaint as fill

    compare = out.with_name(out.stem + "_compare.png")
    check_output_path(out, overwrite, IMAGE_SUFFIXES)
    check_output_path(compare, overwrite)
    if save_latents:
        check_output_path(save_latents, overwrite, (".npz",))
    G = load(model, device=device)
    hole = _region(G, mask, rect, "hole")
    img = load_image(image, size=G.img_resolution)
    res = fill(G, img[None], hole, steps=steps, space=space, feather_px=feather_px, progress=True)
    shown = img.copy()
    shown[hole > 0.5] = (shown[hole > 0.5] // 3 + np.array([170, 0, 0], np.uint8))  # the hole, tinted red
    save_image(res.blended[0], out)
    save_image(make_grid(np.stack([img, shown, res.reconstruction[0], res.blended[0]]), ncols=4), compare, scale=scale)
    if save_latents:
        res.code.save(save_latents)
    click.echo(f"wrote {out} and {compare} ({int((hole > 0.5).sum())} pixels filled, {res.seconds:.1f} s)")


@click.command("local-edit", context_settings=CONTEXT)
@click.argument("code")
@click.option("--direction", "-d", "direction_spec", required=True,
              help="Direction file (.npz) or a shipped attribute of the model (e.g. smile).")
@click.option("--strength", default=2.0, show_default=True, help="Edit strength (units of the direction's scale).")
@click.option("--mask", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="PNG whose white pixels may change.")
@click.option("--rect", default=None, help="The region that may change: x0,y0,x1,y1 (pixels, or fractions 0..1).")
@click.option("--layers", default=None, help="Move only these w's (e.g. 0-3, coarse).")
@model_option
@click.option("--truncation", "psi", default=1.0, show_default=True)
@click.option("--feather", "feather_px", default=2.0, show_default=True)
@click.option("--scale", default=4, show_default=True, type=click.IntRange(1, 16))
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Strip [original | edited everywhere | edited inside the region].")
@overwrite_option
@device_option
def local_edit(code, direction_spec, strength, mask, rect, layers, model, psi, feather_px, scale, out, overwrite,
               device) -> None:
    """Edit only inside a region: the edited render there, the original everywhere else.

    CODE is a seed ('seed:3') or a saved latent file (.npz, e.g. from `ganlens invert`).

    \b
    Example:
      ganlens local-edit seed:3 -d smile --strength 3 --rect 0.2,0.55,0.8,0.9 --out smile_only_mouth.png
    """
    from .. import load
    from ..directions import resolve_direction
    from ..edit import move
    from ..edit.masked import local_edit as edit_region
    from ..io import check_output_path, make_grid, save_image
    from ..io.images import IMAGE_SUFFIXES

    check_output_path(out, overwrite, IMAGE_SUFFIXES)
    G = load(model, device=device)
    region = _region(G, mask, rect, "region")
    c = resolve_code(G, code, psi)[:1]
    d = resolve_direction(direction_spec, G.name)
    local = edit_region(G, c, d, strength, region, layers=layers, feather_px=feather_px)
    everywhere = G.render(move(c, d, [strength], layers=layers, num_ws=G.w_resolutions))
    save_image(make_grid(np.concatenate([G.render(c), everywhere, local]), ncols=3), out, scale=scale)
    click.echo(f"wrote {out} (original | {d.name} {strength:+g} everywhere | only inside the region)")
