"""Uploads: check the form and the file, decode it off the event loop, start the tab's inversion."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..context import Ctx, Leased, place
from ..jobs import InversionJob, UploadError, decode_upload, too_large

router = APIRouter(prefix="/api/sessions")


async def read_form(request: Request, limit: int, defaults: dict[str, str]) -> tuple[bytes, str, dict[str, str]]:
    """An upload form's file bytes (at most `limit`: 413 beyond it, 400 when empty or missing), its name for the
    page and the text fields named in `defaults` (with those defaults)."""
    form = await request.form(max_files=1, max_fields=8)
    try:
        file = form.get("file")
        if file is None or isinstance(file, str):
            raise UploadError("no file in the upload (form field 'file')")
        data = await file.read(limit + 1)
        name = (file.filename or "upload")[-80:]  # shown in the page only; never used as a path
        fields = {k: str(form.get(k, default)) for k, default in defaults.items()}
    finally:
        await form.close()
    if len(data) > limit:
        raise UploadError(too_large(len(data), limit), status=413)
    if not data:
        raise UploadError("the uploaded file is empty")
    return data, name, fields


def busy(session) -> JSONResponse | None:
    """A 409 when the tab already runs a job (one inversion or restoration per tab at a time), else None."""
    job = session.job
    if job is not None and job.status == "running":
        article = "an" if job.kind[0] in "aeiou" else "a"
        return JSONResponse({"error": f"{article} {job.kind} is already running in this tab; wait for it to finish"},
                            409)
    return None


@router.post("/{sid}/upload", status_code=202)
async def upload(request: Request, session: Leased, ctx: Ctx) -> JSONResponse:
    """Start inverting the uploaded image into slot 'a' or 'b'; answers 202 with the job to poll."""
    studio = ctx.studio
    data, name, fields = await read_form(request, ctx.max_upload_bytes,
                                         {"method": "encoder", "steps": "100", "slot": "a", "align": "false"})
    method, steps_text, slot = fields["method"], fields["steps"], fields["slot"]
    if method not in studio.info()["methods"]:
        raise UploadError(f"unknown inversion method {method!r}; choose one of {', '.join(studio.info()['methods'])}")
    if not steps_text.isdigit() or not 1 <= int(steps_text) <= 2000:
        raise UploadError(f"steps must be a whole number from 1 to 2000, got {steps_text!r}")
    if slot not in ("a", "b"):
        raise UploadError(f"slot must be 'a' (the main image) or 'b' (the second image), got {slot!r}")
    align = fields["align"].lower() in ("1", "true", "on")
    if align and studio.aligner is None:
        raise UploadError("face alignment needs the faces extra: pip install 'ganlens[faces]'")
    # Decoding a large image takes a while: keep it off the event loop.
    image = await run_in_threadpool(decode_upload, data, studio.G.img_resolution, ctx.max_pixels,
                                    studio.aligner if align else None)
    # Checked after the last await, so two uploads racing in one tab cannot both start.
    if (refusal := busy(session)) is not None:
        return refusal
    job = InversionJob(method, int(steps_text), slot)

    def done(code) -> None:
        shown = ctx.render(code)
        source = {"kind": "upload", "name": name, "method": method, "steps": job.steps if method != "encoder" else 0}
        session.update(place(slot, code, source, shown))

    session.job = job
    job.start(studio, image, done)
    return JSONResponse({"job": job.describe()}, 202)
