"""`ganlens discover`: unsupervised directions (SeFa, GANSpace), auto-labelled."""

from __future__ import annotations

from pathlib import Path

import click

from .common import CONTEXT, device_option, model_option, overwrite_option


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
