"""How the web renderer cuts a batch into generator passes (`ganlens.web.chunks`)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ganlens.web import Studio
from ganlens.web.chunks import ChunkPlanner


def taught(cost, sizes=(1, 2, 4, 8, 16)) -> ChunkPlanner:
    planner = ChunkPlanner()
    for s in sizes:
        planner.record(s, cost(s))
    return planner


def test_an_untimed_planner_cuts_n_into_its_binary_digits_without_padding() -> None:
    planner = ChunkPlanner()
    assert planner.plan(0) == []
    assert planner.plan(1) == [1]
    assert planner.plan(13) == [8, 4, 1]
    assert planner.plan(16) == [16]
    assert planner.plan(15) == [8, 4, 2, 1]


def test_a_planner_learns_the_cheapest_plan_from_the_passes_it_runs() -> None:
    true_cost = {1: 0.015, 2: 0.019, 4: 0.027, 8: 0.042, 16: 0.084}  # measured on the v2 network, bf16, 1 thread
    planner = ChunkPlanner()
    assert planner.plan(2) == [2]
    planner.record(1, true_cost[1])  # one timed size: still in proportion, not "1 + 1 is cheaper than 2"
    assert planner.plan(2) == [2] and planner.plan(7) == [4, 2, 1]
    for n in [1, 2, 4, 8, 16, 5, 7, 3, 12]:
        for s in planner.plan(n):
            planner.record(s, true_cost[s])
    assert [planner.plan(n) for n in (3, 7, 11, 13)] == [[4], [8], [8, 4], [16]]


def test_without_a_fixed_cost_per_pass_padding_never_pays() -> None:
    planner = taught(lambda s: 0.003 * s)
    for n in range(1, 17):
        plan = planner.plan(n)
        assert sum(plan) == n and [bin(s).count("1") for s in plan] == [1] * len(plan)
        assert len(plan) == bin(n).count("1")


def test_a_fixed_cost_per_pass_makes_padding_the_cheaper_plan() -> None:
    planner = taught(lambda s: 0.010 + 0.005 * s)  # the v2 network in bf16, roughly: two images' worth per pass
    assert planner.plan(7) == [8]  # 50 ms, against 4 + 2 + 1 in 65 ms
    assert planner.plan(15) == [16]
    assert planner.plan(9) == [8, 1]  # 65 ms, against 16 in 90 ms
    assert planner.plan(3) == [4]


def test_smoothing_follows_a_changing_cost_and_untimed_sizes_are_interpolated() -> None:
    planner = ChunkPlanner(smoothing=0.5)
    planner.record(1, 0.010)
    planner.record(1, 0.020)
    assert planner.cost(1) == pytest.approx(0.015)
    planner.record(16, 0.090)
    assert planner.cost(8) == pytest.approx(0.015 + 0.075 * 7 / 15)
    assert planner.cost(32) == pytest.approx(0.015 + 0.075 * 31 / 15)


def test_a_padded_pass_gives_each_code_its_own_image_and_scores() -> None:
    studio = replace(Studio.load("synthfaces64", sefa_num=0, guard=None), precision="fp32")
    codes = [studio.compose(studio.sample(seed, 0.7), {"attr:smile": s}, {})
             for seed, s in zip(range(5), np.linspace(-2, 2, 5))]
    alone = [studio.read_out([c])[0] for c in codes]
    for size, seconds in {1: 0.02, 2: 0.03, 4: 0.04, 8: 0.06}.items():
        studio.passes.record(size, seconds)
    assert studio.passes.plan(5) == [8]
    padded = studio.read_out(codes)
    assert studio.passes.cost(8) != 0.06  # the pass of 8 was timed
    for a, b in zip(alone, padded):
        assert np.abs(a.image.astype(int) - b.image.astype(int)).max() <= 1
        assert b.scores == pytest.approx(a.scores, rel=1e-3, abs=2e-3)
    assert len({b.image.tobytes() for b in padded}) == 5
