"""StyleGAN3 (configs T and R): NVIDIA stylegan3 pickles load strictly into `ganlens.models.stylegan3`, give the
images of an independent re-implementation of NVIDIA's forward pass (tests/reference_nvidia_sg3.py), and the
generator offers ganlens' latent interface plus the input transform as an edit."""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import pickle
import shlex

import numpy as np
import pytest
import reference_nvidia as RN
import reference_nvidia_sg3 as R3
import scipy.signal
import scipy.special
import torch
import torch.nn.functional as F

from ganlens import load
from ganlens.errors import CheckpointError, InputError, LatentError, UnsafeCheckpointError
from ganlens.invert import project
from ganlens.latents import LatentCode
from ganlens.metrics.quality import psnr
from ganlens.models import stylegan3 as sg3
from ganlens.models.layers import reference_ops

TOL = 1e-4
RES = 32


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The tensors here are tiny: intra-op threads only add contention on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module", params=["T", "R"])
def sg3_file(request, tmp_path_factory):
    """(config, path, reference G, reference G_ema) for a tiny NVIDIA StyleGAN3 training snapshot."""
    cfg = request.param
    G_ref, G_ema_ref = R3.make_generator(cfg, seed=1), R3.make_generator(cfg, seed=2)
    protocol = 3 if cfg == "T" else 4
    path = RN.write_pickle(tmp_path_factory.mktemp("sg3") / f"stylegan3-{cfg.lower()}-tiny.pkl",
                           R3.snapshot(G_ref, G_ema_ref), protocol=protocol)
    return cfg, path, G_ref, G_ema_ref


@pytest.fixture(scope="module")
def G_T(tmp_path_factory):
    """A loaded config-T generator (shared: tests that change it work on a copy)."""
    path = RN.write_pickle(tmp_path_factory.mktemp("sg3t") / "t.pkl",
                           R3.snapshot(R3.make_generator("T", seed=3), R3.make_generator("T", seed=4)))
    return load(path)


def _z(n: int, dim: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32))


# ------------------------------------------------------------------------------------------- loading


@pytest.mark.parametrize("which", ["G_ema", "G"])
def test_pickle_loads_strictly_and_matches_reference(sg3_file, which):
    cfg, path, G_ref, G_ema_ref = sg3_file
    ref = G_ema_ref if which == "G_ema" else G_ref
    G = load(path, which=which)
    assert isinstance(G, sg3.Generator) and G.architecture == "stylegan3" and G.spaces == ("z", "w", "w+")
    assert not G.training and not any(p.requires_grad for p in G.parameters())
    assert (G.num_ws, G.img_resolution, G.img_channels, G.precision) == (6, RES, 3, "fp32")
    assert G.provenance["source_format"] == "nvidia-stylegan3-pkl" and G.provenance["which"] == which
    found = G.provenance["init_kwargs_found"]
    assert found["channel_base"] == R3.TINY[cfg]["channel_base"] and found["mapping_kwargs"]["num_layers"] == 2
    assert G.init_kwargs["synthesis_kwargs"].get("use_radial_filters", False) == (cfg == "R")
    ours, theirs = G.state_dict(), ref.state_dict()
    assert set(ours) == set(theirs)
    for k in ours:
        assert torch.equal(ours[k], theirs[k]), k
    # None filters (ToRGB) are absent from both; config R's first layers hold 2-D radial filters.
    assert all(k.startswith(("mapping.", "synthesis.")) for k in ours)
    radial = [k for k, v in ours.items() if k.endswith("down_filter") and v.ndim == 2]
    assert (len(radial) == 2) if cfg == "R" else not radial
    z = _z(4)
    with torch.no_grad():
        for psi, cutoff in ((1.0, None), (0.6, None), (0.5, 3)):
            a = G(z, truncation_psi=psi, truncation_cutoff=cutoff)
            b = ref(z, truncation_psi=psi, truncation_cutoff=cutoff)
            assert b.std() > 0.03  # an image, not a degenerate constant
            assert (a - b).abs().max().item() <= TOL, (cfg, psi, cutoff)
        assert torch.equal(G(z), G(z))  # deterministic: no noise, no randomness in the forward pass
        # Per-sample style normalisation: a sample's image does not depend on the rest of the batch.
        assert (G(z[:1]) - G(z)[:1]).abs().max().item() <= 1e-5


