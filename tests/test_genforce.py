"""genforce .pth checkpoints (PGGAN, StyleGAN, StyleGAN2): detected by content, loaded strictly and safely, and
giving the images genforce's own maths gives (tests/reference_genforce.py), plus statistics only a correct
forward pass produces and inversion through the shared optimiser."""

from __future__ import annotations

import os
import shlex
from collections import OrderedDict

import numpy as np
import pytest
import reference_genforce as RG
import reference_rosinality as RR
import torch

from ganlens import load
from ganlens.errors import CheckpointError, LatentError, UnknownNameError, UnsafeCheckpointError
from ganlens.invert import project
from ganlens.metrics.quality import psnr
from ganlens.models.pggan import PGGANGenerator
from ganlens.models.stylegan1 import StyleGAN1Generator
from ganlens.models.stylegan2 import Generator

TOL = 1e-4


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The tensors here are tiny: intra-op threads only add contention on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _z(n: int, dim: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32))


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a - b).abs().max().item()


def _zoo(tmp_path, name: str, make, **kw):
    """A model-zoo file whose 'generator' and 'generator_smooth' differ; returns (path, G state, G_ema state)."""
    g, g_ema = make(seed=1, **kw), make(seed=2, **kw)
    return RG.save_model_zoo(tmp_path / f"{name}.pth", g, g_ema), g, g_ema


# ------------------------------------------------------------------------------------------------ PGGAN


@pytest.mark.parametrize("res,fused", [(16, False), (32, True)], ids=["16px", "32px-fused"])
def test_pggan_loads_and_matches_genforce(tmp_path, res, fused):
    path, g, g_ema = _zoo(tmp_path, f"pggan_test{res}", RG.pggan_state, res=res, fused_scale=fused)
    z = _z(4)
    for which, sd in (("G_ema", g_ema), ("G", g)):
        G = load(path, which=which)
        assert isinstance(G, PGGANGenerator) and G.architecture == "pggan" and G.spaces == ("z",)
        assert G.img_resolution == res and G.z_dim == G.w_dim == 16 and G.num_ws == 1 and G.img_channels == 3
        assert G.synthesis.layer2.fused is fused and G.provenance["source_format"] == "genforce-pggan (model zoo)"
        assert G.provenance["state_key"] == ("generator_smooth" if which == "G_ema" else "generator")
        assert not G.training and not any(p.requires_grad for p in G.parameters())
        with torch.no_grad():
            ours, theirs = G(z), RG.pggan_forward(sd, z, fused_scale=fused)
        assert theirs.std() > 0.1 and _max_diff(ours, theirs) <= TOL, which
    # init_kwargs rebuild the architecture: the state dict loads strictly into a fresh instance.
    PGGANGenerator(**G.init_kwargs).load_state_dict(G.state_dict(), strict=True)


def test_pggan_pixel_norm_lod_and_zero_weights(tmp_path):
    sd = RG.pggan_state(16, seed=3)
    G = load(RG.save_model_zoo(tmp_path / "p.pth", sd, sd))
    feats = []
    hooks = [getattr(G.synthesis, f"layer{i}").pixel_norm.register_forward_hook(lambda m, i, o: feats.append(o))
             for i in range(1, 6)]
    with torch.no_grad():
        G(_z(3, seed=1))
    for h in hooks:
        h.remove()
    for f in feats:  # pixel norm: every pixel's feature vector has unit mean square over channels
        assert f.ndim == 4 and (f.square().mean(dim=1) - 1).abs().max() < 1e-4
    # lod 1: the 8 px output, nearest-upsampled (what genforce shows mid-way through progressive training)
    with torch.no_grad():
        z = _z(2, seed=4)
        assert _max_diff(G.synthesis(G.mapping(z), lod=1), RG.pggan_forward(sd, z, lod=1)) <= TOL
    # zero weights: every block outputs lrelu(bias) only, so the image is the last to-RGB's bias everywhere
    for k in sd:
        if k.endswith("weight"):
            sd[k] = torch.zeros_like(sd[k])
    sd["output2.bias"] = torch.tensor([0.25, -0.5, 0.75])
    G0 = load(RG.save_model_zoo(tmp_path / "zero.pth", sd, sd))
    img = G0.synthesize(G0.sample(2, seed=0))
    assert torch.equal(img, torch.tensor([0.25, -0.5, 0.75]).reshape(1, 3, 1, 1).expand(2, 3, 16, 16))


