"""Foreign checkpoints: NVIDIA .pkl and rosinality .pt files load strictly and give the same images as
independent re-implementations of their own forward passes (tests/reference_*.py)."""

from __future__ import annotations

import json
import pickle
import sys
import types

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import reference_nvidia as RN
import reference_rosinality as RR
from ganlens import load
from ganlens.cli import cli
from ganlens.errors import CheckpointError
from ganlens.models.native import load_generator
from ganlens.models.rosinality import fit_channel_table

TOL = 1e-4


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The tensors here are tiny: intra-op threads only add contention on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape
    return (a - b).abs().max().item()


def _assert_same_state(net, ref) -> None:
    ours, theirs = net.state_dict(), ref.state_dict()
    assert set(ours) == set(theirs)
    for k in ours:
        assert torch.equal(ours[k], theirs[k]), k


# ------------------------------------------------------------------------------------------------ NVIDIA


@pytest.fixture(scope="module", params=[(16, None, 3), (32, 0.5, 4)], ids=["res16-proto3", "res32-clamp-proto4"])
def nvidia_snapshot(request, tmp_path_factory):
    res, clamp, protocol = request.param
    G = RN.make_generator(res, seed=1, conv_clamp=clamp)
    G_ema = RN.make_generator(res, seed=2, conv_clamp=clamp)
    D = RN.make_discriminator(res, seed=3)
    path = RN.write_pickle(tmp_path_factory.mktemp("nv") / f"network-snapshot-{res}.pkl",
                           RN.snapshot(G, D, G_ema, res), protocol=protocol)
    return path, G, D, G_ema, res


@pytest.mark.parametrize("which", ["G_ema", "G"])
def test_nvidia_generator_matches_reference(nvidia_snapshot, which):
    path, G_ref, _, G_ema_ref, res = nvidia_snapshot
    ref = G_ema_ref if which == "G_ema" else G_ref
    G = load(path, which=which)
    assert not G.training and not any(p.requires_grad for p in G.parameters())
    assert G.name == path.stem and G.img_resolution == res
    assert G.provenance["which"] == which and G.provenance["source_format"].startswith("nvidia")
    assert G.provenance["init_kwargs_found"]["synthesis_kwargs"]["channel_base"] == 256
    _assert_same_state(G, ref)
    z = torch.from_numpy(np.random.default_rng(res).standard_normal((4, G.z_dim)).astype(np.float32))
    with torch.no_grad():
        for psi in (1.0, 0.6):
            ours, theirs = G(z, truncation_psi=psi, noise_mode="const"), ref(z, truncation_psi=psi)
            assert theirs.std() > 0.1  # a real image, not a degenerate constant
            assert _max_diff(ours, theirs) <= TOL, (which, psi)


def test_nvidia_discriminator_loads_and_matches(nvidia_snapshot):
    path, _, D_ref, _, res = nvidia_snapshot
    D = load(path, which="D")
    ref_state = {k: v for k, v in D_ref.state_dict().items() if not k.endswith(tuple(
        f"b{r}.resample_filter" for r in D_ref.block_resolutions))}
    assert set(D.state_dict()) == set(ref_state)
    img = torch.from_numpy(np.random.default_rng(0).standard_normal((4, 3, res, res)).astype(np.float32))
    with torch.no_grad():
        assert _max_diff(D(img), D_ref(img)) <= TOL


def test_nvidia_legacy_tuple_takes_Gs_as_G_ema(tmp_path):
    G, D, Gs = RN.make_generator(16, seed=4), RN.make_discriminator(16, seed=5), RN.make_generator(16, seed=6)
    path = RN.write_pickle(tmp_path / "legacy.pkl", (G, D, Gs))
    _assert_same_state(load(path), Gs)
    _assert_same_state(load(path, which="G"), G)


def test_nvidia_strict_loading_names_the_extra_tensor(tmp_path):
    G = RN.make_generator(16, seed=7)
    G.synthesis.b8.conv1.register_buffer("extra_thing", torch.zeros(3))
    path = RN.write_pickle(tmp_path / "extra.pkl", RN.snapshot(G, RN.make_discriminator(16), G, 16))
    with pytest.raises(CheckpointError, match="extra_thing"):
        load(path)