def test_missing_or_mismatched_tensor_is_named(tmp_path):
    G = R3.make_generator("T", seed=5)
    G.synthesis.input._buffers.pop("phases")
    path = RN.write_pickle(tmp_path / "missing.pkl", R3.snapshot(G, G))
    with pytest.raises(CheckpointError, match=r"missing \['synthesis.input.phases'\]"):
        load(path)
    G = R3.make_generator("T", seed=5)
    layer = getattr(G.synthesis, G.synthesis.layer_names[1])
    layer.magnitude_ema = torch.ones([2])
    path = RN.write_pickle(tmp_path / "shape.pkl", R3.snapshot(G, G))
    with pytest.raises(CheckpointError, match=f"{G.synthesis.layer_names[1]}.magnitude_ema"):
        load(path)


def test_kwargs_that_disagree_with_the_modules_are_refused(tmp_path):
    G = R3.make_generator("T", seed=6)
    G._init_kwargs["first_cutoff"] = 3  # the modules were built with 2: the input's bandwidth says so
    path = RN.write_pickle(tmp_path / "cutoff.pkl", R3.snapshot(G, G))
    with pytest.raises(CheckpointError, match=r"synthesis.input.bandwidth is 2.0 in the file but 3.0"):
        load(path)
    G = R3.make_generator("T", seed=6)
    G._init_kwargs["channel_max"] = 8  # other channel counts: other layer names
    path = RN.write_pickle(tmp_path / "channels.pkl", R3.snapshot(G, G))
    with pytest.raises(CheckpointError, match="L0_36_16.*are not those its kwargs give.*L0_36_8"):
        load(path)


def test_unsafe_stylegan3_pickle_is_refused_and_never_runs(tmp_path):
    sentinel = tmp_path / "PWNED"

    class Reduce:
        def __reduce__(self):
            return (os.system, (f"touch {shlex.quote(str(sentinel))}",))

    G = R3.make_generator("R", seed=7)
    G.synthesis.input.evil = Reduce()  # a plain attribute: it lands in the pickled __dict__
    path = RN.write_pickle(tmp_path / "stylegan3-evil.pkl", R3.snapshot(G, G))
    assert b"SynthesisInput" in path.read_bytes()
    with pytest.raises(UnsafeCheckpointError, match="posix.system|os.system"):
        load(path)
    assert not sentinel.exists()

    class Naive(pickle.Unpickler):  # prove the payload is live: every global resolves
        def find_class(self, module, name):
            if (module, name) == ("torch_utils.persistence", "_reconstruct_persistent_obj"):
                return lambda meta: meta
            return dict if module.startswith("dnnlib") else super().find_class(module, name)

    Naive(io.BytesIO(path.read_bytes())).load()
    assert sentinel.exists()


# ------------------------------------------------------------------------------------------- the maths


def test_filter_design_matches_scipy():
    cases = ((12, 2.0, 12.0, 32), (24, 2.0, 12.0, 64), (12, 16.0, 7.4, 64), (7, 3.0, 4.0, 16))
    for numtaps, cutoff, width, fs in cases:
        ours = sg3.lowpass_filter(numtaps, cutoff, width, fs).numpy()
        theirs = scipy.signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs)
        assert np.abs(ours - theirs).max() < 1e-7
        assert sg3.kaiser_beta(sg3.kaiser_atten(numtaps, width / (fs / 2))) == pytest.approx(
            scipy.signal.kaiser_beta(scipy.signal.kaiser_atten(numtaps, width / (fs / 2))))
        radial = sg3.lowpass_filter(numtaps, cutoff, width, fs, radial=True).numpy()
        assert radial.shape == (numtaps, numtaps) and radial.sum() == pytest.approx(1, abs=1e-6)
        assert np.allclose(radial, radial.T) and np.allclose(radial, radial[::-1, ::-1])
    x = np.linspace(0, 60, 2001)
    assert np.abs(sg3.bessel_j1(x) - scipy.special.j1(x)).max() < 1e-12
    assert sg3.lowpass_filter(1, 2.0, 1.0, 16) is None


