"""Test reference for rosinality/stylegan2-pytorch: its generator's module structure, names and forward maths.

A minimal re-implementation of ``model.py``'s Generator (PixelNorm + EqualLinear mapping in ``style``,
ConstantInput, StyledConv = ModulatedConv2d + NoiseInjection + FusedLeakyReLU, ToRGB with its own Upsample,
``noises.noise_{i}`` buffers), enough to produce a state dict with the real names and to run the forward pass
(fused grouped modulated convolution; the up-sampling conv as a grouped ``conv_transpose2d`` followed by a Blur
with rosinality's padding; ``upfirdn2d`` in rosinality's native form). Channel counts follow rosinality's table
unless `channels` overrides them (tests use small ones for speed). Plus writers for the two file layouts.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


def make_kernel(k) -> torch.Tensor:
    k = torch.tensor(k, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0)):
    """rosinality's native upfirdn2d (same pad on both axes): channels-last zero insertion, flipped-kernel conv."""
    pad_x0, pad_x1 = pad
    pad_y0, pad_y1 = pad
    n, c, h, w = x.shape
    out = x.reshape(-1, h, 1, w, 1, 1)
    out = F.pad(out, [0, 0, 0, up - 1, 0, 0, 0, up - 1])
    out = out.view(-1, h * up, w * up, 1)
    out = F.pad(out, [0, 0, max(pad_x0, 0), max(pad_x1, 0), max(pad_y0, 0), max(pad_y1, 0)])
    out = out[:, max(-pad_y0, 0): out.shape[1] - max(-pad_y1, 0), max(-pad_x0, 0): out.shape[2] - max(-pad_x1, 0), :]
    out = out.permute(0, 3, 1, 2).reshape(-1, 1, out.shape[1], out.shape[2])
    out = F.conv2d(out, torch.flip(kernel, [0, 1]).view(1, 1, *kernel.shape))
    out = out.reshape(n, c, out.shape[2], out.shape[3])
    return out[:, :, ::down, ::down]


def fused_leaky_relu(x, bias, negative_slope=0.2, scale=2**0.5):
    rest = [1] * (x.ndim - bias.ndim - 1)
    return F.leaky_relu(x + bias.view(1, bias.shape[0], *rest), negative_slope=negative_slope) * scale


class PixelNorm(nn.Module):
    def forward(self, x):
        return x * torch.rsqrt(torch.mean(x**2, dim=1, keepdim=True) + 1e-8)


class Upsample(nn.Module):
    def __init__(self, kernel, factor=2):
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", make_kernel(kernel) * factor**2)
        p = self.kernel.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x):
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class Blur(nn.Module):
    def __init__(self, kernel, pad, upsample_factor=1):
        super().__init__()
        k = make_kernel(kernel)
        if upsample_factor > 1:
            k = k * upsample_factor**2
        self.register_buffer("kernel", k)
        self.pad = pad

    def forward(self, x):
        return upfirdn2d(x, self.kernel, pad=self.pad)


class EqualLinear(nn.Module):
    def __init__(self, in_dim, out_dim, bias=True, bias_init=0, lr_mul=1, activation=None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.zeros(out_dim).fill_(bias_init)) if bias else None
        self.activation = activation
        self.scale = (1 / math.sqrt(in_dim)) * lr_mul
        self.lr_mul = lr_mul

    def forward(self, x):
        if self.activation:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul)
        return F.linear(x, self.weight * self.scale, bias=self.bias * self.lr_mul)


class ModulatedConv2d(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, style_dim, demodulate=True, upsample=False,
                 blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.eps = 1e-8
        self.kernel_size, self.in_channel, self.out_channel = kernel_size, in_channel, out_channel
        self.upsample = upsample
        if upsample:
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)
        self.scale = 1 / math.sqrt(in_channel * kernel_size**2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_channel, in_channel, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1)
        self.demodulate = demodulate

    def forward(self, x, style):
        batch, in_channel, height, width = x.shape
        style = self.modulation(style).view(batch, 1, in_channel, 1, 1)
        weight = self.scale * self.weight * style
        if self.demodulate:
            demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)
            weight = weight * demod.view(batch, self.out_channel, 1, 1, 1)
        k = self.kernel_size
        if self.upsample:
            x = x.view(1, batch * in_channel, height, width)
            weight = weight.view(batch, self.out_channel, in_channel, k, k).transpose(1, 2)
            weight = weight.reshape(batch * in_channel, self.out_channel, k, k)
            out = F.conv_transpose2d(x, weight, padding=0, stride=2, groups=batch)
            out = out.view(batch, self.out_channel, out.shape[2], out.shape[3])
            return self.blur(out)
        weight = weight.view(batch * self.out_channel, in_channel, k, k)
        out = F.conv2d(x.view(1, batch * in_channel, height, width), weight, padding=self.padding, groups=batch)
        return out.view(batch, self.out_channel, out.shape[2], out.shape[3])


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, image, noise):
        return image + self.weight * noise


class ConstantInput(nn.Module):
    def __init__(self, channel, size=4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, x):
        return self.input.repeat(x.shape[0], 1, 1, 1)


class FusedLeakyReLU(nn.Module):
    def __init__(self, channel):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channel))

    def forward(self, x):
        return fused_leaky_relu(x, self.bias)


