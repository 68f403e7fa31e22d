"""Uploads: check the bytes, decode them safely, invert or restore them in a background thread that reports progress.

Decoding goes through `ganlens.invert.runner.load_for_inversion` (Pillow with the library's decompression-bomb
guard, any mode to RGB, centre crop, resize); before that the web layer refuses what a browser should never send
a local tool: non-image bytes, and images whose header declares more pixels than `max_pixels`.

`ganlens.invert.project` has no progress callback, so optimisation runs in chunks of `CHUNK` steps, each chunk
starting from the previous chunk's code with the learning rate the full run's schedule has at that point (a
piecewise-constant version of the ramp; Adam's moments restart per chunk). Between chunks the generator lock is
free, so sliders stay responsive while an inversion runs.

A restoration (`RestoreJob`) is one call of `ganlens.restore.restore`, so its result is the CLI's for the same image,
task, method and steps. It learns its progress from the degradation, which the optimisation applies once per step
(`Counted`).
"""

from __future__ import annotations

import base64
import io
import secrets
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import GanlensError
from ..io.images import from_uint8
from ..latents import LatentCode
from ..restore.degradations import Degradation
from .studio import Studio, encode_png

CHUNK = 10
# Magic numbers of the formats the page accepts; anything else is refused before Pillow sees it.
SIGNATURES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg", b"GIF87a": "gif", b"GIF89a": "gif", b"BM": "bmp"}
METHODS = ("encoder", "hybrid", "optim")