@pytest.mark.parametrize("fast", [True, False])
def test_fir_matches_tap_by_tap_upfirdn(fast):
    """Separable taps (two 1-D passes, each resampling its own axis) and 2-D filters, with zero insertion, padding
    and cropping, decimation; in the fast ops and the reference ops."""
    with contextlib.nullcontext() if fast else reference_ops():
        _fir_matches_tap_by_tap_upfirdn()


def _fir_matches_tap_by_tap_upfirdn():
    x = torch.from_numpy(np.random.default_rng(1).standard_normal((2, 3, 19, 17)).astype(np.float32))
    taps = sg3.lowpass_filter(12, 2.0, 6.0, 32)
    radial = sg3.lowpass_filter(8, 4.0, 6.0, 32, radial=True)
    for f, up, down, pad, gain in ((taps, 2, 1, (9, 8, 7, 10), 4.0), (taps, 4, 2, (-6, -9, 3, -2), 16.0),
                                   (taps, 1, 2, (0, 0, 0, 0), 1.0), (radial, 1, 2, (-1, 2, 0, -3), 1.0),
                                   (radial, 2, 2, (4, 3, 4, 3), 4.0), (None, 1, 1, (-2, 1, 0, 0), 2.0)):
        ours = sg3.fir(x, f, up=up, down=down, padding=pad, gain=gain)
        f2 = torch.ones([1, 1]) if f is None else (f[:, None] * f[None, :] if f.ndim == 1 else f)
        theirs = RN.upfirdn2d(x, f2, up=up, down=down, padding=pad, gain=gain)
        assert ours.shape == theirs.shape and (ours - theirs).abs().max().item() < 1e-5, (up, down, pad)


def test_filters_of_a_built_network_are_the_files(sg3_file):
    """ganlens designs the same filters NVIDIA's code (SciPy) put into the file."""
    cfg, path, _, G_ema_ref = sg3_file
    G = sg3.Generator(**load(path).init_kwargs)
    theirs = G_ema_ref.state_dict()
    for k, v in G.state_dict().items():
        if k.endswith(("up_filter", "down_filter")):
            assert (v - theirs[k]).abs().max().item() < 1e-6, k


def test_fourier_input_samples_sinusoids_at_the_transformed_grid(G_T):
    inp = G_T.synthesis.input
    n, c = 3, inp.channels
    w = G_T.mapping(_z(n, seed=1))[:, 0]
    # A user transform that also scales: frequencies pushed past the bandwidth must fade, up to Nyquist.
    user = torch.tensor([[5.0, 0.4, 0.1], [-0.4, 5.0, -0.2], [0.0, 0.0, 1.0]])
    with torch.no_grad():
        got = inp(w, transform=user)
        t = inp.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
    W, H = inp.size
    px = (torch.arange(W) + 0.5 - W / 2) / inp.sampling_rate
    py = (torch.arange(H) + 0.5 - H / 2) / inp.sampling_rate
    feats = torch.zeros(n, H, W, c)
    amps = torch.zeros(n, c)
    for i in range(n):
        rot = torch.tensor([[t[i, 0], -t[i, 1], 0], [t[i, 1], t[i, 0], 0], [0, 0, 1]])
        shift = torch.tensor([[1, 0, -t[i, 2]], [0, 1, -t[i, 3]], [0, 0, 1]])
        m = rot @ shift @ user
        # Pixel p samples the untransformed sinusoids at q = A p + b.
        qx = m[0, 0] * px[None, :] + m[0, 1] * py[:, None] + m[0, 2]
        qy = m[1, 0] * px[None, :] + m[1, 1] * py[:, None] + m[1, 2]
        for ch in range(c):
            f = inp.freqs[ch]
            feats[i, :, :, ch] = torch.sin(2 * math.pi * (f[0] * qx + f[1] * qy + inp.phases[ch]))
            f_img = f @ m[:2, :2]
            amps[i, ch] = (1 - (f_img.norm() - inp.bandwidth) / (inp.sampling_rate / 2 - inp.bandwidth)).clamp(0, 1)
    assert 0 < (amps == 0).sum() and 0 < ((amps > 0) & (amps < 1)).sum()  # both kinds of fading happen
    want = (feats * amps[:, None, None, :]) @ (inp.weight / math.sqrt(c)).t()
    assert got.shape == (n, c, H, W)
    assert (got - want.permute(0, 3, 1, 2)).abs().max().item() < 1e-4


