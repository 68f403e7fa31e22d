"""`ganlens restore`: super-resolve, colourise, denoise, deblur or inpaint an image with the GAN as the prior."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from .common import CONTEXT, device_option, model_option, overwrite_option


def _nearest(img: np.ndarray, size: int) -> np.ndarray:
    """An observation shown at the clean size (nearest neighbour, so its pixels stay visible)."""
    reps = size // img.shape[0]
    return np.repeat(np.repeat(img, reps, axis=0), reps, axis=1) if reps > 1 else img


@click.command(context_settings=CONTEXT)
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--task", "-t", required=True,
              help="The damage: sr:F | colorize | denoise:SIGMA | inpaint:x0,y0,x1,y1 | blur:SIGMA, or several "
                   "joined by '+' (e.g. sr:4+denoise:0.05).")
@click.option("--method", type=click.Choice(["wplus", "pulse", "dgp"]), default="wplus", show_default=True,
              help="wplus: W+ search through the damage with the P_N penalty; pulse: Z on the sphere; dgp: wplus, "
                   "then generator fine-tuning.")
@model_option
@click.option("--steps", default=300, show_default=True, type=click.IntRange(1, 100000), help="Latent search steps.")
@click.option("--reference", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The clean image, if known: shown in the picture and scored (PSNR, SSIM).")
@click.option("--baselines", is_flag=True, help="Also show the classical restorations (scikit-image).")
@click.option("--scale", default=4, show_default=True, type=click.IntRange(1, 16), help="Zoom of the picture.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The restored image; a strip [observed | restored | baselines | reference] goes beside it as "
                   "*_compare.png.")
@click.option("--save-latents", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Save the code (.npz) to edit the result next; with --method dgp the tuned weights go beside it "
                   "as *_delta.safetensors.")
@overwrite_option
@device_option
def restore(image, task, method, model, steps, reference, baselines, scale, out, save_latents, overwrite, device
            ) -> None:
    """Restore a damaged image by searching the generator for a clean image that, damaged the same way, matches it.

    IMAGE is the observation: it is resized to the size the task makes of the model's resolution (for sr:4 on a
    64 px model, 16 px).

    \b
    Examples:
      ganlens restore small.png --task sr:4 --out big.png
      ganlens restore grey.png --task colorize --method dgp --out colour.png --reference truth.png
      ganlens restore noisy.png --task denoise:0.1 --baselines --out clean.png
      ganlens restore holed.png --task inpaint:0.25,0.5,0.75,0.85 --out filled.png --save-latents filled.npz
    """
    from .. import load
    from ..io import check_output_path, load_image, make_grid, save_image
    from ..io.images import IMAGE_SUFFIXES
    from ..restore import parse_task
    from ..restore import restore as run

    G = load(model, device=device)
    deg = parse_task(task, G.img_resolution)  # before any work: a bad task is a one-line error
    compare = out.with_name(out.stem + "_compare.png")
    delta_path = None
    check_output_path(out, overwrite, IMAGE_SUFFIXES)
    check_output_path(compare, overwrite)
    if save_latents:
        check_output_path(save_latents, overwrite, (".npz",))
        if method == "dgp":
            delta_path = save_latents.with_name(save_latents.stem + "_delta.safetensors")
            check_output_path(delta_path, overwrite)
    size = deg.output_size(G.img_resolution)
    observed = load_image(image, size=size)
    clean = load_image(reference, size=G.img_resolution) if reference else None
    res = run(G, observed[None], deg, method=method, steps=steps, progress=True)
    save_image(res.restored[0], out)
    panels = [_nearest(res.observed[0], G.img_resolution), res.restored[0]]
    labels = ["observed", method]
    if baselines:
        from ..restore.baselines import classical

        for name, imgs in classical(res.observed, deg, G.img_resolution).items():
            panels.append(imgs[0])
            labels.append(name)
    if clean is not None:
        panels.append(clean)
        labels.append("reference")
    save_image(make_grid(np.stack(panels), ncols=len(panels)), compare, scale=scale)
    if save_latents:
        res.code.save(save_latents)
        if delta_path is not None:
            from ..invert.pti import save_delta

            save_delta(res.deltas[0], delta_path, {"model": G.name, "task": res.task})
    click.echo(f"wrote {out} and {compare} ({' | '.join(labels)}; {res.task} by {method}, {res.seconds:.1f} s)")
    if clean is not None:
        from ..metrics.quality import psnr, ssim

        for name, img in zip(labels[1:], panels[1:]):
            if name != "reference":
                click.echo(f"  {name:>24}: PSNR {float(psnr(img[None], clean[None])[0]):5.2f} dB, "
                           f"SSIM {float(ssim(img[None], clean[None])[0]):.3f}")


def _reference_images(spec: str, G, n: int) -> np.ndarray:
    """Real images of the model's domain: 'renders' (the synthfaces renderer, for its models) or a folder."""
    from ..errors import GanlensError
    from ..io import load_image
    from ..io.images import IMAGE_SUFFIXES

    if spec == "renders":
        from ..synthdata import render_batch, sample_factors

        return render_batch(sample_factors(n, seed=991), size=G.img_resolution)
    folder = Path(spec)
    if not folder.is_dir():
        raise GanlensError(f"--reference {spec!r}: give 'renders' or a folder of real images of the model's domain")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:n]
    if len(files) < 10:
        raise GanlensError(f"--reference {folder}: found {len(files)} images ({', '.join(IMAGE_SUFFIXES)}); "
                           "a realism score needs at least 10")
    return np.stack([load_image(f, size=G.img_resolution) for f in files])


