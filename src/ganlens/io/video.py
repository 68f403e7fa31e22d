"""Animations: GIF with Pillow, MP4 with imageio-ffmpeg when it is installed."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import GanlensError
from .files import atomic_write_bytes

ANIMATION_SUFFIXES = (".gif", ".mp4")  # what `save_animation` writes


def save_animation(frames: np.ndarray, path: str | Path, fps: float = 15, scale: int = 1) -> Path:
    """Write uint8 frames [T, H, W, 3] as .gif (always available) or .mp4 (needs `pip install imageio-ffmpeg`)."""
    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.dtype != np.uint8 or len(frames) == 0:
        raise GanlensError(f"frames must be uint8 [T, H, W, 3] with T > 0, got {frames.dtype} {list(frames.shape)}")
    if scale != 1:
        frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    suffix = path.suffix.lower()
    if suffix == ".gif":
        pics = [Image.fromarray(f) for f in frames]
        buf = io.BytesIO()
        pics[0].save(buf, format="GIF", save_all=True, append_images=pics[1:], duration=int(1000 / fps), loop=0)
        return atomic_write_bytes(path, buf.getvalue())
    if suffix == ".mp4":
        try:
            import imageio_ffmpeg
        except ImportError:
            raise GanlensError("MP4 output needs imageio-ffmpeg (pip install imageio-ffmpeg); or write a .gif") from None
        tmp = path.with_name(f".{path.name}.tmp.mp4")
        h, w = frames.shape[1:3]
        writer = imageio_ffmpeg.write_frames(str(tmp), (w, h), fps=fps, macro_block_size=1, quality=8)
        writer.send(None)
        for f in frames:
            writer.send(np.ascontiguousarray(f))
        writer.close()
        tmp.replace(path)
        return path
    raise GanlensError(f"unsupported animation suffix {suffix!r} for {path}; use .gif or .mp4")
