"""A tiny image scorer for tests of directions, editing and analysis (used in-process and as `module:function`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganlens.scorers import AttributeInfo, CallableScorer, Scorer, to_unit_float

ATTRIBUTES = (
    AttributeInfo("brightness", "continuous", -1, 1),
    AttributeInfo("redness", "continuous", -1, 1),
    AttributeInfo("left_right", "continuous", -1, 1),
    AttributeInfo("bright", "binary"),
)


def image_stats(images: np.ndarray) -> dict[str, np.ndarray]:
    """Simple image statistics of uint8 [N, H, W, 3] pictures, each a function the generator can change."""
    x = images.astype(np.float64) / 127.5 - 1
    w = x.shape[2]
    brightness = x.mean(axis=(1, 2, 3))
    return {
        "brightness": brightness,
        "redness": x[..., 0].mean(axis=(1, 2)) - x[..., 1:].mean(axis=(1, 2, 3)),
        "left_right": x[:, :, : w // 2].mean(axis=(1, 2, 3)) - x[:, :, w // 2 :].mean(axis=(1, 2, 3)),
        "bright": 20 * brightness,  # a logit
    }


image_stats.attributes = ATTRIBUTES


def make_scorer() -> CallableScorer:
    """A zero-argument factory, the other accepted form of a `module:function` scorer."""
    return CallableScorer(image_stats, ATTRIBUTES)


class TensorStatsScorer(Scorer):
    """`image_stats` computed on float tensors, so gradients flow through it (a differentiable scorer)."""

    attributes = ATTRIBUTES

    def score_tensor(self, images: torch.Tensor) -> torch.Tensor:
        w = images.shape[-1]
        brightness = images.mean(dim=(1, 2, 3))
        return torch.stack([
            brightness,
            images[:, 0].mean(dim=(1, 2)) - images[:, 1:].mean(dim=(1, 2, 3)),
            images[..., : w // 2].mean(dim=(1, 2, 3)) - images[..., w // 2 :].mean(dim=(1, 2, 3)),
            20 * brightness,
        ], dim=1)

    @torch.no_grad()
    def _score_batch(self, images) -> dict[str, np.ndarray]:
        s = self.score_tensor(to_unit_float(images)).numpy()
        return {a: s[:, i] for i, a in enumerate(self.names)}


# A fixture of the semantics tests (import it by name into a test module to use it; the generator they share is
# conftest.py's `G`).
@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: on a shared 2-core machine, two spinning threads are many times slower for tiny batches."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
