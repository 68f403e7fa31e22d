"""Tabs: open one, re-create one from the page's state token, view it, load a seed, reset the edit, undo."""

from __future__ import annotations

import time
from dataclasses import replace

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..context import Ctx, Leased, place
from ..schemas import RestoreRequest, SeedRequest
from ..session import EditState
from ..studio import readings

router = APIRouter(prefix="/api/sessions")


@router.post("")
def new_session(ctx: Ctx, req: SeedRequest | None = None) -> JSONResponse:
    """A new tab's session on a seed (7 at ψ 0.7 when none is given) and its first view."""
    t0 = time.perf_counter()
    req = req or SeedRequest(seed=7, truncation=0.7)
    code, source, shown = ctx.seed_state(req.seed, req.truncation)
    return ctx.open(EditState(code, source, shown.scores, readings(shown)), t0)


@router.post("/restore")
def restore(req: RestoreRequest, ctx: Ctx) -> JSONResponse:
    """A session re-created from the state token of the page's last view (after the server dropped the session
    or restarted): the same image, sliders and undo steps, under a new session id."""
    return ctx.restore(req.token, time.perf_counter())


@router.get("/{sid}")
def view(session: Leased, ctx: Ctx) -> JSONResponse:
    """The tab's current view."""
    t0 = time.perf_counter()
    return ctx.respond(session, session.version, t0)


@router.post("/{sid}/seed")
def seed(req: SeedRequest, session: Leased, ctx: Ctx) -> JSONResponse:
    """The main or the second image from a seed; the sliders keep their settings."""
    t0 = time.perf_counter()
    code, source, shown = ctx.seed_state(req.seed, req.truncation)
    return ctx.respond(session, session.update(place(req.slot, code, source, shown)), t0)


@router.post("/{sid}/reset")
def reset(session: Leased, ctx: Ctx) -> JSONResponse:
    """Clear the sliders, the kept-fixed attributes and the mix."""
    t0 = time.perf_counter()

    def clear(state: EditState) -> EditState:
        return replace(state, strengths={}, layers={}, keep_fixed=(), mix_layers=None)

    return ctx.respond(session, session.update(clear), t0)


@router.post("/{sid}/undo")
def undo(session: Leased, ctx: Ctx) -> JSONResponse:
    """Take back one action."""
    t0 = time.perf_counter()
    return ctx.respond(session, session.undo(), t0)
