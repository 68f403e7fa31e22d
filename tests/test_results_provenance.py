"""Every measurement under results/ says where it came from, and none is stale: a result that measured the bundled
`synthfaces64` names the SHA-256 of the weights bundled now. When the bundled weights change, each such result is
measured again, or listed in HISTORICAL below with the reason it is kept."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ganlens.bundled import generator_file

ROOT = Path(__file__).resolve().parent.parent
# Predictor configs beside their weights are artefacts, not measurements.
ARTEFACTS = {"check_predictor/synthfaces64-check.json", "third_predictor/synthfaces64-third.json",
             "independent_predictor_2/synthfaces64-independent-2.json"}
# Results kept on purpose although they measured other bundled weights: {path under results/: why}.
HISTORICAL: dict[str, str] = {}

RESULTS = sorted(p for p in (ROOT / "results").rglob("*.json")
                 if p.relative_to(ROOT / "results").as_posix() not in ARTEFACTS)


def _bundled_hash() -> str:
    return hashlib.sha256(generator_file("synthfaces64").read_bytes()).hexdigest()


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.relative_to(ROOT / "results").as_posix())
def test_every_result_names_its_commit_and_is_not_stale(path: Path) -> None:
    prov = json.loads(path.read_text()).get("provenance")
    assert prov and len(prov.get("commit") or "") == 40, f"{path.name}: no provenance naming a commit"
    measured = (prov.get("generators") or {}).get("synthfaces64")
    name = path.relative_to(ROOT / "results").as_posix()
    if measured is not None and name not in HISTORICAL:
        assert measured == _bundled_hash(), (
            f"{name} measured synthfaces64 {measured[:12]}, but the bundled weights are {_bundled_hash()[:12]}: "
            "measure it again, or list it in HISTORICAL with the reason it stays")


def test_the_historical_list_names_files_that_exist() -> None:
    for name in HISTORICAL:
        assert (ROOT / "results" / name).is_file(), name