def test_nvidia_stylegan3_kwargs_from_modules(tmp_path):
    """The stylegan3 repo's StyleGAN2 networks take synthesis kwargs flat and default conv_clamp to 256."""
    G = RN.make_generator(16, seed=8, conv_clamp=256)
    kw = G._init_kwargs
    flat = dict(z_dim=kw["z_dim"], w_dim=kw["w_dim"], mapping_kwargs=kw["mapping_kwargs"], channel_base=256,
                channel_max=32, fused_modconv_default="inference_only", c_dim=0, img_resolution=16, img_channels=3)
    G._init_kwargs = flat  # conv_clamp absent from the kwargs: only the modules know it was 256
    path = RN.write_pickle(tmp_path / "sg3repo-sg2.pkl", {"G_ema": G, "G": G, "D": None})
    ours = load(path)
    assert ours.init_kwargs["synthesis_kwargs"]["conv_clamp"] == 256
    assert "fused_modconv_default" not in ours.init_kwargs["synthesis_kwargs"]
    _assert_same_state(ours, G)


def test_stylegan3_generator_without_its_layers_is_refused_by_name(tmp_path):
    """StyleGAN3 pickles load (tests/test_stylegan3.py); a StyleGAN3 record lacking the layers its kwargs
    describe is refused before a network is built, naming what the file has and what was expected."""
    src = "# training/networks_stylegan3.py\nclass SynthesisInput(torch.nn.Module):\n    pass\n"

    class SynthesisInput(RN.Persistent):
        MODULE_SRC = src

        def __init__(self):
            super().__init__()
            self.register_buffer("freqs", torch.randn(8, 2))

    class SynthesisNetwork(RN.Persistent):
        MODULE_SRC = src

        def __init__(self):
            super().__init__()
            self.input = SynthesisInput()

    class Generator(RN.Persistent):
        MODULE_SRC = src

        def __init__(self):
            super().__init__()
            self._init_args, self._init_kwargs = (), dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3)
            self.synthesis = SynthesisNetwork()
            self.mapping = SynthesisInput()

    path = RN.write_pickle(tmp_path / "sg3.pkl", {"G_ema": Generator(), "G": Generator(), "D": None})
    with pytest.raises(CheckpointError, match=r"StyleGAN3 synthesis layers in the file \[\] are not those.*L0_36_512"):
        load(path)


def test_tensorflow_pickle_is_refused_with_advice(tmp_path, monkeypatch):
    class Network:  # what dnnlib.tflib.network.Network pickles as: NEWOBJ + BUILD(state dict)
        def __init__(self, name):
            self.state = dict(version=4, name=name, static_kwargs={}, components={}, build_module_src="import os\n",
                              build_func_name="G_main", variables=[("w", np.zeros([2, 3], np.float32))])

        def __getstate__(self):
            return self.state

    Network.__module__, Network.__qualname__ = "dnnlib.tflib.network", "Network"
    for name in ("dnnlib", "dnnlib.tflib", "dnnlib.tflib.network"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["dnnlib.tflib.network"].Network = Network
    path = tmp_path / "stylegan2-ffhq-config-f.pkl"
    path.write_bytes(pickle.dumps((Network("G"), Network("D"), Network("Gs")), protocol=3))
    with pytest.raises(CheckpointError, match="TensorFlow.*legacy.py"):
        load(path)


def test_nvidia_bad_which(nvidia_snapshot):
    with pytest.raises(CheckpointError, match="which"):
        load(nvidia_snapshot[0], which="Gs")


# -------------------------------------------------------------------------------------------- rosinality

SMALL = {16: {4: 32, 8: 32, 16: 16}, 32: {4: 32, 8: 32, 16: 16, 32: 8}}


@pytest.mark.parametrize("size", [16, 32])
def test_rosinality_converted_matches_reference(tmp_path, size):
    g = RR.make_generator(size, channels=SMALL[size], seed=size)
    latent_avg = g.mean_latent(2000)
    path = RR.save_converted(tmp_path / f"rosinality-{size}.pt", g, latent_avg)
    G = load(path)
    assert G.img_resolution == size and G.num_ws == g.n_latent and G.mapping.num_layers == 3
    assert torch.equal(G.w_avg, latent_avg[0])
    assert G.provenance["source_format"] == "rosinality-stylegan2-pt (converted)"
    z = torch.from_numpy(np.random.default_rng(size).standard_normal((4, 16)).astype(np.float32))
    with torch.no_grad():
        for psi in (1.0, 0.6):
            theirs, _ = g([z], truncation=psi, truncation_latent=latent_avg)
            assert theirs.std() > 0.1
            assert _max_diff(G(z, truncation_psi=psi, noise_mode="const"), theirs) <= TOL


@pytest.mark.parametrize("legacy_format", [False, True], ids=["zip", "legacy"])
def test_rosinality_training_checkpoint(tmp_path, legacy_format):
    g_ema, g = RR.make_generator(16, channels=SMALL[16], seed=1), RR.make_generator(16, channels=SMALL[16], seed=2)
    path = RR.save_training(tmp_path / "010000.pt", g, g_ema, legacy_format=legacy_format)
    z = torch.from_numpy(np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32))
    with torch.no_grad():
        for which, ref in (("G_ema", g_ema), ("G", g)):
            G = load(path, which=which)
            assert G.provenance["source_format"] == "rosinality-stylegan2-pt (training)"
            assert "estimated" in G.provenance["w_avg"]  # training files carry no latent_avg
            assert _max_diff(G(z), ref([z])[0]) <= TOL
            # The estimate is the mean W, so truncation matches rosinality's with its own mean_latent.
            assert _max_diff(G.w_avg, ref.mean_latent(10_000, seed=5)[0]) < 0.1
    with pytest.raises(CheckpointError, match="discriminators are not supported"):
        load(path, which="D")


