"""Inversion jobs: the status of a tab's running or finished inversion."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..context import Ctx

router = APIRouter(prefix="/api/sessions")


@router.get("/{sid}/jobs/{jid}")
def job_status(sid: str, jid: str, ctx: Ctx) -> JSONResponse:
    """The job's status, progress (0-1), loss and error; 404 when the tab's job is another one."""
    session = ctx.sessions.get(sid)
    if session.job is None or session.job.id != jid:
        return JSONResponse({"error": f"no inversion {jid!r} in this tab"}, 404)
    return JSONResponse(session.job.describe())