def test_filtered_lrelu_on_a_constant_map(G_T):
    b = torch.tensor([0.5, -1.5, 0.0])
    x = torch.full([2, 3, 8, 8], 0.25)
    want = F.leaky_relu(x + b.reshape(1, -1, 1, 1), 0.2) * math.sqrt(2)
    assert torch.allclose(sg3.filtered_lrelu(x, None, None, b), want, atol=1e-6)  # identity filters: plain lrelu
    assert torch.allclose(sg3.filtered_lrelu(x, None, None, b, clamp=0.5), want.clamp(-0.5, 0.5), atol=1e-6)
    # The network's own low-pass filters keep a constant constant (unit DC gain, gain up² after zero insertion)
    # away from the borders, up to their stopband ripple.
    for layer in G_T.synthesis.layers()[:-1]:
        xin = torch.full([1, 3, 24, 24], 0.25)
        y = sg3.filtered_lrelu(xin, layer.up_filter, layer.down_filter, b, up=layer.up_factor, down=layer.down_factor,
                               padding=(0, 0, 0, 0))
        inner = y[:, :, 3:-3, 3:-3]
        assert inner.shape[-1] > 2
        assert torch.allclose(inner, want[:1, :, :1, :1].expand_as(inner), atol=2e-3), layer


def test_zero_torgb_weight_gives_the_bias_image(G_T):
    G = copy.deepcopy(G_T)
    torgb = G.synthesis.layers()[-1]
    assert torgb.is_torgb and torgb.conv_kernel == 1 and torgb.up_filter is None and torgb.down_filter is None
    with torch.no_grad():
        torgb.weight.zero_()
        img = G(_z(3))
    want = torgb.bias.clamp(-torgb.conv_clamp, torgb.conv_clamp) * G.synthesis.output_scale
    assert torch.allclose(img, want.reshape(1, -1, 1, 1).expand_as(img), atol=1e-7)


def test_truncation_psi_zero_gives_one_image(G_T):
    with torch.no_grad():
        a, b = G_T(_z(2, seed=1), truncation_psi=0), G_T(_z(2, seed=2), truncation_psi=0)
        avg = G_T.synthesis(G_T.w_avg.reshape(1, 1, -1).repeat(1, G_T.num_ws, 1))
    assert (a - b).abs().max().item() < 1e-6 and (a[:1] - avg).abs().max().item() < 1e-6
    imgs = G_T.render(G_T.sample(3, seed=9, truncation_psi=0.0))
    assert (imgs == imgs[:1]).all()


# ------------------------------------------------------------------------------------- the transform edit


def _shift_error(moved: torch.Tensor, base: torch.Tensor, dx: int, dy: int) -> float:
    """Mean |moved − base shifted by (dx, dy) pixels| over the overlap (dx, dy >= 0)."""
    h, w = base.shape[-2:]
    return (moved[..., dy:, dx:] - base[..., : h - dy, : w - dx]).abs().mean().item()