def test_pggan_has_only_z(tmp_path):
    sd = RG.pggan_state(16)
    G = load(RG.save_model_zoo(tmp_path / "p.pth", sd, sd))
    code = G.sample(3, seed=5)
    assert code.space == "z" and code.tensor.shape == (3, 16)
    a, b = G.render(code), G.render(G.sample(3, seed=5))
    assert a.dtype == np.uint8 and a.shape == (3, 16, 16, 3) and np.array_equal(a, b)  # deterministic
    for space in ("w", "w+"):
        with pytest.raises(LatentError, match="only Z"):
            G.sample(2, seed=0, space=space)
    with pytest.raises(LatentError, match="truncation"):
        G.sample(2, seed=0, truncation_psi=0.5, space="z")
    with pytest.raises(LatentError):
        G.mapping(_z(2), truncation_psi=0.5)


def test_pggan_inversion_in_z(tmp_path):
    sd = RG.pggan_state(16, seed=7)
    G = load(RG.save_model_zoo(tmp_path / "p.pth", sd, sd))
    imgs = G.render(G.sample(2, seed=11))
    res = project(G, imgs, "ganlens", space="z", steps=200, restarts=8)  # Z is not convex: restarts
    assert res.code.space == "z"
    assert psnr(imgs, G.render(res.code)).min() >= 30


# ------------------------------------------------------------------------------------------------ StyleGAN


@pytest.mark.parametrize("res,kw", [(16, {}), (128, {"fmaps_base": 512, "fmaps_max": 8})], ids=["16px", "128px-fused"])
def test_stylegan1_loads_and_matches_genforce(tmp_path, res, kw):
    path, g, g_ema = _zoo(tmp_path, f"stylegan_test{res}", RG.stylegan1_state, res=res, **kw)
    z = _z(2)
    for which, sd in (("G_ema", g_ema), ("G", g)):
        G = load(path, which=which)
        assert isinstance(G, StyleGAN1Generator) and G.architecture == "stylegan1"
        assert G.spaces == ("z", "w", "w+") and G.img_resolution == res and G.num_ws == 2 * (np.log2(res) - 1)
        assert G.provenance["source_format"] == "genforce-stylegan1 (model zoo)"
        assert torch.equal(G.w_avg, sd["truncation.w_avg"])
        with torch.no_grad():
            for psi, cutoff in ((1.0, None), (0.6, 2), (0.7, 8)):
                ours = G(z, truncation_psi=psi, truncation_cutoff=cutoff)
                theirs = RG.stylegan1_forward(sd, z, psi=psi, trunc_layers=cutoff or 0)
                assert theirs.std() > 0.1 and _max_diff(ours, theirs) <= TOL, (which, psi)
    assert G.synthesis.layer2.fused is False
    if res >= 128:
        assert G.synthesis.layer10.fused is True  # genforce's 'auto': fused up-scaling from 128 px
    StyleGAN1Generator(**G.init_kwargs).load_state_dict(G.state_dict(), strict=True)


def test_stylegan1_adain_statistics_and_zero_weights(tmp_path):
    sd = RG.stylegan1_state(16, seed=4)
    G = load(RG.save_model_zoo(tmp_path / "s.pth", sd, sd))
    feats = []
    hooks = [layer.normalize.register_forward_hook(lambda m, i, o: feats.append(o)) for layer in G.synthesis.layers()]
    with torch.no_grad():
        G(_z(3, seed=2))
    for h in hooks:
        h.remove()
    assert len(feats) == G.num_ws
    for f in feats:  # instance norm before the style: per sample and channel zero mean, unit variance
        assert f.mean(dim=(2, 3)).abs().max() < 1e-4
        assert (f.square().mean(dim=(2, 3)) - 1).abs().max() < 1e-3
    # zero conv and to-RGB weights: the image is the to-RGB bias everywhere, whatever the styles and noise
    for k in sd:
        if k.endswith(".weight") and not k.startswith("mapping.") and ".style." not in k:
            sd[k] = torch.zeros_like(sd[k])
    sd["synthesis.output2.bias"] = torch.tensor([-0.25, 0.5, 0.125])
    G0 = load(RG.save_model_zoo(tmp_path / "zero.pth", sd, sd))
    img = G0.synthesize(G0.sample(2, seed=1), noise_mode="random")
    assert torch.equal(img, torch.tensor([-0.25, 0.5, 0.125]).reshape(1, 3, 1, 1).expand(2, 3, 16, 16))


