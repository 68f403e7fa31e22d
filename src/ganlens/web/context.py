"""What every route shares: the `Studio`, the tabs' sessions and the upload limits, with the helpers that turn
a tab's state into the page's view. Routes receive it through the `Ctx` dependency, and the tab's session,
held in use for the whole request, through `Leased`."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from ..latents import LatentCode
from . import state_token
from .session import EditState, Session, SessionStore, Snapshot
from .studio import Readout, Rendered, Studio, readings

COMPOSED_KEPT = 256  # states whose composed code `AppContext.composed` remembers


@dataclass(frozen=True)
class AppContext:
    """The state one app's routes share.

    Attributes:
        studio: the model, directions, scorer and encoder. sessions: the open tabs.
        max_upload_bytes: largest accepted image file. max_pixels: largest accepted image (width x height).
        read_out: one code's picture and scores; batched across requests (`Batcher.submit` over
            `Studio.read_out`, or the Ray Serve deployment's client).
    """

    studio: Studio
    sessions: SessionStore
    max_upload_bytes: int
    max_pixels: int
    read_out: Callable[[LatentCode], Readout]
    _codes: OrderedDict = field(default_factory=OrderedDict, init=False, repr=False, compare=False)
    _codes_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def composed(self, state: EditState) -> LatentCode:
        """The code `state` shows: its base with the mix and every slider applied.

        Remembered for the last few hundred states (states never change once made): a slider move composes its
        new state to validate it and again to draw it, about a millisecond each of small tensor operations that
        hold the interpreter lock the other requests wait for."""
        with self._codes_lock:
            hit = self._codes.get(id(state))
            if hit is not None and hit[0] is state:
                self._codes.move_to_end(id(state))
                return hit[1]
        code = self.studio.compose(state.base, state.strengths, state.layers, state.keep_fixed, state.second,
                                   state.mix_layers)
        with self._codes_lock:
            self._codes[id(state)] = (state, code)
            if len(self._codes) > COMPOSED_KEPT:
                self._codes.popitem(last=False)
        return code

    def current_code(self, session: Session) -> LatentCode:
        """The code the tab shows now."""
        return self.composed(session.state)

    def render(self, code: LatentCode, scale: int = 1) -> Rendered:
        """One code's picture and read-out, drawn in a batch with the other tabs' (the time includes the wait)."""
        t0 = time.perf_counter()
        shown = self.read_out(code)
        return shown.rendered(time.perf_counter() - t0, scale)

    def render_view(self, snap: Snapshot) -> dict:
        """The page's view of a snapshot: image, scores, state, the changes visible against the unedited image,
        and the state token the page re-creates the session from."""
        state = snap.state
        shown = self.render(self.composed(state))
        return {"image": shown.data_url, "scores": shown.scores, "state": state.describe(),
                "visible": self.studio.visible_changes(state.base_readings, shown) if state.base_readings else {},
                "render_ms": round(shown.seconds * 1000, 2), "token": state_token.encode(snap, self.studio.G.name)}

    def open(self, state: EditState, t0: float, committed: EditState | None = None,
             history: tuple[EditState, ...] = ()) -> JSONResponse:
        """A new session on `state` (with undo steps when restored), kept in the store, and its first view (it
        cannot be dropped before that view is drawn)."""
        with self.sessions.hold(Session(state, self.render_view, committed, history)) as session:
            return self.respond(session, session.version, t0)

    def restore(self, token: str, t0: float) -> JSONResponse:
        """A new session re-created from the page's state token (see `state_token`), and its first view."""
        current, committed, history = state_token.restore(token, self.studio, lambda c: self.render(c).data_url)
        return self.open(current, t0, committed, history)

    def view_body(self, session: Session, version: int) -> dict:
        """The tab's view of at least `version`, with the session's id, undo and job status."""
        view = session.view(version)
        return {**view, "session": session.id, "version": version, "can_undo": session.can_undo,
                "renders": session.renderer.renders,
                "job": None if session.job is None else session.job.describe()}

    def respond(self, session: Session, version: int, t0: float) -> JSONResponse:
        """The tab's view of at least `version`, with a Server-Timing header measured from `t0`."""
        response = JSONResponse(self.view_body(session, version))
        # Server-Timing: the whole handler (state update, edit, synthesis, scoring, PNG, JSON) for the benchmark.
        response.headers["Server-Timing"] = f"total;dur={(time.perf_counter() - t0) * 1000:.2f}"
        return response

    def seed_state(self, seed: int, truncation: float) -> tuple[LatentCode, dict, Rendered]:
        """A seed's code, its source record and its picture."""
        code = self.studio.sample(seed, truncation)
        return code, {"kind": "seed", "seed": seed, "truncation": truncation}, self.render(code)

    def validated(self, change: Callable[[EditState], EditState]) -> Callable[[EditState], EditState]:
        """`change`, refusing a new state that cannot be composed (a bad layer range, an impossible condition):
        composing costs a millisecond, and a refused change leaves the old state in place."""
        def run(state: EditState) -> EditState:
            new = change(state)
            self.composed(new)
            return new
        return run


def place(slot: str, code: LatentCode, source: dict, shown: Rendered) -> Callable[[EditState], EditState]:
    """A state change putting `code` in as the main image (slot 'a') or as the second image (slot 'b')."""
    if slot == "a":
        return lambda s: replace(s, base=code, source=source, base_scores=shown.scores, base_readings=readings(shown))
    return lambda s: replace(s, second=code, second_source=source, second_image=shown.data_url)


async def app_context(request: Request) -> AppContext:
    """The `AppContext` that `create_app` stored on the app."""
    # async so that FastAPI calls it on the event loop instead of a thread-pool hop on every slider move
    return request.app.state.context


Ctx = Annotated[AppContext, Depends(app_context)]


async def leased_session(sid: str, request: Request) -> AsyncIterator[Session]:
    """The request's session (path parameter `sid`), held in use until the request is done: the store never
    drops a session in use, and measures it again afterwards. UnknownSession (404) when the store has none."""
    with request.app.state.context.sessions.lease(sid) as session:
        yield session


Leased = Annotated[Session, Depends(leased_session)]
