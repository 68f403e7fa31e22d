"""Coalescing renderer: while one render runs, newer requests wait for the next one, and that one serves them all.

A slider dragged across its range fires dozens of requests a second. Each request first records its state (cheap,
in order) and gets a version number; then it asks for a picture of *at least* that version. At most one render
runs per session, and it always draws the newest state, so however many requests pile up, they are answered by
at most two renders (the one running and the next) — latest wins, nothing queues without bound.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class CoalescingRenderer(Generic[T]):
    """Serve `render()` results to concurrent callers, rendering only the newest state.

    Args:
        render: draws the current state and returns (the version it drew, the result); called without locks held,
            by whichever waiting caller finds the renderer idle.
    """

    def __init__(self, render: Callable[[], tuple[int, T]]) -> None:
        self._render = render
        self._cond = threading.Condition()
        self._busy = False
        self._latest: tuple[int, T] | None = None
        self.renders = 0  # how many renders ran (tests check that requests were coalesced)

    @property
    def latest(self) -> T | None:
        """The newest result drawn so far (None before the first render)."""
        latest = self._latest
        return None if latest is None else latest[1]

    def get(self, version: int) -> T:
        """A result of `version` or newer: the last one if it is new enough, else one rendered now."""
        with self._cond:
            while True:
                if self._latest is not None and self._latest[0] >= version:
                    return self._latest[1]
                if not self._busy:
                    self._busy = True
                    break
                self._cond.wait()
        try:
            drawn, result = self._render()
            with self._cond:
                if self._latest is None or drawn >= self._latest[0]:
                    self._latest = (drawn, result)
                self.renders += 1
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
        return result
