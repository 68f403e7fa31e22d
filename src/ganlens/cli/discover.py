"""`ganlens discover`: unsupervised directions (SeFa, GANSpace), auto-labelled, and StyleSpace channels."""

from __future__ import annotations

from pathlib import Path

import click

from .common import CONTEXT, device_option, model_option, overwrite_option


@click.command(context_settings=CONTEXT)
@model_option
@click.option("--method", type=click.Choice(["sefa", "ganspace", "stylespace"]), required=True,
              help="Closed-form (SeFa), PCA (GANSpace), or style-space channels (StyleSpace).")
@click.option("--attribute", "attributes", multiple=True,
              help="StyleSpace: the attribute(s) whose channels to find (repeat; default: every attribute of --scorer).")
@click.option("--route", type=click.Choice(["sensitivity", "examples", "local"]), default="sensitivity",
              show_default=True,
              help="StyleSpace: rank channels by the score's gradient per spread, by ~30 positive examples, or by "
                   "where they act (the attribute's region; synthfaces models).")
@click.option("--layers", default="all", show_default=True, help="Layers to factorise / edit: all, coarse, middle, fine, 0-3, ...")
@click.option("--rgb-layers", type=click.Choice(["last", "all"]), default="last", show_default=True,
              help="SeFa on StyleGAN2: factorise the convs' affines and the final toRGB's, as the SeFa reference "
                   "code does ('last'), or every toRGB's too ('all', ganlens' set before 2026-12-07).")
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
def discover(model, method, attributes, route, layers, rgb_layers, num, samples, components, seed, scorer,
             label_samples, strengths, preview_seed, out, overwrite, device) -> None:
    """Find directions without labels (SeFa or GANSpace), optionally auto-label them, save them and a preview.

    Writes one .npz (+ .json) per direction, summary.json, and preview.png (rows = directions, columns = strengths).

    \b
    StyleSpace writes, per attribute, S directions of its top 1, 3 and 10 channels (ATTR-s1.npz, -s3, -s10) and
    ATTR-channels.png (one row per channel, columns = strengths in channel spreads).

    \b
    Example:
      ganlens discover --model synthfaces64 --method sefa --layers coarse --num 10 --scorer synthfaces64 --out sefa/
      ganlens discover --model synthfaces64 --method ganspace --samples 300000 --num 10 --out ganspace/
      ganlens discover --method stylespace --attribute smile --attribute glasses --route examples --out ss/
    """
    from .. import LatentCode, load
    from ..analysis import autolabel
    from ..directions import ganspace, sefa
    from ..edit import labelled_grid, move, parse_strengths, strength_labels
    from ..io import atomic_write_json, check_output_path, save_image

    G = load(model, device=device)
    if method == "stylespace":
        _stylespace(G, attributes, route, num, scorer, strengths, preview_seed, out, overwrite)
        return
    if attributes:
        raise click.UsageError("--attribute applies to --method stylespace")
    if rgb_layers != "last" and method != "sefa":
        raise click.UsageError("--rgb-layers applies to --method sefa")
    if method == "sefa":
        found = sefa(G, layers=layers, num=num, rgb=rgb_layers)
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
    images = G.render(LatentCode.cat([move(base, d, values, num_ws=G.w_resolutions) for d in found]))
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


def _stylespace(G, attributes, route: str, num: int, scorer_name, strengths, preview_seed: int, out: Path,
                overwrite: bool) -> None:
    """Find each attribute's channels by `route`, save S directions of its top 1 / 3 / 10 and a channel grid."""
    import numpy as np

    from ..bundled import predictor_name
    from ..directions.stylespace import StyleChannels, by_sensitivity, from_examples, locally_active, predicted_regions
    from ..edit import labelled_grid, move, parse_strengths, strength_labels
    from ..errors import GanlensError
    from ..io import atomic_write_json, check_output_path, save_image
    from ..latents import LatentCode
    from ..scorers import load_scorer

    name = scorer_name or predictor_name(G.name)
    if name is None:
        raise GanlensError(f"model {G.name!r} ships no predictor: give --scorer to name the attributes' reader")
    sc = load_scorer(name)
    wanted = list(attributes) or list(sc.names)
    unknown = [a for a in wanted if a not in sc.names]
    if unknown:
        raise GanlensError(f"unknown attribute(s) {unknown}; {name} reads {', '.join(sc.names)}")
    sizes = sorted({1, min(3, num), min(10, num), num})
    targets = [out / f"{a}-s{k}.npz" for a in wanted for k in sizes] + [out / f"{a}-channels.png" for a in wanted]
    for t in targets + [out / "summary.json"]:
        check_output_path(t, overwrite)
    stats = StyleChannels.fit(G, 2000)
    click.echo(f"style space: {stats.dim} channels in {len(stats.layers)} layers")
    values = parse_strengths(strengths or "-5:5:5")
    base = G.to_styles(G.sample(1, seed=preview_seed))
    summary = {}
    local = None
    if route == "local":
        from ..synthdata import FACTOR_REGIONS

        local = locally_active(G, stats, predicted_regions(sc), progress=True)
    probe = G.to_styles(G.sample(300, seed=1)) if route == "examples" else None
    probe_scores = sc.readable(sc(G.render(probe))) if probe is not None else None
    for a in wanted:
        col = list(sc.names).index(a)
        if route == "sensitivity":
            ranked = by_sensitivity(G, lambda x, c=col: sc.score_tensor(x)[:, c], stats, top=num)
        elif route == "examples":
            v = probe_scores[a]
            positive = v >= np.sort(v)[-30]  # StyleSpace's ~30 positive examples: the 30 highest-scored
            ranked = from_examples(probe, positive, stats, top=num)
        else:
            if a not in FACTOR_REGIONS:
                raise GanlensError(f"--route local needs the attribute's region; {a!r} has none")
            cols = [local["regions"].index(p) for p in FACTOR_REGIONS[a]]
            inside = local["share"][:, cols].sum(axis=1)
            active = local["magnitude"] > np.quantile(local["magnitude"], 0.5)  # ignore near-silent channels
            order = np.argsort(-(inside * active))[:num]
            ranked = [(int(local["channels"][k]), float(inside[k])) for k in order]
        found = {}
        for k in sizes:
            picked = ranked[:k]
            signs = [np.sign(v) or 1.0 for _, v in picked] if route != "local" else None
            d = stats.direction([c for c, _ in picked], signs, attribute=f"{a}-s{k}", method=f"stylespace-{route}",
                                metrics={"route": route, "scores": [v for _, v in picked]})
            d.save(out / f"{a}-s{k}.npz")
            found[k] = d
        rows = [move(base, stats.direction([c], [np.sign(v) or 1.0]), values) for c, v in ranked]
        images = G.render(LatentCode.cat(rows))
        labels = [f"{stats.label(c)} {v:+.3g}" for c, v in ranked]
        save_image(labelled_grid(images, len(values), strength_labels(values), labels, scale=2,
                                 title=f"{a}: top {len(ranked)} channels by {route} (strengths in channel spreads)"),
                   out / f"{a}-channels.png")
        summary[a] = [{"channel": stats.label(c), "index": c, "score": v} for c, v in ranked]
        click.echo(f"{a:12s} " + ", ".join(f"{stats.label(c)} ({v:+.3g})" for c, v in ranked[:5]))
    atomic_write_json(out / "summary.json", {"method": "stylespace", "route": route, "model": G.name,
                                             "scorer": name, "channels": summary})
    click.echo(f"wrote {len(targets)} files and summary.json to {out}")
