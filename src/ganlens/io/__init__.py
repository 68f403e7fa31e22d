"""Files and pictures: atomic writes, image conversion, grids."""

from .files import atomic_write_bytes, check_output_path
from .images import load_image, make_grid, save_image, to_uint8

__all__ = ["atomic_write_bytes", "check_output_path", "load_image", "make_grid", "save_image", "to_uint8"]
