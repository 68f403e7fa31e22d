"""Per-browser-tab state: the code being edited, the slider settings, a second code, and an undo history.

A state is an immutable snapshot, so undo is "put the previous snapshot back" and a render can read a consistent
state without holding the lock while it draws. Slider drags send previews (`commit=False`): they change the
state but not the history, so one undo takes back a whole drag, not its last pixel of motion.
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from ..errors import GanlensError
from ..latents import LatentCode
from .memory import SizeCache
from .render import CoalescingRenderer

HISTORY = 100  # undo steps kept per session


@dataclass(frozen=True, eq=False)
class EditState:
    """One snapshot of what the page shows (never mutated: updates make new snapshots with `replace`).

    Attributes:
        base: the code being edited (a seed's W code or an inversion's W+ code).
        source: how `base` was made, for the page ({'kind': 'seed', 'seed': 3, 'truncation': 0.7} / 'upload' /
            'restore' (a restoration's task and method) / 'climb' with the 'origin' source and the list of
            'climbs').
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


# Each state's fields as the state token writes them (`fields_json`), kept while the state lives: a session's undo
# states repeat the same read-outs (dozens of floats each), and writing them anew on every move was most of a
# token's cost. `Session.nbytes` counts them.
_FIELDS_JSON: weakref.WeakKeyDictionary[EditState, str] = weakref.WeakKeyDictionary()
_FIELDS_LOCK = threading.Lock()


def fields_json(st: EditState) -> str:
    """`st`'s fields as compact JSON, codes and the second image left out (written once per state)."""
    with _FIELDS_LOCK:
        text = _FIELDS_JSON.get(st)
    if text is None:
        text = json.dumps({"source": st.source, "base_scores": st.base_scores, "base_readings": st.base_readings,
                           "strengths": st.strengths, "layers": st.layers, "keep_fixed": list(st.keep_fixed),
                           "second_source": st.second_source, "mix_layers": st.mix_layers}, separators=(",", ":"))
        with _FIELDS_LOCK:
            _FIELDS_JSON[st] = text
    return text


class UnknownSession(GanlensError):
    """A session id the server does not hold (never issued, expired, or from before a restart): the page then
    re-creates the session from its state token (`POST /api/sessions/restore`)."""


@dataclass(frozen=True)
class Snapshot:
    """A session's state at one version, with what undo would go back to: what a render draws and what the
    page's state token records."""

    version: int
    state: EditState
    committed: EditState
    history: tuple[EditState, ...]


class Session:
    """One tab's state, its undo history, its renderer and its running inversion (if any).

    Args:
        state: the current snapshot.
        render: turns a `Snapshot` into the page's view (called by the coalescing renderer).
        committed: the last committed state (undo goes back before it); None: `state`.
        history: older committed states, oldest first (a restored session's undo steps).
    """

    def __init__(self, state: EditState, render: Callable[[Snapshot], dict], committed: EditState | None = None,
                 history: tuple[EditState, ...] = ()) -> None:
        self.id = secrets.token_urlsafe(12)
        self.lock = threading.Lock()
        self.state = state
        self.version = 0
        self._committed = committed or state
        self._history: deque[EditState] = deque(history, maxlen=HISTORY)
        self.job = None  # the running or last inversion (see jobs.py)
        self.morph_gif: bytes | None = None
        self.leases = 0  # requests being served (SessionStore.lease): a leased session is never dropped
        self.last_used = time.monotonic()
        self._render_state = render
        self.renderer: CoalescingRenderer[dict] = CoalescingRenderer(self._render_latest)
        self._sizes = SizeCache()
        self._size_lock = threading.Lock()  # two requests of one tab may finish (and measure) at once

    def _render_latest(self) -> tuple[int, dict]:
        snap = self.snapshot()
        return snap.version, self._render_state(snap)

    def snapshot(self) -> Snapshot:
        """The state, the committed state and the undo history, read together."""
        with self.lock:
            return Snapshot(self.version, self.state, self._committed, tuple(self._history))

    @property
    def can_undo(self) -> bool:
        return bool(self._history)

    @property
    def in_use(self) -> bool:
        """Serving a request, inverting an upload, or holding an inversion result the page has not fetched."""
        job = self.job
        return self.leases > 0 or (job is not None and (job.status == "running" or not job.reported))

    def nbytes(self) -> int:
        """Bytes this session holds: its snapshots (codes, scores, the second image, their JSON once a token wrote
        it), the last view (PNG data URL and state token) and the morph GIF."""
        snap = self.snapshot()
        latest = self.renderer.latest
        states = [snap.state, snap.committed, *snap.history]
        with self._size_lock:
            held = self._sizes.total(states, () if latest is None else (latest,))
        with _FIELDS_LOCK:
            written = {id(s): _FIELDS_JSON.get(s) for s in states}
        held += sum(sys.getsizeof(t) for t in written.values() if t is not None)
        return held + len(self.morph_gif or b"") + sys.getsizeof(self)

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
    """Sessions by id, bounded by the bytes they hold and by idle time.

    Beyond `max_bytes` the least recently used sessions are dropped, except those in use (`Session.in_use`) or
    used within the last `grace_s` (a tab in the middle of a drag sends its next move within that); a session idle
    for `idle_s` is dropped too, unless an inversion is still running in it. Dropping loses nothing: every view
    carries the page's state token, from which `POST /api/sessions/restore` re-creates the session. A session is
    measured (`Session.nbytes`) when it is added and after every request. The store can exceed its bound by the
    sessions active at that moment, which it has to hold anyway: dropping them would only make their pages
    restore them again at once.
    """

    def __init__(self, max_bytes: int = 256 * 2**20, idle_s: float = 3600.0, grace_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes, self.idle_s, self.grace_s, self.clock = max_bytes, idle_s, grace_s, clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()  # least recently used first
        self._bytes: dict[str, int] = {}
        self._total = 0
        self._lock = threading.RLock()  # `lease` calls `get` with it held
        self.dropped = {"memory": 0, "idle": 0}  # for tests and benchmarks

    def __len__(self) -> int:
        return len(self._sessions)

    @property
    def total_bytes(self) -> int:
        """The measured bytes of every session held."""
        return self._total

    def add(self, session: Session) -> Session:
        """Keep `session` (measured now), then drop idle and, beyond the bound, least recently used sessions."""
        with self.hold(session):
            pass
        return session

    @contextmanager
    def hold(self, session: Session) -> Iterator[Session]:
        """Keep a new `session`, in use until the block ends (while its first view is drawn), then measured."""
        size = session.nbytes()
        with self._lock:
            session.leases += 1
            session.last_used = self.clock()
            self._sessions[session.id] = session
            self._set_size(session.id, size)
        try:
            yield session
        finally:
            self._release(session)

    def get(self, sid: str) -> Session:
        """The session `sid` (now the most recently used), or UnknownSession (the API answers 404)."""
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                raise UnknownSession("unknown or expired session: the page re-creates it from its state token")
            self._sessions.move_to_end(sid)
            session.last_used = self.clock()
            return session

    @contextmanager
    def lease(self, sid: str) -> Iterator[Session]:
        """The session `sid`, held in use (never dropped) until the block ends; then measured again."""
        with self._lock:
            session = self.get(sid)  # the lock is re-entrant
            session.leases += 1
        try:
            yield session
        finally:
            self._release(session)

    def _release(self, session: Session) -> None:
        """End one use of `session`: measure it, then drop idle and over-the-bound sessions."""
        size = session.nbytes()
        with self._lock:
            session.leases -= 1
            session.last_used = self.clock()
            if self._sessions.get(session.id) is session:
                self._sessions.move_to_end(session.id)
                self._set_size(session.id, size)
            self._prune()

    def clear(self) -> None:
        """Drop every session (tests: what a restart does to the server's memory)."""
        with self._lock:
            self._sessions.clear()
            self._bytes.clear()
            self._total = 0

    def _set_size(self, sid: str, size: int) -> None:
        self._total += size - self._bytes.get(sid, 0)
        self._bytes[sid] = size

    def _drop(self, sid: str, why: str) -> None:
        del self._sessions[sid]
        self._total -= self._bytes.pop(sid, 0)
        self.dropped[why] += 1

    def _prune(self) -> None:
        """Drop idle sessions, then least recently used ones while over the bound (the caller holds the lock)."""
        now = self.clock()
        cutoff, recent = now - self.idle_s, now - self.grace_s
        idle = []
        for sid, s in self._sessions.items():
            if s.last_used > cutoff:
                break  # least recently used first: the rest were used later
            if s.leases == 0 and (s.job is None or s.job.status != "running"):
                idle.append(sid)
        for sid in idle:
            self._drop(sid, "idle")
        if self._total <= self.max_bytes:
            return
        over, unused = self._total - self.max_bytes, []
        for sid, s in self._sessions.items():
            if over <= 0:
                break
            if not s.in_use and s.last_used <= recent:
                unused.append(sid)
                over -= self._bytes.get(sid, 0)
        for sid in unused:
            self._drop(sid, "memory")


def with_strengths(state: EditState, strengths: dict[str, float] | None, layers: dict[str, str] | None) -> EditState:
    """`state` with some sliders' strengths and layer ranges replaced (the others kept)."""
    # unchanged dicts are shared, not copied: the session's size measure walks each distinct value once
    return replace(state, strengths={**state.strengths, **strengths} if strengths else state.strengths,
                   layers={**state.layers, **layers} if layers else state.layers)