def test_stylegan1_truncation_sampling_and_noise(tmp_path):
    sd = RG.stylegan1_state(32, seed=5)  # 8 ws: the default cutoff 8 covers all of them
    G = load(RG.save_model_zoo(tmp_path / "s.pth", sd, sd))
    assert G.mapping.truncation_cutoff == 8 and G.num_ws == 8
    same = G.render(G.sample(3, seed=1, truncation_psi=0.0, space="w+"))
    assert np.array_equal(same[0], same[1]) and np.array_equal(same[0], same[2])
    ws = G.mapping(_z(2), truncation_psi=0.0, truncation_cutoff=3)
    assert torch.equal(ws[:, :3], G.w_avg.expand(2, 3, -1)) and not torch.allclose(ws[0, 3:], ws[1, 3:])
    for space in ("z", "w", "w+"):
        code = G.sample(2, seed=9, space=space)
        assert code.space == space and np.array_equal(G.render(code), G.render(G.sample(2, seed=9, space=space)))
    code = G.sample(2, seed=3)
    assert code.space == "w"
    base = G.render(code)
    assert not np.array_equal(base, G.render(code, noise_mode="none"))
    maps = [torch.zeros(1, 1, layer.resolution, layer.resolution) for _, layer in G.synthesis.noise_layers()]
    code.noise = maps
    assert np.array_equal(G.render(code), G.render(code, noise_mode="none"))  # explicit zero maps = no noise
    with pytest.raises(LatentError):
        G.sample(1, space="s")


def test_stylegan1_inversion_in_wplus(tmp_path):
    sd = RG.stylegan1_state(16, seed=6)
    G = load(RG.save_model_zoo(tmp_path / "s.pth", sd, sd))
    imgs = G.render(G.sample(2, seed=21, truncation_psi=0.7))
    res = project(G, imgs, "ganlens", space="w+", optimizer="lbfgs", lr=1.0, steps=150)
    assert res.code.space == "w+" and res.code.tensor.shape == (2, G.num_ws, G.w_dim)
    # 28 dB, not 30: L-BFGS's path depends on the CPU's float kernels (29.3 dB on an AMD AVX2 machine)
    assert psnr(imgs, G.render(res.code)).min() >= 28
    res = project(G, imgs[:1], "w+noise", steps=3)  # noise maps follow noise_layers()
    assert len(res.code.noise) == G.num_ws and res.code.noise[-1].shape == (1, 1, 16, 16)


# ------------------------------------------------------------------------------------------------ StyleGAN2


@pytest.mark.parametrize("res", [8, 32])
def test_stylegan2_maps_onto_ganlens_generator(tmp_path, res):
    path, g, g_ema = _zoo(tmp_path, f"stylegan2_test{res}", RG.stylegan2_state, res=res)
    z = _z(3)
    for which, sd in (("G_ema", g_ema), ("G", g)):
        G = load(path, which=which)
        assert type(G) is Generator and G.img_resolution == res and G.provenance["source_format"].startswith("genforce-stylegan2")
        assert G.num_ws == 2 * (np.log2(res) - 1) and torch.equal(G.w_avg, sd["truncation.w_avg"])
        with torch.no_grad():
            for psi in (1.0, 0.6):
                ours, theirs = G(z, truncation_psi=psi), RG.stylegan2_forward(sd, z, psi, G.num_ws if psi < 1 else 0)
                assert theirs.std() > 0.1 and _max_diff(ours, theirs) <= TOL, (which, psi)
    same = G.render(G.sample(2, seed=3, truncation_psi=0.0))
    assert np.array_equal(same[0], same[1])


