"""Small PIL charts for analysis results (no plotting library needed): labelled heat-maps and bar panels."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from ..errors import GanlensError
from ..io.text import label_font, text_size

WHITE, BLACK, GREY = (255, 255, 255), (0, 0, 0), (150, 150, 150)
NEG, POS = np.array([49, 99, 171]), np.array([189, 33, 48])  # blue / red ends of the colour scale


def _colour(v: float, vmin: float, vmax: float, diverging: bool) -> tuple[int, int, int]:
    if not np.isfinite(v):
        return (220, 220, 220)
    white = np.array(WHITE)
    if diverging:
        m = max(abs(vmin), abs(vmax), 1e-12)
        t = float(np.clip(v / m, -1, 1))
        end = POS if t > 0 else NEG
        c = white + (end - white) * abs(t)
    else:
        t = float(np.clip((v - vmin) / max(vmax - vmin, 1e-12), 0, 1))
        c = white + (POS - white) * t
    return tuple(int(round(x)) for x in c)


def heatmap(
    values: np.ndarray,
    rows: Sequence[str],
    cols: Sequence[str],
    title: str = "",
    diverging: bool | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    fmt: str = "{:.2f}",
    cell: tuple[int, int] = (44, 20),
    highlight_max: bool = False,
) -> np.ndarray:
    """A labelled heat-map picture (uint8 [H, W, 3]) with each cell's value written in it.

    Args:
        values: [R, C] numbers (NaN cells are grey).
        rows: R row labels (left); cols: C column labels (top, rotated).
        title: a line above the chart.
        diverging: blue–white–red around 0 (default when the values have both signs), else white–red.
        vmin, vmax: colour range (default: the data's).
        fmt: number format of the cell text.
        cell: cell width and height in pixels.
        highlight_max: outline the largest cell of each row.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape != (len(rows), len(cols)):
        raise GanlensError(f"heatmap values must be [{len(rows)}, {len(cols)}] for the labels given, got {list(v.shape)}")
    finite = v[np.isfinite(v)]
    lo = float(finite.min()) if vmin is None and finite.size else (vmin or 0.0)
    hi = float(finite.max()) if vmax is None and finite.size else (vmax or 1.0)
    if diverging is None:
        diverging = lo < 0 < hi
    cw, ch = cell
    margin = 6
    left = max(text_size(r)[0] for r in rows) + 2 * margin
    col_h = max(text_size(c)[0] for c in cols) + 2 * margin
    title_h = text_size(title or "A")[1] + 2 * margin if title else 0
    width = max(left + cw * len(cols) + margin, text_size(title)[0] + 2 * margin if title else 0)
    height = title_h + col_h + ch * len(rows) + margin
    img = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(img)
    font = label_font()
    if title:
        draw.text((margin, margin), title, fill=BLACK, font=font)
    top = title_h + col_h
    for j, c in enumerate(cols):  # rotated column labels
        tw, th = text_size(c)
        label = Image.new("RGB", (tw + 2, th + 4), WHITE)
        ImageDraw.Draw(label).text((0, 0), c, fill=BLACK, font=font)
        label = label.rotate(90, expand=True)
        img.paste(label, (left + j * cw + (cw - label.width) // 2, top - label.height - margin // 2))
    for i, r in enumerate(rows):
        draw.text((margin, top + i * ch + (ch - text_size(r)[1]) // 2), r, fill=BLACK, font=font)
        row_max = int(np.nanargmax(v[i])) if highlight_max and np.isfinite(v[i]).any() else -1
        for j in range(len(cols)):
            x0, y0 = left + j * cw, top + i * ch
            colour = _colour(v[i, j], lo, hi, diverging)
            draw.rectangle([x0, y0, x0 + cw - 1, y0 + ch - 1], fill=colour, outline=WHITE)
            if j == row_max:
                draw.rectangle([x0, y0, x0 + cw - 1, y0 + ch - 1], outline=BLACK, width=2)
            text = fmt.format(v[i, j]) if np.isfinite(v[i, j]) else "–"
            tw, th = text_size(text)
            dark = sum(colour) < 380
            draw.text((x0 + (cw - tw) // 2, y0 + (ch - th) // 2), text, fill=WHITE if dark else BLACK, font=font)
    return np.asarray(img, dtype=np.uint8)


def bar_panels(
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    title: str = "",
    width: int = 180,
    bar_h: int = 14,
    fmt: str = "{:.2f}",
    reference: dict[str, float] | None = None,
    limits: tuple[float, float] | None = None,
) -> np.ndarray:
    """Horizontal bar charts side by side, one panel per series, sharing the row labels (uint8 [H, W, 3]).

    Args:
        labels: one label per bar row.
        series: {panel title: values per label}.
        title: a line above the panels.
        width: bar area width of each panel.
        bar_h: row height.
        fmt: value format written after each bar.
        reference: optional {panel title: x} drawn as a dashed vertical line (e.g. a pass threshold).
        limits: (low, high) of the value axis shared by every panel, so panels compare at a glance (values
            outside are drawn at the edge, their numbers unchanged); default: 0 to each panel's largest value.
    """
    for name, vals in series.items():
        if len(vals) != len(labels):
            raise GanlensError(f"series {name!r} has {len(vals)} values for {len(labels)} labels")
    if limits is not None and not limits[0] < limits[1]:
        raise GanlensError(f"limits must be (low, high) with low < high, got {limits}")
    margin = 6
    left = max(text_size(lab)[0] for lab in labels) + 2 * margin
    num_w = text_size("-0.000")[0] + margin
    panel_w = width + num_w + 2 * margin
    head = text_size("A")[1] + 2 * margin
    title_h = head if title else 0
    canvas_w = max(left + panel_w * len(series), text_size(title)[0] + 2 * margin if title else 0)
    img = Image.new("RGB", (canvas_w, title_h + head + bar_h * len(labels) + margin), WHITE)
    draw = ImageDraw.Draw(img)
    font = label_font()
    if title:
        draw.text((margin, margin), title, fill=BLACK, font=font)
    for p, (name, vals) in enumerate(series.items()):
        vals = np.asarray(vals, dtype=np.float64)
        x0 = left + p * panel_w
        draw.text((x0, title_h + margin), name, fill=BLACK, font=font)
        if limits is None:
            lo, hi = min(0.0, float(np.nanmin(vals))), max(float(np.nanmax(vals)), 1e-12)
        else:
            lo, hi = limits
        scale = width / (hi - lo)
        zero = x0 + (min(max(0.0, lo), hi) - lo) * scale
        top = title_h + head
        for i, v in enumerate(vals):
            y = top + i * bar_h
            if p == 0:
                draw.text((margin, y + 1), labels[i], fill=BLACK, font=font)
            if np.isfinite(v):
                a, b = sorted((zero, x0 + (min(max(v, lo), hi) - lo) * scale))
                draw.rectangle([a, y + 2, max(b, a + 1), y + bar_h - 3], fill=tuple(POS if v >= 0 else NEG))
                draw.text((x0 + width + margin, y + 1), fmt.format(v), fill=BLACK, font=font)
        if reference and name in reference:
            xr = x0 + (reference[name] - lo) * scale
            for y in range(top, top + bar_h * len(labels), 6):
                draw.line([(xr, y), (xr, y + 3)], fill=GREY)
    return np.asarray(img, dtype=np.uint8)


SERIES_COLOURS = [(189, 33, 48), (49, 99, 171), (40, 140, 60), (230, 140, 20), (120, 60, 160), (90, 90, 90)]


def line_chart(
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    size: tuple[int, int] = (420, 240),
    reference: float | None = None,
    log_y: bool = False,
) -> np.ndarray:
    """Lines on shared axes, one per {name: (x, y)}, with a legend (uint8 [H, W, 3]); `reference` draws a dashed
    horizontal line (a bar to reach); `log_y` plots y on a log scale (positive values only)."""
    if not series:
        raise GanlensError("line_chart needs at least one series")
    pts = {}
    for name, (xs, ys) in series.items():
        xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
        if xs.shape != ys.shape:
            raise GanlensError(f"series {name!r}: {xs.size} x values for {ys.size} y values")
        keep = np.isfinite(xs) & np.isfinite(ys) & ((ys > 0) if log_y else True)
        pts[name] = (xs[keep], np.log10(ys[keep]) if log_y else ys[keep])
    all_x = np.concatenate([p[0] for p in pts.values()])
    all_y = np.concatenate([p[1] for p in pts.values()] + ([np.array([np.log10(reference) if log_y else reference])]
                                                           if reference is not None else []))
    if all_x.size == 0:
        raise GanlensError("line_chart: no finite points to draw")
    x_lo, x_hi = float(all_x.min()), float(max(all_x.max(), all_x.min() + 1e-12))
    y_lo, y_hi = float(all_y.min()), float(max(all_y.max(), all_y.min() + 1e-12))
    pad = 0.05 * (y_hi - y_lo)
    y_lo, y_hi = y_lo - pad, y_hi + pad
    margin, w, h = 8, size[0], size[1]
    left = text_size("-00000")[0] + 2 * margin
    title_h = text_size("A")[1] + 2 * margin
    legend_h = (text_size("A")[1] + 4) * len(pts) + margin
    bottom = 2 * (text_size("A")[1] + margin)
    img = Image.new("RGB", (left + w + 2 * margin, title_h + h + bottom + legend_h), WHITE)
    draw = ImageDraw.Draw(img)
    font = label_font()
    draw.text((margin, margin), title, fill=BLACK, font=font)

    def to_px(x: float, y: float) -> tuple[float, float]:
        return left + (x - x_lo) / (x_hi - x_lo) * w, title_h + h - (y - y_lo) / (y_hi - y_lo) * h

    draw.rectangle([left, title_h, left + w, title_h + h], outline=GREY)
    for frac in (0.0, 0.5, 1.0):
        yv = y_lo + frac * (y_hi - y_lo)
        label = f"{10 ** yv:.3g}" if log_y else f"{yv:.3g}"
        _, py = to_px(x_lo, yv)
        draw.text((margin, py - 5), label, fill=BLACK, font=font)
        xv = x_lo + frac * (x_hi - x_lo)
        px, _ = to_px(xv, y_lo)
        draw.text((px - text_size(f"{xv:.4g}")[0] / 2, title_h + h + 3), f"{xv:.4g}", fill=BLACK, font=font)
    draw.text((left + w / 2 - text_size(xlabel)[0] / 2, title_h + h + margin + 10), xlabel, fill=BLACK, font=font)
    if reference is not None:
        ry = np.log10(reference) if log_y else reference
        _, py = to_px(x_lo, ry)
        for x in range(int(left), int(left + w), 8):
            draw.line([(x, py), (x + 4, py)], fill=GREY)
    for i, (name, (xs, ys)) in enumerate(pts.items()):
        colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        coords = [to_px(x, y) for x, y in zip(xs, ys)]
        if len(coords) > 1:
            draw.line(coords, fill=colour, width=2)
        for cx, cy in coords if len(coords) <= 40 else []:
            draw.ellipse([cx - 2, cy - 2, cx + 2, cy + 2], fill=colour)
        ly = title_h + h + bottom + i * (text_size("A")[1] + 4)
        draw.rectangle([left, ly + 3, left + 14, ly + 7], fill=colour)
        draw.text((left + 20, ly), name + (f"  ({ylabel})" if ylabel and i == 0 else ""), fill=BLACK, font=font)
    return np.asarray(img, dtype=np.uint8)
