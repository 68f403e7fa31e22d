"""The shipped synthfaces64: it loads offline, carries its provenance, and its samples look like the domain
to the shipped predictors (a behavioural check, not a checksum)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

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


def test_shipped_direction_sets_resolve_by_name():
    from ganlens.directions import load_bundled, resolve_direction
    from ganlens.edit import resolve_layers
    from ganlens.errors import GanlensError

    boundaries, gradients = load_bundled("synthfaces64"), load_bundled("synthfaces64", "gradient")
    assert set(gradients) == set(boundaries) and len(gradients) == 13
    assert resolve_direction("smile", "synthfaces64").method == "svm"
    smile = resolve_direction("gradient:smile", "synthfaces64")
    assert smile.method == "gradient" and smile.scale == 1.0
    assert tuple(smile.layers) == resolve_layers(smile.provenance["layer_range"], 10)
    with pytest.raises(GanlensError, match="unknown set 'svm'"):
        resolve_direction("svm:smile", "synthfaces64")
    with pytest.raises(GanlensError, match="not a shipped gradient direction.*sets: boundary, gradient"):
        resolve_direction("gradient:moustache", "synthfaces64")


@pytest.mark.parametrize("attribute", ["glasses", "eye_open"])
def test_shipped_gradient_directions_edit_fresh_samples(attribute):
    # The two attributes the shipped boundaries edit worst (+3 raises them for 0.84 / 0.74 of samples): the
    # layer-wise gradient directions raise them for nearly every fresh sample, moving only their own layers.
    from ganlens.directions import resolve_direction
    from ganlens.edit import move

    G, scorer = ganlens.load("synthfaces64"), load_scorer("synthfaces64")
    d = resolve_direction(f"gradient:{attribute}", "synthfaces64")
    codes = G.sample(24, seed=11, space="w")
    edited = move(codes, d, [3.0], num_ws=G.num_ws)
    before, after = scorer(G.render(codes))[attribute], scorer(G.render(edited))[attribute]
    assert (after > before).sum() >= 22, (attribute, after - before)
    untouched = [i for i in range(G.num_ws) if i not in d.layers]
    assert torch.equal(edited.tensor[:, untouched], codes.to_wplus(G.num_ws).tensor[:, untouched])
