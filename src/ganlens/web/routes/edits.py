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
from ..stylespace import PREFIX as STYLE_PREFIX

router = APIRouter(prefix="/api/sessions")


@router.post("/{sid}/edit")
def edit(req: EditRequest, session: Leased, ctx: Ctx) -> JSONResponse:
    """A partial update of the edit (a slider move); `commit: false` for previews during a drag."""
    t0 = time.perf_counter()
    studio = ctx.studio
    for key, spec in (req.layers or {}).items():
        if spec.strip():
            if key.startswith(STYLE_PREFIX) or (key in studio.sliders and studio.in_style_space(key)):
                raise GanlensError(f"slider {key!r} moves style channels, which name their own layers: it takes no "
                                   "layer range")
            resolve_layers(spec, studio.G.w_resolutions)  # raises a message naming the valid range
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
    moved_in_s = sorted(k for k, v in state.strengths.items() if v and ctx.studio.in_style_space(k))
    if moved_in_s:
        # A climb follows the gradient in W and bakes the edit into a W code; an edit in S has no W code to bake.
        raise GanlensError(f"climbing works in W, and the sliders {', '.join(moved_in_s)} edit style space S: set "
                           "them to 0 (or Reset) before climbing")
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
    G = ctx.studio.G
    a = ctx.current_code(session)
    if a.space == "s":  # style-channel sliders are moved: morph in S, to the second image's style code
        b = G.to_styles(state.second)
    else:
        a, b = a.to_wplus(G.num_ws), state.second.to_wplus(G.num_ws)
    frames = ctx.studio.render_frames(interpolate(a, b, req.frames))
    with tempfile.TemporaryDirectory(prefix="ganlens-morph-") as tmp:
        path = save_animation(frames, Path(tmp) / "morph.gif", fps=req.fps, scale=4)
        session.morph_gif = path.read_bytes()
    return JSONResponse({"url": f"/api/sessions/{session.id}/morph.gif?t={time.time_ns()}", "frames": req.frames,
                         "bytes": len(session.morph_gif)})
