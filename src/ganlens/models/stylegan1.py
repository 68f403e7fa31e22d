"""StyleGAN v1 (Karras et al. 2019): mapping network z → w, AdaIN synthesis from a learned constant.

The layout follows genforce's ``StyleGANGenerator`` (``models/stylegan_generator.py``), so its state dicts load with
strict name matching; the one rename is genforce's ``truncation.w_avg`` → ``mapping.w_avg`` (ganlens keeps the
truncation in the mapping network). Names: ``mapping.dense{i}``; ``synthesis.lod``; per resolution block b
``synthesis.layer{2b}`` / ``layer{2b+1}`` with ``weight``, ``bias``, ``style.weight/bias``, ``apply_noise.weight``
(per channel), ``apply_noise.noise`` ([1, 1, r, r]), ``blur.kernel`` (up-sampling layers; ``const`` instead of
``weight`` for the first layer) and ``synthesis.output{b}`` (1x1 to-RGB).

The maths, as genforce computes it (which reproduces the official TensorFlow networks):

* mapping: pixel norm of z, then `num_layers` dense layers, each ``lrelu_0.2(x · W·sqrt(2)·lr/sqrt(fan_in) +
  b·lr)`` (the sqrt 2 gain sits in the weight scale, not after the activation as in StyleGAN2), lr = 0.01;
* truncation: w' = w_avg + psi (w − w_avg) on the first `truncation_cutoff` layers (the original StyleGAN used
  psi 0.7 on the first 8);
* each synthesis layer: [constant | (2x up-sampling) 3x3 conv | blur [1, 2, 1]²] → + noise · per-channel weight →
  + bias → lrelu 0.2 → instance norm (zero mean, unit variance per channel) → AdaIN style
  ``x · (1 + s_scale) + s_bias`` with s = w · W/sqrt(w_dim) + b. Convs have gain sqrt 2, to-RGB gain 1;
* up-sampling: nearest 2x then the conv, or at resolutions >= 128 (``fused_scale='auto'``) the 'fused' stride-2
  transposed conv with the 3x3 kernel summed into 4x4; the blur follows either;
* the image is the last block's to-RGB (blended with up-sampled coarser outputs for 0 < lod, as in training).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError, LatentError
from .base import (
    GeneratorMixin,
    check_noise_mode,
    check_resolution,
    check_ws,
    equalized_dense_4x4,
    fused_upscale_kernel,
    progressive_synthesis,
)
from .layers import LRELU_SLOPE, normalize_2nd_moment
from .stylegan2 import broadcast_truncated

FUSED_SCALE_MIN_RES = 128  # genforce's (and TF StyleGAN's) 'auto' choice: fused up-scaling from 128 px on


class DenseLayer(nn.Module):
    """StyleGAN v1 dense layer: equalised lr with the activation gain inside the weight scale, then lrelu 0.2."""

    def __init__(self, in_features: int, out_features: int, lr_multiplier: float = 1.0, gain: float = math.sqrt(2.0)) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.zeros([out_features]))
        self.weight_gain = gain * lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, (self.weight * self.weight_gain).to(x.dtype), (self.bias * self.bias_gain).to(x.dtype))
        return F.leaky_relu(x, LRELU_SLOPE)


class StyleGAN1Mapping(nn.Module):
    """z → ws [N, num_ws, w_dim]: pixel norm, dense layers, broadcast, truncation on the first layers."""

    def __init__(self, z_dim: int, w_dim: int, num_ws: int, num_layers: int = 8, layer_features: int | None = None,
                 lr_multiplier: float = 0.01, truncation_cutoff: int | None = 8) -> None:
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws, self.num_layers = z_dim, w_dim, num_ws, num_layers
        self.truncation_cutoff = truncation_cutoff
        hidden = w_dim if layer_features is None else layer_features
        features = [z_dim] + [hidden] * (num_layers - 1) + [w_dim]
        for i in range(num_layers):
            setattr(self, f"dense{i}", DenseLayer(features[i], features[i + 1], lr_multiplier=lr_multiplier))
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, **_ignored) -> torch.Tensor:
        """Map z [N, z_dim] to ws; truncation towards `w_avg` on the first `truncation_cutoff` layers (None: this
        network's default, `self.truncation_cutoff`; all layers when that is None too)."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise LatentError(f"z must have shape [N, {self.z_dim}], got {list(z.shape)}")
        if c is not None:
            raise NotImplementedError("conditional StyleGAN generators are not supported; ganlens handles label_size=0")
        x = normalize_2nd_moment(z.to(torch.float32))
        for i in range(self.num_layers):
            x = getattr(self, f"dense{i}")(x)
        cutoff = self.truncation_cutoff if truncation_cutoff is None else truncation_cutoff
        return broadcast_truncated(x, self.w_avg, self.num_ws, truncation_psi, cutoff)


class InstanceNorm(nn.Module):
    """Per sample and channel: subtract the spatial mean, divide by the spatial RMS (eps 1e-8)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x - x.mean(dim=[2, 3], keepdim=True)
        return x * (x.square().mean(dim=[2, 3], keepdim=True) + 1e-8).rsqrt()


class StyleMod(nn.Module):
    """AdaIN's style: s = w·W/sqrt(w_dim) + b split into (scale, bias); x · (1 + scale) + bias."""

    def __init__(self, w_dim: int, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.weight = nn.Parameter(torch.randn([2 * channels, w_dim]))
        self.bias = nn.Parameter(torch.zeros([2 * channels]))
        self.weight_gain = 1 / math.sqrt(w_dim)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s = F.linear(w.to(x.dtype), (self.weight * self.weight_gain).to(x.dtype), self.bias.to(x.dtype))
        scale, shift = s[:, : self.channels], s[:, self.channels :]
        return x * (scale + 1).reshape(*scale.shape, 1, 1) + shift.reshape(*shift.shape, 1, 1)


class NoiseInput(nn.Module):
    """Per-pixel noise [N or 1, 1, r, r] times a learned per-channel weight, added to the features."""

    def __init__(self, resolution: int, channels: int) -> None:
        super().__init__()
        self.resolution = resolution
        self.weight = nn.Parameter(torch.zeros([channels]))
        self.register_buffer("noise", torch.randn([1, 1, resolution, resolution]))

    def forward(self, x: torch.Tensor, noise_mode: str = "const", noise: torch.Tensor | None = None) -> torch.Tensor:
        if noise_mode == "none":  # as in ganlens' StyleGAN2: 'none' wins over explicit maps
            return x
        if noise is None:
            if noise_mode == "random":
                noise = torch.randn([x.shape[0], 1, self.resolution, self.resolution], device=x.device)
            else:
                noise = self.noise
        return x + noise.to(x.dtype) * self.weight.to(x.dtype).reshape(1, -1, 1, 1)


class Blur(nn.Module):
    """Depthwise 3x3 blur with the normalised [1, 2, 1] ⊗ [1, 2, 1] filter (stored per channel, as genforce does)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        k = torch.outer(k, k)
        self.register_buffer("kernel", (k / k.sum()).reshape(1, 1, 3, 3).repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.kernel.to(x.dtype), padding=1, groups=x.shape[1])


class StyleGAN1Layer(nn.Module):
    """One AdaIN layer. mode: 'const' (learned 4x4 input), 'dense' (4x4 from w), 'conv', or 'up' (2x up-sampling;
    `fused` for the stride-2 transposed form)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, mode: str = "conv",
                 fused: bool = False) -> None:
        super().__init__()
        self.mode, self.fused, self.resolution = mode, fused and mode == "up", resolution
        if mode == "const":
            self.const = nn.Parameter(torch.ones([1, out_channels, resolution, resolution]))
        else:
            k = resolution if mode == "dense" else 3
            self.weight = nn.Parameter(torch.randn([out_channels, in_channels, k, k]))
            self.weight_gain = math.sqrt(2.0) / math.sqrt(in_channels * k * k)
        if mode == "up":
            self.blur = Blur(out_channels)
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.apply_noise = NoiseInput(resolution, out_channels)
        self.normalize = InstanceNorm()
        self.style = StyleMod(w_dim, out_channels)

    def forward(self, x: torch.Tensor | None, w: torch.Tensor, noise_mode: str = "const",
                noise: torch.Tensor | None = None) -> torch.Tensor:
        if self.mode == "const":
            x = self.const.to(w.dtype).expand(w.shape[0], -1, -1, -1)
        else:
            weight = self.weight * self.weight_gain
            if self.mode == "dense":
                x = equalized_dense_4x4(w, weight)
            elif self.fused:
                x = F.conv_transpose2d(x, fused_upscale_kernel(weight).transpose(0, 1).to(x.dtype), stride=2, padding=1)
            else:
                if self.mode == "up":
                    x = F.interpolate(x, scale_factor=2, mode="nearest")
                x = F.conv2d(x, weight.to(x.dtype), padding=1)
            if self.mode == "up":
                x = self.blur(x)
        x = self.apply_noise(x, noise_mode, noise)
        x = F.leaky_relu(x + self.bias.to(x.dtype).reshape(1, -1, 1, 1), LRELU_SLOPE)
        return self.style(self.normalize(x), w)


class ToRGB(nn.Module):
    """1x1 equalised-lr conv (gain 1) + bias, no activation, no style."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, (self.weight * self.weight_gain).to(x.dtype), self.bias.to(x.dtype))


class StyleGAN1Synthesis(nn.Module):
    """ws [N, num_ws, w_dim] → image [N, C, R, R]; two AdaIN layers per resolution, num_ws = 2·log2(R/2)."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int = 16384,
                 channel_max: int = 512, fused_scale: bool | str = "auto", const_input: bool = True,
                 final_tanh: bool = False) -> None:
        super().__init__()
        log2 = check_resolution(img_resolution)
        if fused_scale not in (True, False, "auto"):
            raise InputError(f"fused_scale must be True, False or 'auto', got {fused_scale!r}")
        self.w_dim, self.img_resolution, self.img_channels, self.final_tanh = w_dim, img_resolution, img_channels, final_tanh
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        self.num_ws = 2 * len(self.block_resolutions)
        nf = {r: min(channel_base // r, channel_max) for r in self.block_resolutions}
        if nf[img_resolution] < 1:
            raise InputError(f"channel_base {channel_base} leaves no channels at {img_resolution} px; it must be >= "
                             f"{img_resolution}")
        self.register_buffer("lod", torch.zeros([]))
        for b, r in enumerate(self.block_resolutions):
            if r == 4:
                first = StyleGAN1Layer(nf[r] if const_input else w_dim, nf[r], w_dim, r,
                                       mode="const" if const_input else "dense")
            else:
                fused = r >= FUSED_SCALE_MIN_RES if fused_scale == "auto" else bool(fused_scale)
                first = StyleGAN1Layer(nf[r // 2], nf[r], w_dim, r, mode="up", fused=fused)
            setattr(self, f"layer{2 * b}", first)
            setattr(self, f"layer{2 * b + 1}", StyleGAN1Layer(nf[r], nf[r], w_dim, r))
            setattr(self, f"output{b}", ToRGB(nf[r], img_channels))

    def layers(self) -> list[StyleGAN1Layer]:
        return [getattr(self, f"layer{i}") for i in range(self.num_ws)]

    def noise_layers(self) -> list[tuple[str, StyleGAN1Layer]]:
        """Every layer adds noise; explicit `noise` maps follow this order, one [N or 1, 1, r, r] per layer."""
        return [(f"layer{i}", layer) for i, layer in enumerate(self.layers())]

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", noise: list[torch.Tensor] | None = None,
                lod: float | None = None, **_ignored) -> torch.Tensor:
        """Synthesise from ws; `noise` replaces the stored constant noise maps; `lod` overrides the stored level of
        detail (0: full resolution)."""
        check_noise_mode(noise_mode)
        check_ws(ws, self.num_ws, self.w_dim)
        if noise is not None and len(noise) != self.num_ws:
            raise LatentError(f"expected {self.num_ws} noise maps, got {len(noise)}")
        ws = ws.to(torch.float32)

        def run_block(b: int, x: torch.Tensor | None) -> torch.Tensor:
            for i in (2 * b, 2 * b + 1):
                x = getattr(self, f"layer{i}")(x, ws[:, i], noise_mode, None if noise is None else noise[i])
            return x

        image = progressive_synthesis(self.lod, lod, len(self.block_resolutions),
                                      f"{self.img_resolution} px StyleGAN", run_block,
                                      lambda b, x: getattr(self, f"output{b}")(x), None)
        return torch.tanh(image) if self.final_tanh else image


class StyleGAN1Generator(GeneratorMixin, nn.Module):
    """StyleGAN v1 generator: `mapping` (z → ws, truncation) and `synthesis` (ws → image); spaces Z, W, W+."""

    architecture = "stylegan1"
    spaces = ("z", "w", "w+")

    def __init__(self, z_dim: int = 512, w_dim: int = 512, img_resolution: int = 1024, img_channels: int = 3,
                 mapping_kwargs: dict | None = None, synthesis_kwargs: dict | None = None) -> None:
        """mapping_kwargs: num_layers (8), layer_features (w_dim), lr_multiplier (0.01), truncation_cutoff (8).
        synthesis_kwargs: channel_base (16384), channel_max (512), fused_scale ('auto'), const_input (True),
        final_tanh (False)."""
        super().__init__()
        mapping_kwargs = dict(mapping_kwargs or {})
        synthesis_kwargs = dict(synthesis_kwargs or {})
        self.init_kwargs = dict(z_dim=z_dim, w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels,
                                mapping_kwargs=mapping_kwargs, synthesis_kwargs=synthesis_kwargs)
        self.z_dim, self.w_dim = z_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = StyleGAN1Synthesis(w_dim, img_resolution, img_channels, **synthesis_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.mapping = StyleGAN1Mapping(z_dim, w_dim, self.num_ws, **mapping_kwargs)
        self._init_meta()

    @property
    def w_resolutions(self) -> list[int]:
        """Two AdaIN layers per resolution from 4 px: [4, 4, 8, 8, ...]."""
        return [r for r in self.synthesis.block_resolutions for _ in range(2)]

    def latent_weights(self, rgb: str = "last") -> list[tuple[int, torch.Tensor]]:
        """(w index, AdaIN style weight x gain [2 x channels, w_dim]) of every layer (no styled toRGB: `rgb`
        changes nothing)."""
        return [(i, layer.style.weight.detach() * layer.style.weight_gain)
                for i, layer in enumerate(self.synthesis.layers())]
