"""Files and pictures: atomic writes, image conversion, grids."""

from .files import atomic_write_bytes, atomic_write_json, check_output_path, json_default
from .images import load_image, make_grid, save_image, to_uint8

__all__ = ["atomic_write_bytes", "atomic_write_json", "check_output_path", "json_default", "load_image", "make_grid", "save_image", "to_uint8"]
