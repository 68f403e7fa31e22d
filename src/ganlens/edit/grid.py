"""Labelled edit grids: rows = samples, columns = strengths, the strengths written above the columns."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from ..errors import GanlensError
from ..io.images import make_grid
from ..io.text import label_font, text_size

PAD = 2
TEXT_MARGIN = 4


def labelled_grid(
    images: np.ndarray,
    ncols: int,
    col_labels: Sequence[str] | None = None,
    row_labels: Sequence[str] | None = None,
    scale: int = 1,
    title: str | None = None,
) -> np.ndarray:
    """Tile uint8 images [N, H, W, 3] into rows of `ncols`, with text labels above columns and left of rows.

    Args:
        images: N = rows·ncols tiles, row-major.
        ncols: tiles per row (the number of strengths).
        col_labels: one label per column (e.g. '-3.0'), written in a header band.
        row_labels: one label per row (e.g. 'seed 4'), written in a left band.
        scale: nearest-neighbour enlargement of each tile before labelling (text stays readable on small tiles).
        title: an optional line above the column labels.
    Returns:
        uint8 [H', W', 3].
    Raises:
        GanlensError: N not a multiple of ncols, or a label count that does not match.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8 or len(images) == 0:
        raise GanlensError(f"expected uint8 images [N, H, W, C], got {images.dtype} {list(images.shape)}")
    if ncols < 1 or len(images) % ncols:
        raise GanlensError(f"{len(images)} images do not fill rows of {ncols} (one column per strength)")
    nrows = len(images) // ncols
    if col_labels is not None and len(col_labels) != ncols:
        raise GanlensError(f"got {len(col_labels)} column labels for {ncols} columns")
    if row_labels is not None and len(row_labels) != nrows:
        raise GanlensError(f"got {len(row_labels)} row labels for {nrows} rows")
    if scale > 1:
        images = images.repeat(scale, axis=1).repeat(scale, axis=2)
    if images.shape[3] == 1:
        images = images.repeat(3, axis=3)
    body = make_grid(images, ncols=ncols, pad=PAD)
    font, size = label_font(), text_size
    line_h = size("-0.123456789Ag")[1] + 2 * TEXT_MARGIN
    top = (line_h if col_labels is not None else 0) + (line_h if title else 0)
    left = max((size(t)[0] for t in row_labels), default=0) + 2 * TEXT_MARGIN if row_labels is not None else 0
    width = max(left + body.shape[1], left + PAD + size(title)[0] + TEXT_MARGIN if title else 0)
    canvas = Image.new("RGB", (width, top + body.shape[0]), (255, 255, 255))
    canvas.paste(Image.fromarray(body), (left, top))
    draw = ImageDraw.Draw(canvas)
    tile_h, tile_w = images.shape[1], images.shape[2]
    if title:
        draw.text((left + PAD, TEXT_MARGIN), title, fill=(0, 0, 0), font=font)
    if col_labels is not None:
        y = top - line_h + TEXT_MARGIN
        for j, text in enumerate(col_labels):
            x = left + PAD + j * (tile_w + PAD) + (tile_w - size(text)[0]) // 2
            draw.text((x, y), text, fill=(0, 0, 0), font=font)
    if row_labels is not None:
        for i, text in enumerate(row_labels):
            y = top + PAD + i * (tile_h + PAD) + (tile_h - size(text)[1]) // 2
            draw.text((TEXT_MARGIN, y), text, fill=(0, 0, 0), font=font)
    return np.asarray(canvas, dtype=np.uint8)


def strength_labels(strengths: Sequence[float]) -> list[str]:
    """'+1.5', '0', '-3' style labels for strengths."""
    return ["0" if a == 0 else f"{a:+.3g}" for a in strengths]
