"""The FastAPI app: a small JSON API over `Studio` and a static page that drives it.

Every error reaches the page as ``{"error": "<what is wrong and what would be right>"}`` with a 4xx status; the
page shows it in a banner. Requests carry values only (seeds, strengths, layer ranges, uploaded bytes), never
file-system paths.
"""

from __future__ import annotations

import math
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware

from ..edit import resolve_layers
from ..errors import GanlensError, InputError
from .jobs import InversionJob, UploadError, decode_upload
from .session import EditState, Session, SessionStore, UnknownSession, with_strengths
from .studio import Rendered, Studio, readings

STATIC = Path(__file__).resolve().parent / "static"
MAX_STRENGTH = 10.0
MAX_CLIMB = 5.0  # latent units per climb: a few seconds on the CPU
# Multipart framing and form fields around the file: the body may exceed the file limit by this much.
FORM_OVERHEAD = 64 * 1024


class SeedRequest(BaseModel):
    """A seed for the main image (slot 'a') or the second image (slot 'b')."""

    seed: int = Field(ge=0, lt=2**32)
    truncation: float = Field(1.0, ge=0.0, le=1.0)
    slot: Literal["a", "b"] = "a"


class EditRequest(BaseModel):
    """A partial update of the edit: only the fields given change (strengths and layers merge per slider)."""

    strengths: dict[str, float] | None = None
    layers: dict[str, str] | None = None
    keep_fixed: list[str] | None = None
    mix_layers: str | None = Field(None, max_length=64)
    set_mix: bool = False  # mix_layers is applied only when set_mix is true (None then switches the mix off)
    commit: bool = True

    @field_validator("strengths")
    @classmethod
    def _finite(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        for key, s in (v or {}).items():
            if not (math.isfinite(s) and abs(s) <= MAX_STRENGTH):
                raise InputError(f"strength of {key!r} must be a number in [-{MAX_STRENGTH:g}, {MAX_STRENGTH:g}]")
        return v

    @field_validator("layers")
    @classmethod
    def _short(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        for key, spec in (v or {}).items():
            if len(spec) > 64:
                raise InputError(f"layer range of {key!r} is too long; give e.g. '0-3', 'coarse' or 'all'")
        return v


class ClimbRequest(BaseModel):
    """Move the current image up (distance > 0) or down its own gradient of one attribute's score."""

    attribute: str = Field(max_length=64)
    distance: float = Field(ge=-MAX_CLIMB, le=MAX_CLIMB)

    @field_validator("distance")
    @classmethod
    def _moves(cls, v: float) -> float:
        if v == 0:
            raise InputError("distance must not be 0 (positive raises the attribute, negative lowers it)")
        return v


class MorphRequest(BaseModel):
    """A morph from the current image to the second one."""

    frames: int = Field(24, ge=2, le=120)
    fps: float = Field(12.0, gt=0, le=50)


class BodyLimit:
    """ASGI middleware refusing request bodies over `max_bytes`: at once when Content-Length says so, else as
    soon as the streamed body passes the limit (so nothing large is spooled to disk first)."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = JSONResponse({"error": _too_large(int(declared), self.max_bytes - FORM_OVERHEAD)}, 413)
            return await response(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                limit = (self.max_bytes - FORM_OVERHEAD) / 1e6
                raise UploadError(f"the upload is larger than the limit of {limit:.2f} MB", status=413)
            return message

        await self.app(scope, limited, send)


def place(slot: str, code, source: dict, shown: Rendered) -> Callable[[EditState], EditState]:
    """A state change putting `code` in as the main image (slot 'a') or as the second image (slot 'b')."""
    if slot == "a":
        return lambda s: replace(s, base=code, source=source, base_scores=shown.scores, base_readings=readings(shown))
    return lambda s: replace(s, second=code, second_source=source, second_image=shown.data_url)


def _too_large(size: int, limit: int) -> str:
    return f"the upload is {size / 1e6:.2f} MB; the limit is {limit / 1e6:.2f} MB"


def create_app(studio: Studio, max_upload_bytes: int = 10 * 2**20, max_pixels: int = 16_000_000,
               max_sessions: int = 32, allowed_hosts: list[str] | None = None,
               autolabel_samples: int | None = 32) -> FastAPI:
    """Build the web app over a loaded `Studio`.

    Args:
        studio: the model, directions, scorer and encoder.
        max_upload_bytes: largest accepted image file. max_pixels: largest accepted image (width x height).
        max_sessions: browser tabs kept at once (the least recently used is dropped).
        allowed_hosts: accepted Host headers (guards a loopback server against DNS rebinding); None accepts any.
        autolabel_samples: auto-label SeFa / user directions in a background thread with this many samples;
            None skips labelling.
    """
    app = FastAPI(title="ganlens", docs_url=None, redoc_url=None, openapi_url=None)
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    app.add_middleware(BodyLimit, max_bytes=max_upload_bytes + FORM_OVERHEAD)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    sessions = SessionStore(max_sessions)
    app.state.sessions = sessions  # for tests and benchmarks (renders per session)
    G = studio.G
    if autolabel_samples:
        studio.labels_pending = True  # before the thread starts, so the first page load already sees it
        threading.Thread(target=studio.label_directions, args=(autolabel_samples,), daemon=True,
                         name="ganlens-autolabel").start()

    # ---- errors: always {"error": message} -------------------------------------------------------------------

    @app.exception_handler(UploadError)
    async def _upload_error(request: Request, exc: UploadError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, exc.status)

    @app.exception_handler(GanlensError)
    async def _ganlens_error(request: Request, exc: GanlensError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 400)

    @app.exception_handler(UnknownSession)
    async def _missing(request: Request, exc: UnknownSession) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 404)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
            parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
        return JSONResponse({"error": "invalid request: " + "; ".join(parts)}, 422)

    # ---- helpers ---------------------------------------------------------------------------------------------

    def composed(state: EditState):
        return studio.compose(state.base, state.strengths, state.layers, state.keep_fixed, state.second,
                              state.mix_layers)

    def current_code(session: Session):
        return composed(session.state)

    def render_view(state: EditState) -> dict:
        shown = studio.render(composed(state))
        return {"image": shown.data_url, "scores": shown.scores, "state": state.describe(),
                "visible": studio.visible_changes(state.base_readings, shown) if state.base_readings else {},
                "render_ms": round(shown.seconds * 1000, 2)}

    def respond(session: Session, version: int, t0: float) -> JSONResponse:
        view = session.view(version)
        body = {**view, "session": session.id, "version": version, "can_undo": session.can_undo,
                "renders": session.renderer.renders,
                "job": None if session.job is None else session.job.describe()}
        response = JSONResponse(body)
        # Server-Timing: the whole handler (state update, edit, synthesis, scoring, PNG, JSON) for the benchmark.
        response.headers["Server-Timing"] = f"total;dur={(time.perf_counter() - t0) * 1000:.2f}"
        return response

    def seed_state(seed: int, truncation: float) -> tuple:
        code = studio.sample(seed, truncation)
        return code, {"kind": "seed", "seed": seed, "truncation": truncation}, studio.render(code)

    def validated(change):
        """`change`, refusing a new state that cannot be composed (a bad layer range, an impossible condition):
        composing costs a millisecond, and a refused change leaves the old state in place."""
        def run(state: EditState) -> EditState:
            new = change(state)
            studio.compose(new.base, new.strengths, new.layers, new.keep_fixed, new.second, new.mix_layers)
            return new
        return run

    # ---- pages -----------------------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/api/info")
    def info() -> JSONResponse:
        return JSONResponse({**studio.info(), "max_upload_bytes": max_upload_bytes, "max_pixels": max_pixels})

    # ---- sessions and edits ----------------------------------------------------------------------------------

    @app.post("/api/sessions")
    def new_session(req: SeedRequest | None = None) -> JSONResponse:
        t0 = time.perf_counter()
        req = req or SeedRequest(seed=7, truncation=0.7)
        code, source, shown = seed_state(req.seed, req.truncation)
        session = sessions.add(Session(EditState(code, source, shown.scores, readings(shown)), render_view))
        return respond(session, session.version, t0)

    @app.get("/api/sessions/{sid}")
    def view(sid: str) -> JSONResponse:
        t0 = time.perf_counter()
        session = sessions.get(sid)
        return respond(session, session.version, t0)

    @app.post("/api/sessions/{sid}/seed")
    def seed(sid: str, req: SeedRequest) -> JSONResponse:
        t0 = time.perf_counter()
        session = sessions.get(sid)
        code, source, shown = seed_state(req.seed, req.truncation)
        return respond(session, session.update(place(req.slot, code, source, shown)), t0)

    @app.post("/api/sessions/{sid}/edit")
    def edit(sid: str, req: EditRequest) -> JSONResponse:
        t0 = time.perf_counter()
        session = sessions.get(sid)
        for spec in (req.layers or {}).values():
            if spec.strip():
                resolve_layers(spec, G.num_ws)  # raises a message naming the valid range
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

        return respond(session, session.update(validated(change), commit=req.commit), t0)

    @app.post("/api/sessions/{sid}/reset")
    def reset(sid: str) -> JSONResponse:
        t0 = time.perf_counter()
        session = sessions.get(sid)

        def clear(state: EditState) -> EditState:
            return replace(state, strengths={}, layers={}, keep_fixed=(), mix_layers=None)

        return respond(session, session.update(clear), t0)

    @app.post("/api/sessions/{sid}/undo")
    def undo(sid: str) -> JSONResponse:
        t0 = time.perf_counter()
        session = sessions.get(sid)
        return respond(session, session.undo(), t0)

    @app.post("/api/sessions/{sid}/climb")
    def climb(sid: str, req: ClimbRequest) -> JSONResponse:
        t0 = time.perf_counter()
        session = sessions.get(sid)
        state = session.state
        keep = state.keep_fixed
        if req.attribute in keep:
            raise GanlensError(f"{req.attribute!r} is ticked to stay fixed: untick it to climb it")
        moved = studio.climb(composed(state), req.attribute, req.distance, keep)
        origin = state.source.get("origin", state.source)  # climbs stack on the seed or upload they started from
        source = {"kind": "climb", "origin": origin,
                  "climbs": [*state.source.get("climbs", []),
                             {"attribute": req.attribute, "distance": req.distance, "keep": list(keep)}]}

        def put(s: EditState) -> EditState:  # the sliders' edit is now part of the base
            return replace(s, base=moved, source=source, strengths={}, layers={}, mix_layers=None)

        return respond(session, session.update(put), t0)

    # ---- uploads and inversion -------------------------------------------------------------------------------

    @app.post("/api/sessions/{sid}/upload", status_code=202)
    async def upload(sid: str, request: Request) -> JSONResponse:
        session = sessions.get(sid)
        form = await request.form(max_files=1, max_fields=8)
        try:
            file = form.get("file")
            if file is None or isinstance(file, str):
                raise UploadError("no file in the upload (form field 'file')")
            data = await file.read(max_upload_bytes + 1)
            name = (file.filename or "upload")[-80:]  # shown in the page only; never used as a path
            fields = {k: str(form.get(k, default)) for k, default in
                      (("method", "encoder"), ("steps", "100"), ("slot", "a"), ("align", "false"))}
        finally:
            await form.close()
        if len(data) > max_upload_bytes:
            raise UploadError(_too_large(len(data), max_upload_bytes), status=413)
        if not data:
            raise UploadError("the uploaded file is empty")
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
        image = await run_in_threadpool(decode_upload, data, G.img_resolution, max_pixels,
                                        studio.aligner if align else None)
        # Checked after the last await, so two uploads racing in one tab cannot both start.
        if session.job is not None and session.job.status == "running":
            return JSONResponse({"error": "an inversion is already running in this tab; wait for it to finish"}, 409)
        job = InversionJob(method, int(steps_text), slot)

        def done(code) -> None:
            shown = studio.render(code)
            source = {"kind": "upload", "name": name, "method": method, "steps": job.steps if method != "encoder" else 0}
            session.update(place(slot, code, source, shown))

        session.job = job
        job.start(studio, image, done)
        return JSONResponse({"job": job.describe()}, 202)

    @app.get("/api/sessions/{sid}/jobs/{jid}")
    def job_status(sid: str, jid: str) -> JSONResponse:
        session = sessions.get(sid)
        if session.job is None or session.job.id != jid:
            return JSONResponse({"error": f"no inversion {jid!r} in this tab"}, 404)
        return JSONResponse(session.job.describe())

    # ---- morph and downloads ---------------------------------------------------------------------------------

    @app.post("/api/sessions/{sid}/morph")
    def morph(sid: str, req: MorphRequest) -> JSONResponse:
        from ..edit.morph import interpolate
        from ..io.video import save_animation

        session = sessions.get(sid)
        state = session.state
        if state.second is None:
            raise GanlensError("choose a second image (seed or upload) to morph to")
        a, b = current_code(session).to_wplus(G.num_ws), state.second.to_wplus(G.num_ws)
        frames = studio.render_frames(interpolate(a, b, req.frames))
        with tempfile.TemporaryDirectory(prefix="ganlens-morph-") as tmp:
            path = save_animation(frames, Path(tmp) / "morph.gif", fps=req.fps, scale=4)
            session.morph_gif = path.read_bytes()
        return JSONResponse({"url": f"/api/sessions/{sid}/morph.gif?t={time.time_ns()}", "frames": req.frames,
                             "bytes": len(session.morph_gif)})

    @app.get("/api/sessions/{sid}/morph.gif")
    def morph_gif(sid: str) -> Response:
        session = sessions.get(sid)
        if session.morph_gif is None:
            return JSONResponse({"error": "no morph yet: press Morph first"}, 404)
        return Response(session.morph_gif, media_type="image/gif",
                        headers={"Content-Disposition": 'inline; filename="ganlens_morph.gif"'})

    @app.get("/api/sessions/{sid}/latent.npz")
    def latent(sid: str) -> Response:
        code = current_code(sessions.get(sid))
        with tempfile.TemporaryDirectory(prefix="ganlens-latent-") as tmp:
            data = code.save(Path(tmp) / "latent.npz").read_bytes()
        return Response(data, media_type="application/octet-stream",
                        headers={"Content-Disposition": 'attachment; filename="ganlens_latent.npz"'})

    @app.get("/api/sessions/{sid}/image.png")
    def image(sid: str, scale: int = 1) -> Response:
        if not 1 <= scale <= 16:
            raise GanlensError(f"scale must be from 1 to 16, got {scale}")
        png = studio.render(current_code(sessions.get(sid)), scale=scale).png
        return Response(png, media_type="image/png",
                        headers={"Content-Disposition": 'attachment; filename="ganlens_image.png"'})

    return app


@contextmanager
def background_server(app: FastAPI, host: str = "127.0.0.1", timeout: float = 20.0) -> Iterator[str]:
    """Run `app` under uvicorn on a free port of `host` in a daemon thread (tests, benchmarks); yields its URL."""
    import socket

    import uvicorn

    sock = socket.socket()
    sock.bind((host, 0))  # the server gets the bound socket: no race for the port
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="ganlens-uvicorn")
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise GanlensError(f"the web server did not start within {timeout:g} s")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
