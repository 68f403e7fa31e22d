"""Per-browser-tab state: the code being edited, the slider settings, a second code, and an undo history.

A state is an immutable snapshot, so undo is "put the previous snapshot back" and a render can read a consistent
state without holding the lock while it draws. Slider drags send previews (`commit=False`): they change the
state but not the history, so one undo takes back a whole drag, not its last pixel of motion.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..errors import GanlensError
from ..latents import LatentCode
from .render import CoalescingRenderer

HISTORY = 100  # undo steps kept per session


@dataclass(frozen=True, eq=False)
class EditState:
    """One snapshot of what the page shows (never mutated: updates make new snapshots with `replace`).

    Attributes:
        base: the code being edited (a seed's W code or an inversion's W+ code).
        source: how `base` was made, for the page ({'kind': 'seed', 'seed': 3, 'truncation': 0.7} / 'upload' /
            'climb' with the 'origin' source and the list of 'climbs').
        base_scores: the scorer's read-out of the seed or upload before any edit (the page shows changes against
            it; a climb bakes the edit into `base` and keeps these). base_readings: the same image read by the
            scorer and every guard (`Studio.visible_changes` compares against it).
        strengths: slider key → strength (units of the direction's scale). layers: slider key → layer range.
        keep_fixed: attributes whose boundaries the edits are made orthogonal to.
        second: the code of the second image (mix / morph), its source and its picture (a PNG data URL).
        mix_layers: None, or the layers taken from the second code ('coarse', 'middle', 'fine', '0-3', ...).
    """

    base: LatentCode
    source: dict
    base_scores: dict[str, float] = field(default_factory=dict)
    base_readings: dict[str, dict[str, float]] = field(default_factory=dict)
    strengths: dict[str, float] = field(default_factory=dict)
    layers: dict[str, str] = field(default_factory=dict)
    keep_fixed: tuple[str, ...] = ()
    second: LatentCode | None = None
    second_source: dict | None = None
    second_image: str | None = None
    mix_layers: str | None = None

    def describe(self) -> dict:
        """JSON for the page (codes left out)."""
        return {"source": self.source, "base_scores": self.base_scores, "strengths": self.strengths, "layers": self.layers,
                "keep_fixed": list(self.keep_fixed), "second_source": self.second_source,
                "second_image": self.second_image, "mix_layers": self.mix_layers}


class UnknownSession(GanlensError):
    """A session id the server does not hold (never issued, or dropped as least recently used)."""


class Session:
    """One tab's state, its undo history, its renderer and its running inversion (if any).

    Args:
        state: the first snapshot.
        render: turns a snapshot into the page's view (called by the coalescing renderer).
    """

    def __init__(self, state: EditState, render: Callable[[EditState], dict]) -> None:
        self.id = secrets.token_urlsafe(12)
        self.lock = threading.Lock()
        self.state = state
        self.version = 0
        self._committed = state
        self._history: deque[EditState] = deque(maxlen=HISTORY)
        self.job = None  # the running or last inversion (see jobs.py)
        self.morph_gif: bytes | None = None
        self._render_state = render
        self.renderer: CoalescingRenderer[dict] = CoalescingRenderer(self._render_latest)

    def _render_latest(self) -> tuple[int, dict]:
        with self.lock:
            state, version = self.state, self.version
        return version, self._render_state(state)

    @property
    def can_undo(self) -> bool:
        return bool(self._history)

    def update(self, change: Callable[[EditState], EditState], commit: bool = True) -> int:
        """Apply `change` to the state; a commit also makes the last committed state an undo step.

        Returns:
            The new version: ask `view(version)` for its picture.
        """
        with self.lock:
            new = change(self.state)
            if commit:
                if self._committed is not new:
                    self._history.append(self._committed)
                self._committed = new
            self.state = new
            self.version += 1
            return self.version

    def undo(self) -> int:
        """Go back to the state before the last commit (previews since then are dropped too)."""
        with self.lock:
            if not self._history:
                raise GanlensError("nothing to undo")
            self.state = self._committed = self._history.pop()
            self.version += 1
            return self.version

    def view(self, version: int) -> dict:
        """The rendered view of `version` or of a newer state (see `CoalescingRenderer`)."""
        return self.renderer.get(version)


class SessionStore:
    """Sessions by id, least recently used dropped beyond `limit` (each holds codes and a history)."""

    def __init__(self, limit: int = 32) -> None:
        self.limit = limit
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, session: Session) -> Session:
        """Keep `session`, evicting the least recently used beyond the limit."""
        with self._lock:
            self._sessions[session.id] = session
            while len(self._sessions) > self.limit:
                self._sessions.popitem(last=False)
        return session

    def get(self, sid: str) -> Session:
        """The session `sid`, or UnknownSession (the API answers 404)."""
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                raise UnknownSession("unknown or expired session: reload the page")
            self._sessions.move_to_end(sid)
            return session


def with_strengths(state: EditState, strengths: dict[str, float] | None, layers: dict[str, str] | None) -> EditState:
    """`state` with some sliders' strengths and layer ranges replaced (the others kept)."""
    return replace(state, strengths={**state.strengths, **(strengths or {})}, layers={**state.layers, **(layers or {})})
