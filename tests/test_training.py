"""GAN training on a tiny data set: runs, stays finite, moves its losses, snapshots, and resumes."""

from __future__ import annotations

import json

import numpy as np
import pytest

import ganlens
from ganlens.synthdata import render_batch, sample_factors
from ganlens.training.gan import TrainConfig, train


def tiny_config(tmp_path, kimg: float) -> TrainConfig:
    data = tmp_path / "data.npz"
    if not data.exists():
        np.savez(data, images=render_batch(sample_factors(64, seed=0), size=16))
    return TrainConfig(
        data=str(data), out=str(tmp_path / "run"), z_dim=16, w_dim=16, mapping_layers=2, channel_base=256,
        channel_max=32, batch=8, total_kimg=kimg, snapshot_kimg=0.08, r1_interval=4, threads=2, name="tiny-test",
    )


def test_tiny_gan_trains_snapshots_and_resumes(tmp_path):
    import torch

    cfg = tiny_config(tmp_path, kimg=0.16)  # 20 steps, two snapshots
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        latest = train(cfg, progress=False)  # on cfg.threads = 2 ...
        assert torch.get_num_threads() == 1  # ... and the caller's setting is back afterwards
    finally:
        torch.set_num_threads(before)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["kimg"] for r in log] == [0.08, 0.16]
    for rec in log:
        assert all(np.isfinite(rec[k]) for k in ("loss_G", "loss_D", "r1"))
    # The losses move away from their value at initialisation (log 2 for both logistic terms).
    assert log[-1]["loss_D"] != pytest.approx(log[0]["loss_D"], abs=1e-4)
    G = ganlens.load(str(latest))
    assert G.provenance["training"]["kimg"] == 0.16 and G.name == "tiny-test"
    assert G.render(G.sample(2, seed=0)).shape == (2, 16, 16, 3)
    # Resume: a longer total continues from the saved state instead of starting over.
    cfg.total_kimg = 0.24
    train(cfg, progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["kimg"] for r in log] == [0.08, 0.16, 0.24]
    assert log[-1]["step"] == 30
    snaps = sorted(p.name for p in (tmp_path / "run").glob("snapshot-*.safetensors"))
    assert snaps == [f"snapshot-{k:09.2f}kimg.safetensors" for k in (0.08, 0.16, 0.24)]  # every snapshot is kept


def test_init_from_generator_starts_from_its_weights_and_refuses_other_shapes(tmp_path):
    import torch

    from ganlens.errors import GanlensError

    first = train(tiny_config(tmp_path, kimg=0.08), progress=False)
    src = ganlens.load(str(first))
    cfg = tiny_config(tmp_path, kimg=0.08)
    # One step at lr 0: the weights written are the initialisation itself (buffers such as w_avg do move).
    cfg.out, cfg.init_generator, cfg.total_kimg, cfg.lr = str(tmp_path / "ft"), str(first), 0.008, 0.0
    tuned = ganlens.load(str(train(cfg, progress=False)))
    for (k, v), (_, t) in zip(src.named_parameters(), tuned.named_parameters()):
        assert torch.equal(t, v), k
    bad = tiny_config(tmp_path, kimg=0.08)
    bad.out, bad.init_generator, bad.channel_max = str(tmp_path / "bad"), str(first), 16
    with pytest.raises(GanlensError, match="architecture differs"):
        train(bad, progress=False)


def test_d_warmup_trains_only_d_then_g(tmp_path):
    import torch

    from ganlens.errors import GanlensError
    from ganlens.training.gan import build_networks, load_state

    first = train(tiny_config(tmp_path, kimg=0.08), progress=False)
    src = ganlens.load(str(first))
    cfg = tiny_config(tmp_path, kimg=0.08)
    cfg.out, cfg.init_generator, cfg.d_warmup_kimg = str(tmp_path / "warm"), str(first), 0.08
    warm = ganlens.load(str(train(cfg, progress=False)))  # 10 steps, all of them D-only
    for (k, v), (_, t) in zip(src.named_parameters(), warm.named_parameters()):
        assert torch.equal(t, v), k
    torch.manual_seed(cfg.seed)
    _, fresh_D = build_networks(cfg, 16, 3)  # the D the run started from
    d_after = load_state(tmp_path / "warm" / "state")["D"]
    assert any(not torch.equal(v, d_after[k]) for k, v in fresh_D.state_dict().items())
    cfg.total_kimg = 0.16  # resume past the warm-up: now G moves
    moved = ganlens.load(str(train(cfg, progress=False)))
    assert any(not torch.equal(t, v) for (_, v), (_, t) in zip(src.named_parameters(), moved.named_parameters()))
    log = [json.loads(line) for line in (tmp_path / "warm" / "log.jsonl").read_text().splitlines()]
    assert "loss_G" not in log[0] and np.isfinite(log[1]["loss_G"])
    no_init = tiny_config(tmp_path, kimg=0.08)
    no_init.out, no_init.d_warmup_kimg = str(tmp_path / "bad"), 0.08
    with pytest.raises(GanlensError, match="--init"):
        train(no_init, progress=False)


