"""What every route shares: the `Studio`, the tabs' sessions and the upload limits, with the helpers that turn
a tab's state into the page's view. Routes receive it through the `Ctx` dependency."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from ..latents import LatentCode
from .session import EditState, Session, SessionStore
from .studio import Rendered, Studio, readings


@dataclass(frozen=True)
class AppContext:
    """The state one app's routes share.

    Attributes:
        studio: the model, directions, scorer and encoder. sessions: the open tabs.
        max_upload_bytes: largest accepted image file. max_pixels: largest accepted image (width x height).
    """

    studio: Studio
    sessions: SessionStore
    max_upload_bytes: int
    max_pixels: int

    def composed(self, state: EditState) -> LatentCode:
        """The code `state` shows: its base with the mix and every slider applied."""
        return self.studio.compose(state.base, state.strengths, state.layers, state.keep_fixed, state.second,
                                   state.mix_layers)

    def current_code(self, session: Session) -> LatentCode:
        """The code the tab shows now."""
        return self.composed(session.state)

    def render_view(self, state: EditState) -> dict:
        """The page's view of `state`: image, scores, state and the changes visible against the unedited image."""
        shown = self.studio.render(self.composed(state))
        return {"image": shown.data_url, "scores": shown.scores, "state": state.describe(),
                "visible": self.studio.visible_changes(state.base_readings, shown) if state.base_readings else {},
                "render_ms": round(shown.seconds * 1000, 2)}

    def respond(self, session: Session, version: int, t0: float) -> JSONResponse:
        """The tab's view of at least `version`, with a Server-Timing header measured from `t0`."""
        view = session.view(version)
        body = {**view, "session": session.id, "version": version, "can_undo": session.can_undo,
                "renders": session.renderer.renders,
                "job": None if session.job is None else session.job.describe()}
        response = JSONResponse(body)
        # Server-Timing: the whole handler (state update, edit, synthesis, scoring, PNG, JSON) for the benchmark.
        response.headers["Server-Timing"] = f"total;dur={(time.perf_counter() - t0) * 1000:.2f}"
        return response

    def seed_state(self, seed: int, truncation: float) -> tuple[LatentCode, dict, Rendered]:
        """A seed's code, its source record and its picture."""
        code = self.studio.sample(seed, truncation)
        return code, {"kind": "seed", "seed": seed, "truncation": truncation}, self.studio.render(code)

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