def test_stylegan2_non_default_filter_is_refused_by_name(tmp_path):
    sd = RG.stylegan2_state(16)
    sd["synthesis.upsample.kernel"] = sd["synthesis.upsample.kernel"].flip(2) * 1.1
    with pytest.raises(CheckpointError, match="synthesis.upsample.kernel"):
        load(RG.save_model_zoo(tmp_path / "f.pth", sd, sd))


# ------------------------------------------------------------------------------------------------ layouts, strictness


@pytest.mark.parametrize("make,arch", [(RG.pggan_state, "pggan"), (RG.stylegan1_state, "stylegan1"),
                                       (RG.stylegan2_state, "stylegan2")])
def test_file_layouts(tmp_path, make, arch):
    g, g_ema = make(16, seed=1), make(16, seed=2)
    z = _z(2)

    def image(path, which="G_ema"):
        G = load(path, which=which)
        assert G.provenance["source_format"].startswith(f"genforce-{arch}")
        with torch.no_grad():
            return G(z)

    zoo = image(RG.save_model_zoo(tmp_path / "zoo.pth", g, g_ema))
    train = RG.save_training(tmp_path / "checkpoint_iter001000.pth", g, g_ema)
    assert torch.equal(image(train), zoo) and not torch.equal(image(train, "G"), zoo)
    assert load(train).provenance["source_format"].endswith("(training)")
    torch.save(g_ema, tmp_path / "bare.pth")
    assert torch.equal(image(tmp_path / "bare.pth"), zoo)
    torch.save({"generator_smooth": OrderedDict((f"module.{k}", v) for k, v in g_ema.items())}, tmp_path / "dp.pth")
    assert torch.equal(image(tmp_path / "dp.pth"), zoo)  # DataParallel prefixes are stripped
    only_g = RG.save_model_zoo(tmp_path / "only_g.pth", g)
    assert "no 'generator_smooth'" in load(only_g).provenance["note"]  # genforce's synthesize.py falls back too
    assert torch.equal(image(tmp_path / "zoo.pth", "generator"), image(only_g))
    with pytest.raises(CheckpointError, match="discriminators are not supported"):
        load(tmp_path / "zoo.pth", which="D")
    with pytest.raises(CheckpointError, match="bare generator state dict"):
        load(tmp_path / "bare.pth", which="G")
    # a forced format reads any suffix
    (tmp_path / "zoo.bin").write_bytes((tmp_path / "zoo.pth").read_bytes())
    with torch.no_grad():
        assert torch.equal(load(tmp_path / "zoo.bin", format="genforce")(z), zoo)
    with pytest.raises(CheckpointError, match="unknown checkpoint type '.bin'"):
        load(tmp_path / "zoo.bin")


@pytest.mark.parametrize("make,drop,extra", [
    (RG.pggan_state, "layer3.bias", "layer3.scale"),
    (RG.stylegan1_state, "synthesis.layer3.style.bias", "synthesis.layer3.epilogue.weight"),
    (RG.stylegan2_state, "synthesis.layer1.noise_strength", "synthesis.layer1.extra"),
], ids=["pggan", "stylegan1", "stylegan2"])
def test_strict_names(tmp_path, make, drop, extra):
    sd = make(16)
    missing = OrderedDict((k, v) for k, v in sd.items() if k != drop)
    with pytest.raises(CheckpointError, match=f"missing.*'{drop}'") as info:
        load(RG.save_model_zoo(tmp_path / "missing.pth", missing, missing))
    assert "missing.pth" in str(info.value) and "\n" not in str(info.value)
    more = OrderedDict(sd, **{extra: torch.zeros(3)})
    with pytest.raises(CheckpointError, match=extra.replace(".", r"\.")):
        load(RG.save_model_zoo(tmp_path / "extra.pth", more, more))
    shaped = OrderedDict(sd, **{drop: torch.zeros(5, 5)})
    with pytest.raises(CheckpointError, match=drop.replace(".", r"\.")):
        load(RG.save_model_zoo(tmp_path / "shape.pth", shaped, shaped))


