"""`ganlens score`, `boundary`, `edit`, `discover`, `analyze`: find semantic directions and move along them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import CONTEXT, device_option, model_option, overwrite_option, parse_range

if TYPE_CHECKING:  # the scorers pull in torch; the CLI imports them only when a command runs
    from ..scorers import Scorer

scorer_option = click.option(
    "--scorer", default="synthfaces64", show_default=True,
    help="Bundled scorer name, or a Python scorer as module:function or path/to/file.py:function.",
)
batch_option = click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1, 4096),
                            help="Images synthesised and scored at once.")


@click.command(context_settings=CONTEXT)
@model_option
@scorer_option
@click.option("-n", "--samples", "n", default=10_000, show_default=True, type=click.IntRange(1, 10_000_000),
              help="Number of codes to sample and score.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the z draws.")
@click.option("--space", type=click.Choice(["z", "w"]), default="w", show_default=True, help="Space of the saved codes.")
@click.option("--truncation", "psi", default=1.0, show_default=True, type=float, help="Truncation psi for W codes.")
@batch_option
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Codes (.npz); the scores go to the .csv beside it.")
@overwrite_option
@device_option
def score(model, scorer, n, seed, space, psi, batch_size, out, overwrite, device) -> None:
    """Sample codes, synthesise them and score every image; save codes (.npz) and scores (.csv).

    The CSV (one row per code, one column per attribute) is the same format `boundary --labels` reads, so labels
    from your own classifier can replace it.

    \b
    Example:
      ganlens score --model synthfaces64 --samples 20000 --seed 0 --out scored/codes.npz
      ganlens score --model mine.pkl --scorer my_scorers.py:smile_score -n 5000 --out codes.npz
    """
    import numpy as np

    from .. import load
    from ..io import check_output_path
    from ..scoring import score as score_codes

    check_output_path(out, overwrite, (".npz",))
    check_output_path(out.with_suffix(".csv"), overwrite)
    if space == "z" and psi != 1:
        raise click.BadParameter("truncation applies in W; use --space w", param_hint="--truncation")
    G = load(model, device=device)
    t0 = time.perf_counter()
    result = score_codes(G, n, scorer, seed=seed, space=space, truncation_psi=psi, batch_size=batch_size, progress=True)
    npz, csv_path = result.save(out)
    click.echo(f"scored {n} {space} codes of {G.name} in {time.perf_counter() - t0:.1f} s -> {npz}, {csv_path}")
    for name in result.names:
        v = result[name]
        click.echo(f"  {name:14s} mean {np.mean(v):+.3f}  std {np.std(v):.3f}  min {np.min(v):+.3f}  max {np.max(v):+.3f}")


@click.command(context_settings=CONTEXT)
@model_option
@scorer_option
@click.option("--attribute", "-a", "attributes", multiple=True, required=True,
              help="Attribute to fit (repeat for several, or 'all'); several need --out to be a folder.")
@click.option("--method", type=click.Choice(["svm", "gradient"]), default="svm", show_default=True,
              help="svm: InterFaceGAN's boundary; gradient: mean unit gradient of a differentiable scorer's score.")
@click.option("--samples", "n", default=None, type=click.IntRange(2, 10_000_000),
              help="Codes to sample and score (ignored with --latents).  [default: 20000 for svm, 1000 for gradient]")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the z draws and of the train/val split.")
@click.option("--space", type=click.Choice(["z", "w"]), default="w", show_default=True, help="Space to fit in (sampling).")
@click.option("--latents", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Use saved codes (.npz, e.g. from `ganlens score`) instead of sampling.")
@click.option("--labels", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="CSV of labels for --latents (default: the .csv beside it), one row per code.")
@click.option("--layer", type=int, default=None, help="For W+ codes: the layer whose w to fit on.")
@click.option("--layers", "grad_layers", default=None,
              help="Gradient only: fit for a layer-wise edit of these w's (0-5, 16px, fine, ...); the file keeps them.")
@click.option("--ratio", default=0.02, show_default=True, type=click.FloatRange(0, 0.5, min_open=True),
              help="Top/bottom fraction used as positives/negatives.")
@click.option("--count", type=click.IntRange(1), default=None, help="Top/bottom count instead of --ratio.")
@click.option("--split", default=0.7, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Train fraction of the chosen samples.")
@click.option("--threshold", type=float, default=None,
              help="Score separating the classes for remaining/all accuracy (default: 0 for binary, mid-range otherwise).")
@click.option("--binary", is_flag=True, help="Labels are logits of a binary attribute (threshold 0); CSV labels only.")
@click.option("--diagnose", is_flag=True,
              help="Also measure whether each attribute is linear in the space: held-out accuracy of a hyperplane fitted "
                   "to every sample vs a small perceptron (seconds per attribute); kept in the file's metrics.")
@batch_option
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="Direction file (.npz) or folder.")
@overwrite_option
@device_option
def boundary(model, scorer, attributes, method, n, seed, space, latents, labels, layer, grad_layers, ratio, count,
             split, threshold, binary, diagnose, batch_size, out, overwrite, device) -> None:
    """Fit supervised directions: InterFaceGAN boundaries (linear SVM on the top/bottom scored samples) or
    scorer-gradient directions, and save them as direction files.

    \b
    Example:
      ganlens boundary --model synthfaces64 --attribute smile --samples 20000 --space w --out smile.npz
      ganlens boundary --model synthfaces64 -a all --samples 20000 --out boundaries/
      ganlens boundary --model synthfaces64 -a eye_open --samples 20000 --diagnose --out eye_open.npz
      ganlens boundary --model mine.pkl --latents codes.npz --labels my_labels.csv -a smile --out smile.npz
      ganlens boundary --model synthfaces64 -a glasses --method gradient --samples 1000 --out glasses_grad.npz
      ganlens boundary --model synthfaces64 -a eye_open --method gradient --layers 7-9 --out eye_open_fine.npz
    """
    from .. import load
    from ..analysis import linearity
    from ..directions import fit_boundary
    from ..errors import GanlensError
    from ..scoring import load_scored, resolve_scorer, score as score_codes

    if method == "gradient":
        _gradient_directions(model, scorer, attributes, n or 1000, seed, space, grad_layers, batch_size, out, overwrite,
                             device)
        return
    if grad_layers is not None:
        raise click.BadParameter("--layers belongs to --method gradient (an SVM on W+ codes fits one --layer)",
                                 param_hint="--layers")
    n = n or 20_000
    if latents is None and labels is not None:
        raise click.BadParameter("--labels goes with --latents (labels for saved codes)", param_hint="--labels")
    G = load(model, device=device)
    # Everything a user can get wrong is checked before the (long) scoring: the attribute names, the outputs.
    if latents is not None:
        result = load_scored(latents, labels, G)  # boundaries of one model's codes are meaningless for another
        available = result.names
    else:
        sc = resolve_scorer(scorer)
        available = list(sc.names)
    names = available if attributes == ("all",) else list(attributes)
    source = f"labels file {labels or latents.with_suffix('.csv')}" if latents is not None else f"scorer {scorer!r}"
    _check_attributes(names, available, source)
    targets = _direction_targets(out, names, overwrite)
    if latents is None:
        result = score_codes(G, n, sc, seed=seed, space=space, batch_size=batch_size, progress=True)
    for a, target in zip(names, targets):
        info = result.info(a)
        is_binary = binary or (info is not None and info.kind == "binary")
        thr = threshold if threshold is not None else (info.threshold if info is not None else None)
        try:
            d = fit_boundary(result.codes, result[a], attribute=a, ratio=ratio, count=count, split=split,
                             binary=is_binary, threshold=thr, layer=layer, seed=seed, model=G.name, num_ws=G.num_ws)
        except GanlensError as exc:
            raise GanlensError(f"{a}: {exc}") from None
        d.provenance["source"] = str(latents) if latents else f"sampled {n} {space} codes, seed {seed}, scorer {scorer}"
        if diagnose:
            try:
                d.metrics["linearity"] = linearity(result.codes, result[a], d.metrics["threshold"], seed=seed,
                                                   layer=layer).to_dict()
            except GanlensError as exc:
                raise GanlensError(f"{a}: {exc}") from None
        d.save(target)
        m = d.metrics
        click.echo(f"{a:14s} val {m['val_accuracy']:.3f}  all {m['all_accuracy']:.3f}  remaining "
                   f"{m['remaining_accuracy'] if m['remaining_accuracy'] is None else round(m['remaining_accuracy'], 3)}"
                   f"  bias {d.bias:+.3f}  ({d.space}, {m['num_train']} train / {m['num_val']} val) -> {target}")
        if diagnose:
            click.echo(f"{'':14s} {m['linearity']['verdict']}")


def _check_attributes(names: list[str], available: list[str], source: str) -> None:
    """Refuse attribute names the scorer (or the labels CSV) does not have, before any work starts."""
    from ..errors import UnknownNameError

    unknown = [a for a in names if a not in available]
    if unknown:
        raise UnknownNameError(f"{source} has no attribute {unknown[0]!r}; it has {', '.join(available)}")


def _direction_targets(out: Path, names: list[str], overwrite: bool) -> list[Path]:
    """One direction file per attribute: `out` itself for one attribute named *.npz, else out/ATTR.npz; each
    checked before any work starts."""
    from ..io import check_output_path

    if out.suffix.lower() == ".npz" and len(names) != 1:
        raise click.BadParameter(f"{len(names)} attributes need a folder for --out, not a .npz file",
                                 param_hint="--out")
    targets = [out] if out.suffix.lower() == ".npz" else [out / f"{a}.npz" for a in names]
    for t in targets:
        check_output_path(t, overwrite)
    return targets


# SVM-only options: the gradient recipe samples its own codes and needs no labels, classes or split.
_SVM_ONLY = ("latents", "labels", "layer", "ratio", "count", "split", "threshold", "binary", "diagnose")


def _gradient_directions(model, scorer, attributes, n, seed, space, layers, batch_size, out, overwrite,
                         device) -> None:
    """`boundary --method gradient`: one scorer-gradient direction per attribute."""
    from .. import load
    from ..directions.gradient import gradient_direction
    from ..edit import resolve_layers
    from ..scoring import resolve_scorer

    ctx = click.get_current_context()
    given = [f"--{p}" for p in _SVM_ONLY
             if ctx.get_parameter_source(p) is not click.core.ParameterSource.DEFAULT]
    if given:
        raise click.BadParameter(f"{', '.join(given)} {'belongs' if len(given) == 1 else 'belong'} to --method svm; "
                                 "the gradient recipe samples its own codes and follows the scorer's gradient",
                                 param_hint="--method")
    G = load(model, device=device)
    sc = resolve_scorer(scorer)
    names = list(sc.names) if attributes == ("all",) else list(attributes)
    _check_attributes(names, list(sc.names), f"scorer {scorer!r}")
    if layers is not None and space != "w":
        raise click.BadParameter("--layers needs --space w", param_hint="--layers")
    moved = None if layers is None else resolve_layers(layers, G.num_ws)
    targets = _direction_targets(out, names, overwrite)
    for a, target in zip(names, targets):
        d = gradient_direction(G, sc, a, space=space, num_samples=n, seed=seed, layers=moved,
                               batch_size=min(batch_size, 32), progress=True)
        d.provenance["source"] = f"gradients of {n} sampled {space} codes, seed {seed}, scorer {scorer}"
        d.save(target)
        m = d.metrics
        click.echo(f"{a:14s} consistency {m['consistency']:.3f}  agreement {m['agreement']:.3f}  "
                   f"({d.space}, {n} samples) -> {target}")


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
    from ..edit import (describe_layers, labelled_grid, move, move_joint, parse_strengths, perturb, resolve_layers,
                        strength_labels)
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
    else:
        space = "z" if d.space == "z" else "w"
        if space == "z" and psi != 1:
            raise click.BadParameter("truncation applies in W; this direction lives in Z", param_hint="--truncation")
        seed_list = parse_range(seeds, "--seeds")
        codes = LatentCode.cat([G.sample(1, seed=s, truncation_psi=psi, space=space) for s in seed_list])
        row_labels = [f"seed {s}" for s in seed_list]
    edited = move(codes, d, values, layers=layers, num_ws=G.num_ws)
    if joint:
        pairs = []
        for item in joint:
            path, _, amount = item.rpartition(":")
            try:
                pairs.append((resolve_direction(path, G.name), float(amount)))
            except ValueError:
                raise click.BadParameter(f"{item!r}: use DIRECTION.npz:STRENGTH", param_hint="--add") from None
        edited = move_joint(edited, pairs, num_ws=G.num_ws)
    moved_layers = resolve_layers(layers if layers else d.layers, G.num_ws) if (layers or d.layers) else None
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
        clip = move(codes[:1], d, sweep, layers=layers, num_ws=G.num_ws)
        save_animation(G.render(clip), video, scale=scale)
        msg += f"; sweep {min(values):+g}..{max(values):+g} ({len(sweep)} frames) in {video}"
    click.echo(msg)


def _guards(requested: tuple[str, ...], model_name: str, keep: tuple[str, ...]) -> list[tuple[str, Scorer]]:
    """The --guard scorers with their names: 'auto' is the model's bundled guard where it reads every kept
    attribute (nothing without --keep), 'none' is no guard."""
    from ..scorers import default_guard
    from ..scoring import resolve_scorer

    if "none" in requested:
        if len(requested) > 1:
            raise click.BadParameter("'none' cannot be combined with other guards", param_hint="--guard")
        return []
    chosen = []
    for name in requested:
        if name != "auto":
            chosen.append((name, resolve_scorer(name)))
        elif keep and (auto := default_guard(model_name)) is not None:
            guard = resolve_scorer(auto)
            if set(keep) <= set(guard.names):
                chosen.append((auto, guard))
    return chosen


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
    from ..scoring import resolve_scorer

    check_output_path(out, overwrite, IMAGE_SUFFIXES)
    if save_latents:
        check_output_path(save_latents, overwrite, (".npz",))
    G = load(model, device=device)
    sc = resolve_scorer(scorer)
    chosen = _guards(guards, G.name, keep)
    guards, guard_scorers = [name for name, _ in chosen], [g for _, g in chosen]
    values = parse_strengths(distances)
    if latents is not None:
        codes = LatentCode.load(latents, G)
        row_labels = [f"#{i}" for i in range(len(codes))]
    else:
        if space == "z" and psi != 1:
            raise click.BadParameter("truncation applies in W", param_hint="--truncation")
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


@click.command(context_settings=CONTEXT)
@model_option
@click.option("--method", type=click.Choice(["sefa", "ganspace"]), required=True, help="Closed-form (SeFa) or PCA (GANSpace).")
@click.option("--layers", default="all", show_default=True, help="Layers to factorise / edit: all, coarse, middle, fine, 0-3, ...")
@click.option("--num", default=10, show_default=True, type=click.IntRange(1, 4096), help="Directions to save.")
@click.option("--samples", default=300_000, show_default=True, type=click.IntRange(100, 100_000_000),
              help="GANSpace: w samples for the PCA.")
@click.option("--components", default=80, show_default=True, type=click.IntRange(1, 4096),
              help="GANSpace: components fitted (the top --num are saved).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the GANSpace samples.")
@click.option("--scorer", default=None, help="Auto-label each direction with this scorer (bundled name or module:function).")
@click.option("--label-samples", default=64, show_default=True, type=click.IntRange(2, 100_000),
              help="Fresh samples per direction for auto-labels.")
@click.option("--strengths", default=None, help="Preview strengths (default: -3:3:7 for SeFa, -2:2:5 sigma for GANSpace).")
@click.option("--preview-seed", default=0, show_default=True, type=int, help="Seed of the preview sample.")
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output folder.")
@overwrite_option
@device_option
def discover(model, method, layers, num, samples, components, seed, scorer, label_samples, strengths, preview_seed, out,
             overwrite, device) -> None:
    """Find directions without labels (SeFa or GANSpace), optionally auto-label them, save them and a preview.

    Writes one .npz (+ .json) per direction, summary.json, and preview.png (rows = directions, columns = strengths).

    \b
    Example:
      ganlens discover --model synthfaces64 --method sefa --layers coarse --num 10 --scorer synthfaces64 --out sefa/
      ganlens discover --model synthfaces64 --method ganspace --samples 300000 --num 10 --out ganspace/
    """
    from .. import LatentCode, load
    from ..analysis import autolabel
    from ..directions import ganspace, sefa
    from ..edit import labelled_grid, move, parse_strengths, strength_labels
    from ..io import atomic_write_json, check_output_path, save_image

    G = load(model, device=device)
    if method == "sefa":
        found = sefa(G, layers=layers, num=num)
    else:
        if num > components:
            raise click.BadParameter(f"--num {num} exceeds --components {components}", param_hint="--num")
        found = ganspace(G, num_samples=samples, num_components=components, layers=layers, seed=seed,
                         progress=True)[:num]
    if scorer:
        found = autolabel(G, found, scorer, num_samples=label_samples, progress=True)
    targets = [out / f"{d.name}.npz" for d in found] + [out / "summary.json", out / "preview.png"]
    for t in targets:
        check_output_path(t, overwrite)
    values = parse_strengths(strengths or ("-3:3:7" if method == "sefa" else "-2:2:5"))
    base = G.sample(1, seed=preview_seed)
    images = G.render(LatentCode.cat([move(base, d, values, num_ws=G.num_ws) for d in found]))
    row_labels = [d.name + (f" {d.metrics['autolabel']} {d.metrics['label_r']:+.2f}" if "autolabel" in d.metrics else "")
                  for d in found]
    unit = "" if method == "sefa" else " (sigma)"
    save_image(labelled_grid(images, len(values), strength_labels(values), row_labels, scale=2,
                             title=f"{method} on {G.name}, layers {layers}{unit}"), out / "preview.png")
    summary = []
    for d, target in zip(found, targets):
        d.save(target)
        summary.append({"name": d.name, "file": target.name, **{k: v for k, v in d.metrics.items()}})
        extra = f"  -> {d.metrics['autolabel']} (r {d.metrics['label_r']:+.2f})" if "autolabel" in d.metrics else ""
        key = "eigenvalue" if method == "sefa" else "sigma"
        click.echo(f"{d.name:16s} {key} {d.metrics[key]:.4g}{extra}")
    atomic_write_json(out / "summary.json", {"method": method, "model": G.name, "layers": layers, "directions": summary})
    click.echo(f"wrote {len(found)} directions, summary.json and preview.png to {out}")



@click.command(context_settings=CONTEXT)
@model_option
@scorer_option
@click.option("--directions", "directions_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="Folder of direction files (.npz), e.g. from `boundary -a all` or `discover`.")
@click.option("--samples", default=1000, show_default=True, type=click.IntRange(2, 1_000_000),
              help="Fresh samples for re-scoring and leakage (HiGAN: 1000).")
@click.option("--strength", default=2.0, show_default=True, type=float, help="Re-scoring move lambda (HiGAN: 2).")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the fresh samples.")
@click.option("--null", "null_num", default=2, show_default=True, type=click.IntRange(0, 100),
              help="Random directions per space measured as a no-semantics baseline.")
@click.option("--layerwise/--no-layerwise", default=True, show_default=True, help="Layer-wise heat-map (W directions).")
@click.option("--groups", type=click.Choice(["resolution", "layers", "presets"]), default="resolution", show_default=True,
              help="Layer groups of the heat-map: by resolution, every w, or coarse/middle/fine.")
@click.option("--layerwise-samples", default=200, show_default=True, type=click.IntRange(2, 1_000_000))
@click.option("--distance", is_flag=True, help="Also measure the distance effect (strengths -9..9) of each direction.")
@batch_option
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output folder.")
@overwrite_option
@device_option
def analyze(model, scorer, directions_dir, samples, strength, seed, null_num, layerwise, groups, layerwise_samples,
            distance, batch_size, out, overwrite, device) -> None:
    """Measure what directions do: re-scoring, leakage, entanglement, layer-wise heat-map, distance effect.

    Writes analysis.json and heat-maps (rescore.png, leakage.png, cosine_*.png, correlation.png, layerwise.png).

    \b
    Example:
      ganlens analyze --model synthfaces64 --directions boundaries/ --out analysis/
      ganlens analyze --model synthfaces64 --directions sefa/ --scorer synthfaces64 --no-layerwise --out sefa_analysis/
    """
    import numpy as np

    from .. import load
    from ..analysis import cosine_matrix, distance_effect, layerwise as layerwise_map, measure_edits, score_correlation
    from ..analysis.plots import bar_panels, heatmap
    from ..directions import load_directions
    from ..edit import presets
    from ..io import atomic_write_json, check_output_path, save_image
    from ..scoring import resolve_scorer

    G = load(model, device=device)
    dirs = load_directions(directions_dir)
    sc = resolve_scorer(scorer)
    files = ["analysis.json", "rescore.png", "leakage.png", "correlation.png", "cosine_z.png", "cosine_w.png",
             "layerwise.png"]
    for f in files:
        check_output_path(out / f, overwrite)
    report = measure_edits(G, dirs, sc, strengths=[strength], num_samples=samples, seed=seed, null_directions=null_num,
                           batch_size=batch_size, progress=True)
    doc: dict = {"model": G.name, "scorer": str(scorer), "directions_dir": str(directions_dir), "seed": seed,
                 "edits": report.to_dict(strength)}
    names = report.directions
    doc["score_correlation"] = score_correlation(dict(zip(report.attributes, report.base))).round(4).tolist()
    save_image(heatmap(np.array(doc["score_correlation"]), report.attributes, report.attributes,
                       title=f"score correlation over {samples} samples", vmin=-1, vmax=1), out / "correlation.png", scale=2)
    save_image(heatmap(report.leakage(strength), names, report.attributes, diverging=True,
                       title=f"leakage: mean change / attribute spread at strength {strength}"), out / "leakage.png", scale=2)
    delta = report.delta(strength)
    if delta:
        labels = list(delta)
        series = {f"delta (lambda={strength})": [delta[k] for k in labels]}
        success = report.success(strength)
        series["raised"] = [success[k] for k in labels]
        save_image(bar_panels(labels, series, title="re-scoring"), out / "rescore.png", scale=2)
    doc["cosine"] = {}
    for space in ("z", "w"):
        group = [d for d in dirs if (d.space == "z") == (space == "z")]
        if len(group) > 1 and len({d.dim for d in group}) == 1:
            cos = cosine_matrix(group)
            doc["cosine"][space] = {"directions": [d.name for d in group], "matrix": cos.round(4).tolist()}
            save_image(heatmap(cos, [d.name for d in group], [d.name for d in group], vmin=-1, vmax=1,
                               title=f"cosine of {space.upper()} directions"), out / f"cosine_{space}.png", scale=2)
    w_idx = [i for i, d in enumerate(dirs) if d.space != "z" and report.has_target(i)]
    if layerwise and w_idx:
        group_spec = {"resolution": None, "layers": "layers",
                      "presets": {k: v for k, v in presets(G.num_ws).items() if k != "all"}}[groups]
        lw = layerwise_map(G, [dirs[i] for i in w_idx], sc, groups=group_spec, strength=strength,
                           num_samples=layerwise_samples, seed=seed, batch_size=batch_size, progress=True)
        doc["layerwise"] = lw.to_dict()
        rows = [names[i] if names[i] == report.targets[i] else f"{names[i]} ({report.targets[i]})" for i in w_idx]
        save_image(heatmap(lw.relative(), rows, lw.groups, highlight_max=True, vmin=0, vmax=1,
                           title=f"layer-wise re-scoring (row-normalised delta, lambda={strength})"),
                   out / "layerwise.png", scale=2)
    if distance:
        doc["distance"] = [distance_effect(G, d, sc, num_samples=min(samples, 200), seed=seed,
                                           batch_size=batch_size).to_dict()
                           for i, d in enumerate(dirs) if report.has_target(i)]
    atomic_write_json(out / "analysis.json", doc)
    for name, v in delta.items():
        click.echo(f"{name:16s} delta {v:.4f}  raised {report.success(strength)[name]:.3f}")
    click.echo(f"wrote analysis.json and heat-maps to {out}")