def test_transform_edit_translates_and_rotates(sg3_file):
    cfg, path, _, _ = sg3_file
    G = load(path)
    code = G.sample(3, seed=5)
    base = G.synthesize(code)
    before = G.synthesis.input.transform.clone()
    with G.transformed((0, 0), 0):  # the identity edit changes nothing
        assert torch.equal(G.synthesize(code), base)
    assert torch.equal(G.synthesize(code, transform=(0, 0, 0)), base)
    # Translate by 3 px right, 2 px down: the content moves with it (alias-free: nearly exactly).
    moved = G.synthesize(code, transform=(3 / RES, 2 / RES, 0))
    assert torch.equal(G.synthesis.input.transform, before)  # a one-off: the generator is unchanged
    still = _shift_error(moved, base, 0, 0)
    assert _shift_error(moved, base, 3, 2) < 0.15 * still
    with G.transformed((3 / RES, 2 / RES), 0):
        assert torch.allclose(G.synthesize(code), moved, atol=1e-6)
    assert torch.equal(G.synthesis.input.transform, before)
    G.set_transform((3 / RES, 2 / RES), 0)
    assert torch.allclose(G.synthesize(code), moved, atol=1e-6)
    G.set_transform()
    assert torch.equal(G.synthesize(code), base)
    if cfg == "R":
        # 1x1 convs and radially symmetric filters: a quarter turn maps the pixel grid onto itself, and the
        # image turns counter-clockwise with it, up to rounding.
        turned = G.synthesize(code, transform=(0, 0, 90))
        assert (turned - torch.rot90(base, 1, dims=(2, 3))).abs().max().item() < 1e-5
    with pytest.raises(InputError, match="transform must be"):
        G.synthesize(code, transform=(0.1, 0.2))


# ------------------------------------------------------------------------------------ ganlens interface


def test_latent_interface(G_T):
    G = G_T
    assert "stylegan3" in repr(G) and G.resolution == RES and G.device.type == "cpu"
    rebuilt = sg3.Generator(**G.init_kwargs)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in G.state_dict().items()}
    for space, shape in (("z", [2, 16]), ("w", [2, 16]), ("w+", [2, 6, 16])):
        code = G.sample(2, seed=1, space=space)
        assert list(code.tensor.shape) == shape and list(G.ws_of(code).shape) == [2, 6, 16]
    imgs = G.render(G.sample(2, seed=1))
    assert imgs.shape == (2, RES, RES, 3) and imgs.dtype == np.uint8 and imgs.std() > 5
    fast = G.render(G.sample(2, seed=1), precision="bf16")  # autocast; the Fourier geometry stays float32
    assert np.abs(fast.astype(int) - imgs).max() <= 6
    code = G.sample(2, seed=1, space="w+")
    ws = G.ws_of(code)
    a = G.synthesis(ws, noise_mode="random", noise=None)
    assert torch.equal(a, G.synthesis(ws, noise_mode="const", noise=[]))  # no noise inputs: modes are the same
    assert torch.allclose(G.synthesize(code, batch_size=1), a, atol=1e-6)
    assert G.synthesis.noise_layers() == []
    with pytest.raises(LatentError, match="no noise inputs"):
        G.synthesis(ws, noise=[torch.zeros(2, 1, 8, 8)])
    with pytest.raises(LatentError, match="ws must have shape"):
        G.synthesis(ws[:, :5])
    with pytest.raises(LatentError, match="no 's' space"):
        G.synthesize(LatentCode("s", torch.zeros(2, 0)))


def test_inversion_recovers_a_generated_image(G_T):
    """The shared optimiser (G.mapping / G.synthesis(ws, noise_mode='const', noise=...)) works unchanged."""
    imgs = G_T.render(G_T.sample(2, seed=3))
    res = project(G_T, imgs, "ganlens", steps=120)
    assert res.code.space == "w+" and psnr(imgs, G_T.render(res.code)).min() >= 30
    res_w = project(G_T, imgs, "ganlens", steps=25, space="w", noise=True)  # noise maps: none to optimise
    assert res_w.code.space == "w" and (res_w.history[-1] < res_w.history[0]).all()
