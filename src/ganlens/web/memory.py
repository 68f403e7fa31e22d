"""The server's memory: what a tab's session costs (the bytes of the objects it holds, found by walking them), and
handing freed memory back to the system.

`deep_size` counts Python objects with `sys.getsizeof` and tensors by their storage plus the C++ object around it
(`TENSOR_OVERHEAD`, measured), each object once however often it is shared. `SizeCache` remembers the parts of
immutable snapshots, so that measuring a session after every request walks only what is new.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import functools
import sys

import torch

# RSS growth per [1, 128] float32 tensor beyond its 512 data bytes, measured over 100,000 of them (965 bytes each):
# the TensorImpl, its storage object and the allocator's rounding, none of which sys.getsizeof sees.
TENSOR_OVERHEAD = 450


def deep_size(obj: object, seen: set[int] | None = None) -> int:
    """Bytes held by `obj` and everything it references (dicts, lists, tuples, dataclasses, tensors), each object
    counted once across calls sharing `seen`."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        return sys.getsizeof(obj) + TENSOR_OVERHEAD + obj.untyped_storage().nbytes()
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        return size + sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return size + sum(deep_size(v, seen) for v in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return size + sum(deep_size(getattr(obj, f.name), seen) for f in dataclasses.fields(obj))
    return size


class SizeCache:
    """Bytes of immutable snapshots (frozen dataclasses), field by field, remembered per snapshot.

    `total(snapshots)` adds every distinct field value once: history states share their codes and dicts, and
    counting them per state would overstate a session many times over.
    """

    def __init__(self) -> None:
        self._parts: dict[int, tuple[object, dict[int, int]]] = {}

    def _parts_of(self, snap: object) -> dict[int, int]:
        hit = self._parts.get(id(snap))
        if hit is not None and hit[0] is snap:
            return hit[1]
        parts = {id(snap): sys.getsizeof(snap)}
        for f in dataclasses.fields(snap):
            value = getattr(snap, f.name)
            parts.setdefault(id(value), deep_size(value))
        self._parts[id(snap)] = (snap, parts)
        return parts

    def total(self, snapshots: list[object]) -> int:
        """Bytes of `snapshots` together; forgets the snapshots not among them (they were dropped)."""
        merged: dict[int, int] = {}
        for snap in snapshots:
            merged.update(self._parts_of(snap))
        live = {id(s) for s in snapshots}
        for key in [k for k in self._parts if k not in live]:
            del self._parts[key]
        return sum(merged.values())


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def release_free_memory() -> None:
    """Hand the memory freed by the last batches back to the system (glibc's `malloc_trim`; a no-op elsewhere).

    A batch's activations are freed into malloc's heap, which keeps them: between bursts of load the RSS then
    stays at the last burst's peak (measured: 660 to 1,080 MB at rest after batches of 8 to 32 on synthfaces64).
    The batcher calls this when its queue runs empty, so the RSS at rest is what is actually held.
    """
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
