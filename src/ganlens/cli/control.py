"""`ganlens control`: set attributes to named values (GAN-Control encoders or the boundary-distance baseline)."""

from __future__ import annotations

from pathlib import Path

import click

from .common import CONTEXT, device_option, model_option, overwrite_option


def parse_settings(items: tuple[str, ...]) -> dict[str, float]:
    """('yaw=0.5', 'smile=-0.3') → {'yaw': 0.5, 'smile': -0.3}; BadParameter names the bad item."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not ATTRIBUTE=VALUE (e.g. yaw=0.5)", param_hint="--set")
        if name in out:
            raise click.BadParameter(f"{name!r} is set twice", param_hint="--set")
        try:
            out[name] = float(value)
        except ValueError:
            raise click.BadParameter(f"{item!r}: {value.strip()!r} is not a number", param_hint="--set") from None
    return out


def load_model(name_or_path: str, device: str):
    """A bundled model or checkpoint; split-latent checkpoints (`ganlens.control`) are recognised by their header."""
    from .. import load
    from ..control.split_model import is_split_checkpoint, load_split_generator

    if Path(name_or_path).is_file() and is_split_checkpoint(name_or_path):
        return load_split_generator(name_or_path, device)
    return load(name_or_path, device=device)


@click.command("control", context_settings=CONTEXT)
@model_option
@click.option("--set", "settings", multiple=True, required=True, metavar="ATTR=VALUE",
              help="An attribute and the value to give it, in the scorer's units; repeat for several.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the samples to control.")
@click.option("-n", "--num", "n", default=1, show_default=True, type=click.IntRange(1, 1024), help="Number of samples.")
@click.option("--truncation", "psi", default=1.0, show_default=True, type=float, help="Truncation psi of the samples.")
@click.option("--method", type=click.Choice(["encoders", "boundary"]), default="encoders", show_default=True,
              help="encoders: control encoders E_k (GAN-Control); boundary: move along InterFaceGAN boundaries by "
                   "the distance a linear model predicts.")
@click.option("--controls", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A fitted controls file (ControlEncoders / BoundaryControl .safetensors); default: the ones "
                   "shipped with the model.")
@click.option("--scorer", default=None, help="Scorer to read the result back (default: the model's bundled one, if any).")
@click.option("--compare", is_flag=True, help="Write each sample before and after, side by side.")
@click.option("--scale", type=click.IntRange(1, 16), default=2, show_default=True, help="Enlarge the image for viewing.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Output image (.png).")
@overwrite_option
@device_option
def control(model, settings, seed, n, psi, method, controls, scorer, compare, scale, out, overwrite, device) -> None:
    """Set attributes of random samples to the values you name, e.g. yaw = 0.5.

    \b
    Example:
      ganlens control --model synthfaces64 --set yaw=0.5 --set smile=-0.3 --seed 3 --out img.png
      ganlens control --model synthfaces64 --set hair_color=0.9 -n 4 --method boundary --compare --out cmp.png
    """
    import numpy as np

    from ..bundled import controls_file, predictor_name
    from ..control import METHODS
    from ..edit.grid import labelled_grid
    from ..errors import GanlensError
    from ..io import check_output_path, make_grid, save_image
    from ..io.images import IMAGE_SUFFIXES
    from ..latents import LatentCode
    from ..scorers import load_scorer

    targets = parse_settings(settings)
    check_output_path(out, overwrite, IMAGE_SUFFIXES)
    G = load_model(model, device)
    path = controls or controls_file(G.name, method)
    if path is None:
        raise GanlensError(f"no {method} controls ship with {G.name!r}; fit them (ganlens.control.fit / "
                           f"fit_boundary_control), save them and pass --controls FILE")
    ctl = METHODS[method].load(path)
    if ctl.model != G.name:
        raise GanlensError(f"{path} was fitted on {ctl.model!r}, not on {G.name!r}")
    for name, value in targets.items():
        seen = ctl.attributes.get(name)
        if seen is not None and not seen.seen_low <= value <= seen.seen_high:
            click.echo(f"note: {name}={value:g} lies outside the values seen while fitting "
                       f"([{seen.seen_low:.3g}, {seen.seen_high:.3g}]); expect a larger error", err=True)
    code = G.sample(n, seed=seed, truncation_psi=psi, space="w")
    w = code.tensor.float()
    moved = ctl.apply(G, w, targets) if method == "encoders" else ctl.apply(w, targets)
    after = G.render(LatentCode("w", moved))
    before = G.render(code) if compare else None
    scorer_name = scorer or predictor_name(G.name)
    if compare:
        tiles = np.stack([t for pair in zip(before, after) for t in pair])
        labels = ", ".join(f"{k}={v:g}" for k, v in targets.items())
        save_image(labelled_grid(tiles, ncols=2, col_labels=["sample", labels], scale=scale), out)
    else:
        save_image(make_grid(after, ncols=min(n, 8)), out, scale=scale)
    click.echo(f"wrote {out} ({n} sample(s) of {G.name}, seed {seed}, method {method})")
    if scorer_name is not None:
        read = load_scorer(scorer_name)(after)
        for name, value in targets.items():
            if name in read:
                got = ", ".join(f"{x:.3f}" for x in read[name][:8])
                click.echo(f"  {name}: requested {value:g}, read {got}{' ...' if n > 8 else ''}")
