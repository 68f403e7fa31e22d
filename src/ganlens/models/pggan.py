"""PGGAN (Karras et al. 2018, progressive growing of GANs): a generator with no mapping network, so only Z.

The layout follows genforce's ``PGGANGenerator`` (``models/pggan_generator.py``) under ``synthesis.``: for block b
at resolution r = 4·2^b, ``layer{2b}`` (the 4x4 "dense" layer from z when r = 4, else a 2x up-sampling 3x3 conv),
``layer{2b+1}`` (3x3 conv) and ``output{b}`` (1x1 to-RGB), plus the scalar buffer ``lod`` (level of detail of
progressive training; 0 for a finished model). So a genforce state dict loads with strict name matching after
prefixing ``synthesis.``.

The maths, as genforce computes it (which reproduces the official TensorFlow networks):

* every conv block is pixel norm → (nearest 2x up-sampling) → conv with equalised learning rate (weights stored
  N(0, 1), scaled at run time by gain/sqrt(fan_in), gain sqrt 2; 1 for to-RGB) + bias → leaky ReLU 0.2 (none for
  to-RGB). Pixel norm before each conv equals the paper's pixel norm after each activation, and it is also applied
  to z before the first block;
* the first block maps z to 4x4 as a 4x4 convolution with padding 3 over the 1x1 input;
* with ``fused_scale`` the up-sampling conv is a stride-2 transposed conv with the 3x3 kernel summed into 4x4
  (weight stored [in, out, 3, 3]);
* the image is the last block's to-RGB; for 0 < lod the lower-resolution outputs are blended in and up-sampled
  (nearest), as during progressive training.

For the rest of ganlens, `mapping` passes z through as ws [N, 1, z_dim] (num_ws = 1, w_dim = z_dim) and
`synthesis` normalises it, so code that optimises in Z through ``G.synthesis(G.mapping(z))`` works unchanged.
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


class PixelNorm(nn.Module):
    """Each pixel's feature vector scaled to unit mean square over channels (a module so hooks can watch it)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return normalize_2nd_moment(x)


class PGGANMapping(nn.Module):
    """PGGAN has no mapping network: z [N, z_dim] → ws [N, 1, z_dim] unchanged (the synthesis normalises it).

    `w_avg` (zeros, the mean of z) is a non-persistent buffer: it only gives the generator a device and code that
    reads ``G.w_avg`` a well-defined value; it is not part of the checkpoint.
    """

    def __init__(self, z_dim: int) -> None:
        super().__init__()
        self.z_dim = self.w_dim = z_dim
        self.num_ws = 1
        self.register_buffer("w_avg", torch.zeros([z_dim]), persistent=False)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, **_ignored) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise LatentError(f"z must have shape [N, {self.z_dim}], got {list(z.shape)}")
        if c is not None:
            raise NotImplementedError("conditional PGGAN generators are not supported; ganlens handles label_size=0")
        if truncation_psi != 1:
            raise LatentError(f"truncation (psi {truncation_psi:g}) needs a W space; PGGAN has only Z: use psi 1")
        return z.to(torch.float32).unsqueeze(1)