def test_path_length_penalty_evens_out_path_lengths():
    import torch

    from ganlens.models.stylegan2 import Generator
    from ganlens.training.gan import path_length_penalty, path_lengths

    torch.manual_seed(0)
    G = Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3,
                  mapping_kwargs={"num_layers": 2}, synthesis_kwargs={"channel_base": 256, "channel_max": 32})

    def spread() -> float:  # coefficient of variation of the path lengths over a fixed batch
        torch.manual_seed(1)
        lengths = path_lengths(G, torch.randn(64, 16), 0.0).detach()
        return float(lengths.std() / lengths.mean())

    before = spread()
    opt = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.0, 0.99))
    torch.manual_seed(2)
    pl_mean = path_lengths(G, torch.randn(32, 16), 0.0).detach().mean()
    for _ in range(40):  # the penalty alone: it pulls every sample's length towards the running mean
        penalty, pl_mean = path_length_penalty(path_lengths(G, torch.randn(16, 16), 0.0), pl_mean, 0.01)
        opt.zero_grad()
        penalty.backward()
        opt.step()
    # Measured: 0.348 before, 0.265 after.
    assert spread() < 0.85 * before


def test_path_length_regularised_run_logs_the_penalty_and_resumes_its_running_mean(tmp_path):
    from ganlens.errors import GanlensError
    from ganlens.training.gan import load_state

    cfg = tiny_config(tmp_path, kimg=0.08)
    cfg.pl_weight, cfg.pl_interval = 2.0, 2
    train(cfg, progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert np.isfinite(log[0]["pl"]) and log[0]["pl"] > 0
    first = load_state(tmp_path / "run" / "state")["progress"]["pl_mean"]
    assert first > 0
    cfg.total_kimg = 0.16
    train(cfg, progress=False)
    second = load_state(tmp_path / "run" / "state")["progress"]["pl_mean"]
    bad = tiny_config(tmp_path, kimg=0.08)
    bad.out, bad.pl_weight = str(tmp_path / "bad"), -1.0
    with pytest.raises(GanlensError, match="pl_weight >= 0"):
        train(bad, progress=False)
    # The mean starts at 0 and moves 1 % of the way per step: five more steps from `first` nearly double it, where a
    # restart from 0 would land near `first` again.
    assert second > 1.5 * first


def test_a_resumed_run_takes_its_new_rates_and_path_length_setting(tmp_path):
    """Resuming with a new --lr or --pl-weight changes the optimisers' rate and betas (a restored Adam would keep the
    saved run's)."""
    from ganlens.training.gan import load_state

    cfg = tiny_config(tmp_path, kimg=0.08)
    cfg.pl_weight, cfg.pl_interval = 2.0, 4
    train(cfg, progress=False)
    group = load_state(tmp_path / "run" / "state")["G_opt"]["param_groups"][0]
    assert group["lr"] == pytest.approx(0.0025 * 4 / 5) and group["betas"][1] == pytest.approx(0.99 ** 0.8)
    cfg.total_kimg, cfg.lr, cfg.pl_weight = 0.16, 0.001, 0.0
    train(cfg, progress=False)
    state = load_state(tmp_path / "run" / "state")
    g, d = state["G_opt"]["param_groups"][0], state["D_opt"]["param_groups"][0]
    assert g["lr"] == pytest.approx(0.001) and g["betas"][1] == pytest.approx(0.99)
    assert d["lr"] == pytest.approx(0.001 * 4 / 5) and d["betas"][1] == pytest.approx(0.99 ** 0.8)


def test_the_discriminator_can_be_widened_mid_run_and_computes_what_it_did(tmp_path):
    """--d-cbase sets D's widths apart from G's; a resume with a wider D refuses unless --widen-d, which grows the
    saved D so that it gives the same logits (a fresh D would sit at chance for ~100 kimg)."""
    import torch

    from ganlens.errors import GanlensError
    from ganlens.models.discriminator import Discriminator
    from ganlens.training.gan import load_state
    from ganlens.training.widen import widen_discriminator

    cfg = tiny_config(tmp_path, kimg=0.08)  # D 16 / 32 / 32 channels at 16 / 8 / 4 px, as G
    train(cfg, progress=False)
    narrow_state = load_state(tmp_path / "run" / "state")
    assert narrow_state["D"]["b16.conv0.weight"].shape[0] == 16
    cfg.d_channel_base, cfg.total_kimg = 512, 0.16  # 32 / 32 / 32
    with pytest.raises(GanlensError, match="saved D does not fit .*--widen-d"):
        train(cfg, progress=False)

    narrow, wide = (Discriminator(0, 16, 3, channel_base=cb, channel_max=32) for cb in (256, 512))
    narrow.load_state_dict(narrow_state["D"])
    wide.load_state_dict(widen_discriminator(wide, narrow_state["D"]))
    images = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(wide(images), narrow(images), atol=1e-5, rtol=1e-4)
    with pytest.raises(GanlensError, match="can only be widened"):
        widen_discriminator(narrow, wide.state_dict())
    with pytest.raises(GanlensError, match="4x4"):
        widen_discriminator(Discriminator(0, 16, 3, channel_base=512, channel_max=64), narrow_state["D"])

    cfg.widen_d = True
    train(cfg, progress=False)
    after = load_state(tmp_path / "run" / "state")
    assert after["D"]["b16.conv0.weight"].shape[0] == 32 and after["progress"]["step"] == 20
    assert ganlens.load(str(tmp_path / "run" / "latest.safetensors")).synthesis.b16.conv1.weight.shape[0] == 16


@pytest.mark.parametrize("step", ["fast", "reference"])
def test_stopped_and_resumed_run_reproduces_the_uninterrupted_weights(tmp_path, step):
    """A run stopped at a snapshot and resumed ends with exactly the weights of the run that never stopped."""
    import torch

    from ganlens.training.gan import load_state

    whole = tiny_config(tmp_path, kimg=0.16)
    whole.step, whole.out = step, str(tmp_path / "whole")
    train(whole, progress=False)
    parts = tiny_config(tmp_path, kimg=0.08)
    parts.step, parts.out = step, str(tmp_path / "parts")
    train(parts, progress=False)
    parts.total_kimg = 0.16
    train(parts, progress=False)
    a, b = load_state(tmp_path / "whole" / "state"), load_state(tmp_path / "parts" / "state")
    assert a["progress"]["step"] == b["progress"]["step"] == 20
    for net in ("G", "D", "G_ema"):
        for k, v in a[net].items():
            assert torch.equal(v, b[net][k]), f"{net}.{k}"
    # ... and the weights did move over the second half (the comparison is not between two untouched copies).
    first = ganlens.load(str(tmp_path / "parts" / "snapshot-000000.08kimg.safetensors"))
    last = ganlens.load(str(tmp_path / "parts" / "latest.safetensors"))
    assert not torch.equal(first.synthesis.b16.conv1.weight, last.synthesis.b16.conv1.weight)


def test_sigterm_snapshots_and_stops_then_the_run_resumes(tmp_path):
    """A stop request (SIGTERM, or a first Ctrl+C) ends the current step, saves a snapshot and the state, and
    returns; the same command resumes from there."""
    import os
    import signal
    import threading
    import time

    import torch

    cfg = tiny_config(tmp_path, kimg=2.0)  # 250 steps: far more than the test waits for
    cfg.snapshot_kimg = 0.04  # every 5 steps
    run = tmp_path / "run"

    def stop_after_first_snapshot() -> None:
        deadline = time.monotonic() + 120
        while not (run / "log.jsonl").exists() or not (run / "log.jsonl").read_text().strip():
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    watcher = threading.Thread(target=stop_after_first_snapshot)
    watcher.start()
    latest = train(cfg, progress=False)
    watcher.join()
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is the caller's again
    log = [json.loads(line)["kimg"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert len(log) == 2 and log[0] == 0.04 and 0.04 < log[1] < 2.0  # the stop's own snapshot, off the grid
    state = torch.load(run / "state" / "progress.pt", weights_only=True)
    assert round(state["cur_nimg"] / 1000, 2) == log[1] == ganlens.load(str(latest)).provenance["training"]["kimg"]
    cfg.total_kimg = 0.08
    train(cfg, progress=False)  # resumes at the stop, not at the last regular snapshot
    log = [json.loads(line)["kimg"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert log[2:] == [0.08] and json.loads((run / "log.jsonl").read_text().splitlines()[-1])["step"] == 10
