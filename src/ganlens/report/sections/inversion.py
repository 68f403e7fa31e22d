"""Demo sections: inversion of held-out renders and of a real photo, and inpainting."""

from __future__ import annotations

import importlib.util
import time

import numpy as np

from ...edit import labelled_grid
from ...io import make_grid
from ...io.masks import rect_mask
from ...restore import inpaint
from ..context import DemoContext
from ..html import Report, Section


def _metrics(a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    from ...metrics.quality import fidelity

    return fidelity(a, b, with_perceptual=False, with_ssim=importlib.util.find_spec("skimage") is not None)


def section_inversion(ctx: DemoContext, report: Report, s: Section) -> None:
    from ...invert import invert_hybrid, load_encoder
    from ...synthdata import render_batch, sample_factors

    G, n = ctx.G, ctx.sizes.inversions
    targets = render_batch(sample_factors(n, seed=31337))
    t0 = time.perf_counter()
    enc_code = load_encoder(G.name, device=G.device).invert(targets, G=G, iterations=2)
    t_enc = time.perf_counter() - t0
    enc = G.render(enc_code)
    hyb_res = invert_hybrid(G, targets, steps=ctx.sizes.hybrid_steps)
    hyb = G.render(hyb_res.code)
    rows = []
    for name, rec, secs in (("encoder (pSp + 1 ReStyle step)", enc, t_enc),
                            (f"hybrid (encoder + {ctx.sizes.hybrid_steps} W+ steps)", hyb, hyb_res.seconds)):
        m = _metrics(targets, rec)
        rows.append((name, float(m["psnr"].mean()), float(m["ssim"].mean()) if "ssim" in m else float("nan"), secs / n))
    ctx.numbers["inversion"] = {r[0]: {"psnr": r[1], "ssim": r[2]} for r in rows}
    report.figure(s, labelled_grid(np.concatenate([targets, enc, hyb]), n, scale=3,
                                   row_labels=["held-out render", "encoder", "hybrid"]), "inversion.png",
                  "held-out renders (never seen in training) and their inversions by the encoder and the hybrid")
    report.table(s, ["method", "PSNR dB", "SSIM", "s / image"], rows, caption=f"{n} renders, seed 31337")
    report.command(s, f"ganlens invert renders/ --model {ctx.model} --method hybrid --steps {ctx.sizes.hybrid_steps} --out inverted/")
    ctx.numbers["_inverted"] = hyb_res.code

    photo, how = _photo(G.img_resolution)
    res = invert_hybrid(G, photo[None], steps=ctx.sizes.photo_steps)
    rec = G.render(res.code)
    m = _metrics(photo[None], rec)
    ctx.numbers["photo"] = {"psnr": float(m["psnr"][0]), "how": how}
    report.figure(s, labelled_grid(np.stack([photo, rec[0]]), 2, col_labels=["photo", "W+ inversion"], scale=3),
                  "photo.png",
                  f"a real photo (skimage's astronaut, {how}) and its W+ inversion into the cartoon-face model: "
                  f"PSNR {float(m['psnr'][0]):.1f} dB")
    report.text(s, "A photo lies far outside this model's domain: W+ keeps layout and colours but the result is a "
                   "cartoon; editing such a code is not meaningful (Image2StyleGAN §3.2 saw the same for FFHQ).", cls="note")


def _photo(resolution: int) -> tuple[np.ndarray, str]:
    """skimage's astronaut, FFHQ-aligned when dlib is installed, else a fixed square crop around her face."""
    from PIL import Image
    from skimage import data

    image = data.astronaut()
    if importlib.util.find_spec("dlib") is not None:
        try:
            from ...invert.align import FaceAligner

            face = FaceAligner().align(image, size=256).image
            return np.asarray(Image.fromarray(face).resize((resolution, resolution), Image.LANCZOS)), "aligned with dlib"
        except Exception:  # no face found or landmark model missing: the fixed crop still makes the point
            pass
    crop = Image.fromarray(image[40:220, 135:315]).resize((resolution, resolution), Image.LANCZOS)
    return np.asarray(crop), "fixed crop of the face (install ganlens[faces] for alignment)"


def section_inpaint(ctx: DemoContext, report: Report, s: Section) -> None:
    from ...synthdata import render_batch, sample_factors

    G = ctx.G
    target = render_batch(sample_factors(2, seed=2024))
    r = G.img_resolution
    hole = rect_mask("0.25,0.52,0.75,0.85", r)
    holed = target.copy()
    holed[:, hole > 0.5] = 0
    res = inpaint(G, holed, hole, steps=ctx.sizes.inpaint_steps, feather_px=2.0)
    inside = hole > 0.5
    err_fill = float(np.abs(res.blended[:, inside].astype(float) - target[:, inside]).mean())
    err_hole = float(np.abs(holed[:, inside].astype(float) - target[:, inside]).mean())
    ctx.numbers["inpaint"] = {"mae_filled": err_fill, "mae_hole": err_hole}
    report.figure(s, make_grid(np.concatenate([target, holed, res.reconstruction, res.blended]), ncols=2),
                  "inpaint.png", "rows: original render, hole punched in, generator fitted to the known pixels, "
                  "filled", scale=3)
    report.text(s, f"Masked W+ inversion (Image2StyleGAN++): the loss sees only the pixels outside the hole. Mean "
                   f"absolute error inside the hole vs the original: {err_fill:.1f} filled, {err_hole:.1f} as punched "
                   "(0..255 scale).")
    report.command(s, f"ganlens inpaint face.png --rect 0.25,0.52,0.75,0.85 --steps {ctx.sizes.inpaint_steps} --out filled.png")
