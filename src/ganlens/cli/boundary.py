"""`ganlens boundary`: fit supervised directions (InterFaceGAN SVM boundaries or scorer-gradient directions)."""

from __future__ import annotations

from pathlib import Path

import click

from .common import (
    CONTEXT,
    batch_option,
    device_option,
    model_option,
    overwrite_option,
    ray_executor,
    ray_option,
    scorer_option,
    shards_folder,
    workers_option,
)


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
@ray_option
@workers_option
@device_option
def boundary(model, scorer, attributes, method, n, seed, space, latents, labels, layer, grad_layers, ratio, count,
             split, threshold, binary, diagnose, batch_size, out, overwrite, ray_address, workers, device) -> None:
    """Fit supervised directions: InterFaceGAN boundaries (linear SVM on the top/bottom scored samples) or
    scorer-gradient directions, and save them as direction files.

    With --ray (svm): the samples are scored once, split into shards on Ray workers (bit for bit the codes and
    scores of a run without it; finished shards wait in OUT.shards/ so a killed run resumes), and each
    attribute's SVM (and --diagnose) is fitted as its own Ray task.

    \b
    Example:
      ganlens boundary --model synthfaces64 --attribute smile --samples 20000 --space w --out smile.npz
      ganlens boundary --model synthfaces64 -a all --samples 20000 --out boundaries/
      ganlens boundary --model synthfaces64 -a eye_open --samples 20000 --diagnose --out eye_open.npz
      ganlens boundary --model mine.pkl --latents codes.npz --labels my_labels.csv -a smile --out smile.npz
      ganlens boundary --model synthfaces64 -a glasses --method gradient --samples 1000 --out glasses_grad.npz
      ganlens boundary --model synthfaces64 -a eye_open --method gradient --layers 7-9 --out eye_open_fine.npz
      ganlens boundary --model synthfaces64 -a all --samples 500000 --ray auto --out boundaries/
    """
    from functools import partial

    from .. import load
    from ..directions import fit_boundaries
    from ..scoring import load_scored, resolve_scorer
    from ..scoring import score as score_codes

    if method == "gradient":
        if ray_address is not None:
            raise click.BadParameter("--ray runs --method svm (scoring and fitting); the gradient recipe runs here",
                                     param_hint="--ray")
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
    executor = ray_executor(ray_address, workers)
    try:
        if latents is None:
            work = shards_folder(out) if executor is not None else None
            result = score_codes(G, n, sc, seed=seed, space=space, batch_size=batch_size, progress=True,
                                 executor=executor, work_dir=work, fresh=overwrite,
                                 log=lambda msg: click.echo(msg, err=True))
        per_attribute = {}
        for a in names:
            info = result.info(a)
            per_attribute[a] = {
                "binary": binary or (info is not None and info.kind == "binary"),
                "threshold": threshold if threshold is not None else (info.threshold if info is not None else None)}
        fitted = fit_boundaries(result.codes, {a: result[a] for a in names}, per_attribute=per_attribute,
                                then=partial(_diagnose, seed=seed, layer=layer) if diagnose else None,
                                executor=executor, ratio=ratio, count=count, split=split, layer=layer, seed=seed,
                                model=G.name, num_ws=G.num_ws)
    finally:
        if executor is not None:
            executor.close()
    for a, target in zip(names, targets):
        d = fitted[a]
        d.provenance["source"] = str(latents) if latents else f"sampled {n} {space} codes, seed {seed}, scorer {scorer}"
        d.save(target)
        m = d.metrics
        click.echo(f"{a:14s} val {m['val_accuracy']:.3f}  all {m['all_accuracy']:.3f}  remaining "
                   f"{m['remaining_accuracy'] if m['remaining_accuracy'] is None else round(m['remaining_accuracy'], 3)}"
                   f"  bias {d.bias:+.3f}  ({d.space}, {m['num_train']} train / {m['num_val']} val) -> {target}")
        if diagnose:
            click.echo(f"{'':14s} {m['linearity']['verdict']}")
    if executor is not None and latents is None:
        from ..parallel import ShardStore

        ShardStore.remove_folder(work)  # every direction is saved: the scored shards are no longer needed


def _diagnose(d, codes, scores, seed: int, layer: int | None) -> None:
    """--diagnose for one fitted boundary: is the attribute linear in the space (kept in the direction's metrics)."""
    from ..analysis import linearity

    d.metrics["linearity"] = linearity(codes, scores, d.metrics["threshold"], seed=seed, layer=layer).to_dict()


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
    moved = None if layers is None else resolve_layers(layers, G.w_resolutions)
    targets = _direction_targets(out, names, overwrite)
    for a, target in zip(names, targets):
        d = gradient_direction(G, sc, a, space=space, num_samples=n, seed=seed, layers=moved,
                               batch_size=min(batch_size, 32), progress=True)
        d.provenance["source"] = f"gradients of {n} sampled {space} codes, seed {seed}, scorer {scorer}"
        d.save(target)
        m = d.metrics
        click.echo(f"{a:14s} consistency {m['consistency']:.3f}  agreement {m['agreement']:.3f}  "
                   f"({d.space}, {n} samples) -> {target}")
