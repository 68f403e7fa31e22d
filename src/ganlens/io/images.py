"""Image conversion, grids and image files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import GanlensError, ShapeError
from .files import atomic_write_bytes

# Pillow's default bomb limit is ~89 Mpx; images for a GAN never need more than this.
MAX_IMAGE_PIXELS = 64_000_000
# What `save_image` writes, by suffix (for `check_output_path(..., suffixes=IMAGE_SUFFIXES)` before the work).
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
IMAGE_SUFFIXES = tuple(IMAGE_FORMATS)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Generator output [N, C, H, W] in [-1, 1] → uint8 [N, H, W, C] (clipped, rounded)."""
    if images.ndim != 4:
        raise ShapeError(f"expected images [N, C, H, W], got shape {list(images.shape)}")
    x = (images.detach().float().cpu().permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255)
    return x.to(torch.uint8).numpy()


def from_uint8(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W, C] → float [N, C, H, W] in [-1, 1] (the inverse of `to_uint8` up to rounding)."""
    a = np.asarray(images)
    if a.ndim != 4 or a.dtype != np.uint8:
        raise ShapeError(f"expected uint8 images [N, H, W, C], got {a.dtype} {list(a.shape)}")
    if not a.flags.writeable:  # torch.from_numpy warns on read-only arrays (e.g. decoded by PIL)
        a = a.copy()
    return torch.from_numpy(a).permute(0, 3, 1, 2).float() / 127.5 - 1


def make_grid(images: np.ndarray, ncols: int | None = None, pad: int = 2, pad_value: int = 255) -> np.ndarray:
    """Tile uint8 images [N, H, W, C] into one uint8 picture, `ncols` per row (default: near-square)."""
    images = np.asarray(images)
    if images.ndim != 4 or len(images) == 0:
        raise ShapeError(f"expected a non-empty batch [N, H, W, C], got shape {list(images.shape)}")
    n, h, w, c = images.shape
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), pad_value, dtype=np.uint8)
    for i, img in enumerate(images):
        r, q = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        grid[y : y + h, x : x + w] = img
    return grid


def save_image(image: np.ndarray, path: str | Path, scale: int = 1) -> Path:
    """Write a uint8 [H, W, C] picture (PNG/JPEG by suffix) atomically; `scale` enlarges with nearest neighbours."""
    path = Path(path)
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    pil = Image.fromarray(img)
    if scale != 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)
    fmt = IMAGE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise GanlensError(f"unsupported image suffix {path.suffix!r} for {path}; use .png, .jpg or .webp")
    buf = io.BytesIO()
    pil.save(buf, format=fmt)
    return atomic_write_bytes(path, buf.getvalue())


def probe_image(path: str | Path) -> tuple[int, int]:
    """(width, height) of an image file from its header alone (nothing is decoded): the checks of `load_image`
    that need no pixels, so a batch of files can be vetted before any work starts.

    Raises:
        GanlensError: missing, not an image Pillow reads, too large or too small (the message says which).
    """
    path = Path(path)
    if not path.exists():
        raise GanlensError(f"image not found: {path}")
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with Image.open(path) as im:
            size = im.size
    except Image.DecompressionBombError as exc:
        raise GanlensError(f"{path}: image is too large (limit {MAX_IMAGE_PIXELS} pixels); refused as a possible "
                           f"decompression bomb ({exc})") from exc
    except Exception as exc:
        raise GanlensError(f"cannot read image {path}: {exc}") from exc
    _check_size(path, *size)
    return size


def _check_size(path: Path, width: int, height: int) -> None:
    """Refuse an image too large (a possible decompression bomb) or too small to be worth inverting."""
    if width * height > MAX_IMAGE_PIXELS:
        raise GanlensError(f"{path}: {width}x{height} is too large (limit {MAX_IMAGE_PIXELS} pixels)")
    if width < 2 or height < 2:
        raise GanlensError(f"{path}: {width}x{height} is too small to be an image worth inverting")


def load_image(path: str | Path, size: int | None = None) -> np.ndarray:
    """Read any Pillow-readable image as uint8 RGB [H, W, 3], optionally resized to size x size.

    Grey, palette, RGBA and 16-bit inputs are converted to 8-bit RGB (alpha composited on white).
    """
    path = Path(path)
    if not path.exists():
        raise GanlensError(f"image not found: {path}")
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with Image.open(path) as im:
            _check_size(path, im.width, im.height)
            im.load()
            pil = _to_rgb(im)
    except GanlensError:
        raise
    except Image.DecompressionBombError as exc:
        raise GanlensError(f"{path}: image is too large (limit {MAX_IMAGE_PIXELS} pixels); refused as a possible "
                           f"decompression bomb ({exc})") from exc
    except Exception as exc:
        raise GanlensError(f"cannot read image {path}: {exc}") from exc
    if size is not None and pil.size != (size, size):
        pil = pil.resize((size, size), Image.LANCZOS)
    return np.asarray(pil, dtype=np.uint8)


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if a.max() > 255 else 255.0
        im = Image.fromarray((a / hi * 255).round().astype(np.uint8))
    if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    return im.convert("RGB")
