"""The generator core: shapes, determinism, the maths of equalised lr and (de)modulation, NVIDIA names, round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import ganlens
from ganlens import LatentCode, LatentError
from ganlens.models import Generator, load_generator, save_generator
from ganlens.models.layers import (
    FullyConnectedLayer,
    bias_act,
    demodulation_coefficients,
    modulated_conv2d,
    setup_filter,
    upsample2d,
)


def tiny(res: int = 16, seed: int = 0, **synth) -> Generator:
    torch.manual_seed(seed)
    synth = {"channel_base": 128, "channel_max": 16, **synth}
    G = Generator(z_dim=8, c_dim=0, w_dim=12, img_resolution=res, img_channels=3,
                  mapping_kwargs={"num_layers": 3}, synthesis_kwargs=synth)
    # Untrained noise strengths are 0; make them matter so noise handling is exercised.
    with torch.no_grad():
        for _, layer in G.synthesis.noise_layers():
            layer.noise_strength.fill_(0.3)
    return G.eval()


def test_shapes_and_dtypes():
    G = tiny(32)
    assert G.num_ws == 2 * int(math.log2(32)) - 2
    z = G.sample_z(5, seed=1)
    ws = G.mapping(z)
    assert ws.shape == (5, G.num_ws, G.w_dim) and ws.dtype == torch.float32
    img = G.synthesis(ws)
    assert img.shape == (5, 3, 32, 32) and img.dtype == torch.float32
    assert G.render(G.sample(3, seed=0)).shape == (3, 32, 32, 3)
    assert G.render(G.sample(3, seed=0)).dtype == np.uint8


def test_same_seed_same_bytes_and_seeds_differ():
    G = tiny()
    a = G.render(G.sample(4, seed=7))
    b = G.render(G.sample(4, seed=7))
    c = G.render(G.sample(4, seed=8))
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_noise_modes():
    G = tiny()
    ws = G.mapping(G.sample_z(2, seed=0))
    const1, const2 = G.synthesis(ws, noise_mode="const"), G.synthesis(ws, noise_mode="const")
    assert torch.equal(const1, const2)
    torch.manual_seed(1)
    r1 = G.synthesis(ws, noise_mode="random")
    assert not torch.allclose(r1, const1)
    assert not torch.allclose(G.synthesis(ws, noise_mode="none"), const1)
    # Explicit maps equal to the stored constants reproduce 'const' exactly.
    maps = [layer.noise_const[None, None] for _, layer in G.synthesis.noise_layers()]
    assert torch.allclose(G.synthesis(ws, noise=maps), const1)


def test_fully_connected_equalised_lr_matches_hand_computation():
    torch.manual_seed(0)
    fc = FullyConnectedLayer(5, 3, activation="lrelu", lr_multiplier=0.01, bias_init=0.5)
    x = torch.randn(4, 5)
    W, b = fc.weight.detach().numpy(), fc.bias.detach().numpy()
    # Stored weights are N(0, 1/lr²); the runtime scale brings them back to N(0, 1/fan_in).
    assert 50 < W.std() < 200
    pre = x.numpy() @ (W * 0.01 / math.sqrt(5)).T + b * 0.01
    want = np.where(pre > 0, pre, 0.2 * pre) * math.sqrt(2)
    np.testing.assert_allclose(fc(x).detach().numpy(), want, rtol=1e-5, atol=1e-6)


def test_mapping_network_matches_hand_computation():
    G = tiny()
    z = G.sample_z(3, seed=4)
    x = z.numpy().astype(np.float64)
    x = x / np.sqrt((x**2).mean(axis=1, keepdims=True) + 1e-8)
    for i in range(3):
        fc = getattr(G.mapping, f"fc{i}")
        W, b = fc.weight.detach().double().numpy(), fc.bias.detach().double().numpy()
        pre = x @ (W * 0.01 / math.sqrt(W.shape[1])).T + b * 0.01
        x = np.where(pre > 0, pre, 0.2 * pre) * math.sqrt(2)
    ws = G.mapping(z).detach().numpy()
    for layer in range(G.num_ws):
        np.testing.assert_allclose(ws[:, layer], x, rtol=1e-4, atol=1e-5)


def test_truncation_pulls_to_w_avg():
    G = tiny()
    with torch.no_grad():
        G.mapping.w_avg.copy_(torch.randn(G.w_dim))
        z = G.sample_z(3, seed=0)
        full = G.mapping(z)
        assert torch.allclose(G.mapping(z, truncation_psi=0.0), G.w_avg.expand_as(full))
        half = G.mapping(z, truncation_psi=0.5)
        assert torch.allclose(half, G.w_avg + 0.5 * (full - G.w_avg), atol=1e-6)
        cut = G.mapping(z, truncation_psi=0.0, truncation_cutoff=2)
        assert torch.allclose(cut[:, 2:], full[:, 2:]) and torch.allclose(cut[:, :2], G.w_avg.expand(3, 2, -1))


def test_demodulated_kernels_have_unit_norm():
    torch.manual_seed(0)
    weight = torch.randn(6, 4, 3, 3)
    styles = torch.randn(5, 4) + 1
    d = demodulation_coefficients(weight, styles)
    kernels = weight[None] * styles[:, None, :, None, None] * d[:, :, None, None, None]
    norms = kernels.square().sum(dim=[2, 3, 4]).sqrt()
    np.testing.assert_allclose(norms.numpy(), np.ones((5, 6)), rtol=1e-5)


def test_modulated_conv_equals_per_sample_kernels():
    torch.manual_seed(0)
    x, weight, styles = torch.randn(3, 4, 8, 8), torch.randn(6, 4, 3, 3), torch.randn(3, 4)
    got = modulated_conv2d(x, weight, styles, padding=1)
    for i in range(3):
        k = weight * styles[i][None, :, None, None]
        k = k / k.square().sum(dim=[1, 2, 3], keepdim=True).add(1e-8).sqrt()
        want = F.conv2d(x[i : i + 1], k, padding=1)
        assert torch.allclose(got[i : i + 1], want, atol=1e-5)


@pytest.mark.parametrize("channels_last", [False, True])
def test_fused_epilogue_equals_separate_ops_and_keeps_the_memory_format(channels_last):
    torch.manual_seed(0)
    x, weight, styles = torch.randn(3, 4, 8, 8), torch.randn(6, 4, 3, 3), torch.randn(3, 4)
    noise, bias = torch.randn(8, 8) * 0.3, torch.randn(6)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    got = modulated_conv2d(x, weight, styles, noise=noise, padding=1, bias=bias, activation="lrelu", clamp=1.5)
    plain = modulated_conv2d(x, weight, styles, padding=1)
    want = bias_act(plain + noise, bias, "lrelu", clamp=1.5)
    assert torch.allclose(got, want, atol=1e-5)
    assert got.is_contiguous(memory_format=torch.channels_last) == channels_last
    g_got, = torch.autograd.grad(got.square().sum(), x)
    g_want, = torch.autograd.grad(want.square().sum(), x)
    assert torch.allclose(g_got, g_want, atol=1e-4)


def test_upsampling_preserves_constant_images_and_doubles_size():
    f = setup_filter()
    assert torch.isclose(f.sum(), torch.tensor(1.0))
    img = torch.full((1, 3, 8, 8), 0.7)
    up = upsample2d(img, f)
    assert up.shape == (1, 3, 16, 16)
    assert torch.allclose(up[:, :, 2:-2, 2:-2], torch.full_like(up[:, :, 2:-2, 2:-2], 0.7), atol=1e-6)
    torch.manual_seed(0)
    x, weight, styles = torch.randn(2, 4, 8, 8), torch.randn(5, 4, 3, 3), torch.randn(2, 4)
    y = modulated_conv2d(x, weight, styles, up=2, padding=1, resample_filter=f)
    assert y.shape == (2, 5, 16, 16)


def nvidia_names(res: int, mapping_layers: int) -> set[str]:
    """The state-dict keys NVIDIA's stylegan2-ada-pytorch Generator has (skip architecture, c_dim = 0)."""
    keys = {"mapping.w_avg"}
    for i in range(mapping_layers):
        keys |= {f"mapping.fc{i}.weight", f"mapping.fc{i}.bias"}
    layer_keys = ["weight", "bias", "noise_strength", "noise_const", "resample_filter", "affine.weight", "affine.bias"]
    rgb_keys = ["weight", "bias", "affine.weight", "affine.bias"]
    r = 4
    while r <= res:
        b = f"synthesis.b{r}"
        keys.add(f"{b}.resample_filter")
        convs = ["conv1"] if r == 4 else ["conv0", "conv1"]
        if r == 4:
            keys.add(f"{b}.const")
        for c in convs:
            keys |= {f"{b}.{c}.{k}" for k in layer_keys}
        keys |= {f"{b}.torgb.{k}" for k in rgb_keys}
        r *= 2
    return keys


