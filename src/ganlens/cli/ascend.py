"""`ganlens ascend`: per-sample gradient ascent on one attribute, optionally holding others."""

from __future__ import annotations

from pathlib import Path

import click

from .common import CONTEXT, device_option, model_option, overwrite_option, parse_range, scorer_option


@click.command(context_settings=CONTEXT)
@model_option
@scorer_option
@click.option("--attribute", "-a", required=True, help="Attribute whose score each sample climbs (or descends).")
@click.option("--keep", "-k", "keep", multiple=True,
              help="Attribute to hold at each sample's start score (repeatable).")
@click.option("--seeds", default="0-7", show_default=True, help="Seeds of the rows, e.g. 0-7 or 1,5,9.")
@click.option("--space", type=click.Choice(["w", "z"]), default="w", show_default=True, help="Space of the seeded codes.")
@click.option("--latents", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Edit saved codes (e.g. inverted images) instead of seeds.")
@click.option("--distances", default="0:3:4", show_default=True,
              help="Path lengths of the columns in latent units (negative: down), START:STOP:COUNT or a list.")
@click.option("--step", default=0.125, show_default=True, type=click.FloatRange(min=1e-3),
              help="Longest gradient step; shorter steps hold --keep attributes more tightly.")
@click.option("--restore/--no-restore", default=True, show_default=True,
              help="With --keep, also pull the kept scores back to their start values at every step "
                   "(--no-restore: steps orthogonal to their gradients only, a first-order hold).")
@click.option("--guard", "guards", multiple=True, default=("auto",), show_default=True,
              help="Another differentiable scorer (name or predictor file) under which the --keep attributes are "
                   "held too (repeatable). 'auto': the model's bundled '-independent' predictor, where there is one "
                   "that reads every kept attribute (synthfaces64-independent, trained without the domain's factor "
                   "correlations, so it does not mistake the edit for a change of the kept attribute); 'none': "
                   "hold under --scorer only.")
@click.option("--layers", default=None, help="W only: move only these w's (0-5, coarse/middle/fine, ...).")
@click.option("--truncation", "psi", default=1.0, show_default=True, type=float, help="Truncation of seeded W codes.")
@click.option("--scale", type=click.IntRange(1, 16), default=2, show_default=True, help="Enlarge tiles for viewing.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Grid image (.png/.jpg).")
@click.option("--save-latents", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also save the edited codes (.npz), row-major like the grid.")
@overwrite_option
@device_option
def ascend(model, scorer, attribute, keep, seeds, space, latents, distances, step, restore, guards, layers, psi, scale,
           out, save_latents, overwrite, device) -> None:
    """Edit each sample along its own score gradient, optionally keeping other attributes fixed (per sample).

    Where an attribute is not linear in the latent space, a direction misses samples; per-sample ascent does not
    (with steps of 0.5 it raised each of the 13 synthfaces64 attributes for >= 98.8 % of 500 samples), and --keep
    holds the kept attributes per sample (every step orthogonal to their gradients, plus a correction back to
    their start scores) where projecting out a boundary holds them only on average. The path
    follows the scorer, including where the scorer can be fooled. Needs a differentiable scorer.

    \b
    Example:
      ganlens ascend -a glasses -k age --seeds 0-5 --distances 0:3:4 --out glasses_not_age.png
      ganlens ascend -a glasses -k age --guard none --out glasses_not_age_unguarded.png
      ganlens ascend -a smile --layers 5-9 --latents inverted/codes.npz --out smile.png --save-latents smile.npz
    """
    from .. import LatentCode, load
    from ..edit import ascend_path as climb
    from ..edit import labelled_grid, parse_strengths
    from ..errors import GanlensError
    from ..io import check_output_path, save_image
    from ..io.images import IMAGE_SUFFIXES
    from ..scoring import choose_guards, resolve_scorer

    check_output_path(out, overwrite, IMAGE_SUFFIXES)
    if save_latents:
        check_output_path(save_latents, overwrite, (".npz",))
    G = load(model, device=device)
    sc = resolve_scorer(scorer)
    chosen = choose_guards(guards, G.name, keep)
    guards, guard_scorers = [name for name, _ in chosen], [g for _, g in chosen]
    values = parse_strengths(distances)
    if latents is not None:
        codes = LatentCode.load(latents, G)
        row_labels = [f"#{i}" for i in range(len(codes))]
    else:
        seed_list = parse_range(seeds, "--seeds")
        codes = LatentCode.cat([G.sample(1, seed=s, truncation_psi=psi, space=space) for s in seed_list])
        row_labels = [f"seed {s}" for s in seed_list]
    if codes.space == "z" and layers:
        raise GanlensError("--layers moves w's; these codes are in Z (use --space w)")
    uniform = (lambda c: c.to_wplus(G.num_ws)) if layers or codes.space == "w+" else (lambda c: c)
    columns = [uniform(c) for c in climb(G, sc, codes, attribute, values, keep=keep, layers=layers, step=step,
                                         restore=restore, guards=guard_scorers, progress=True)]
    edited = LatentCode.cat([c[i:i + 1] for i in range(len(codes)) for c in columns])  # rows = samples
    title = f"ascend {attribute}" + (f" | keep {', '.join(keep)}" if keep else "") + (f"  layers {layers}" if layers else "")
    pictures = G.render(edited)
    grid = labelled_grid(pictures, ncols=len(values), col_labels=[f"{v:+g}" for v in values],
                         row_labels=row_labels, scale=scale, title=title)
    save_image(grid, out)
    msg = f"wrote {out} ({len(codes)} rows x {len(values)} distances, ascending {attribute})"
    far = max(values, key=abs)
    if far != 0:  # how far the farthest column moved the target and held the kept attributes, as each scorer reads it
        start, end = G.render(codes), pictures[values.index(far)::len(values)]
        readers = [("", sc)] + [(f"guard {g.rsplit('/', 1)[-1]}: ", gs) for g, gs in zip(guards, guard_scorers)]
        parts = [prefix + ", ".join(f"{a} {_mean_change(r, start, end, a):+.3f}" for a in
                                    ([attribute] if not prefix else []) + list(keep))
                 for prefix, r in readers]
        msg += f"\nmean change at {far:+g} (probability for binary attributes): " + "; ".join(parts)
    if save_latents:
        edited.meta.update({"model": G.name, "ascend": attribute, "keep": list(keep), "restore": restore,
                            "guards": list(guards)})
        edited.save(save_latents)
        msg += f"; codes ({edited.space}, {list(edited.tensor.shape)}) in {save_latents}"
    click.echo(msg)


def _mean_change(scorer, before, after, name: str) -> float:
    """Mean score change of `name` from pictures `before` to `after` (binary logits read as probabilities)."""
    return float((scorer.readable(scorer(after))[name] - scorer.readable(scorer(before))[name]).mean())
