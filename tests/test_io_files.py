"""Safe file writing: JSON with NumPy values, atomic replace, no partial files."""

import json
import os

import numpy as np
import pytest

from ganlens.io import atomic_write_json, check_output_path
from ganlens.errors import GanlensError


def test_atomic_write_json_converts_numpy_and_replaces(tmp_path):
    path = tmp_path / "sub" / "r.json"
    atomic_write_json(path, {"a": np.float32(0.5), "b": np.arange(3), "c": (1, 2), "d": np.bool_(True)})
    assert json.loads(path.read_text()) == {"a": 0.5, "b": [0, 1, 2], "c": [1, 2], "d": True}
    assert path.read_text().endswith("\n")
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o666 & ~_umask())  # not mkstemp's 0600
    atomic_write_json(path, {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]  # no temporary file left beside it


def test_failed_json_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "r.json"
    atomic_write_json(path, {"kept": True})
    loop: dict = {}
    loop["self"] = loop
    with pytest.raises(ValueError):
        atomic_write_json(path, loop)
    assert json.loads(path.read_text()) == {"kept": True}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_check_output_path_refuses_silent_overwrite(tmp_path):
    f = tmp_path / "x.png"
    f.write_bytes(b"mine")
    with pytest.raises(GanlensError, match="already exists"):
        check_output_path(f)
    assert check_output_path(f, overwrite=True) == f
    with pytest.raises(GanlensError, match="is a directory"):
        check_output_path(tmp_path, overwrite=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
