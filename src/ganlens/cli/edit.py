"""`ganlens edit`: move codes along a direction and save a labelled grid."""

from __future__ import annotations

from pathlib import Path

import click

from .common import CONTEXT, device_option, model_option, overwrite_option, parse_range


@click.command(context_settings=CONTEXT)
@model_option
@click.option("--direction", "-d", "direction_path", required=True,
              help="Direction file (.npz) to move along, or a shipped one of the model: smile (InterFaceGAN "
                   "boundary, strengths in spreads) or gradient:smile (layer-wise gradient direction, W units).")
@click.option("--seeds", default="0-7", show_default=True, help="Seeds of the rows, e.g. 0-7 or 1,5,9.")
@click.option("--latents", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Edit saved codes (e.g. inverted images) instead of seeds.")
@click.option("--rows", default=None, help="With --latents: which codes, e.g. 0-7 (default: all).")
@click.option("--strengths", default="-3:3:7", show_default=True, help="START:STOP:COUNT or a list like -2,0,2.")
@click.option("--layers", default=None, help="Move only these w's: a range (0-5), a list, or coarse/middle/fine/all.")
@click.option("--condition", "-c", "conditions", multiple=True,
              help="Direction(s) to keep fixed (file or shipped attribute): their span is projected out (repeatable).")
@click.option("--add", "joint", multiple=True, help="Joint edit: also add DIRECTION.npz:STRENGTH to every column (repeatable).")
@click.option("--jitter", "jitter_sigma", default=0.0, show_default=True, type=float,
              help="Add N(0, sigma^2) noise to each edit (HiGAN jittering).")
@click.option("--truncation", "psi", default=1.0, show_default=True, type=float, help="Truncation of seeded W codes.")
@click.option("--scale", type=click.IntRange(1, 16), default=2, show_default=True, help="Enlarge tiles for viewing.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Grid image (.png/.jpg).")
@click.option("--save-latents", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also save the edited codes (.npz), row-major like the grid.")
@click.option("--video", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a strength sweep of the first row as an animation (.gif or .mp4).")
@click.option("--frames", default=30, show_default=True, type=click.IntRange(2, 1000), help="Frames of --video (one way).")
@overwrite_option
@device_option
def edit(model, direction_path, seeds, latents, rows, strengths, layers, conditions, joint, jitter_sigma, psi, scale,
         out, save_latents, video, frames, overwrite, device) -> None:
    """Move codes along a direction and save a labelled grid (rows = samples, columns = strengths).

    \b
    Example:
      ganlens edit --model synthfaces64 --direction smile --seeds 0-7 --strengths -3:3:7 --out smile.png
      ganlens edit -d glasses -c age --seeds 0-3 --out glasses_not_age.png --video glasses.gif
      ganlens edit -d gradient:glasses --seeds 0-7 --strengths 0:3:4 --out glasses_gradient.png
      ganlens edit -d my_boundary.npz --layers coarse --seeds 0-3 --out e.png --save-latents e.npz
    """
    from .. import LatentCode, load
    from ..directions import resolve_direction
    from ..edit import (
        describe_layers,
        labelled_grid,
        move,
        move_joint,
        parse_strengths,
        perturb,
        resolve_layers,
        strength_labels,
    )
    from ..errors import GanlensError
    from ..io import check_output_path, save_image
    from ..io.images import IMAGE_SUFFIXES
    from ..io.video import ANIMATION_SUFFIXES

    check_output_path(out, overwrite, IMAGE_SUFFIXES)
    for extra, kinds in ((save_latents, (".npz",)), (video, ANIMATION_SUFFIXES)):
        if extra:
            check_output_path(extra, overwrite, kinds)
    G = load(model, device=device)
    d = resolve_direction(direction_path, G.name)
    if d.model and d.model != G.name:
        click.echo(f"warning: {direction_path} was found on {d.model!r}, editing {G.name!r}", err=True)
    if conditions:
        d = d.conditioned_on(*[resolve_direction(p, G.name) for p in conditions])
    values = parse_strengths(strengths)
    if latents is not None:
        codes = LatentCode.load(latents, G)
        idx = parse_range(rows, "--rows") if rows else list(range(len(codes)))
        if max(idx) >= len(codes):
            raise GanlensError(f"--rows {rows} out of range: {latents} holds {len(codes)} codes")
        codes = LatentCode.cat([codes[i] for i in idx])
        row_labels = [f"#{i}" for i in idx]
        if d.space == "s" and codes.space != "s":
            codes = G.to_styles(codes)  # an S direction edits the codes' style-space image
    else:
        space = "z" if d.space == "z" else "w"
        seed_list = parse_range(seeds, "--seeds")
        codes = LatentCode.cat([G.sample(1, seed=s, truncation_psi=psi, space=space) for s in seed_list])
        if d.space == "s":
            codes = G.to_styles(codes)
        row_labels = [f"seed {s}" for s in seed_list]
    edited = move(codes, d, values, layers=layers, num_ws=G.w_resolutions)
    if joint:
        pairs = []
        for item in joint:
            path, _, amount = item.rpartition(":")
            try:
                pairs.append((resolve_direction(path, G.name), float(amount)))
            except ValueError:
                raise click.BadParameter(f"{item!r}: use DIRECTION.npz:STRENGTH", param_hint="--add") from None
        edited = move_joint(edited, pairs, num_ws=G.num_ws)
    moved_layers = resolve_layers(layers if layers else d.layers, G.w_resolutions) if (layers or d.layers) else None
    if jitter_sigma > 0:
        edited = perturb(edited, jitter_sigma, seed=0, layers=moved_layers if edited.space == "w+" else None)
    images = G.render(edited)
    title = d.name + (f" | {', '.join(d.provenance['conditioned_on'])}" if d.provenance.get("conditioned_on") else "")
    if moved_layers is not None:
        title += f"  layers {describe_layers(moved_layers, G.num_ws)}"
    grid = labelled_grid(images, ncols=len(values), col_labels=strength_labels(values), row_labels=row_labels,
                         scale=scale, title=title)
    save_image(grid, out)
    msg = f"wrote {out} ({len(codes)} rows x {len(values)} strengths along {d.name})"
    if save_latents:
        edited.meta.update({"model": G.name, "direction": str(direction_path)})
        edited.save(save_latents)
        msg += f"; codes ({edited.space}, {list(edited.tensor.shape)}) in {save_latents}"
    if video:
        import numpy as np

        from ..edit.morph import pingpong
        from ..io.video import save_animation

        sweep = pingpong(list(np.linspace(min(values), max(values), frames)))
        clip = move(codes[:1], d, sweep, layers=layers, num_ws=G.w_resolutions)
        save_animation(G.render(clip), video, scale=scale)
        msg += f"; sweep {min(values):+g}..{max(values):+g} ({len(sweep)} frames) in {video}"
    click.echo(msg)
