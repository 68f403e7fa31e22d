"""The server's memory: what a tab's session costs (the bytes of the objects it holds, found by walking them), and
handing freed memory back to the system.

`deep_size` counts Python objects with `sys.getsizeof` and tensors by their storage plus the C++ object around it
(`TENSOR_OVERHEAD`, measured), each object once however often it is shared. `SizeCache` remembers the sizes of
immutable snapshots' field values, so that measuring a session after every request walks only what is new.
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


_LEAVES = frozenset({str, int, float, bool, bytes, type(None)})  # hold no references: their getsizeof is all


def deep_size(obj: object, seen: set[int] | None = None) -> int:
    """Bytes held by `obj` and everything it references (dicts, lists, tuples, dataclasses, tensors), each object
    counted once across calls sharing `seen`."""
    # A loop over a stack, not recursion: the server measures a session on its event loop after every request.
    seen = set() if seen is None else seen
    total, stack, getsizeof = 0, [obj], sys.getsizeof
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        total += getsizeof(o)
        if type(o) in _LEAVES:
            continue
        if isinstance(o, torch.Tensor):
            total += TENSOR_OVERHEAD + o.untyped_storage().nbytes()
        elif isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, (list, tuple, set, frozenset)):
            stack.extend(o)
        elif dataclasses.is_dataclass(o) and not isinstance(o, type):
            stack.extend(getattr(o, f.name) for f in dataclasses.fields(o))
    return total


class SizeCache:
    """Bytes of immutable snapshots (frozen dataclasses), field by field, each distinct field value measured once.

    `total(snapshots)` adds every distinct field value once: history states share their codes and dicts, and
    counting them per state would overstate a session many times over. A value is walked only the first time a
    snapshot holds it: a slider move makes a new snapshot that shares every field but the strengths with the last
    one (`dataclasses.replace`), so measuring a session after every request walks only the new strengths. This
    runs on the server's event loop after each request, which is why it must stay cheap.
    """

    def __init__(self) -> None:
        self._values: dict[int, tuple[object, int]] = {}  # id -> (the value, kept so that the id stays its; bytes)
        self._parts: dict[int, tuple[object, dict[int, int]]] = {}  # id -> (a snapshot, its values' bytes by id)

    def _size_of(self, value: object) -> int:
        hit = self._values.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        size = deep_size(value)
        self._values[id(value)] = (value, size)
        return size

    def _parts_of(self, snap: object) -> dict[int, int]:
        hit = self._parts.get(id(snap))
        if hit is not None and hit[0] is snap:
            return hit[1]
        parts = {id(snap): sys.getsizeof(snap)}
        for f in dataclasses.fields(snap):
            value = getattr(snap, f.name)
            if id(value) not in parts:
                parts[id(value)] = self._size_of(value)
        self._parts[id(snap)] = (snap, parts)
        return parts

    def total(self, snapshots: list[object], also: tuple[object, ...] = ()) -> int:
        """Bytes of `snapshots` together, and of the objects `also` (never changed once made, e.g. the last view
        drawn); forgets what none of them holds any more (it was dropped)."""
        merged: dict[int, int] = {}
        for snap in snapshots:
            merged.update(self._parts_of(snap))
        for obj in also:
            hit = self._values.get(id(obj))
            if hit is None or hit[0] is not obj:  # what it shares with the snapshots is theirs: not walked again
                hit = self._values[id(obj)] = (obj, deep_size(obj, set(merged)))
            merged[id(obj)] = hit[1]
        if len(self._parts) > len(snapshots) or len(self._values) > len(merged):
            live = {id(s) for s in snapshots}
            self._parts = {k: v for k, v in self._parts.items() if k in live}
            self._values = {k: v for k, v in self._values.items() if k in merged}
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
