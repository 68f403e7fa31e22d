"""How a batch of n codes is cut into generator passes.

Passes only ever have a power-of-two size, because every new batch shape leaves oneDNN's per-shape primitive cache
and the allocator's free lists larger (measured on synthfaces64: 120 batches of 1 to 32 codes drawn whole grew the
RSS from 700 to 1,000 MB; in powers of two it stayed flat). Cutting n into its binary digits (13 = 8 + 4 + 1)
pays a pass's fixed cost once per digit; padding the last pass up to the next power of two (13 = 16, three codes
drawn for nothing) is sometimes cheaper. Which is cheaper depends on the network and the CPU (the fixed cost is
about two images' worth for the v2 network in bf16, a third of one for the shipped 128-channel network in fp32),
so the planner learns each size's cost from the passes it times and chooses the cheapest plan by dynamic
programming over them.
"""

from __future__ import annotations

import threading


class ChunkPlanner:
    """Plans power-of-two passes for n codes from the measured time of each pass size.

    Until a size has been timed, its cost is interpolated linearly from the sizes that have been; with only one
    timed size, or none, a pass costs in proportion to its number of codes, which makes the plan n's binary digits
    (no padding) until a second size is timed.
    """

    def __init__(self, smoothing: float = 0.2) -> None:
        self.smoothing = smoothing
        self._seconds: dict[int, float] = {}  # pass size -> exponential moving average of its time
        self._lock = threading.Lock()

    def record(self, size: int, seconds: float) -> None:
        """Note that a pass of `size` codes took `seconds`."""
        with self._lock:
            old = self._seconds.get(size)
            self._seconds[size] = seconds if old is None else old + self.smoothing * (seconds - old)

    def cost(self, size: int) -> float:
        """The estimated time of one pass of `size` codes, in seconds (in codes while nothing is timed)."""
        with self._lock:
            known = dict(self._seconds)
        if size in known:
            return known[size]
        if len(known) < 2:
            ((timed, seconds),) = known.items() if known else ((1, 1.0),)
            return seconds * size / timed
        sizes = sorted(known)
        lo = max([s for s in sizes if s < size], default=sizes[0])
        hi = min([s for s in sizes if s > size], default=sizes[-1])
        if lo == hi:  # outside the timed range: extend the line through the two nearest timed sizes
            lo, hi = (sizes[0], sizes[1]) if size < sizes[0] else (sizes[-2], sizes[-1])
        slope = (known[hi] - known[lo]) / (hi - lo)
        return max(known[lo] + slope * (size - lo), 0.0)

    def plan(self, n: int) -> list[int]:
        """Pass sizes (powers of two, largest first) whose sum is at least n, at the least estimated time (ties: the
        fewest passes); the sum exceeds n only where padding is estimated to be cheaper than another pass."""
        if n <= 0:
            return []
        sizes = [1 << k for k in range((n - 1).bit_length() + 1)]  # 1 .. the next power of two >= n
        costs = {s: self.cost(s) for s in sizes}
        best: list[tuple[float, list[int]]] = [(0.0, [])]
        for m in range(1, n + 1):
            best.append(min(((costs[s] + best[max(m - s, 0)][0], [s, *best[max(m - s, 0)][1]]) for s in sizes),
                            key=lambda c: (round(c[0], 9), len(c[1]), sum(c[1]))))  # to the ns: float ties
        return sorted(best[n][1], reverse=True)
