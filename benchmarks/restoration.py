"""The GAN as an image prior against classical restoration, on held-out renders whose clean images are known (issue 31).

Per task (SR x4 and x8, colourisation, denoising sigma 0.1 and 0.2, a 25 % box inpainted, SR x4 + noise 0.05) the
held-out renders are damaged with `Degradation.simulate`, then restored by each GAN-prior method of
`ganlens.restore` ('wplus', 'pulse', 'dgp') and by every classical baseline (`ganlens.restore.baselines`). Each
restoration is compared with the clean render: PSNR, SSIM, the MobileNetV2 feature distance (the project's offline
perceptual distance; LPIPS's VGG weights are not available here) and the factor error as the bundled predictor
reads it (binary factors: the share of images whose yes/no flips; continuous: mean absolute change in units of the
factor's range). The bar: the best GAN-prior method beats the best baseline on the perceptual distance for every
task, and on factor error for SR x8 and inpainting. The real photo (skimage's astronaut) goes through the same
tasks to show where the prior fails out of its domain.

Each finished (task, method) cell is written at once, so an interrupted run keeps its work; --resume skips the cells
already in the file.

    python benchmarks/restoration.py                       # -> results/restoration.json, docs/restoration.png
    python benchmarks/restoration.py --n 8 --steps 100 --out /tmp/r.json --figure /tmp/r.png   # a smoke run
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from harness import ROOT, arguments, factor_error, write_result

TASKS = ["sr:4", "sr:8", "colorize", "denoise:0.1", "denoise:0.2", "inpaint:0.25,0.25,0.75,0.75", "sr:4+denoise:0.05"]
METHODS = ["wplus", "pulse", "dgp"]
FACTOR_BAR_TASKS = ("sr:8", "inpaint:0.25,0.25,0.75,0.75")


def score_cell(clean: np.ndarray, restored: np.ndarray, scorer, seconds: float) -> dict:
    from ganlens.metrics.quality import perceptual, psnr, ssim

    errors = factor_error(scorer, clean, restored) if scorer is not None else {}
    binary = [v for k, v in errors.items() if scorer.info(k).kind == "binary"]
    cont = [v for k, v in errors.items() if scorer.info(k).kind == "continuous"]
    return {
        "psnr": float(psnr(restored, clean).mean()), "ssim": float(ssim(restored, clean).mean()),
        "perceptual": float(perceptual(restored, clean).mean()),
        "factor_error": {"binary_flip": float(np.mean(binary)) if binary else None,
                         "continuous": float(np.mean(cont)) if cont else None,
                         "mean": float(np.mean(list(errors.values()))) if errors else None, "per_factor": errors},
        "seconds_per_image": seconds / len(clean),
    }


def photo(resolution: int) -> np.ndarray:
    """skimage's astronaut, a fixed square crop around her face (the demo's fallback crop), at `resolution`."""
    from PIL import Image
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()[40:220, 135:315]).resize((resolution, resolution), Image.LANCZOS))


def main() -> None:
    ap = arguments(__doc__, "restoration.json")
    ap.add_argument("--model", default="synthfaces64")
    ap.add_argument("--scorer", default="synthfaces64", help="predictor that reads the factors")
    ap.add_argument("--n", type=int, default=100, help="held-out renders per task")
    ap.add_argument("--data-seed", type=int, default=4242, help="seed of the held-out renders (never trained on)")
    ap.add_argument("--steps", type=int, default=300, help="latent search steps per method")
    ap.add_argument("--tasks", default=";".join(TASKS), help="separated by ';' (an inpainting box holds commas); '+' composes")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--figure", default=str(ROOT / "docs" / "restoration.png"))
    ap.add_argument("--resume", action="store_true", help="keep the cells already in --out")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    import ganlens
    from ganlens.io import make_grid, save_image
    from ganlens.io.images import from_uint8
    from ganlens.restore import parse_task, restore
    from ganlens.restore.baselines import classical, mean_chroma
    from ganlens.scorers import load_scorer
    from ganlens.synthdata import render_batch, sample_factors

    G = ganlens.load(args.model)
    scorer = load_scorer(args.scorer)
    clean = render_batch(sample_factors(args.n, args.data_seed), size=G.img_resolution)
    chroma = mean_chroma(render_batch(sample_factors(200, args.data_seed + 1), size=G.img_resolution))
    out = Path(args.out)
    doc = json.loads(out.read_text()) if args.resume and out.exists() else {}
    doc.update({"model": args.model, "scorer": args.scorer, "n": args.n, "data_seed": args.data_seed,
                "steps": args.steps, "perceptual": "MobileNetV2 feature distance (ganlens.metrics.perceptual)"})
    cells = doc.setdefault("tasks", {})
    figure_rows, labels = [], []
    t_start = time.time()
    for task in args.tasks.split(";"):
        deg = parse_task(task, G.img_resolution)
        observed = deg.simulate(from_uint8(clean), seed=args.data_seed).clamp(-1, 1)
        obs8 = ((observed.permute(0, 2, 3, 1) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
        cell = cells.setdefault(task, {"baselines": {}, "gan": {}})
        t0 = time.perf_counter()
        base = classical(deg.align_observed(observed).permute(0, 2, 3, 1).add(1).mul(127.5).round().clamp(0, 255)
                         .to(torch.uint8).numpy(), deg, G.img_resolution, chroma=chroma)
        per_base = (time.perf_counter() - t0) / max(1, len(base))
        for name, imgs in base.items():
            cell["baselines"][name] = score_cell(clean, imgs, scorer, per_base * len(clean))
        results = {}
        for method in args.methods.split(","):
            if args.resume and method in cell["gan"]:
                continue
            res = restore(G, observed, deg, method=method, steps=args.steps, progress=True)
            results[method] = res.restored
            cell["gan"][method] = score_cell(clean, res.restored, scorer, res.seconds)
            write_result(out, doc, generators=[args.model])
            print(f"{task:>30} {method:>6}: PSNR {cell['gan'][method]['psnr']:.2f} perceptual "
                  f"{cell['gan'][method]['perceptual']:.4f} factor {cell['gan'][method]['factor_error']['mean']:.4f} "
                  f"({res.seconds:.0f} s)", flush=True)
        best_base = min(cell["baselines"], key=lambda k: cell["baselines"][k]["perceptual"])
        if cell["gan"]:
            best_gan = min(cell["gan"], key=lambda k: cell["gan"][k]["perceptual"])
            cell["best"] = {"gan": best_gan, "baseline": best_base,
                            "perceptual_bar_held": cell["gan"][best_gan]["perceptual"]
                            < cell["baselines"][best_base]["perceptual"]}
            if task in FACTOR_BAR_TASKS:
                fb = min(cell["baselines"].values(), key=lambda c: c["factor_error"]["mean"])["factor_error"]["mean"]
                fg = min(c["factor_error"]["mean"] for c in cell["gan"].values())
                cell["best"]["factor_bar_held"] = fg < fb
        if results:
            up = lambda x: np.repeat(np.repeat(x, G.img_resolution // x.shape[1], 1), G.img_resolution // x.shape[2], 2)  # noqa: E731
            row = [clean[:1], up(obs8[:1]), base[best_base][:1]] + [results[m][:1] for m in results]
            figure_rows.append(np.concatenate(row))
            labels.append(task)
        write_result(out, doc, generators=[args.model])

    # Out of the domain: the real photo through every task, by the first method asked for.
    face = photo(G.img_resolution)
    ood = doc.setdefault("out_of_domain", {"image": "skimage.data.astronaut, fixed crop of the face", "tasks": {}})
    method = args.methods.split(",")[0]
    for task in args.tasks.split(";"):
        deg = parse_task(task, G.img_resolution)
        observed = deg.simulate(from_uint8(face[None]), seed=args.data_seed).clamp(-1, 1)
        res = restore(G, observed, deg, method=method, steps=args.steps)
        base = classical(res.observed, deg, G.img_resolution, chroma=chroma)
        from ganlens.metrics.quality import perceptual, psnr

        ood["tasks"][task] = {"method": method, "psnr": float(psnr(res.restored, face[None])[0]),
                              "perceptual": float(perceptual(res.restored, face[None])[0]),
                              "baselines": {k: {"psnr": float(psnr(v, face[None])[0]),
                                                "perceptual": float(perceptual(v, face[None])[0])}
                                            for k, v in base.items()}}
    doc["seconds"] = round(time.time() - t_start, 1)
    doc["bars"] = {t: c.get("best") for t, c in cells.items()}
    write_result(out, doc, generators=[args.model])
    if figure_rows:
        grid = make_grid(np.concatenate(figure_rows), ncols=len(figure_rows[0]))
        save_image(grid, args.figure, scale=2)
        print(f"figure: {args.figure} (rows {labels}; columns clean, observed, best baseline, "
              f"{', '.join(args.methods.split(','))})")
    print(json.dumps(doc["bars"], indent=1))


if __name__ == "__main__":
    main()
