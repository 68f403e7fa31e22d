"""The shipped synthfaces64: it loads offline, carries its provenance, and its samples look like the domain
to the shipped predictors (a behavioural check, not a checksum)."""

from __future__ import annotations

import numpy as np
import pytest

import ganlens
from ganlens.scorers import load_scorer


@pytest.fixture(scope="module")
def scores():
    G = ganlens.load("synthfaces64")
    return load_scorer("synthfaces64")(G.render(G.sample(200, seed=0)))


def test_loads_with_provenance():
    G = ganlens.load("synthfaces64")
    assert (G.img_resolution, G.num_ws, G.z_dim) == (64, 10, 128)
    p = G.provenance
    assert p["dataset"]["domain"] == "synthfaces" and p["training"]["kimg"] > 1000 and "hardware" in p


def test_every_binary_attribute_appears_at_a_plausible_rate(scores):
    # Data rates are glasses 35 %, beard 18 %, hat 20 %; the GAN must produce each, neither never nor always.
    for name, lo, hi in (("glasses", 0.1, 0.5), ("beard", 0.05, 0.35), ("hat", 0.08, 0.35)):
        rate = float((scores[name] > 0).mean())
        assert lo <= rate <= hi, (name, rate)


def test_continuous_factors_vary_across_samples(scores):
    for name in ("yaw", "smile", "age", "background", "skin_tone", "hair_color", "light"):
        assert np.std(scores[name]) > 0.1, name
