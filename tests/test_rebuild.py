"""`make artefacts` (benchmarks/rebuild.py): the plan's order, its errors, and a real small rebuild outside the repo."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
import rebuild  # noqa: E402

SHIPPED = REPO / "src" / "ganlens" / "assets" / "directions" / "synthfaces64"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "benchmarks" / "rebuild.py"), *args], cwd=REPO,
                          capture_output=True, text=True)


def test_every_step_comes_after_what_it_needs():
    names = [s.name for s in rebuild.STEPS]
    assert len(set(names)) == len(names)
    for i, step in enumerate(rebuild.STEPS):
        for need in step.needs:
            assert need in names[:i], f"{step.name} needs {need}, which does not run before it"


def test_selection_keeps_plan_order_and_names_unknown_steps():
    assert [s.name for s in rebuild.select("semantics,directions", None)] == ["directions", "semantics"]
    tail = rebuild.select(None, "inversion")
    assert tail[0].name == "inversion" and "directions" not in [s.name for s in tail]
    r = script("--only", "directions,nonsense", "--list")
    assert r.returncode != 0 and "no rebuild step named 'nonsense'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = script("--subset", "--only", "directions")
    assert r.returncode != 0 and "--root" in r.stderr


def test_subset_rebuild_writes_under_root_stamps_a_manifest_and_leaves_shipped_files_alone(tmp_path):
    shipped = {p.name: sha(p) for p in SHIPPED.glob("*.npz")}
    r = script("--subset", "--root", str(tmp_path), "--only", "directions")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    built = sorted((tmp_path / "assets" / "directions" / "synthfaces64").glob("*.npz"))
    assert [p.name for p in built] == sorted(shipped)  # one boundary per attribute, as shipped
    assert {p.name: sha(p) for p in SHIPPED.glob("*.npz")} == shipped  # the package's files untouched

    manifest = json.loads((tmp_path / "rebuild.json").read_text())
    step = manifest["steps"]["directions"]
    assert step["status"] == 0 and "--n" in step["command"] and str(tmp_path) in " ".join(step["command"])
    assert {Path(p).name for p in step["written"]} >= {p.name for p in built}
    for path, digest in step["written"].items():
        assert sha(Path(path)) == digest
    assert manifest["subset"] is True
    assert manifest["generators"]["synthfaces64"] == sha(REPO / "src" / "ganlens" / "assets" / "synthfaces64.safetensors")
    assert len(manifest["commit"] or "0" * 40) == 40


@pytest.mark.parametrize("step", [s.name for s in rebuild.STEPS if s.subset is None][:1])
def test_a_step_without_a_small_form_is_skipped_in_a_subset_run_and_says_so(tmp_path, step):
    r = script("--subset", "--root", str(tmp_path), "--only", step)
    assert r.returncode == 0 and f"{step}: skipped (no small form" in r.stdout
    assert json.loads((tmp_path / "rebuild.json").read_text())["steps"] == {step: {"skipped": "no small form for --subset"}}
    assert not (tmp_path / "assets").exists()
