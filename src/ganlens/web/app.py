"""The FastAPI app: a small JSON API over `Studio` (the routers in `routes/`) and a static page that drives it.

Every error reaches the page as ``{"error": "<what is wrong and what would be right>"}`` with a 4xx status; the
page shows it in a banner. Requests carry values only (seeds, strengths, layer ranges, uploaded bytes), never
file-system paths.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from ..errors import GanlensError
from ..latents import LatentCode
from .batcher import Batcher
from .context import AppContext
from .jobs import UploadError, too_large
from .memory import release_free_memory
from .routes import ROUTERS
from .session import SessionStore, UnknownSession
from .studio import Readout, Studio

STATIC = Path(__file__).resolve().parent / "static"
# Multipart framing and form fields around the file: the body may exceed the file limit by this much.
FORM_OVERHEAD = 64 * 1024


# An oversized body is read to its end (and thrown away) before the 413 goes out, up to this much: a client that
# sends its whole body before reading the answer (urllib, many scripts; "Connection: close") otherwise sees the
# connection reset under it instead of the 413, since closing a socket with unread data resets it.
DRAIN_LIMIT = 256 * 2**20


class BodyLimit:
    """ASGI middleware refusing request bodies over `max_bytes` with a 413 and the one-line JSON error: at once
    when Content-Length says so, else as soon as the streamed body passes the limit (so nothing large is spooled
    to disk first). The rest of the body is read and dropped, up to `DRAIN_LIMIT`, so that the client gets the
    413 rather than a reset connection; a client that asked `Expect: 100-continue` has sent no body to drain."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        expects = headers.get(b"expect", b"").lower() == b"100-continue"
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            if not expects and int(declared) <= DRAIN_LIMIT:
                await _drain(receive, DRAIN_LIMIT)
            response = JSONResponse({"error": too_large(int(declared), self.max_bytes - FORM_OVERHEAD)}, 413)
            return await response(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                if message.get("more_body", False):
                    await _drain(receive, DRAIN_LIMIT - seen)
                limit = (self.max_bytes - FORM_OVERHEAD) / 1e6
                raise UploadError(f"the upload is larger than the limit of {limit:.2f} MB", status=413)
            return message

        await self.app(scope, limited, send)


async def _drain(receive, budget: int) -> None:
    """Read and drop the rest of a request body, up to `budget` bytes (beyond it the connection is closed)."""
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client went away
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def create_app(studio: Studio, max_upload_bytes: int = 10 * 2**20, max_pixels: int = 16_000_000,
               session_bytes: int = 256 * 2**20, session_idle_s: float = 3600.0, session_grace_s: float = 10.0,
               allowed_hosts: list[str] | None = None, autolabel_samples: int | None = 32,
               batch_window_s: float = 0.004, max_batch: int = 16,
               read_out: Callable[[LatentCode], Readout] | None = None) -> FastAPI:
    """Build the web app over a loaded `Studio`.

    Args:
        studio: the model, directions, scorer and encoder.
        max_upload_bytes: largest accepted image file. max_pixels: largest accepted image (width x height).
        session_bytes: memory the tabs' sessions may hold together (measured; the least recently used sessions
            not in use and not used within `session_grace_s` are dropped beyond it). session_idle_s: a session
            unused this long is dropped. Neither loses work: the page re-creates a dropped session from its
            state token.
        allowed_hosts: accepted Host headers (guards a loopback server against DNS rebinding); None accepts any.
        autolabel_samples: auto-label SeFa / user directions in a background thread with this many samples;
            None skips labelling.
        batch_window_s, max_batch: concurrent renders (different tabs' slider moves) are drawn together, up to
            `max_batch` per generator pass; an idle generator waits `batch_window_s` for a first request's company.
        read_out: draws one code (`LatentCode` → `Readout`) in place of the local batcher, e.g. a Ray Serve
            deployment's client (`ray_serve.py`).
    """
    app = FastAPI(title="ganlens", docs_url=None, redoc_url=None, openapi_url=None)
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    app.add_middleware(BodyLimit, max_bytes=max_upload_bytes + FORM_OVERHEAD)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    sessions = SessionStore(session_bytes, session_idle_s, session_grace_s)
    app.state.sessions = sessions  # for tests and benchmarks (renders per session)
    if read_out is None:
        batcher = Batcher(studio.read_out, batch_window_s, max_batch, name="ganlens-render",
                          on_idle=release_free_memory)
        app.state.batcher = batcher  # for tests and benchmarks (batch sizes)
        read_out = batcher.submit
    app.state.context = AppContext(studio, sessions, max_upload_bytes, max_pixels, read_out)
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

    @app.get("/api/stats")
    def stats() -> JSONResponse:
        """What the server holds: sessions and their measured bytes, those dropped, recent batch sizes."""
        recent = list(app.state.batcher.batches) if hasattr(app.state, "batcher") else []
        return JSONResponse({
            "sessions": len(sessions), "session_bytes": sessions.total_bytes, "session_bytes_limit": sessions.max_bytes,
            "dropped": dict(sessions.dropped),
            "batches": {"recent": len(recent), "mean_size": round(sum(recent) / len(recent), 2) if recent else None,
                        "max_size": max(recent, default=None)}})

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
