"""Deterministic renderer of cartoon faces from a factor vector (PIL, anti-aliased by super-sampling).

The head (hair, ears, face and everything on it) is drawn on its own layer so the light factor can shade the head
alone; the background stays flat so its colour remains readable. Every factor stays visible whatever the others
are: lenses are transparent, the mouth is drawn over the beard, sideburns and eyebrows show the hair colour under
a hat, and the light gradient is mild so it cannot be mistaken for a change of skin tone.

The renderer also knows where it draws each part: `render_parts` returns, beside the image, one coverage mask per
part (`PARTS`), from a label image drawn with the same shapes in the same order (so a part hidden under a later
one, such as the hair behind the face, is not counted where it is hidden).
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from ..errors import ShapeError
from .factors import FACTORS, INDEX

BG_RAMP = np.array([[40, 150, 160], [125, 75, 165], [235, 145, 55]], dtype=np.float64)
SKIN_RAMP = np.array([[252, 224, 200], [205, 152, 112], [105, 66, 42]], dtype=np.float64)
HAIR_RAMP = np.array([[28, 24, 22], [115, 70, 35], [232, 200, 120]], dtype=np.float64)
GREY = np.array([200, 200, 200], dtype=np.float64)
HAT = (150, 30, 45)
DARK = (35, 25, 30)


# Regions a person would name, in label order (0 = background). Eyebrows and glasses belong to "eyes"; ears, nose,
# wrinkles and the skin patch kept around the mouth on a beard belong to "face".
PARTS = ("background", "hair", "face", "eyes", "mouth", "beard", "hat")
_LABEL = {name: i for i, name in enumerate(PARTS)}
# Where each factor shows: the parts a person would look at to see it change (yaw, face size and light move the
# whole head; the colours have one part each).
FACTOR_REGIONS: dict[str, tuple[str, ...]] = {
    "yaw": ("hair", "face", "eyes", "mouth", "beard", "hat"), "face_size": ("hair", "face", "eyes", "mouth", "beard", "hat"),
    "hair_length": ("hair",), "glasses": ("eyes",), "beard": ("beard",), "hat": ("hat",), "smile": ("mouth",),
    "age": ("face", "hair", "eyes"), "eye_open": ("eyes",), "background": ("background",), "skin_tone": ("face",),
    "hair_color": ("hair", "beard", "eyes"), "light": ("hair", "face", "eyes", "mouth", "beard", "hat"),
}


class _Canvas:
    """ImageDraw on the head layer that, when labels are wanted, draws every shape a second time into a label image
    with the current part's id instead of its colours."""

    def __init__(self, layer: Image.Image, labels: Image.Image | None) -> None:
        self.draw = ImageDraw.Draw(layer)
        self.labels = None if labels is None else ImageDraw.Draw(labels)
        self.part = "face"

    def __getattr__(self, method: str):
        def call(*args, **kwargs):
            getattr(self.draw, method)(*args, **kwargs)
            if self.labels is not None:
                ids = {k: _LABEL[self.part] for k in ("fill", "outline") if kwargs.get(k) is not None}
                getattr(self.labels, method)(*args, **{**kwargs, **ids})
        return call


def _ramp(stops: np.ndarray, t: float) -> np.ndarray:
    t = float(np.clip(t, 0, 1)) * (len(stops) - 1)
    i = min(int(t), len(stops) - 2)
    return stops[i] + (stops[i + 1] - stops[i]) * (t - i)


def _rgb(c: np.ndarray) -> tuple[int, int, int]:
    return tuple(int(round(v)) for v in np.clip(c, 0, 255))


def render(factors: np.ndarray, size: int = 64, supersample: int = 2) -> np.ndarray:
    """Render one face: factor vector [13] (FACTORS order) → uint8 [size, size, 3]. Pure and deterministic."""
    return _draw(factors, size, supersample, with_parts=False)[0]


