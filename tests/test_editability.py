"""The visible-edit measure: what counts as a change a person sees, and that it separates edits on the model."""

from __future__ import annotations

import numpy as np

import ganlens
from ganlens.analysis.editability import measure_visible, read_changes, visible_change, visible_edit_share
from ganlens.directions.bundled import load_bundled
from ganlens.scorers.base import AttributeInfo, CallableScorer

SCORER = CallableScorer(lambda x: {}, [AttributeInfo("glasses", "binary"), AttributeInfo("smile", "continuous", -1, 1)])


def test_binary_rule_needs_the_attribute_to_appear_or_vanish():
    logit = lambda p: np.log(np.asarray(p) / (1 - np.asarray(p)))  # noqa: E731
    before, after = {"glasses": logit([0.1, 0.1, 0.7, 0.4])}, {"glasses": logit([0.6, 0.45, 0.9, 0.51])}
    eligible, visible = visible_change(SCORER, "glasses", before, after)
    assert eligible.tolist() == [True, True, False, True]
    assert visible.tolist() == [True, False, True, True]
    eligible, visible = visible_change(SCORER, "glasses", after, before, sign=-1)
    assert eligible.tolist() == [True, False, True, True] and visible.tolist() == [True, True, False, True]


def test_continuous_rule_needs_room_and_a_move_of_15_percent_of_the_range():
    before = {"smile": np.array([-0.9, 0.5, 0.7, 0.0])}  # range 2: room below 0.6, a visible move is >= 0.3
    after = {"smile": np.array([-0.5, 0.75, 1.0, 0.2])}
    eligible, visible = visible_change(SCORER, "smile", before, after)
    assert eligible.tolist() == [True, True, False, True]
    assert visible.tolist() == [True, False, True, False]
    eligible, _ = visible_change(SCORER, "smile", before, after, sign=-1)
    assert eligible.tolist() == [False, True, True, True]


def test_one_image_change_is_visible_only_when_every_reader_sees_it():
    guard = CallableScorer(lambda x: {}, [AttributeInfo("smile", "continuous", -1, 1)])  # reads smile only
    readers = {"main": SCORER, "guard": guard}
    before = {"main": {"glasses": -2.0, "smile": -0.5}, "guard": {"smile": -0.4}}
    after = {"main": {"glasses": 2.0, "smile": 0.0}, "guard": {"smile": -0.3}}
    out = read_changes(readers, before, after)
    assert out["glasses"] == {"way": "up", "visible": True, "readers": {"main": True}}  # the guard cannot read it
    assert out["smile"] == {"way": "up", "visible": False, "readers": {"main": True, "guard": False}}
    after["guard"]["smile"] = 0.1
    assert read_changes(readers, before, after)["smile"]["visible"]
    assert read_changes(readers, before, before) == {}  # nothing moved
    down = read_changes(readers, after, before)
    assert down["glasses"]["way"] == "down" and down["glasses"]["visible"]


def test_share_is_high_for_a_strong_edit_and_near_zero_for_a_tiny_one():
    G = ganlens.load("synthfaces64")
    readers = ["synthfaces64", "synthfaces64-independent"]
    strong = visible_edit_share(G, "age", readers, strength=3.0, fit_samples=600, test_samples=80)
    # The tiny edit along the shipped age boundary: a second fit would cost as much as the rest of the test.
    fresh = G.sample(80, seed=1, space="w")
    tiny = measure_visible(G, fresh, load_bundled(G.name)["age"], "age", readers, strength=0.05)
    assert strong.eligible > 20 and strong.share > 0.6, strong
    assert tiny.share < 0.1, tiny
    assert set(strong.per_predictor) == {"synthfaces64", "synthfaces64-independent"}
    assert strong.sigma > 0
