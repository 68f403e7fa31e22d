"""Changes of the current image: slider edits, climbs up an attribute's gradient, and the morph to the second image."""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ...edit import resolve_layers
from ...errors import GanlensError
from ..context import Ctx, Leased
from ..schemas import ClimbRequest, EditRequest, MorphRequest
from ..session import EditState, with_strengths

router = APIRouter(prefix="/api/sessions")


@router.post("/{sid}/edit")
def edit(req: EditRequest, session: Leased, ctx: Ctx) -> JSONResponse:
    """A partial update of the edit (a slider move); `commit: false` for previews during a drag."""
    t0 = time.perf_counter()
    studio = ctx.studio
    for spec in (req.layers or {}).values():
        if spec.strip():
            resolve_layers(spec, studio.G.num_ws)  # raises a message naming the valid range
    unknown = [a for a in req.keep_fixed or [] if a not in studio.boundaries]
    if unknown:
        raise GanlensError(f"cannot keep {unknown} fixed: only attributes with a shipped boundary can be "
                           f"({', '.join(studio.boundaries) or 'none for this model'})")
    if req.set_mix and req.mix_layers and session.state.second is None:
        raise GanlensError("choose a second image (seed or upload) before mixing")

    def change(state: EditState) -> EditState:
        new = with_strengths(state, req.strengths, req.layers)
        if req.keep_fixed is not None:
            new = replace(new, keep_fixed=tuple(dict.fromkeys(req.keep_fixed)))
        if req.set_mix:
            new = replace(new, mix_layers=req.mix_layers or None)
        return new

    return ctx.respond(session, session.update(ctx.validated(change), commit=req.commit), t0)


@router.post("/{sid}/climb")
def climb(req: ClimbRequest, session: Leased, ctx: Ctx) -> JSONResponse:
    """Per-sample ascent of the current image, holding the ticked attributes; the result becomes the base."""
    t0 = time.perf_counter()
    state = session.state
    keep = state.keep_fixed
    if req.attribute in keep:
        raise GanlensError(f"{req.attribute!r} is ticked to stay fixed: untick it to climb it")
    moved = ctx.studio.climb(ctx.composed(state), req.attribute, req.distance, keep)
    origin = state.source.get("origin", state.source)  # climbs stack on the seed or upload they started from
    source = {"kind": "climb", "origin": origin,
              "climbs": [*state.source.get("climbs", []),
                         {"attribute": req.attribute, "distance": req.distance, "keep": list(keep)}]}

    def put(s: EditState) -> EditState:  # the sliders' edit is now part of the base
        return replace(s, base=moved, source=source, strengths={}, layers={}, mix_layers=None)

    return ctx.respond(session, session.update(put), t0)


@router.post("/{sid}/morph")
def morph(req: MorphRequest, session: Leased, ctx: Ctx) -> JSONResponse:
    """Build the GIF morphing from the current image to the second one; answers the URL to fetch it from."""
    from ...edit.morph import interpolate
    from ...io.video import save_animation

    state = session.state
    if state.second is None:
        raise GanlensError("choose a second image (seed or upload) to morph to")
    num_ws = ctx.studio.G.num_ws
    a, b = ctx.current_code(session).to_wplus(num_ws), state.second.to_wplus(num_ws)
    frames = ctx.studio.render_frames(interpolate(a, b, req.frames))
    with tempfile.TemporaryDirectory(prefix="ganlens-morph-") as tmp:
        path = save_animation(frames, Path(tmp) / "morph.gif", fps=req.fps, scale=4)
        session.morph_gif = path.read_bytes()
    return JSONResponse({"url": f"/api/sessions/{session.id}/morph.gif?t={time.time_ns()}", "frames": req.frames,
                         "bytes": len(session.morph_gif)})
