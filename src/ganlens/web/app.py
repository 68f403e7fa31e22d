"""The FastAPI app: a small JSON API over `Studio` (the routers in `routes/`) and a static page that drives it.

Every error reaches the page as ``{"error": "<what is wrong and what would be right>"}`` with a 4xx status; the
page shows it in a banner. Requests carry values only (seeds, strengths, layer ranges, uploaded bytes), never
file-system paths.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from ..errors import GanlensError
from .context import AppContext
from .jobs import UploadError, too_large
from .routes import ROUTERS
from .session import SessionStore, UnknownSession
from .studio import Studio

STATIC = Path(__file__).resolve().parent / "static"
# Multipart framing and form fields around the file: the body may exceed the file limit by this much.
FORM_OVERHEAD = 64 * 1024


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
            response = JSONResponse({"error": too_large(int(declared), self.max_bytes - FORM_OVERHEAD)}, 413)
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


def create_app(studio: Studio, max_upload_bytes: int = 10 * 2**20, max_pixels: int = 16_000_000,
               session_bytes: int = 256 * 2**20, session_idle_s: float = 3600.0,
               allowed_hosts: list[str] | None = None, autolabel_samples: int | None = 32) -> FastAPI:
    """Build the web app over a loaded `Studio`.

    Args:
        studio: the model, directions, scorer and encoder.
        max_upload_bytes: largest accepted image file. max_pixels: largest accepted image (width x height).
        session_bytes: memory the tabs' sessions may hold together (measured; the least recently used sessions
            not in use are dropped beyond it). session_idle_s: a session unused this long is dropped. Neither
            loses work: the page re-creates a dropped session from its state token.
        allowed_hosts: accepted Host headers (guards a loopback server against DNS rebinding); None accepts any.
        autolabel_samples: auto-label SeFa / user directions in a background thread with this many samples;
            None skips labelling.
    """
    app = FastAPI(title="ganlens", docs_url=None, redoc_url=None, openapi_url=None)
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    app.add_middleware(BodyLimit, max_bytes=max_upload_bytes + FORM_OVERHEAD)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    sessions = SessionStore(session_bytes, session_idle_s)
    app.state.sessions = sessions  # for tests and benchmarks (renders per session)
    app.state.context = AppContext(studio, sessions, max_upload_bytes, max_pixels)
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
        # "expired": the page answers by sending its state token to /api/sessions/restore and trying again
        return JSONResponse({"error": str(exc), "expired": True}, 404)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
            parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
        return JSONResponse({"error": "invalid request: " + "; ".join(parts)}, 422)

    # ---- the page and the API --------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/api/info")
    def info() -> JSONResponse:
        return JSONResponse({**studio.info(), "max_upload_bytes": max_upload_bytes, "max_pixels": max_pixels})

    for router in ROUTERS:
        app.include_router(router)
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
