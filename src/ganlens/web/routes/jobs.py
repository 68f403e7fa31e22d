"""Jobs: the status of a tab's running or finished inversion or restoration."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..context import Ctx, Leased

router = APIRouter(prefix="/api/sessions")


@router.get("/{sid}/jobs/{jid}")
def job_status(jid: str, session: Leased, ctx: Ctx) -> JSONResponse:
    """The job's status, progress (0-1), loss and error (and a finished restoration's observation and result);
    404 when the tab's job is another one. A finished job's answer carries the tab's view (and so its state token):
    once the page has it, the result cannot be lost."""
    job = session.job
    if job is None or job.id != jid:
        return JSONResponse({"error": f"no job {jid!r} in this tab"}, 404)
    body = job.describe()
    if job.status == "done":
        body["view"] = ctx.view_body(session, session.version)
    if job.status != "running":
        job.reported = True
    return JSONResponse(body)