class StyledConv(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, style_dim, upsample=False, blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.conv = ModulatedConv2d(in_channel, out_channel, kernel_size, style_dim, upsample=upsample,
                                    blur_kernel=blur_kernel)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channel)

    def forward(self, x, style, noise):
        return self.activate(self.noise(self.conv(x, style), noise))


class ToRGB(nn.Module):
    def __init__(self, in_channel, style_dim, upsample=True, blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channel, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x, style, skip=None):
        out = self.conv(x, style) + self.bias
        return out + self.upsample(skip) if skip is not None else out


class Generator(nn.Module):
    def __init__(self, size, style_dim, n_mlp, channel_multiplier=2, blur_kernel=(1, 3, 3, 1), lr_mlp=0.01,
                 channels: dict | None = None):
        super().__init__()
        self.size, self.style_dim = size, style_dim
        self.style = nn.Sequential(PixelNorm(), *[EqualLinear(style_dim, style_dim, lr_mul=lr_mlp,
                                                              activation="fused_lrelu") for _ in range(n_mlp)])
        cm = channel_multiplier
        self.channels = channels or {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm,
                                     256: 64 * cm, 512: 32 * cm, 1024: 16 * cm}
        self.input = ConstantInput(self.channels[4])
        self.conv1 = StyledConv(self.channels[4], self.channels[4], 3, style_dim, blur_kernel=blur_kernel)
        self.to_rgb1 = ToRGB(self.channels[4], style_dim, upsample=False)
        self.log_size = int(math.log(size, 2))
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.convs, self.upsamples, self.to_rgbs = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        self.noises = nn.Module()
        for layer_idx in range(self.num_layers):
            res = (layer_idx + 5) // 2
            self.noises.register_buffer(f"noise_{layer_idx}", torch.randn(1, 1, 2**res, 2**res))
        in_channel = self.channels[4]
        for i in range(3, self.log_size + 1):
            out_channel = self.channels[2**i]
            self.convs.append(StyledConv(in_channel, out_channel, 3, style_dim, upsample=True, blur_kernel=blur_kernel))
            self.convs.append(StyledConv(out_channel, out_channel, 3, style_dim, blur_kernel=blur_kernel))
            self.to_rgbs.append(ToRGB(out_channel, style_dim))
            in_channel = out_channel
        self.n_latent = self.log_size * 2 - 2

    def mean_latent(self, n_latent: int, seed: int = 0) -> torch.Tensor:
        z = torch.randn(n_latent, self.style_dim, generator=torch.Generator().manual_seed(seed))
        return self.style(z).mean(0, keepdim=True)

    def forward(self, styles, truncation=1, truncation_latent=None, input_is_latent=False, randomize_noise=False):
        """Single-style path of rosinality's forward, with the stored noise buffers (randomize_noise=False)."""
        assert not randomize_noise, "the reference only runs with the stored noise"
        if not input_is_latent:
            styles = [self.style(s) for s in styles]
        noise = [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]
        if truncation < 1:
            styles = [truncation_latent + truncation * (s - truncation_latent) for s in styles]
        latent = styles[0].unsqueeze(1).repeat(1, self.n_latent, 1)
        out = self.input(latent)
        out = self.conv1(out, latent[:, 0], noise=noise[0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for conv1, conv2, noise1, noise2, to_rgb in zip(self.convs[::2], self.convs[1::2], noise[1::2], noise[2::2],
                                                        self.to_rgbs):
            out = conv1(out, latent[:, i], noise=noise1)
            out = conv2(out, latent[:, i + 1], noise=noise2)
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip, None


def make_generator(size: int, style_dim: int = 16, n_mlp: int = 3, channels: dict | None = None,
                   seed: int = 0) -> Generator:
    """A rosinality generator with every parameter non-trivial (biases, noise weights are zero at init)."""
    torch.manual_seed(seed)
    g = Generator(size, style_dim, n_mlp, channels=channels)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith("modulation.bias"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith(("bias", "noise.weight")):
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))
    return g.eval().requires_grad_(False)


def save_converted(path: str | Path, g_ema: Generator, latent_avg: torch.Tensor) -> Path:
    """The layout convert_weight.py writes: {'g_ema': state_dict, 'latent_avg': [style_dim]}."""
    torch.save({"g_ema": g_ema.state_dict(), "latent_avg": latent_avg.reshape(-1)}, path)
    return Path(path)


def save_training(path: str | Path, g: Generator, g_ema: Generator, legacy_format: bool = False) -> Path:
    """The layout train.py writes: g, d, g_ema, optimiser states, argparse args, ada_aug_p."""
    g_optim = torch.optim.Adam(g.parameters(), lr=0.002, betas=(0.0, 0.99))
    d = nn.Sequential(nn.Conv2d(3, 4, 1), nn.Linear(4, 1))  # stands in for the discriminator's state
    d_optim = torch.optim.Adam(d.parameters(), lr=0.002, betas=(0.0, 0.99))
    args = argparse.Namespace(size=g.size, latent=g.style_dim, n_mlp=len(g.style) - 1, channel_multiplier=2,
                              batch=16, iter=800000, r1=10.0, path_regularize=2, augment=False, ckpt=None)
    torch.save({"g": g.state_dict(), "d": d.state_dict(), "g_ema": g_ema.state_dict(),
                "g_optim": g_optim.state_dict(), "d_optim": d_optim.state_dict(), "args": args, "ada_aug_p": 0.0},
               path, _use_new_zipfile_serialization=not legacy_format)
    return Path(path)
