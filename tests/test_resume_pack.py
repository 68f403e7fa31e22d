"""The compact training state: what a stint commits so the next one can resume."""

from __future__ import annotations

import pytest
import torch

from ganlens.errors import CheckpointError, GanlensError
from ganlens.training.gan import load_state, train
from ganlens.training.resume import pack_state, unpack_state

from test_training import tiny_config


def test_packed_state_restores_the_networks_exactly_and_resumes_close_to_the_full_state(tmp_path):
    cfg = tiny_config(tmp_path, kimg=0.08)
    train(cfg, progress=False)
    packed = pack_state(tmp_path / "run", tmp_path / "packed.safetensors")
    full_size = sum(p.stat().st_size for p in (tmp_path / "run" / "state").iterdir())
    assert packed.stat().st_size < 0.75 * full_size  # the optimiser moments are what it saves
    config = unpack_state(packed, tmp_path / "copy")
    assert config["name"] == "tiny-test"
    a, b = load_state(tmp_path / "run" / "state"), load_state(tmp_path / "copy" / "state")
    for net in ("G", "D", "G_ema"):
        assert a[net].keys() == b[net].keys()
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), f"{net}.{k}"
    assert torch.equal(a["progress"]["rng"], b["progress"]["rng"])
    assert a["progress"]["step"] == b["progress"]["step"] == 10
    for opt in ("G_opt", "D_opt"):
        for idx, s in a[opt]["state"].items():
            torch.testing.assert_close(b[opt]["state"][idx]["exp_avg_sq"], s["exp_avg_sq"], rtol=1e-2, atol=1e-12)
            assert float(b[opt]["state"][idx]["step"]) == float(s["step"])

    # Resuming from the unpacked copy follows the full state's run (training here is deterministic, and the bf16
    # second moments are the only difference) much closer than the distance both travel. Measured over all of G's
    # weights: one element's worst case swings with the CPU's arithmetic (0.28 of its tensor's travel on two
    # machines) while the whole stays near 0.10.
    for out in ("run", "copy"):
        more = tiny_config(tmp_path, kimg=0.16)
        more.out = str(tmp_path / out)
        train(more, progress=False)
    full, compact = load_state(tmp_path / "run" / "state"), load_state(tmp_path / "copy" / "state")
    apart = travelled = 0.0
    for k, w0 in a["G"].items():
        if w0.ndim >= 2:
            apart += float((compact["G"][k] - full["G"][k]).pow(2).sum())
            travelled += float((full["G"][k] - w0).pow(2).sum())
    assert travelled > 0
    assert (apart / travelled) ** 0.5 <= 0.2

def test_unpack_refuses_an_existing_state_and_a_foreign_file(tmp_path):
    cfg = tiny_config(tmp_path, kimg=0.08)
    train(cfg, progress=False)
    packed = pack_state(tmp_path / "run", tmp_path / "packed.safetensors")
    with pytest.raises(GanlensError, match="already exists"):
        unpack_state(packed, tmp_path / "run")
    other = tmp_path / "other.safetensors"
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, str(other), metadata={"format": "something-else"})
    with pytest.raises(CheckpointError, match="not a packed ganlens training state"):
        unpack_state(other, tmp_path / "fresh")
    with pytest.raises(GanlensError, match="no training state"):
        pack_state(tmp_path / "nowhere", tmp_path / "x.safetensors")
