"""Which w of a W+ code feeds which synthesis layer, and layer ranges by name or by number.

For a StyleGAN2 generator of resolution R there are num_ws = 2·log2(R) − 2 w's. The w of index i feeds the
layers at resolution 2^(2 + ceil(i/2)) (index 0: the 4x4 conv; odd i: a block's upsampling conv0 and the previous
block's toRGB; even i: conv1), and the last one only the final toRGB. Other architectures feed their w's
differently (StyleGAN v1: two per resolution from 4 px; StyleGAN3: bands whose cutoff grows layer by layer), so
every function here takes a *layout*: either num_ws (StyleGAN2's pattern) or the resolution each w feeds, as a
generator gives it in `G.w_resolutions`. Named presets group the w's the way the StyleGAN paper does: coarse
(4–8 px: pose, layout), middle (16–32 px: features, objects), fine (the rest: colour, texture).
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

from ..errors import GanlensError, InputError

PRESETS = ("all", "coarse", "middle", "fine")

LayerSpec = str | int | Iterable[int] | None
# num_ws (StyleGAN2's layout) or the resolution each w feeds (`G.w_resolutions`).
Layout = int | Sequence[int]


def resolution_of_num_ws(num_ws: int) -> int:
    """Image resolution of a StyleGAN2 generator with `num_ws` w's (num_ws = 2·log2(R) − 2)."""
    if num_ws < 2 or num_ws % 2:
        raise GanlensError(f"num_ws must be an even number >= 2 (2*log2(resolution) - 2), got {num_ws}")
    return 2 ** ((num_ws + 2) // 2)


def layer_resolutions(num_ws: int) -> list[int]:
    """The resolution each w index feeds, e.g. num_ws=10 → [4, 8, 8, 16, 16, 32, 32, 64, 64, 64]."""
    top = resolution_of_num_ws(num_ws)
    out = [2 ** (2 + math.ceil(i / 2)) for i in range(num_ws - 1)]
    return out + [top]  # the last w feeds only the final toRGB, at full resolution


def resolutions_of(layout: Layout) -> list[int]:
    """The resolution each w feeds: `layer_resolutions(num_ws)` for an int, the sequence itself otherwise."""
    if isinstance(layout, int):
        return layer_resolutions(layout)
    res = [int(r) for r in layout]
    if not res or min(res) < 1:
        raise GanlensError(f"a layer layout needs one positive resolution per w, got {list(layout)}")
    return res


def count_ws(layout: Layout) -> int:
    """How many w's a layout describes."""
    return layout if isinstance(layout, int) else len(layout)


def presets(layout: Layout) -> dict[str, tuple[int, ...]]:
    """Named layer ranges of a layout (num_ws or `G.w_resolutions`): all, coarse, middle, fine.

    coarse = w's feeding 4–8 px, fine = those feeding min(64, R) px and above, middle = the rest. Small models
    (R < 64) thus still get a non-empty fine range: the top resolution. A range can be empty (PGGAN's one z
    feeds only 4 px).
    """
    res = resolutions_of(layout)
    fine_from = min(64, max(res))
    coarse = tuple(i for i, r in enumerate(res) if r <= 8)
    fine = tuple(i for i, r in enumerate(res) if r >= fine_from and i not in coarse)
    middle = tuple(i for i in range(len(res)) if i not in coarse and i not in fine)
    return {"all": tuple(range(len(res))), "coarse": coarse, "middle": middle, "fine": fine}


def resolution_groups(layout: Layout) -> dict[str, tuple[int, ...]]:
    """w indices grouped by the resolution they feed: {'4px': (0,), '8px': (1, 2), ...}."""
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(resolutions_of(layout)):
        groups.setdefault(f"{r}px", []).append(i)
    return {k: tuple(v) for k, v in groups.items()}


def resolve_layers(spec: LayerSpec, layout: Layout) -> tuple[int, ...]:
    """Turn a layer spec into sorted, unique w indices.

    Args:
        spec: None or 'all' (every layer), a preset ('coarse', 'middle', 'fine'), a resolution group ('16px'),
            a range string ('0-5', '0,2,4', '0-3,8'), an int, or an iterable of ints.
        layout: the generator's `w_resolutions` (names then follow its architecture), or just num_ws (names
            follow StyleGAN2's layout).
    Returns:
        A non-empty, sorted tuple of indices in [0, num_ws).
    Raises:
        GanlensError: an unknown name, a malformed range or an index out of range.
    """
    num_ws = count_ws(layout)
    if spec is None:
        return tuple(range(num_ws))
    if isinstance(spec, str):
        text = spec.strip().lower()
        if text == "all":
            return tuple(range(num_ws))
        try:
            named = {**presets(layout), **resolution_groups(layout)}
        except GanlensError:  # a bare layer count without StyleGAN2's resolution pattern: no names
            named = {}
        if text in named:
            if not named[text]:
                raise InputError(f"layer preset {text!r} is empty for this generator (its w's feed "
                                 f"{', '.join(f'{r}px' for r in resolutions_of(layout))}); give indices instead")
            return named[text]
        indices = _parse_range_text(text, named)
    elif isinstance(spec, int):
        indices = [spec]
    else:
        indices = [int(i) for i in spec]
    if not indices:
        raise GanlensError("empty layer range; give e.g. '0-5', 'coarse' or 'all'")
    bad = sorted({i for i in indices if not 0 <= i < num_ws})
    if bad:
        shown = f"layers {spec!r}: " if isinstance(spec, (str, int)) else ""
        raise InputError(f"{shown}layer indices {describe_layers(tuple(bad))} out of range: this generator has "
                         f"num_ws={num_ws} (valid 0-{num_ws - 1})")
    return tuple(sorted(set(indices)))


def parse_indices(text: str) -> list[int]:
    """'0-7' → [0..7], '1,4,9' → [1, 4, 9], '0-3,10' → [0, 1, 2, 3, 10] (order kept, repeats allowed).

    Raises:
        ValueError: a part that is not an integer or a range, or a range that runs backwards (named in the message).
    """
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            values = range(int(lo), int(hi) + 1) if sep else [int(part)]
        except ValueError:
            raise InputError(f"{part!r} is not an integer or a range like 0-7") from None
        if sep and not values:
            raise InputError(f"range {part!r} runs backwards")
        out.extend(values)
    return out


def _parse_range_text(text: str, named: dict[str, tuple[int, ...]]) -> list[int]:
    try:
        return parse_indices(text)
    except ValueError as exc:
        raise GanlensError(
            f"bad layer spec {text!r} ({exc}): use a range like '0-5' or '0,2,4', or a name ({', '.join(named)})"
        ) from None


def describe_layers(layers: tuple[int, ...] | None, num_ws: int | None = None) -> str:
    """A short human form of a layer set: 'all', '0-5', '0-2,7'."""
    if layers is None or (num_ws is not None and tuple(layers) == tuple(range(num_ws))):
        return "all"
    parts, start = [], None
    prev = None
    for i in list(layers) + [None]:
        if start is None:
            start = prev = i
        elif i is not None and i == prev + 1:
            prev = i
        else:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = prev = i
    return ",".join(parts)
