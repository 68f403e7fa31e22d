"""Cross-request batching: calls from many threads (many tabs' slider moves) are coalesced into one call of a
batched function, so the generator draws a batch of images per pass instead of one.

A worker thread waits for the first request, then for at most `window_s` more while the batch is short of
`max_batch`; under load the queue already holds a batch when the previous pass ends, so requests wait for the pass
in progress, never for the window. Each caller gets its own result, or its own error: when a batched call fails,
its items are run one by one so that one bad request cannot fail the others.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Pending(Generic[T, R]):
    __slots__ = ("item", "arrived", "done", "result", "error")

    def __init__(self, item: T) -> None:
        self.item, self.arrived = item, time.monotonic()
        self.done = threading.Event()
        self.result: R | None = None
        self.error: BaseException | None = None


class Batcher(Generic[T, R]):
    """Serve `submit(item)` from concurrent threads with batched calls of `run(items) -> results`.

    Args:
        run: maps a list of items to the list of their results, in order.
        window_s: how long the first request of a batch waits for others to join (only when the worker is idle).
        max_batch: the largest batch handed to `run`.
        idle_exit_s: the worker thread ends after this long without requests (and starts again on the next).
        on_idle: called by the worker once the queue has stayed empty for `quiet_s` after a batch (the web app
            hands the batches' freed memory back to the system there, `memory.release_free_memory`): once per
            quiet spell, never under load.
    """

    def __init__(self, run: Callable[[list[T]], list[R]], window_s: float = 0.004, max_batch: int = 16,
                 idle_exit_s: float = 30.0, name: str = "ganlens-batcher",
                 on_idle: Callable[[], None] | None = None, quiet_s: float = 0.5) -> None:
        self.run, self.window_s, self.max_batch = run, window_s, max_batch
        self.idle_exit_s, self.name, self.on_idle, self.quiet_s = idle_exit_s, name, on_idle, quiet_s
        self._ran = False  # a batch ran since on_idle was last called
        self._queue: deque[_Pending[T, R]] = deque()
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None
        self.batches: deque[int] = deque(maxlen=1000)  # sizes of the last batches run (tests, benchmarks)

    def submit(self, item: T) -> R:
        """`item`'s result, computed in a batch with whatever else is waiting; `run`'s error for it otherwise."""
        pending: _Pending[T, R] = _Pending(item)
        with self._cond:
            self._queue.append(pending)
            if self._worker is None:
                self._worker = threading.Thread(target=self._loop, daemon=True, name=self.name)
                self._worker.start()
            self._cond.notify()
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.result  # type: ignore[return-value]

    def _take(self) -> list[_Pending[T, R]] | str | None:
        """The next batch (waiting out the window when it is short), "quiet" when on_idle is due, or None when idle
        too long."""
        with self._cond:
            if not self._queue and self._ran and self.on_idle is not None:
                self._cond.wait(self.quiet_s)
                if not self._queue:
                    self._ran = False
                    return "quiet"  # on_idle runs outside the lock: submitters never wait for it
            while not self._queue:
                if not self._cond.wait(self.idle_exit_s) and not self._queue:
                    self._worker = None
                    return None
            deadline = self._queue[0].arrived + self.window_s
            while len(self._queue) < self.max_batch:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]

    def _loop(self) -> None:
        while (batch := self._take()) is not None:
            if batch == "quiet":
                self.on_idle()
                continue
            self.batches.append(len(batch))
            self._ran = True
            try:
                self._serve(batch)
            finally:
                for p in batch:
                    p.done.set()

    def _serve(self, batch: list[_Pending[T, R]]) -> None:
        try:
            results = self.run([p.item for p in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"the batched call returned {len(results)} results for {len(batch)} items")
        except Exception as exc:  # noqa: BLE001 - handed to its caller
            if len(batch) == 1:
                batch[0].error = exc
            else:  # run the items alone, so that each caller gets its own result or error
                for p in batch:
                    self._serve([p])
            return
        for p, r in zip(batch, results):
            p.result = r
