"""The feature-by-architecture table of the README, cell by cell: every generator ganlens loads (StyleGAN2, genforce
StyleGAN v1 and PGGAN, NVIDIA StyleGAN3) is loaded from a file of its format, and each feature either works on it
through the one generator interface or is refused in one line naming what the architecture lacks."""

from __future__ import annotations

import re

import numpy as np
import pytest
import reference_genforce as RG
import reference_nvidia as RN
import reference_nvidia_sg3 as R3
import torch
from click.testing import CliRunner

import ganlens
from ganlens.cli import cli
from ganlens.directions import fit_boundary
from ganlens.directions.sefa import sefa
from ganlens.edit import move
from ganlens.errors import GanlensError, LatentError
from ganlens.invert import project
from ganlens.models.native import load_generator, save_generator
from ganlens.restore import Downsample, restore

ARCHS = ["stylegan2", "stylegan1", "pggan", "stylegan3"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module", params=ARCHS)
def loaded(request, tmp_path_factory):
    """(architecture, the checkpoint file, the generator loaded from it)."""
    arch = request.param
    folder = tmp_path_factory.mktemp(arch)
    if arch == "stylegan2":
        path = folder / "tiny.safetensors"
        save_generator(ganlens.load("random-tiny"), path)
    elif arch == "stylegan1":
        path = RG.save_model_zoo(folder / "stylegan_tiny16.pth", RG.stylegan1_state(res=16, seed=1))
    elif arch == "pggan":
        path = RG.save_model_zoo(folder / "pggan_tiny16.pth", RG.pggan_state(res=16, seed=1))
    else:
        path = RN.write_pickle(folder / "stylegan3-t.pkl",
                               R3.snapshot(R3.make_generator("T", seed=1), R3.make_generator("T", seed=2)))
    G = ganlens.load(path)
    assert G.architecture == arch
    return arch, path, G


def _main_space(G) -> str:
    return "w" if "w" in G.spaces else "z"


def test_sampling_and_rendering_in_every_supported_space(loaded):
    arch, _, G = loaded
    for space in ("z", "w", "w+", "s"):
        if space not in G.spaces:
            with pytest.raises(GanlensError, match=f"no '{re.escape(space)}' space") as info:
                G.sample(2, seed=0, space=space) if space != "s" else G.to_styles(G.sample(2, seed=0))
            assert "\n" not in str(info.value)
            continue
        code = G.sample(2, seed=0, space=space) if space != "s" else G.to_styles(G.sample(2, seed=0))
        img = G.render(code)
        assert img.shape == (2, G.img_resolution, G.img_resolution, 3) and img.dtype == np.uint8
        np.testing.assert_array_equal(img, G.render(code))
        assert img[0].std() > 0 and not np.array_equal(img[0], img[1])


def test_native_round_trip_and_the_cli_info_and_convert(loaded, tmp_path):
    arch, path, G = loaded
    out = tmp_path / "native.safetensors"
    r = CliRunner().invoke(cli, ["convert", str(path), "--out", str(out)])
    assert r.exit_code == 0, r.output
    again = load_generator(out)
    assert type(again) is type(G)
    code = G.sample(3, seed=4, space=_main_space(G))
    np.testing.assert_array_equal(again.render(code), G.render(code))
    r = CliRunner().invoke(cli, ["info", str(out)])
    assert r.exit_code == 0, r.output
    assert f"architecture={arch!r}" in r.output or arch == "stylegan2"
    assert "spaces" in r.output and ", ".join(G.spaces) in r.output
    wrong = "genforce" if arch in ("stylegan2", "stylegan3") else "nvidia"
    r = CliRunner().invoke(cli, ["info", str(path), "--format", wrong])
    assert r.exit_code != 0 and isinstance(r.exception, GanlensError), r.output
    assert str(path.name) in str(r.exception) and "\n" not in str(r.exception)


def test_sefa_directions_move_the_image(loaded):
    _, _, G = loaded
    dirs = sefa(G, num=2)
    assert dirs[0].space == _main_space(G) and dirs[0].metrics["eigenvalue"] >= dirs[1].metrics["eigenvalue"]
    code = G.sample(2, seed=1, space=_main_space(G))
    moved = move(code, dirs[0], [-3.0, 3.0], num_ws=G.num_ws)
    img = G.render(moved).astype(float)
    assert np.abs(img[0] - img[1]).mean() > 2  # a visible change between the two ends


@pytest.mark.parametrize("space", ["w", "z"])
def test_boundary_of_a_pixel_attribute_steers_it(loaded, space):
    _, _, G = loaded
    if space not in G.spaces:
        pytest.skip(f"{G.architecture} has no {space!r} space (the sampling test checks the refusal)")
    codes = G.sample(400, seed=2, space=space)
    brightness = G.render(codes).astype(float).mean(axis=(1, 2, 3))
    d = fit_boundary(codes, brightness, attribute="brightness", ratio=0.2, num_ws=G.num_ws)
    probe = G.sample(20, seed=3, space=space)
    ends = G.render(move(probe, d, [-2.0, 2.0], num_ws=G.num_ws)).astype(float).mean(axis=(1, 2, 3)).reshape(20, 2)
    assert (ends[:, 1] > ends[:, 0]).mean() >= 0.9


def test_inversion_in_every_space_of_the_architecture(loaded):
    arch, _, G = loaded
    target = G.render(G.sample(2, seed=5, space=_main_space(G)))
    for space in ("z", "w", "w+"):
        if space not in G.spaces:
            continue
        res = project(G, target, "ganlens", space=space, steps=60, restarts=2 if space == "z" else 1)
        assert res.code.space == space
        assert res.history[-1].mean() < 0.7 * res.history[0].mean(), space
    if G.synthesis.noise_layers():  # noise maps optimised beside W+ where the architecture has them
        res = project(G, target, "w+noise", steps=30)
        assert res.code.noise is not None and len(res.code.noise) == len(G.synthesis.noise_layers())
    if "w+" not in G.spaces:
        with pytest.raises(LatentError, match="has no 'w\\+' space"):
            project(G, target, "ganlens", space="w+", steps=1)


def test_restoration_runs_through_each_architecture(loaded):
    arch, _, G = loaded
    clean = G.synthesize(G.sample(1, seed=6, space=_main_space(G)))
    small = Downsample(2)(clean)
    if "w+" in G.spaces:
        res = restore(G, small, "sr:2", steps=40)
    else:
        with pytest.raises(GanlensError, match="use method='pulse'"):
            restore(G, small, "sr:2", steps=1)
        res = restore(G, small, "sr:2", method="pulse", steps=40)
    assert res.restored.shape == (1, G.img_resolution, G.img_resolution, 3)


def test_stylegan3_input_transform_is_an_edit_of_its_own(loaded):
    arch, _, G = loaded
    code = G.sample(1, seed=7)
    if arch != "stylegan3":
        assert not hasattr(G, "transformed")
        return
    base = G.render(code)
    np.testing.assert_array_equal(G.render(code, transform=(0.0, 0.0, 0.0)), base)
    assert not np.array_equal(G.render(code, transform=(0.1, 0.0, 0.0)), base)
    np.testing.assert_array_equal(G.render(code), base)  # the shared generator is unchanged


def test_layer_presets_follow_each_architecture(loaded):
    """'coarse' / 'middle' / 'fine' name the w's feeding 4-8 px, 16-32 px and 64 px+ content on every architecture:
    a 'fine' edit leaves every coarser layer's output bit for bit (StyleGAN v1 and v2, whose layers have one grid
    size), and StyleGAN3's bands come from its cutoffs, not from its 16 px-and-up sampling grids."""
    from ganlens.latents import presets, resolve_layers

    arch, _, G = loaded
    res = G.w_resolutions
    assert len(res) == G.num_ws and res == sorted(res)
    named = presets(res)
    if arch == "pggan":
        assert named["coarse"] == (0,)
        with pytest.raises(GanlensError, match="preset 'fine' is empty"):
            resolve_layers("fine", res)
        return
    assert named["coarse"] and named["fine"] and res[0] == 4 and res[-1] == G.img_resolution
    if arch == "stylegan3":
        rates = [G.synthesis.input.sampling_rate] + [layer.out_sampling_rate for layer in G.synthesis.layers()]
        assert min(rates) >= 16 and 0 in named["coarse"]  # by grid size nothing would be coarse
        return
    # v1 / v2: a change to the fine w's cannot reach a conv layer below the fine resolution
    fine_from = res[named["fine"][0]]
    outputs: dict[str, torch.Tensor] = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: outputs.__setitem__(name, out.detach().clone()))
             for name, m in G.synthesis.named_modules()
             if type(m).__name__ in ("SynthesisLayer", "StyleGAN1Layer") and m.resolution < fine_from]
    try:
        code = G.sample(2, seed=0, space="w").to_wplus(G.num_ws)
        G.synthesize(code)
        before = dict(outputs)
        t = code.tensor.clone()
        t[:, list(named["fine"])] += 1.0
        G.synthesize(ganlens.LatentCode("w+", t))
    finally:
        for h in hooks:
            h.remove()
    assert before and all(torch.equal(before[k], outputs[k]) for k in before)
    t = code.tensor.clone()
    t[:, list(named["coarse"])] += 1.0
    assert not torch.equal(G.synthesize(code), G.synthesize(ganlens.LatentCode("w+", t)))


def test_stylegan3_bands_at_full_size():
    """The 1024 px config-T schedule: coarse = the input and the first three layers (cutoffs 2-4 cycles), not
    nothing, as the grid sizes (36 px and up) would say."""
    from ganlens.latents import presets
    from ganlens.models.stylegan3 import Generator as SG3

    G = SG3(z_dim=8, c_dim=0, w_dim=8, img_resolution=1024, img_channels=3,
            synthesis_kwargs=dict(channel_base=2**16, channel_max=2))
    assert G.w_resolutions == [4, 4, 8, 8, 16, 32, 32, 64, 128, 128, 256, 512, 512, 1024, 1024, 1024]
    assert presets(G.w_resolutions)["coarse"] == (0, 1, 2, 3)
