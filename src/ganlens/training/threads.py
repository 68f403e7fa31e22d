"""Training functions run on the thread count their config names; the caller's count is restored afterwards."""

from __future__ import annotations

import functools
from typing import Callable, TypeVar

import torch

F = TypeVar("F", bound=Callable)


def restores_thread_count(fn: F) -> F:
    """Decorate a function that may call `torch.set_num_threads` for its own work: when it returns or raises, torch's
    thread count is what it was before the call (a library caller's setting is not changed behind its back)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        before = torch.get_num_threads()
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_num_threads(before)

    return wrapper  # type: ignore[return-value]
