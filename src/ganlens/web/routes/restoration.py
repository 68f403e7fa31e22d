"""Restoration: an uploaded damaged image restored with the GAN as the prior (`ganlens.restore`), as a job; the
restored code becomes the tab's image, ready to edit."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ...restore import parse_task
from ..context import Ctx, Leased, place
from ..jobs import RestoreJob, UploadError, decode_upload
from ..studio import restore_info
from .uploads import busy, read_form

router = APIRouter(prefix="/api/sessions")

MAX_STEPS = 2000
MAX_TASK_CHARS = 200


@router.post("/{sid}/restoration", status_code=202)
async def restoration(request: Request, session: Leased, ctx: Ctx) -> JSONResponse:
    """Start restoring the uploaded observation (form fields: file, task, method, steps); answers 202 with the job
    to poll. The task string is `ganlens restore --task`'s ('sr:4', 'colorize', 'denoise:0.1', 'blur:1.5',
    'inpaint:x0,y0,x1,y1', joined by '+'); the file is centre-cropped and resized to the size the task makes of the
    model's resolution (16 px for 'sr:4' on a 64 px model)."""
    studio = ctx.studio
    G = studio.G
    data, name, fields = await read_form(request, ctx.max_upload_bytes,
                                         {"task": "", "method": "wplus", "steps": "300"})
    task, method, steps_text = fields["task"].strip(), fields["method"], fields["steps"]
    offered = restore_info(G)["methods"]
    if not task:
        raise UploadError("no task: give one in the form field 'task', e.g. sr:4, colorize, denoise:0.1, blur:1.5 "
                          "or inpaint:0.25,0.25,0.75,0.75")
    if len(task) > MAX_TASK_CHARS:
        raise UploadError(f"the task is {len(task)} characters long; the limit is {MAX_TASK_CHARS}")
    if method == "dgp":
        raise UploadError("method 'dgp' tunes the generator for one image, which the page's shared generator cannot "
                          f"show or edit; choose {' or '.join(offered)} (or run `ganlens restore --method dgp`)")
    if method not in offered:
        raise UploadError(f"unknown restoration method {method!r}; choose one of {', '.join(offered)}")
    if not steps_text.isdigit() or not 1 <= int(steps_text) <= MAX_STEPS:
        raise UploadError(f"steps must be a whole number from 1 to {MAX_STEPS}, got {steps_text!r}")
    degradation = parse_task(task, G.img_resolution)  # InputError: one line naming the problem and the valid forms
    size = degradation.output_size(G.img_resolution)  # ShapeError when a factor does not divide the resolution
    # Decoding a large image takes a while: keep it off the event loop.
    image = await run_in_threadpool(decode_upload, data, size, ctx.max_pixels)
    # Checked after the last await, so two jobs racing in one tab cannot both start.
    if (refusal := busy(session)) is not None:
        return refusal
    job = RestoreJob(method, int(steps_text), "a", task=degradation.spec(), degradation=degradation)

    def done(code) -> None:
        shown = ctx.render(code)
        job.restored = shown.data_url
        source = {"kind": "restore", "name": name, "task": job.task, "method": method, "steps": job.steps}
        session.update(place("a", code, source, shown))

    session.job = job
    job.start(studio, image, done)
    return JSONResponse({"job": job.describe()}, 202)
