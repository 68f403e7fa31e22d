"""The fast layer ops and the fused discriminator pass compute what the reference forms compute (up to rounding)."""

from __future__ import annotations

import pytest
import torch

from ganlens.models.discriminator import Discriminator
from ganlens.models.layers import Conv2dLayer, modulated_conv2d, reference_ops, setup_filter, upfirdn2d
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


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_whole_networks_agree_between_fast_and_reference_ops(layout):
    torch.manual_seed(3)
    G = Generator(32, 0, 32, 32, 3, synthesis_kwargs={"channel_base": 512, "channel_max": 32}).to(memory_format=layout)
    D = Discriminator(0, 32, 3, channel_base=512, channel_max=32).to(memory_format=layout)
    for p in G.parameters():  # noise strengths and biases start at 0: give them values so their paths count
        if p.ndim <= 1:
            p.data.normal_(0, 0.3)
    z = torch.randn(4, 32)
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