@pytest.mark.parametrize("res", [16, 32])
def test_state_dict_has_exactly_nvidias_names_and_loads_strictly(res):
    G = tiny(res)
    assert set(G.state_dict()) == nvidia_names(res, 3)
    # A state dict from elsewhere with these names (here: another instance) loads with strict=True.
    other = tiny(res, seed=5).state_dict()
    G.load_state_dict(other, strict=True)
    z = G.sample_z(2, seed=0)
    assert torch.equal(G(z), tiny(res, seed=5)(z))


def test_native_round_trip_gives_identical_images(tmp_path):
    G = tiny()
    G.name = "tiny"
    path = save_generator(G, tmp_path / "g.safetensors", provenance={"note": "test"})
    H = load_generator(path)
    assert H.provenance == {"note": "test"} and H.name == "tiny"
    code = G.sample(4, seed=2, truncation_psi=0.7)
    assert G.render(code).tobytes() == H.render(code).tobytes()
    # `ganlens.load` gives the same weights in the channels-last layout on the CPU (faster convolutions): the
    # images agree within one grey level (summation order differs).
    L = ganlens.load(str(path))
    conv = L.synthesis.b16.conv0.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert all(torch.equal(a, b) for a, b in zip(L.state_dict().values(), H.state_dict().values()))
    assert np.abs(L.render(code).astype(int) - H.render(code).astype(int)).max() <= 1


