"""The fast layer ops and the fused discriminator pass compute what the reference forms compute (up to rounding)."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch

from ganlens.models import layers
from ganlens.models.discriminator import Discriminator
from ganlens.models.layers import Conv2dLayer, derived, modulated_conv2d, reference_ops, setup_filter, upfirdn2d
from ganlens.models.stylegan2 import Generator
from ganlens.training.gan import paired_logits


def both(fn):
    """fn() under the fast ops and under the reference ops."""
    fast = fn()
    with reference_ops():
        ref = fn()
    return fast, ref


@pytest.mark.parametrize("down,pad", [(1, 1), (1, 2), (2, 1), (2, 2)])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_fir_filter_with_symmetric_padding_matches_reference(down, pad, layout):
    x = torch.randn(3, 5, 13, 13, generator=torch.Generator().manual_seed(0)).contiguous(memory_format=layout)
    f = setup_filter()
    fast, ref = both(lambda: upfirdn2d(x, f, down=down, padding=(pad,) * 4, gain=1.7))
    assert fast.shape == ref.shape
    torch.testing.assert_close(fast, ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize("kernel,down,act", [(3, 1, "lrelu"), (3, 2, "lrelu"), (1, 2, "linear"), (1, 1, "lrelu")])
def test_conv2d_layer_fast_form_matches_reference(kernel, down, act):
    torch.manual_seed(1)
    layer = Conv2dLayer(6, 8, kernel, activation=act, down=down, bias=act == "lrelu")
    if layer.bias is not None:
        layer.bias.data.normal_()
    x = torch.randn(4, 6, 16, 16)
    fast, ref = both(lambda: layer(x, gain=0.7))
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-5)
    # Gradients agree too (the training step differentiates through these forms).
    grads = []
    for ctx in (torch.enable_grad, reference_ops):
        xi = x.clone().requires_grad_(True)
        layer.zero_grad()
        with ctx():
            layer(xi, gain=0.7).square().sum().backward()
        grads.append((xi.grad, layer.weight.grad.clone()))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("noise_shape", [None, (8, 8), (2, 1, 8, 8)])
@pytest.mark.parametrize("up,demod,act", [(1, True, "lrelu"), (2, True, "lrelu"), (1, False, "linear")])
def test_modulated_conv_fast_epilogue_matches_reference(noise_shape, up, demod, act):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 4, 8 // up, 8 // up, generator=g)
    weight = torch.randn(5, 4, 3, 3, generator=g)
    styles = torch.randn(2, 4, generator=g)
    bias = torch.randn(5, generator=g)
    noise = None if noise_shape is None else torch.randn(*noise_shape, generator=g)
    fast, ref = both(lambda: modulated_conv2d(x, weight, styles, noise=noise, up=up, padding=1,
                                              resample_filter=setup_filter(), demodulate=demod, bias=bias,
                                              activation=act))
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fh,fw,up", [(4, 4, 2), (3, 3, 2), (4, 4, 4), (2, 2, 3), (1, 6, 2), (5, 1, 2)])
def test_fir_upsampling_as_one_transposed_convolution_matches_reference(fh, fw, up):
    # StyleGAN2's square filters and StyleGAN3's separable passes (1 x n, n x 1), lopsided taps, paddings that
    # crop and pad, different across and down
    g = torch.Generator().manual_seed(5)
    f = torch.rand(fh, fw, generator=g)
    x = torch.randn(2, 3, 5, 4, generator=g).contiguous(memory_format=torch.channels_last)
    for p0 in range(-1, max(fh, fw) + 1):
        for p1 in range(-1, max(fh, fw) + 1):
            for padding in ((p0, p1, p0, p1), (p0, p1, p1 - 1, p0 + 1)):
                fast, ref = both(lambda: upfirdn2d(x, f, up=up, padding=padding, gain=up * up))
                assert fast.shape == ref.shape, padding
                torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("up,down", [((2, 1), 1), ((1, 2), 1), ((4, 2), 1), (1, (2, 1)), (1, (1, 2)), (1, (3, 2))])
@pytest.mark.parametrize("fh,fw", [(4, 4), (1, 6), (5, 1)])
def test_fir_with_a_factor_per_axis_matches_reference(up, down, fh, fw):
    g = torch.Generator().manual_seed(6)
    f = torch.rand(fh, fw, generator=g)
    x = torch.randn(2, 3, 7, 6, generator=g)
    for padding in ((0, 0, 0, 0), (2, 2, 2, 2), (3, -1, 0, 2), (-1, 2, 4, 1)):
        fast, ref = both(lambda: upfirdn2d(x, f, up=up, down=down, padding=padding, gain=2.0))
        assert fast.shape == ref.shape, padding
        torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-5)
    # the reference form resamples each axis by its own factor: a 1-D filter along x up-samples x alone
    (ux, uy), (dx, dy) = [(v, v) if isinstance(v, int) else v for v in (up, down)]
    with reference_ops():
        out = upfirdn2d(x, f, up=up, down=down)
    assert out.shape[2:] == ((7 * uy - fh) // dy + 1, (6 * ux - fw) // dx + 1)


@pytest.mark.parametrize("noise_shape", [None, (16, 16), (1, 1, 16, 16)])
@pytest.mark.parametrize("demod,act", [(True, "lrelu"), (False, "linear")])
def test_single_image_modulated_conv_with_the_style_in_the_kernel_matches_reference(noise_shape, demod, act):
    # batch 1 and a map larger than the kernel: the fast form scales the kernel, not the map
    g = torch.Generator().manual_seed(6)
    x = torch.randn(1, 4, 16, 16, generator=g)
    weight, styles, bias = torch.randn(5, 4, 3, 3, generator=g), torch.randn(1, 4, generator=g), torch.randn(5, generator=g)
    noise = None if noise_shape is None else torch.randn(*noise_shape, generator=g)
    grads = []
    for ctx in (torch.enable_grad, reference_ops):
        xi, si = x.clone().requires_grad_(True), styles.clone().requires_grad_(True)
        with ctx():
            out = modulated_conv2d(xi, weight, si, noise=noise, padding=1, demodulate=demod, bias=bias, activation=act)
            out.square().sum().backward()
        grads.append((out.detach(), xi.grad, si.grad))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_derived_constants_are_reused_until_their_source_changes():
    w = torch.nn.Parameter(torch.randn(3, 3))
    calls = []

    def double(t):
        calls.append(1)
        return t * 2

    with torch.no_grad():
        first = derived(w, "x2", double)
        assert derived(w, "x2", double) is first and len(calls) == 1
        w.add_(1.0)  # an optimiser step or load_state_dict: in place, so the version moves
        torch.testing.assert_close(derived(w, "x2", double), w * 2)
        assert len(calls) == 2
    # where a gradient must reach w, nothing is kept: the result is part of the graph
    out = derived(w, "x2", double)
    assert out.requires_grad and len(calls) == 3
    # the cache does not keep its source alive
    t = torch.randn(4)
    ref = weakref.ref(t)
    derived(t, "x2", double)
    key = id(t)
    del t
    gc.collect()
    assert ref() is None and key not in layers._DERIVED
    assert derived(first, "same", lambda t: t) is first and id(first) not in layers._DERIVED  # identity: not stored


def test_a_render_in_inference_mode_does_not_break_a_later_gradient_through_the_frozen_generator():
    # the web UI renders in inference mode, then climbs an attribute: gradients flow to the code, not the weights
    torch.manual_seed(4)
    G = Generator(32, 0, 32, 32, 3, synthesis_kwargs={"channel_base": 512, "channel_max": 32}).requires_grad_(False)
    ws = torch.randn(1, G.num_ws, 32)
    with torch.inference_mode():
        rendered = G.synthesis(ws, noise_mode="const")
    code = ws.clone().requires_grad_(True)
    out = G.synthesis(code, noise_mode="const")
    out.square().mean().backward()
    assert code.grad is not None and code.grad.abs().sum() > 0
    torch.testing.assert_close(out.detach(), rendered.clone())


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_whole_networks_agree_between_fast_and_reference_ops(layout, batch):
    torch.manual_seed(3)
    G = Generator(32, 0, 32, 32, 3, synthesis_kwargs={"channel_base": 512, "channel_max": 32}).to(memory_format=layout)
    D = Discriminator(0, 32, 3, channel_base=512, channel_max=32).to(memory_format=layout)
    for p in G.parameters():  # noise strengths and biases start at 0: give them values so their paths count
        if p.ndim <= 1:
            p.data.normal_(0, 0.3)
    z = torch.randn(batch, 32)
    img_fast, img_ref = both(lambda: G(z, noise_mode="const"))
    assert img_fast.abs().mean() > 0.01
    torch.testing.assert_close(img_fast, img_ref, rtol=1e-5, atol=2e-5)
    d_fast, d_ref = both(lambda: D(img_ref))
    torch.testing.assert_close(d_fast, d_ref, rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("n", [8, 6, 3])
def test_paired_logits_equal_two_separate_passes(n):
    torch.manual_seed(4)
    D = Discriminator(0, 16, 3, channel_base=256, channel_max=16)
    fake, real = torch.randn(n, 3, 16, 16), torch.randn(n, 3, 16, 16) * 2
    d_fake, d_real = paired_logits(D, fake, real)
    torch.testing.assert_close(d_fake, D(fake), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(d_real, D(real), rtol=1e-5, atol=1e-5)
    if n == 8:  # the minibatch-std signal is live: a pass that put fakes into the reals' groups would differ
        mixed = D(torch.cat([fake[:4], real[:4]]))
        assert (mixed - torch.cat([D(fake[:4]), D(real[:4])])).abs().max() > 1e-3
