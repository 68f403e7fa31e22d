"""The yardsticks a trained generator is judged by: precision / recall in feature space, and the line charts of
its curves."""

from __future__ import annotations

import numpy as np
import pytest

from ganlens.analysis.plots import line_chart
from ganlens.errors import GanlensError
from ganlens.metrics.coverage import precision_recall


def test_precision_recall_tell_fidelity_from_coverage():
    rng = np.random.default_rng(0)
    real = rng.standard_normal((1500, 8))
    same = precision_recall(real, rng.standard_normal((1500, 8)))
    collapsed = precision_recall(real, 0.3 * rng.standard_normal((1500, 8)))  # all fakes in the bulk, no spread
    shifted = precision_recall(real, rng.standard_normal((1500, 8)) + 3)
    assert same["precision"] > 0.8 and same["recall"] > 0.8
    assert collapsed["precision"] > 0.95 and collapsed["recall"] < 0.1
    assert shifted["precision"] < 0.1 and shifted["recall"] < 0.1
    with pytest.raises(ValueError, match="one width"):
        precision_recall(real, real[:, :4])
    with pytest.raises(ValueError, match="more than 3 rows"):
        precision_recall(real[:3], real)


def test_line_chart_draws_each_series_in_its_colour():
    x = np.arange(10.0)
    img = line_chart({"a": (x, 100 / (1 + x)), "b": (x, 50 / (1 + x))}, title="t", xlabel="kimg", reference=10,
                     log_y=True)
    assert img.dtype == np.uint8 and img.ndim == 3
    colours = {tuple(c) for c in img.reshape(-1, 3)}
    assert (189, 33, 48) in colours and (49, 99, 171) in colours
    with pytest.raises(GanlensError, match="2 x values for 3"):
        line_chart({"a": ([1, 2], [1, 2, 3])})