def test_rosinality_bare_state_dict_and_missing_g(tmp_path):
    g = RR.make_generator(16, channels=SMALL[16], seed=3)
    torch.save(g.state_dict(), tmp_path / "bare.pt")
    _ = load(tmp_path / "bare.pt")
    conv = RR.save_converted(tmp_path / "conv.pt", g, g.mean_latent(100))
    with pytest.raises(CheckpointError, match="no 'g'"):
        load(conv, which="G")


def test_rosinality_unknown_tensors_are_named(tmp_path):
    sd = RR.make_generator(16, channels=SMALL[16]).state_dict()
    sd["dwt.ll"] = torch.zeros(2)  # e.g. a SWAGAN generator
    torch.save({"g_ema": sd, "latent_avg": torch.zeros(16)}, tmp_path / "swagan.pt")
    with pytest.raises(CheckpointError, match="dwt.ll"):
        load(tmp_path / "swagan.pt")


def test_channel_table_fits():
    def table(cm):
        return {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm, 256: 64 * cm, 512: 32 * cm,
                1024: 16 * cm}

    assert fit_channel_table(table(2)) == (32768, 512)
    assert fit_channel_table(table(1)) == (16384, 512)
    assert fit_channel_table(SMALL[32]) == (256, 32)
    with pytest.raises(CheckpointError, match="cannot be written"):
        fit_channel_table({4: 512, 8: 512, 16: 512, 32: 512, 64: 1024})  # channel_multiplier 4
    with pytest.raises(CheckpointError, match="cannot be written"):
        fit_channel_table({4: 32, 8: 8, 16: 16})


# --------------------------------------------------------------------------------------------------- CLI


def test_convert_cli_round_trip(nvidia_snapshot, tmp_path):
    src = nvidia_snapshot[0]
    out = tmp_path / "converted.safetensors"
    runner = CliRunner()
    r = runner.invoke(cli, ["convert", str(src), "--out", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "wrote" in r.output and out.exists()
    native, direct = load(out), load(src)
    prov = native.provenance
    assert prov["source_file"] == str(src) and prov["source_format"].startswith("nvidia") and prov["which"] == "G_ema"
    assert prov["init_kwargs_found"]["mapping_kwargs"]["num_layers"] == 2
    z = torch.randn(2, native.z_dim)
    with torch.no_grad():
        assert torch.equal(native(z), direct(z))
    # Refuses to overwrite, and insists on .safetensors.
    r = runner.invoke(cli, ["convert", str(src), "--out", str(out)])
    assert r.exit_code != 0 and "already exists" in str(r.exception)
    r = runner.invoke(cli, ["convert", str(src), "--out", str(tmp_path / "x.pkl")])
    assert r.exit_code != 0 and ".safetensors" in r.output
    r = runner.invoke(cli, ["convert", str(src), "--which", "G", "--out", str(out), "--overwrite"])
    assert r.exit_code == 0 and load_generator(out).provenance["which"] == "G"


def test_convert_rosinality_and_help(tmp_path):
    g = RR.make_generator(16, channels=SMALL[16], seed=9)
    src = RR.save_converted(tmp_path / "ros.pt", g, g.mean_latent(100))
    out = tmp_path / "ros.safetensors"
    r = CliRunner().invoke(cli, ["convert", str(src), "-o", str(out)], catch_exceptions=False)
    assert r.exit_code == 0 and load_generator(out).provenance["source_format"].startswith("rosinality")
    r = CliRunner().invoke(cli, ["convert", "--help"])
    assert r.exit_code == 0 and "Example" in r.output


def test_info_shows_pickle_kwargs(nvidia_snapshot):
    r = CliRunner().invoke(cli, ["info", str(nvidia_snapshot[0])], catch_exceptions=False)
    assert r.exit_code == 0
    assert "init_kwargs_found" in r.output and '"channel_base": 256' in r.output
    r = CliRunner().invoke(cli, ["info", str(nvidia_snapshot[0]), "--json"], catch_exceptions=False)
    doc = json.loads(r.output)
    assert doc["init_kwargs"]["synthesis_kwargs"]["channel_max"] == 32