def test_style_space_round_trip():
    G = tiny()
    code = G.sample(3, seed=1, space="w+")
    s = G.to_styles(code)
    assert s.tensor.shape == (3, sum(G.style_dims()))
    assert torch.allclose(G.synthesize(s), G.synthesize(code), atol=1e-6)


def test_latent_code_save_load_and_validation(tmp_path):
    G = tiny()
    code = G.sample(3, seed=0, space="w+")
    code.noise = [layer.noise_const[None, None].clone() for _, layer in G.synthesis.noise_layers()]
    path = code.save(tmp_path / "c.npz")
    back = LatentCode.load(path)
    assert back.space == "w+" and torch.equal(back.tensor, code.tensor) and len(back.noise) == len(code.noise)
    assert G.render(back).tobytes() == G.render(code).tobytes()
    with pytest.raises(LatentError, match=r"shape \[N, 12\]"):
        G.synthesize(LatentCode("w", torch.zeros(2, 7)))
    bad = code.tensor.clone()
    bad[1, 0, 0] = float("nan")
    with pytest.raises(LatentError, match="NaN"):
        G.synthesize(LatentCode("w+", bad))
    with pytest.raises(LatentError, match="unknown latent space"):
        LatentCode("q", torch.zeros(1, 3))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(LatentError, match="cannot read latent file"):
        LatentCode.load(tmp_path / "junk.npz")


def test_spaces_are_consistent():
    G = tiny()
    z = G.sample(2, seed=3, space="z")
    w = G.sample(2, seed=3, space="w")
    wp = G.sample(2, seed=3, space="w+")
    assert torch.allclose(G.synthesize(z), G.synthesize(w)) and torch.allclose(G.synthesize(w), G.synthesize(wp))
    assert torch.equal(w.to_wplus(G.num_ws).tensor, wp.tensor)


