"""`ganlens analyze`: measure what directions do (re-scoring, leakage, layer-wise heat-map)."""

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
    workers_option,
)


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
@ray_option
@workers_option
@device_option
def analyze(model, scorer, directions_dir, samples, strength, seed, null_num, layerwise, groups, layerwise_samples,
            distance, batch_size, out, overwrite, ray_address, workers, device) -> None:
    """Measure what directions do: re-scoring, leakage, entanglement, layer-wise heat-map, distance effect.

    Writes analysis.json and heat-maps (rescore.png, leakage.png, cosine_*.png, correlation.png, layerwise.png).
    With --ray the re-scoring and the layer-wise heat-map (every layer group x shard of samples) run on Ray
    workers, with the same numbers as without it (the distance effect stays in this process).

    \b
    Example:
      ganlens analyze --model synthfaces64 --directions boundaries/ --out analysis/
      ganlens analyze --model synthfaces64 --directions sefa/ --scorer synthfaces64 --no-layerwise --out sefa_analysis/
      ganlens analyze --directions boundaries/ --samples 2000 --layerwise-samples 2000 --ray auto --out analysis/
    """
    from .. import load
    from ..directions import load_directions
    from ..io import check_output_path
    from ..scoring import resolve_scorer

    G = load(model, device=device)
    dirs = load_directions(directions_dir)
    sc = resolve_scorer(scorer)
    files = ["analysis.json", "rescore.png", "leakage.png", "correlation.png", "cosine_z.png", "cosine_w.png",
             "layerwise.png"]
    for f in files:
        check_output_path(out / f, overwrite)
    executor = ray_executor(ray_address, workers)
    try:
        _analyze(G, dirs, sc, scorer, directions_dir, samples, strength, seed, null_num, layerwise, groups,
                 layerwise_samples, distance, batch_size, out, executor)
    finally:
        if executor is not None:
            executor.close()


def _analyze(G, dirs, sc, scorer, directions_dir, samples, strength, seed, null_num, layerwise, groups,
             layerwise_samples, distance, batch_size, out, executor) -> None:
    """The measurements of `ganlens analyze` and their files (executor: None or the --ray one)."""
    import numpy as np

    from ..analysis import cosine_matrix, distance_effect, measure_edits, score_correlation
    from ..analysis import layerwise as layerwise_map
    from ..analysis.plots import bar_panels, heatmap
    from ..edit import presets
    from ..io import atomic_write_json, save_image

    report = measure_edits(G, dirs, sc, strengths=[strength], num_samples=samples, seed=seed, null_directions=null_num,
                           batch_size=batch_size, progress=True, executor=executor)
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
                      "presets": {k: v for k, v in presets(G.w_resolutions).items() if k != "all"}}[groups]
        lw = layerwise_map(G, [dirs[i] for i in w_idx], sc, groups=group_spec, strength=strength,
                           num_samples=layerwise_samples, seed=seed, batch_size=batch_size, progress=True,
                           executor=executor)
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