class UploadError(GanlensError):
    """An upload the server refuses; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def too_large(size: int, limit: int) -> str:
    """The message refusing an upload of `size` bytes over `limit` bytes."""
    return f"the upload is {size / 1e6:.2f} MB; the limit is {limit / 1e6:.2f} MB"


def sniff_format(data: bytes) -> str:
    """The image format from the first bytes (png, jpeg, gif, bmp, webp), or UploadError 415."""
    for magic, fmt in SIGNATURES.items():
        if data.startswith(magic):
            return fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    raise UploadError("that file is not an image: upload a PNG, JPEG, WebP, GIF or BMP file", status=415)


def decode_upload(data: bytes, resolution: int, max_pixels: int, aligner=None) -> np.ndarray:
    """Checked upload bytes → uint8 [R, R, 3] ready to invert (aligned first when `aligner` is given).

    Raises:
        UploadError: not an image (415), too many pixels (413), unreadable or no face found (400).
    """
    fmt = sniff_format(data)
    try:
        with Image.open(io.BytesIO(data)) as im:  # reads the header only: the size is known before decoding
            width, height = im.size
    except Exception as exc:
        raise UploadError(f"cannot read the {fmt.upper()} image: {exc}") from exc
    if width * height > max_pixels:
        raise UploadError(f"the image is {width}x{height} = {width * height / 1e6:.1f} Mpx; the limit is "
                          f"{max_pixels / 1e6:.1f} Mpx (refused as a possible decompression bomb)", status=413)
    from ..invert.runner import load_for_inversion
    from ..io import load_image

    with tempfile.TemporaryDirectory(prefix="ganlens-upload-") as tmp:
        path = Path(tmp) / f"upload.{fmt}"
        path.write_bytes(data)
        try:
            if aligner is not None:
                return aligner.align(load_image(path), size=resolution).image
            image, _ = load_for_inversion(path, resolution)
        except GanlensError as exc:
            raise UploadError(str(exc)) from exc
    return image


@dataclass
class InversionJob:
    """An inversion running in a background thread; the page polls `describe()` for its progress bar."""

    method: str
    steps: int
    slot: str
    id: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    status: str = "running"  # running | done | error
    progress: float = 0.0
    message: str = "starting"
    error: str | None = None
    loss: float | None = None
    reported: bool = False  # the page has been told how it ended (until then the tab's session is in use)

    kind = "inversion"

    def describe(self) -> dict:
        """JSON for the page."""
        return {"id": self.id, "kind": self.kind, "method": self.method, "slot": self.slot, "status": self.status,
                "progress": round(self.progress, 4), "message": self.message, "error": self.error, "loss": self.loss}

    def start(self, studio: Studio, image: np.ndarray, done: Callable[[LatentCode], None]) -> None:
        """Run the job on `image` in a daemon thread; call `done(code)` with the result (its errors end up in
        `error`)."""
        threading.Thread(target=self._run, args=(studio, image, done), daemon=True, name=f"job-{self.id}").start()

    def work(self, studio: Studio, image: np.ndarray) -> LatentCode:
        """The job itself: invert `image` [R, R, 3]."""
        return invert_with_progress(studio, image[None], self.method, self.steps, self._report)

    def _run(self, studio: Studio, image: np.ndarray, done: Callable[[LatentCode], None]) -> None:
        try:
            done(self.work(studio, image))
            self.progress, self.message, self.status = 1.0, "done", "done"
        except Exception as exc:  # noqa: BLE001 - any failure is shown in the page; the server keeps running
            self.error = str(exc) if isinstance(exc, GanlensError) else f"{self.kind} failed: {exc!r}"
            self.status = "error"

    def _report(self, fraction: float, message: str, loss: float | None = None) -> None:
        self.progress, self.message, self.loss = fraction, message, loss


def invert_with_progress(studio: Studio, images: np.ndarray, method: str, steps: int,
                         report: Callable[[float, str, float | None], None]) -> LatentCode:
    """Invert uint8 images [N, R, R, 3] by 'encoder', 'hybrid' (encoder + `steps` optimisation steps) or 'optim'
    (`steps` steps from w_avg), both with the 'editable' preset, calling `report(fraction, message, loss)` as it
    goes."""
    from ..invert import preset, project
    from ..invert.optimize import lr_schedule

    if method not in METHODS:
        raise GanlensError(f"unknown inversion method {method!r}; choose one of {', '.join(METHODS)}")
    code = None
    if method in ("encoder", "hybrid"):
        if studio.encoder is None:
            raise GanlensError(f"no encoder for {studio.G.name}: choose the optimisation method")
        report(0.0, "encoder pass", None)
        with studio.lock, torch.inference_mode():
            code = studio.encoder.invert(images, G=studio.G, iterations=2)
        if method == "encoder":
            return code
    # The page inverts in order to edit: W+ codes held near W edit better (docs/inversion.md); after the encoder the
    # penalty costs nothing measurable either (hybrid on 200 renders: 29.30 dB both ways, strict edit success 0.51
    # against 0.42 without it).
    full = preset("editable", steps=steps)
    share = 0.1 if method == "hybrid" else 0.0  # of the bar, already spent on the encoder
    done = 0
    while done < steps:
        n = min(CHUNK, steps - done)
        lr = lr_schedule((done + n / 2) / steps, full)
        with studio.lock:
            res = project(studio.G, images, full, init_code=code, steps=n, lr=lr, lr_rampup=0.0, lr_rampdown=0.0)
        code, done = res.code, done + n
        loss = float(res.loss.mean())
        report(share + (1 - share) * done / steps, f"step {done}/{steps}", loss)
    code.meta.update({"method": method, "steps": steps, "source": "ganlens serve"})
    return code


class Counted(Degradation):
    """A degradation that reports every forward pass: `restore` degrades the generator's image once per
    optimisation step (and once more for the final loss), so the count is the job's progress. The fit is the
    wrapped degradation's in every respect (same forward model, observation size, clean-up and task string)."""

    def __init__(self, inner: Degradation, on_pass: Callable[[torch.Tensor], None]) -> None:
        self.inner, self.on_pass = inner, on_pass
        self.name = inner.name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        y = self.inner(x)
        self.on_pass(y)
        return y

    def simulate(self, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
        return self.inner.simulate(x, seed)

    def align_observed(self, y: torch.Tensor) -> torch.Tensor:
        return self.inner.align_observed(y)

    def output_size(self, size: int) -> int:
        return self.inner.output_size(size)

    def spec(self) -> str:
        return self.inner.spec()


@dataclass
class RestoreJob(InversionJob):
    """A restoration (`ganlens.restore.restore`) of an uploaded observation, running in a background thread.

    Attributes:
        task: the degradation's task string ('sr:4', 'colorize', 'inpaint:0.25,0.25,0.75,0.75', ...).
        degradation: the parsed task. observed: PNG data URL of what was fitted, enlarged to the model's size
            (nearest neighbour, so the pixels of a small observation stay visible). restored: PNG data URL of the
            result as the session shows it.
    """

    task: str = ""
    degradation: Degradation | None = field(default=None, repr=False)
    observed: str | None = None
    restored: str | None = None
    kind = "restoration"

    def describe(self) -> dict:
        out = {**super().describe(), "task": self.task}
        if self.status == "done":
            out["result"] = {"observed": self.observed, "restored": self.restored, "task": self.task,
                             "method": self.method, "steps": self.steps, "loss": self.loss}
        return out

    def work(self, studio: Studio, image: np.ndarray) -> LatentCode:
        """Restore the observation `image` [r, r, 3]; the code for the session is a W / W+ code (PULSE's z mapped
        to its w), so the W sliders edit it next."""
        from ..restore import restore

        G, deg = studio.G, self.degradation
        target = deg.align_observed(from_uint8(image[None]))
        passes = 0

        def on_pass(y: torch.Tensor) -> None:
            nonlocal passes
            passes += 1
            loss = float(((y.detach() - target.to(y.device)) ** 2).mean())  # the data term, as the fit sees it
            self._report(min(passes / self.steps, 1.0) * 0.98, f"step {min(passes, self.steps)}/{self.steps}", loss)

        self._report(0.0, f"fitting {self.task} by {self.method}", None)
        # Not under the studio's generator lock: a restoration is one call of the library taking tens of seconds,
        # and the sliders must stay live meanwhile (as auto-labelling does); sharing the cores only slows both.
        res = restore(G, image[None], Counted(deg, on_pass), method=self.method, steps=self.steps)
        self.loss = float(res.loss.mean())
        scale = max(1, G.img_resolution // res.observed.shape[1])
        self.observed = "data:image/png;base64," + base64.b64encode(encode_png(res.observed[0], scale)).decode("ascii")
        code = res.code
        if code.space == "z":
            with torch.no_grad():
                code = LatentCode("w", G.ws_of(code)[:, 0].cpu(), meta=dict(code.meta))
        return code