def test_one_broadcast_and_one_truncation_rule():
    from ganlens.latents import broadcast_w, check_truncation

    G = tiny()
    w = G.sample(2, seed=3, space="w").tensor
    ws = broadcast_w(w, G.num_ws)
    assert ws.shape == (2, G.num_ws, G.w_dim) and all(torch.equal(ws[:, i], w) for i in range(G.num_ws))
    ws[:, 0] += 1  # a copy: changing one layer's w leaves the others and the source alone
    assert torch.equal(ws[:, 1], w)
    with pytest.raises(LatentError, match=r"\[N, w_dim\]; got shape \[2, 1, 12\]"):
        broadcast_w(w[:, None], G.num_ws)
    check_truncation("z", 1.0)
    check_truncation("w", 0.7)
    for bad in (lambda: check_truncation("z", 0.7), lambda: G.sample(2, truncation_psi=0.7, space="z")):
        with pytest.raises(LatentError, match=r"truncation \(psi 0.7\) is defined in W"):
            bad()


def test_conditional_models_are_refused_clearly():
    with pytest.raises(NotImplementedError, match="c_dim=3"):
        Generator(z_dim=8, c_dim=3, w_dim=8, img_resolution=16, img_channels=3)


def test_unknown_model_lists_bundled_names():
    with pytest.raises(ganlens.UnknownModelError, match="random-tiny"):
        ganlens.load("no-such-model")


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    G = tiny()
    path = save_generator(G, tmp_path / "g.safetensors")
    data = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ganlens.CheckpointError, match="corrupt or truncated"):
        ganlens.load(str(tmp_path / "cut.safetensors"))
    (tmp_path / "text.safetensors").write_text("hello")
    with pytest.raises(ganlens.CheckpointError):
        ganlens.load(str(tmp_path / "text.safetensors"))


def test_bf16_render_is_close_to_fp32():
    G = ganlens.load("random-tiny")
    code = G.sample(4, seed=2)
    a, b = G.render(code).astype(int), G.render(code, precision="bf16").astype(int)
    assert np.abs(a - b).mean() < 3 and not np.array_equal(a, b)  # really computed in bf16, still the same picture
    with pytest.raises(ValueError, match="precision"):
        G.render(code, precision="fp8")
    # The generator's own precision is the default of render / synthesize; an explicit argument wins.
    G.precision = "bf16"
    assert np.array_equal(G.render(code), b) and np.array_equal(G.render(code, precision="fp32"), a)
    assert G.synthesize(code).dtype == torch.float32


def test_auto_precision_is_bf16_only_where_the_cpu_has_it(tmp_path, monkeypatch):
    """'auto' renders in bf16 on a CPU with bf16 instructions and in fp32 elsewhere (where bf16 is emulated and
    slower), read from the CPU's flags; the same for the GAN and control training configs' default."""
    from ganlens.models import precision as P

    amd, intel = tmp_path / "amd", tmp_path / "intel"
    amd.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx avx2 fma f16c\n")
    intel.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_tile amx_bf16\n")
    assert not P.cpu_has_bf16(str(amd)) and P.cpu_has_bf16(str(intel))
    assert not P.cpu_has_bf16(str(tmp_path / "missing"))  # not Linux: fp32, never the slow choice
    G = ganlens.load("random-tiny")
    code = G.sample(3, seed=5)
    fp32, bf16 = G.render(code, precision="fp32"), G.render(code, precision="bf16")
    for has, expected in ((False, fp32), (True, bf16)):
        monkeypatch.setattr(P, "cpu_has_bf16", lambda has=has: has)
        assert P.fast_precision("cpu") == ("bf16" if has else "fp32")
        assert np.array_equal(G.render(code, precision="auto"), expected)
    assert P.fast_precision("cuda") == "bf16"