class PGGANConv(nn.Module):
    """One genforce PGGAN conv block: pixel norm, optional 2x up-sampling, equalised-lr conv + bias, activation.

    mode: 'dense' (4x4 from a vector), 'conv' (same size), 'up' (2x: nearest + conv, or fused transposed conv).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, mode: str = "conv",
                 fused_scale: bool = False, gain: float = math.sqrt(2.0), activation: str = "lrelu") -> None:
        super().__init__()
        self.mode, self.fused = mode, mode == "up" and fused_scale
        self.activation = activation
        self.pixel_norm = PixelNorm()
        shape = [in_channels, out_channels] if self.fused else [out_channels, in_channels]
        self.weight = nn.Parameter(torch.randn(shape + [kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = gain / math.sqrt(in_channels * kernel_size**2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pixel_norm(x)
        w = (self.weight * self.weight_gain).to(x.dtype)
        b = self.bias.to(x.dtype)
        if self.mode == "dense":
            x = equalized_dense_4x4(x, w) + b.reshape(1, -1, 1, 1)
        elif self.fused:
            x = F.conv_transpose2d(x, fused_upscale_kernel(w), b, stride=2, padding=1)
        else:
            if self.mode == "up":
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = F.conv2d(x, w, b, padding=w.shape[-1] // 2)
        return F.leaky_relu(x, LRELU_SLOPE) if self.activation == "lrelu" else x


class PGGANSynthesis(nn.Module):
    """ws [N, 1, z_dim] → image [N, C, R, R]: genforce's PGGAN synthesis (see the module docstring)."""

    def __init__(self, z_dim: int, img_resolution: int, img_channels: int, channel_base: int = 16384,
                 channel_max: int = 512, fused_scale: bool = False, final_tanh: bool = False) -> None:
        super().__init__()
        log2 = check_resolution(img_resolution)
        self.z_dim, self.w_dim, self.num_ws = z_dim, z_dim, 1
        self.img_resolution, self.img_channels, self.final_tanh = img_resolution, img_channels, final_tanh
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        nf = {r: min(channel_base // r, channel_max) for r in self.block_resolutions}
        if nf[img_resolution] < 1:
            raise InputError(f"channel_base {channel_base} leaves no channels at {img_resolution} px; it must be >= "
                             f"{img_resolution}")
        self.register_buffer("lod", torch.zeros([]))
        for b, r in enumerate(self.block_resolutions):
            if r == 4:
                first = PGGANConv(z_dim, nf[r], kernel_size=4, mode="dense")
            else:
                first = PGGANConv(nf[r // 2], nf[r], mode="up", fused_scale=fused_scale)
            setattr(self, f"layer{2 * b}", first)
            setattr(self, f"layer{2 * b + 1}", PGGANConv(nf[r], nf[r]))
            setattr(self, f"output{b}", PGGANConv(nf[r], img_channels, kernel_size=1, gain=1.0, activation="linear"))

    def noise_layers(self) -> list[tuple[str, nn.Module]]:
        """PGGAN adds no per-pixel noise."""
        return []

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", noise: list[torch.Tensor] | None = None,
                lod: float | None = None, **_ignored) -> torch.Tensor:
        """Synthesise from ws [N, 1, z_dim]; `noise_mode` / `noise` exist for interface compatibility (PGGAN has no
        noise inputs); `lod` overrides the stored level of detail."""
        check_noise_mode(noise_mode)
        check_ws(ws, 1, self.z_dim)
        if noise:
            raise LatentError(f"PGGAN has no noise inputs, got {len(noise)} noise maps")
        image = progressive_synthesis(
            self.lod, lod, len(self.block_resolutions), f"{self.img_resolution} px PGGAN",
            lambda b, x: getattr(self, f"layer{2 * b + 1}")(getattr(self, f"layer{2 * b}")(x)),
            lambda b, x: getattr(self, f"output{b}")(x),
            self.layer0.pixel_norm(ws[:, 0]))  # genforce normalises z once before the first block, which does again
        return torch.tanh(image) if self.final_tanh else image


class PGGANGenerator(GeneratorMixin, nn.Module):
    """PGGAN generator: latent space Z only; `mapping` is the identity into ws [N, 1, z_dim]."""

    architecture = "pggan"
    spaces = ("z",)
    space_note = "PGGAN has no mapping network, so it has only Z (no W or W+): sample, invert and edit in Z"

    def __init__(self, z_dim: int = 512, img_resolution: int = 1024, img_channels: int = 3, channel_base: int = 16384,
                 channel_max: int = 512, fused_scale: bool = False, final_tanh: bool = False) -> None:
        super().__init__()
        self.init_kwargs = dict(z_dim=z_dim, img_resolution=img_resolution, img_channels=img_channels,
                                channel_base=channel_base, channel_max=channel_max, fused_scale=fused_scale,
                                final_tanh=final_tanh)
        self.z_dim = self.w_dim = z_dim
        self.num_ws = 1
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.mapping = PGGANMapping(z_dim)
        self.synthesis = PGGANSynthesis(z_dim, img_resolution, img_channels, channel_base=channel_base,
                                        channel_max=channel_max, fused_scale=fused_scale, final_tanh=final_tanh)
        self._init_meta()


    @property
    def w_resolutions(self) -> list[int]:
        """The one z feeds the 4x4 layer only."""
        return [4]

    def latent_weights(self, rgb: str = "last") -> list[tuple[int, torch.Tensor]]:
        """The first layer's weight as [channels x 4 x 4, z_dim]: the only linear map from z (SeFa on PGGAN
        factorises it, as the SeFa paper does; `rgb` changes nothing)."""
        first = self.synthesis.layer0
        w = first.weight.detach() * first.weight_gain  # [C_out, z_dim, 4, 4]
        return [(0, w.permute(0, 2, 3, 1).reshape(-1, w.shape[1]))]
