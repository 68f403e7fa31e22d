"""Invert a folder (or list) of images: batched, resumable, robust to bad files.

Per image NAME the output folder gets NAME.npz (the LatentCode), NAME.png (the reconstruction),
NAME_compare.png (target | reconstruction), for PTI NAME_delta.safetensors (the tuned weights' delta), and
NAME.json (metrics and settings) — written last, so its presence means the image is finished. Every write is
atomic (temporary file + rename): a run killed at any moment leaves whole files only and loses at most the batch
in flight; re-running skips finished images (and refuses a folder finished with other settings). `summary.csv`
lists every image (finished or failed) and is rewritten after each batch. Images that cannot be read are reported
(log line and summary row) and skipped.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
from PIL import Image

from ..errors import GanlensError
from ..io.files import atomic_write_bytes, atomic_write_json
from ..io.images import load_image, make_grid, probe_image, save_image
from ..metrics.quality import fidelity
from ..models.stylegan2 import Generator

if TYPE_CHECKING:
    from ..parallel import Executor
    from .pti import PTIConfig

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm"}
METHODS = ("optim", "encoder", "hybrid", "pti")
SUMMARY_FIELDS = ("name", "source", "status", "method", "space", "psnr", "ssim", "mse", "mae", "perceptual", "seconds", "error")


@dataclass
class RunSettings:
    """What `invert_images` does to each image.

    Args:
        method: 'optim', 'encoder', 'hybrid' or 'pti'.
        space: 'z', 'w' or 'w+' for optim / hybrid (None: the preset's; the encoder predicts W+, PTI pivots in W).
        noise: optimise noise maps too (None: the preset's). steps: optimisation steps (PTI: tuning steps; None: the method's default).
        preset: OptimConfig preset for optim / hybrid ('ganlens', 'nvidia', ...).
        batch_size: images inverted together. encoder: path or bundled name (None: the model's bundled encoder).
        overrides: further OptimConfig fields (PTI: 'recipe', 'lr', 'perceptual', 'early_stop').
    """

    method: str = "optim"
    space: str | None = None
    noise: bool | None = None
    steps: int | None = None
    preset: str = "ganlens"
    batch_size: int = 8
    encoder: str | None = None
    overrides: dict = field(default_factory=dict)

    def validate(self) -> "RunSettings":
        if self.method not in METHODS:
            raise GanlensError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.batch_size < 1:
            raise GanlensError(f"batch size must be >= 1, got {self.batch_size}")
        if self.method == "pti":
            if self.space not in (None, "w"):
                raise GanlensError(f"PTI pivots in W; space {self.space!r} does not apply")
            pti_config(self.steps, self.overrides)  # refuses options PTI would otherwise ignore
        return self


def collect_images(inputs: list[str | Path]) -> list[Path]:
    """Files given, plus image files (by suffix) directly inside folders given, sorted per folder.

    Raises:
        GanlensError: an input does not exist, or nothing to invert was found.
    """
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES))
        elif p.exists():
            out.append(p)
        else:
            raise GanlensError(f"input not found: {p}")
    if not out:
        raise GanlensError(f"no images found in {', '.join(map(str, inputs))} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    return out


def output_names(paths: list[Path]) -> list[str]:
    """One output name per input: the file stem, or stem_suffix where two inputs share a stem."""
    stems = [p.stem for p in paths]
    dup = {s for s in stems if stems.count(s) > 1}
    names = [f"{p.stem}_{p.suffix.lstrip('.').lower()}" if p.stem in dup else p.stem for p in paths]
    seen: dict[str, int] = {}
    for i, n in enumerate(names):  # same stem and suffix in different folders: number them
        if n in seen:
            names[i] = f"{n}_{i}"
        seen[n] = i
    return names


def load_for_inversion(path: Path, resolution: int) -> tuple[np.ndarray, str]:
    """uint8 [R, R, 3]: any mode and size → RGB, centre-cropped to a square, Lanczos-resized; plus a log note."""
    img = load_image(path)  # raises GanlensError with the reason for unreadable / tiny / huge files
    with Image.open(path) as im:
        mode, (w, h) = im.mode, im.size
    notes = [] if mode == "RGB" else [f"{mode} → RGB"]
    side = min(w, h)
    if w != h:
        top, left = (h - side) // 2, (w - side) // 2
        img = img[top : top + side, left : left + side]
        notes.append(f"centre-cropped {w}x{h} → {side}x{side}")
    if side != resolution:
        img = np.asarray(Image.fromarray(img).resize((resolution, resolution), Image.LANCZOS), dtype=np.uint8)
        notes.append(f"resized {side} → {resolution}")
    return img, ", ".join(notes)


PTI_OPTIONS = {"lr": "tune_lr", "perceptual": "perceptual", "early_stop": "early_stop"}


def pti_config(steps: int | None, overrides: dict) -> PTIConfig:
    """PTIConfig from the runner's options: 'recipe' names a PTI recipe, steps and lr are the tuning's,
    perceptual its loss weight."""
    from .pti import pti_recipe

    unknown = sorted(set(overrides) - set(PTI_OPTIONS) - {"recipe"})
    if unknown:
        raise GanlensError(
            f"PTI does not take {unknown}; it takes steps, recipe, {sorted(PTI_OPTIONS)} (tuning settings)")
    kw = {PTI_OPTIONS[k]: v for k, v in overrides.items() if k != "recipe"}
    return pti_recipe(overrides.get("recipe", "ganlens"), **kw, **({"tune_steps": steps} if steps else {}))


def _invert_batch(G: Generator, images: np.ndarray, s: RunSettings, encoder) -> tuple[list, np.ndarray, list | None]:
    """(codes per image, reconstructions uint8, PTI deltas or None)."""
    from .hybrid import invert_hybrid
    from .optimize import preset, project
    from .pti import invert_pti

    opts = dict(s.overrides)
    iterations = int(opts.pop("iterations", 2))  # encoder passes (encoder / hybrid)
    if s.method == "encoder":
        code = encoder.invert(images, G=G, iterations=iterations)
        return [code[i] for i in range(len(code))], G.render(code), None
    if s.method == "pti":
        res = invert_pti(G, images, pti_config(s.steps, opts), batch_size=s.batch_size)
        return [res.code[i] for i in range(len(res.code))], res.render(G), res.deltas
    fields = {"space": s.space, "noise": s.noise, "steps": s.steps}
    cfg = preset(s.preset, batch_size=s.batch_size, **{k: v for k, v in fields.items() if v is not None}, **opts)
    if s.method == "hybrid":
        res = invert_hybrid(G, images, encoder=encoder, config=cfg, iterations=iterations,
                            **({"steps": s.steps} if s.steps else {}))
    else:
        res = project(G, images, cfg)
    return [res.code[i] for i in range(len(res.code))], G.render(res.code), None


def _metric_options(log: Callable[[str], None]) -> dict[str, bool]:
    """Which optional metrics can be computed here (their packages are extras); say once what is left out."""
    from ..metrics.perceptual import get_perceptual

    opts = {"with_ssim": importlib.util.find_spec("skimage") is not None, "with_perceptual": True}
    if not opts["with_ssim"]:
        log("SSIM not reported: pip install 'ganlens[metrics]' (scikit-image)")
    try:
        get_perceptual("mobilenet")
    except GanlensError as exc:
        opts["with_perceptual"] = False
        log(f"perceptual distance not reported: {exc}")
    return opts


# How many images share a batch changes speed, not what an image's result is.
RESULT_NEUTRAL_SETTINGS = ("batch_size",)


def settings_record(s: RunSettings) -> dict:
    """The settings as NAME.json records them (JSON types), so a later run can tell whether it would do the same."""
    plain = {k: v for k, v in s.__dict__.items() if k != "overrides"} | {"overrides": s.overrides}
    return json.loads(json.dumps(plain))


def setting_changes(doc: dict, model: str, record: dict) -> list[str]:
    """What differs between a finished image's NAME.json and a run of `model` with settings `record` (empty: same)."""
    changes = []
    if doc.get("model") not in (None, model):
        changes.append(f"model {doc['model']!r} → {model!r}")
    old = doc.get("settings")
    if isinstance(old, dict):
        for key in sorted(set(old) | set(record)):
            if key not in RESULT_NEUTRAL_SETTINGS and old.get(key) != record.get(key):
                changes.append(f"{key} {old.get(key)!r} → {record.get(key)!r}")
    return changes


def _write_summary(out: Path, rows: dict[str, dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SUMMARY_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for name in sorted(rows):
        writer.writerow(rows[name])
    atomic_write_bytes(out / "summary.csv", buf.getvalue().encode())


class _BatchInverter:
    """A worker of `invert_images`: holds the generator and encoder (loaded once per worker: on Ray they travel
    once to each actor), inverts one batch and measures its fidelity."""

    def __init__(self, G: Generator, settings: RunSettings, metric_opts: dict[str, bool], encoder) -> None:
        self.G, self.settings, self.metric_opts, self.encoder = G, settings, metric_opts, encoder

    def __call__(self, item: tuple[list[str], list[Path], np.ndarray]) -> dict:
        import os

        targets = item[2]
        t0 = time.perf_counter()
        codes, recons, deltas = _invert_batch(self.G, targets, self.settings, self.encoder)
        per_image = (time.perf_counter() - t0) / len(targets)
        metrics = fidelity(targets, recons, **self.metric_opts)
        return {"codes": codes, "recons": recons, "deltas": deltas, "per_image": per_image, "metrics": metrics,
                "pid": os.getpid()}


def invert_images(
    G: Generator,
    inputs: list[str | Path],
    out: str | Path,
    settings: RunSettings | None = None,
    log: Callable[[str], None] = print,
    progress: bool = True,
    redo: bool = False,
    executor: Executor | str | None = None,
) -> dict[str, dict]:
    """Invert every image of `inputs` (files and/or folders) into `out`, skipping finished ones.

    A folder whose finished images were inverted with another model or other settings is refused (a resumed run
    would mix two runs' results) unless `redo`, which inverts those images again and replaces their files.

    `executor` runs the batches (None: one after another in this process; 'ray', a Ray address or an Executor:
    `ganlens.parallel.resolve_executor`). Images are read and batched here exactly as without it, and each batch's
    files are written here as it comes back, so the results and the resume rule are the same; batches may finish
    in any order.

    Returns:
        {name: summary row} for every input (status 'done', 'skipped' (finished earlier) or 'error').
    Raises:
        GanlensError: bad settings, an input that does not exist, no image found, `out` is a file, a folder
            finished with other settings (without `redo`), or not one image could be read (then nothing is
            written: no folder, no summary); Ray missing or unreachable.
    """
    from tqdm import tqdm

    from ..parallel import Executor as _Executor
    from ..parallel import InProcessExecutor, resolve_executor

    s = (settings or RunSettings()).validate()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GanlensError(f"{out} is a file; the output of an inversion is a folder")
    paths = collect_images(inputs)
    for stale in out.glob(".*.tmp") if out.is_dir() else ():  # temporary files a killed run left unfinished
        stale.unlink(missing_ok=True)
    names = output_names(paths)
    rows: dict[str, dict] = {}
    todo: list[tuple[str, Path]] = []
    record = settings_record(s)
    changed: dict[str, list[str]] = {}
    for name, path in zip(names, paths):
        done = out / f"{name}.json"
        if done.exists():
            try:
                doc = json.loads(done.read_text())
            except (OSError, ValueError):
                doc = None  # unreadable marker (should not happen with atomic writes): redo the image
            if isinstance(doc, dict):
                changes = setting_changes(doc, G.name, record)
                if not changes:
                    rows[name] = {**doc.get("metrics", {}), "name": name, "source": str(path), "status": "skipped",
                                  "method": doc.get("method"), "space": doc.get("space"), "seconds": doc.get("seconds")}
                    continue
                changed[name] = changes
        todo.append((name, path))
    if changed and not redo:
        first = next(iter(changed))
        raise GanlensError(
            f"{out} holds {len(changed)} finished image(s) inverted with another model or other settings "
            f"(e.g. {first}: {'; '.join(changed[first])}); resuming would mix two runs' results. "
            "Use another output folder, or redo them with these settings (--redo, redo=True; their files are "
            "replaced).")
    if changed:
        log(f"re-inverting {len(changed)} image(s) of {out} finished with other settings")
    if todo and len(todo) == len(paths):  # nothing finished earlier: refuse at once if no image can be read
        problems = []
        for _, path in todo:
            try:
                probe_image(path)  # headers only
                break
            except GanlensError as exc:
                problems.append(str(exc))
        else:
            raise GanlensError(f"none of the {len(todo)} image(s) could be read; nothing was inverted "
                               f"(first: {problems[0]})")
    if len(todo) < len(paths):
        log(f"{len(paths) - len(todo)} of {len(paths)} images already inverted in {out}; skipping them")
    encoder = None
    if todo and s.method in ("encoder", "hybrid"):  # loaded here, before any work: a bad file is refused at once
        from .encoder import load_encoder

        encoder = load_encoder(s.encoder or G.name, device=G.device)
    metric_opts = _metric_options(log) if todo else {}
    bar = tqdm(total=len(todo), disable=not progress, desc=f"invert ({s.method})", unit="img")

    def batches():
        """The batches of readable images, read lazily and in order (unreadable ones reported on the way)."""
        i = 0
        while i < len(todo):
            batch_names, batch_paths, batch_imgs = [], [], []
            while i < len(todo) and len(batch_imgs) < s.batch_size:
                name, path = todo[i]
                i += 1
                try:
                    img, note = load_for_inversion(path, G.img_resolution)
                except GanlensError as exc:
                    log(f"skipping {path}: {exc}")
                    rows[name] = {"name": name, "source": str(path), "status": "error", "error": str(exc)}
                    bar.update(1)
                    continue
                if note:
                    log(f"{path}: {note}")
                batch_names.append(name)
                batch_paths.append(path)
                batch_imgs.append(img)
            if batch_imgs:
                yield batch_names, batch_paths, np.stack(batch_imgs)

    ex = resolve_executor(executor)
    try:
        if todo:
            ex.connect()
            if not isinstance(ex, InProcessExecutor):
                log(f"inverting {len(todo)} image(s) in batches of {s.batch_size} on {ex.describe()}")
            worker = partial(_BatchInverter, G, s, metric_opts, encoder)
            for (batch_names, batch_paths, targets), res in ex.run(worker, batches()):
                out.mkdir(parents=True, exist_ok=True)  # only now: a run that inverts nothing leaves no folder behind
                _write_batch(out, G, s, record, batch_names, batch_paths, targets, res, rows)
                bar.update(len(targets))
                _write_summary(out, rows)
    finally:
        if not isinstance(executor, _Executor):
            ex.close()
    bar.close()
    failed = [r for r in rows.values() if r["status"] == "error"]
    if rows and len(failed) == len(rows):
        first = failed[0]
        raise GanlensError(f"none of the {len(rows)} image(s) could be read; nothing was inverted "
                           f"(first: {first['error']})")
    _write_summary(out, rows)
    return rows


def _write_batch(out: Path, G: Generator, s: RunSettings, record: dict, names: list[str], paths: list[Path],
                 targets: np.ndarray, res: dict, rows: dict[str, dict]) -> None:
    """One finished batch's files; per image NAME.json last (its presence means the image is finished)."""
    codes, recons, deltas, per_image = res["codes"], res["recons"], res["deltas"], res["per_image"]
    for j, (name, path) in enumerate(zip(names, paths)):
        m = {k: round(float(v[j]), 6) for k, v in res["metrics"].items()}
        code = codes[j]
        code.meta.update({"source": str(path), "model": G.name})
        code.save(out / f"{name}.npz")
        if deltas is not None:
            from .pti import save_delta

            save_delta(deltas[j], out / f"{name}_delta.safetensors", {"generator": G.name, "latent": f"{name}.npz"})
        save_image(recons[j], out / f"{name}.png")
        save_image(make_grid(np.stack([targets[j], recons[j]]), ncols=2), out / f"{name}_compare.png")
        doc = {"source": str(path), "model": G.name, "method": s.method, "space": code.space,
               "noise": code.noise is not None, "seconds": round(per_image, 4), "metrics": m,
               "settings": record}
        atomic_write_json(out / f"{name}.json", doc)  # last: done
        rows[name] = {**m, "name": name, "source": str(path), "status": "done", "method": s.method,
                      "space": code.space, "seconds": round(per_image, 4)}
