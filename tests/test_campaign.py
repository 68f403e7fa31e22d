"""benchmarks/campaign.py's shipping gate: a snapshot becomes the bundled synthfaces64 only when the quality measured
on those very weights holds issue 35's bar (or with --anyway, recorded)."""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
from pathlib import Path

import pytest

import ganlens
from ganlens.models.native import save_generator

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
import campaign  # noqa: E402

PASSING = {
    "fid": 21.5, "fid_n": 5000, "all_coverage_pass": True, "all_correlations_pass": False,
    "coverage": {"glasses": {"kind": "binary", "pass": True}, "hair_length": {"kind": "continuous", "pass": True}},
    "synthesis_speed": {"batch1_ms": 9.2},
}


def test_bar_names_each_shortfall():
    assert campaign.bar_failures(PASSING) == []
    worse = copy.deepcopy(PASSING)
    worse["fid"], worse["synthesis_speed"]["batch1_ms"] = 31.0, 12.5
    worse["all_coverage_pass"], worse["coverage"]["hair_length"]["pass"] = False, False
    failures = " | ".join(campaign.bar_failures(worse))
    assert "FID 31.0 > 25" in failures and "hair_length" in failures and "glasses" not in failures
    assert "12.5 ms > 10 ms" in failures
    small = {**PASSING, "fid_n": 1000}
    assert "no FID on >= 5000" in campaign.bar_failures(small)[0]
    assert {"no speed part", "no coverage part"} <= set(campaign.bar_failures({"fid": 10, "fid_n": 5000}))


@pytest.fixture
def snapshot(tmp_path: Path, tiny_G) -> Path:
    G = copy.deepcopy(tiny_G)
    G.name = "synthfaces64-v2"
    return save_generator(G, tmp_path / "snapshot-000012.00kimg.safetensors",
                          provenance={"training": {"kimg": 12.0, "wall_time_s": 60.0}})


def quality_of(path: Path, snapshot: Path, **changes) -> Path:
    digest = hashlib.sha256(snapshot.read_bytes()).hexdigest()
    doc = {**PASSING, **changes, "provenance_by_part": {"fid": {"generators": {str(snapshot): digest}},
                                                          "speed": {"generators": {str(snapshot): digest}}}}
    path.write_text(json.dumps(doc))
    return path


def ship(snapshot: Path, quality: Path, to: Path, anyway: bool = False) -> None:
    campaign.ship(argparse.Namespace(snapshot=str(snapshot), quality=str(quality), to=str(to), anyway=anyway))


def test_ship_installs_the_snapshot_as_synthfaces64_with_its_provenance(tmp_path, snapshot):
    dest = tmp_path / "assets" / "synthfaces64.safetensors"
    dest.parent.mkdir()
    ship(snapshot, quality_of(tmp_path / "q.json", snapshot), dest)
    G, orig = ganlens.load(str(dest)), ganlens.load(str(snapshot))
    assert G.name == "synthfaces64"
    for a, b in zip(G.state_dict().values(), orig.state_dict().values()):
        assert (a == b).all()
    meta = G.provenance
    assert meta["training"]["kimg"] == 12.0 and meta["metrics"]["fid"] == 21.5 and meta["metrics"]["bar_failures"] == []
    assert meta["recipe"]["options"] == campaign.recipe()["options"]


def test_ship_refuses_below_the_bar_or_for_other_weights_and_records_an_override(tmp_path, snapshot, tiny_G):
    dest = tmp_path / "synthfaces64.safetensors"
    below = quality_of(tmp_path / "q.json", snapshot, fid=40.0)
    with pytest.raises(SystemExit, match="FID 40.0 > 25"):
        ship(snapshot, below, dest)
    assert not dest.exists()
    other = save_generator(tiny_G, tmp_path / "other.safetensors")
    with pytest.raises(SystemExit, match="measured other weights"):
        ship(other, quality_of(tmp_path / "q2.json", snapshot), dest)
    ship(snapshot, below, dest, anyway=True)
    assert ganlens.load(str(dest)).provenance["metrics"]["bar_failures"] == ["FID 40.0 > 25"]