@click.command(context_settings=CONTEXT)
@model_option
@click.option("--seeds", default="0-7", show_default=True, help="Samples to correct, e.g. 0-7 or 3,5,9.")
@click.option("--strengths", default="0,1,2,3", show_default=True,
              help="Moves along the quality direction, in spreads of the samples (0 = as drawn).")
@click.option("--boundary", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A quality direction saved by --save-boundary; without it one is fitted first.")
@click.option("--reference", default="renders", show_default=True,
              help="Real images that define 'realistic': 'renders' (synthfaces models) or a folder of images.")
@click.option("--features", type=click.Choice(["predictor", "mobilenet"]), default="predictor", show_default=True,
              help="Feature space of the realism score: the model's bundled predictor, or ImageNet MobileNetV2.")
@click.option("--samples", default=5000, show_default=True, type=click.IntRange(100, 1_000_000),
              help="Samples scored to fit the boundary (the worst and best 10 %% are its two classes).")
@click.option("--keep/--no-keep", default=True, show_default=True,
              help="Condition the direction on the model's shipped attribute boundaries so they stay put.")
@click.option("--save-boundary", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--scale", default=2, show_default=True, type=click.IntRange(1, 16))
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Grid: one row per seed, one column per strength.")
@overwrite_option
@device_option
def fix(model, seeds, strengths, boundary, reference, features, samples, keep, save_boundary, scale, out, overwrite,
        device) -> None:
    """Correct artefacts (InterFaceGAN): move samples across the boundary between poor and good samples.

    Samples are labelled by a realism score (how close their features come to real images of the domain), a linear
    boundary is fitted between the worst and the best, and the given seeds move along its normal.

    \b
    Examples:
      ganlens fix --seeds 0-7 --out fixed.png --save-boundary realism.npz
      ganlens fix --boundary realism.npz --seeds 100-115 --strengths 0,2 --out fixed.png
      ganlens fix --model mine.pkl --reference photos/ --features mobilenet --out fixed.png
    """
    from .. import load
    from ..bundled import predictor_name
    from ..directions import Direction
    from ..directions.bundled import load_bundled
    from ..errors import GanlensError
    from ..io import check_output_path, make_grid, save_image
    from ..io.images import IMAGE_SUFFIXES
    from ..latents import LatentCode
    from ..restore.artefacts import RealismScore, correct, mobilenet_embed, quality_boundary, realism_of
    from .common import parse_range

    check_output_path(out, overwrite, IMAGE_SUFFIXES)
    if save_boundary:
        check_output_path(save_boundary, overwrite, (".npz",))
    seed_list = parse_range(seeds, "--seeds")
    try:
        amounts = [float(v) for v in strengths.split(",")]
    except ValueError:
        raise click.BadParameter(f"{strengths!r}: give numbers separated by commas", param_hint="--strengths") from None
    G = load(model, device=device)
    if features == "predictor":
        pred = predictor_name(G.name)
        if pred is None:
            raise GanlensError(f"model {G.name!r} ships no predictor; use --features mobilenet")
        from ..scorers import load_scorer

        embed = load_scorer(pred).features
    else:
        embed = mobilenet_embed()
    realism = RealismScore(embed, _reference_images(reference, G, 2000))
    if boundary is not None:
        direction = Direction.load(boundary)
    else:
        kept = load_bundled(G.name) if keep else {}
        direction = quality_boundary(G, realism, n=samples, keep=kept or None, progress=True)
        if save_boundary:
            direction.save(save_boundary)
    import torch

    codes = LatentCode("w", torch.cat([G.sample(1, seed=s).tensor for s in seed_list]), meta={"seeds": seed_list})
    grid, rows = [], []
    for a in amounts:
        c = correct(codes, direction, a, num_ws=G.w_resolutions)
        grid.append(G.render(c))
        rows.append(realism_of(G, c, realism))
    images = np.stack(grid, axis=1).reshape(-1, *grid[0].shape[1:])
    save_image(make_grid(images, ncols=len(amounts)), out, scale=scale)
    click.echo(f"wrote {out} ({len(seed_list)} seeds x strengths {amounts})")
    click.echo("realism (0 = as close to real images as they are to each other): " + "; ".join(
        f"strength {a:g}: mean {r.mean():+.3f}" for a, r in zip(amounts, rows)))