def test_unsupported_variants_are_named(tmp_path):
    sd = RG.stylegan1_state(16)
    sd["mapping.label_weight"] = torch.zeros(4, 16)
    with pytest.raises(CheckpointError, match="label-conditional"):
        load(RG.save_model_zoo(tmp_path / "cond.pth", sd, sd))
    sd = RG.stylegan2_state(16)
    sd["synthesis.skip_layer0.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match="resnet"):
        load(RG.save_model_zoo(tmp_path / "resnet.pth", sd, sd))
    sd = RG.stylegan2_state(16)
    sd["mapping.dense1.weight"] = torch.zeros(16 * 6, 16)
    with pytest.raises(CheckpointError, match="repeat_w=False"):
        load(RG.save_model_zoo(tmp_path / "norepeat.pth", sd, sd))
    torch.save({"generator_smooth": {"encoder.weight": torch.zeros(2)}}, tmp_path / "enc.pth")
    with pytest.raises(CheckpointError, match="not a genforce generator"):
        load(tmp_path / "enc.pth")


# ------------------------------------------------------------------------------------------------ registry dispatch


def test_rosinality_files_still_go_to_rosinality(tmp_path):
    g = RR.make_generator(16, channels={4: 16, 8: 16, 16: 8}, seed=3)
    for suffix in (".pth", ".pt"):
        path = RR.save_converted(tmp_path / f"ros{suffix}", g, g.mean_latent(100))
        G = load(path)
        assert type(G) is Generator and G.provenance["source_format"] == "rosinality-stylegan2-pt (converted)"
        assert load(path, format="rosinality").provenance["source_sha256"] == G.provenance["source_sha256"]
    with pytest.raises(CheckpointError, match="rosinality.*format='rosinality'") as info:
        load(tmp_path / "ros.pth", format="genforce")
    assert "\n" not in str(info.value)
    sd = RG.stylegan2_state(16)
    with pytest.raises(CheckpointError, match="not a rosinality"):
        load(RG.save_model_zoo(tmp_path / "gf.pth", sd, sd), format="rosinality")


def test_unknown_content_and_format(tmp_path):
    path = tmp_path / "mystery.pth"
    torch.save({"weights": torch.zeros(3), "epoch": 3}, path)
    with pytest.raises(CheckpointError, match="unknown checkpoint format") as info:
        load(path)
    message = str(info.value)
    assert str(path) in message and "'weights'" in message and "\n" not in message
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="a list"):
        load(tmp_path / "list.pt")
    with pytest.raises(UnknownNameError, match="'tensorflow'.*genforce"):
        load(path, format="tensorflow")
    with pytest.raises(CheckpointError, match="not a genforce checkpoint"):
        load(path, format="genforce")
    with pytest.raises(CheckpointError, match="bundled"):
        load("random-tiny", format="genforce")
    assert load("random-tiny", format="native").name == "random-tiny"


class _Reduce:
    """Pickles as ``func(*args)``: the classic code-execution payload."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("fmt", [None, "genforce"])
def test_payload_in_genforce_file_is_refused_and_never_runs(tmp_path, fmt):
    sentinel = tmp_path / "PWNED"
    sd = RG.stylegan1_state(16)
    evil = OrderedDict(sd, **{"mapping.dense0.weight": _Reduce(os.system, (f"touch {shlex.quote(str(sentinel))}",))})
    path = tmp_path / "stylegan_evil256.pth"
    torch.save({"generator": sd, "discriminator": {}, "generator_smooth": evil}, path)
    with pytest.raises(UnsafeCheckpointError, match="system") as info:
        load(path, format=fmt)
    assert isinstance(info.value, CheckpointError) and str(path) in str(info.value)
    assert not sentinel.exists(), "the payload ran"
    try:  # prove the payload is live: torch.load without weights_only does run it
        torch.load(path, weights_only=False)
    except Exception:  # noqa: BLE001 - the payload's result is not a checkpoint
        pass
    assert sentinel.exists(), "the test file is not a working payload"