def render_parts(factors: np.ndarray, size: int = 64, supersample: int = 2) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One face and where each part is: (uint8 [size, size, 3], {part: float32 [size, size] coverage in [0, 1]}).

    The coverages of all `PARTS` sum to 1 at every pixel; a part that is not drawn (no hat, no beard) is all zero.
    """
    return _draw(factors, size, supersample, with_parts=True)


def _draw(factors: np.ndarray, size: int, supersample: int, with_parts: bool
          ) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
    f = np.asarray(factors, dtype=np.float64)
    if f.shape != (len(FACTORS),):
        raise ShapeError(f"expected a factor vector of shape [{len(FACTORS)}], got {list(f.shape)}")
    v = {name: f[i] for name, i in INDEX.items()}
    S = size * supersample
    u = S / 128.0  # drawing unit: the geometry below is designed on a 128 px canvas

    yaw, age = v["yaw"], v["age"]
    skin = _ramp(SKIN_RAMP, v["skin_tone"])
    grey_mix = np.clip((age - 0.45) * 1.3, 0, 0.65)
    hair = _ramp(HAIR_RAMP, v["hair_color"]) * (1 - grey_mix) + GREY * grey_mix

    cx = S / 2 + yaw * 5 * u
    cy = S * 0.56
    rx = (26 + 9 * v["face_size"]) * u * (1 - 0.16 * abs(yaw))
    ry = (32 + 10 * v["face_size"]) * u
    fx = cx + yaw * rx * 0.42  # where the features sit: they slide towards the turned side

    layer = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    labels = Image.new("L", (S, S), 0) if with_parts else None
    d = _Canvas(layer, labels)
    hair_c, skin_c = _rgb(hair), _rgb(skin)

    # Hair behind the head: length sets how far it falls.
    d.part = "hair"
    top = cy - ry * 1.08
    bottom = cy - ry * 0.35 + v["hair_length"] * ry * 1.45
    d.rounded_rectangle([cx - rx * 1.13, top, cx + rx * 1.13, max(bottom, cy - ry * 0.2)], radius=rx * 0.9, fill=hair_c)
    # Ears (the far one hides as the head turns).
    d.part = "face"
    ear_w, ear_h = 6 * u, 10 * u
    for side in (-1, 1):
        vis = 1 - max(0.0, side * -yaw) * 0.9
        ex = cx + side * rx * 0.98
        d.ellipse([ex - ear_w * vis, cy - ear_h, ex + ear_w * vis, cy + ear_h], fill=_rgb(skin * 0.92))
    # Face.
    d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=skin_c)
    # Fringe / hair cap and sideburns (always some hair colour in view).
    d.part = "hair"
    d.chord([cx - rx * 1.02, cy - ry * 1.1, cx + rx * 1.02, cy - ry * 0.05], 180, 360, fill=hair_c)
    for side in (-1, 1):
        sx = cx + side * rx * 0.97
        d.rectangle([sx - 2.5 * u, cy - ry * 0.5, sx + 2.5 * u, cy - ry * 0.12], fill=hair_c)

    # Wrinkles: more and darker lines with age.
    d.part = "face"
    wr = _rgb(skin * (1 - 0.35 * age))
    n_lines = int(round(age * 3))
    for k in range(n_lines):
        y = cy - ry * 0.42 + k * 4.5 * u
        d.arc([fx - rx * 0.45, y - 3 * u, fx + rx * 0.45, y + 3 * u], 200, 340, fill=wr, width=max(1, int(1.6 * u)))
    if age > 0.5:
        for side in (-1, 1):
            ex = fx + side * rx * 0.68
            d.line([ex, cy - ry * 0.12, ex + side * 4 * u, cy - ry * 0.18], fill=wr, width=max(1, int(1.4 * u)))
            d.line([ex, cy - ry * 0.06, ex + side * 4 * u, cy - ry * 0.02], fill=wr, width=max(1, int(1.4 * u)))

    # Beard (before the mouth so the mouth stays visible).
    if v["beard"] > 0.5:
        d.part = "beard"
        d.chord([cx - rx * 0.98, cy - ry * 0.35, cx + rx * 0.98, cy + ry * 1.02], 10, 170, fill=hair_c)
        d.polygon([(cx - rx * 0.95, cy + ry * 0.12), (cx + rx * 0.95, cy + ry * 0.12),
                   (cx + rx * 0.8, cy + ry * 0.55), (cx - rx * 0.8, cy + ry * 0.55)], fill=hair_c)

    if v["beard"] > 0.5:  # keep a patch of skin around the mouth so the smile stays readable on any beard
        my0, mw0 = cy + ry * 0.45, rx * 0.55
        d.part = "face"
        d.ellipse([fx - mw0, my0 - 8 * u, fx + mw0, my0 + 8 * u], fill=skin_c)

    # Eyes: white, eyelid opening, pupil; eyebrows in hair colour.
    d.part = "eyes"
    eye_dx = rx * 0.4 * (1 - 0.2 * abs(yaw))
    ey = cy - ry * 0.1
    ew = 6.5 * u
    eh = (1.2 + 5.3 * v["eye_open"]) * u
    for side in (-1, 1):
        ex = fx + side * eye_dx
        d.ellipse([ex - ew, ey - eh, ex + ew, ey + eh], fill=(250, 250, 250))
        pr = min(eh, 3.2 * u)
        px = ex + yaw * 2 * u
        d.ellipse([px - 3.2 * u, ey - pr, px + 3.2 * u, ey + pr], fill=DARK)
        d.line([ex - ew * 1.1, ey - 11 * u, ex + ew * 1.1, ey - 11.5 * u], fill=hair_c, width=max(1, int(3.2 * u)))
    # Nose.
    d.part = "face"
    d.line([fx + yaw * 3 * u, ey + 4 * u, fx + yaw * 6 * u, cy + ry * 0.22], fill=_rgb(skin * 0.72), width=max(1, int(2 * u)))
    # Mouth: a thick polyline whose curvature is the smile.
    d.part = "mouth"
    my = cy + ry * 0.45
    mw = rx * 0.42
    pts = []
    for t in np.linspace(-1, 1, 13):
        pts.append((fx + t * mw, my + v["smile"] * 7 * u * (1 - t * t) - v["smile"] * 2 * u))
    d.line(pts, fill=(150, 35, 45), width=max(1, int(3.2 * u)), joint="curve")

    # Glasses: two round frames and a bridge; lenses stay clear.
    if v["glasses"] > 0.5:
        d.part = "eyes"
        gr = 9.5 * u
        for side in (-1, 1):
            ex = fx + side * eye_dx
            d.ellipse([ex - gr, ey - gr, ex + gr, ey + gr], outline=DARK, width=max(1, int(2.2 * u)))
        d.line([fx - eye_dx + gr, ey, fx + eye_dx - gr, ey], fill=DARK, width=max(1, int(2.2 * u)))

    # Hat: crown over the top of the head and a brim.
    if v["hat"] > 0.5:
        d.part = "hat"
        d.chord([cx - rx * 1.1, cy - ry * 1.35, cx + rx * 1.1, cy - ry * 0.1], 180, 360, fill=HAT)
        d.rounded_rectangle([cx - rx * 1.25, cy - ry * 0.75, cx + rx * 1.25, cy - ry * 0.6], radius=2 * u, fill=_rgb(np.array(HAT) * 0.75))

    # Light: a mild left-right brightness gradient on the head layer only.
    head = np.asarray(layer, dtype=np.float64)
    xs = (np.arange(S) - cx) / (rx * 1.2)
    gain = 1 + 0.22 * v["light"] * np.clip(xs, -1.3, 1.3)
    rgb = head[..., :3] * gain[None, :, None]
    alpha = head[..., 3:4] / 255
    bg = _ramp(BG_RAMP, v["background"])
    img = rgb * alpha + bg[None, None, :] * (1 - alpha)
    out = Image.fromarray(np.clip(img + 0.5, 0, 255).astype(np.uint8))
    if supersample > 1:
        out = out.resize((size, size), Image.BOX)
    image = np.asarray(out, dtype=np.uint8)
    if labels is None:
        return image, None
    lab = np.asarray(labels)
    # Coverage = the share of each pixel's super-samples carrying the label (exact, unlike an 8-bit resize).
    return image, {name: (lab == k).reshape(size, supersample, size, supersample).mean(axis=(1, 3), dtype=np.float32)
                   for name, k in _LABEL.items()}


def part_masks(factors: np.ndarray, size: int = 64) -> dict[str, np.ndarray]:
    """Part coverages of many faces: [n, 13] → {part: float32 [n, size, size]}."""
    factors = np.asarray(factors, dtype=np.float32)
    if factors.ndim != 2 or factors.shape[1] != len(FACTORS):
        raise ShapeError(f"expected factors of shape [n, {len(FACTORS)}], got {list(factors.shape)}")
    masks = [render_parts(f, size)[1] for f in factors]
    return {p: np.stack([m[p] for m in masks]) if masks else np.zeros((0, size, size), np.float32) for p in PARTS}


def region_mask(masks: dict[str, np.ndarray], factor: str) -> np.ndarray:
    """The union of the parts where `factor` shows ([n, size, size] in [0, 1])."""
    if factor not in FACTOR_REGIONS:
        raise ShapeError(f"unknown factor {factor!r}; factors: {', '.join(FACTOR_REGIONS)}")
    return np.clip(sum(masks[p] for p in FACTOR_REGIONS[factor]), 0, 1)


def _render_chunk(args: tuple[np.ndarray, int]) -> np.ndarray:
    factors, size = args
    return np.stack([render(f, size) for f in factors]) if len(factors) else np.zeros((0, size, size, 3), np.uint8)


def render_batch(factors: np.ndarray, size: int = 64, progress: bool = False, workers: int | None = None) -> np.ndarray:
    """Render many faces: [n, 13] → uint8 [n, size, size, 3]; large batches use several processes."""
    factors = np.asarray(factors, dtype=np.float32)
    if factors.ndim != 2 or factors.shape[1] != len(FACTORS):
        raise ShapeError(f"expected factors of shape [n, {len(FACTORS)}], got {list(factors.shape)}")
    n = len(factors)
    workers = workers or min(os.cpu_count() or 1, 16)
    chunk = 500
    chunks = [(factors[i : i + chunk], size) for i in range(0, n, chunk)]
    bar = tqdm(total=n, disable=not progress, desc="render", unit="img")
    parts = []
    if workers > 1 and n >= 4 * chunk:
        with ProcessPoolExecutor(workers) as pool:
            for part in pool.map(_render_chunk, chunks):
                parts.append(part)
                bar.update(len(part))
    else:
        for c in chunks:
            parts.append(_render_chunk(c))
            bar.update(len(parts[-1]))
    bar.close()
    return np.concatenate(parts) if parts else np.zeros((0, size, size, 3), np.uint8)
