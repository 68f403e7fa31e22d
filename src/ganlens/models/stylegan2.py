"""The one StyleGAN2 generator of ganlens.

Module tree, parameter and buffer names and constructor kwargs follow NVIDIA's stylegan2-ada-pytorch
(`mapping.fc0`, `mapping.w_avg`, `synthesis.b4.const`, `synthesis.b8.conv0/conv1/torgb`, `.affine`,
`.noise_strength`, `.noise_const`, `.resample_filter`), so a state dict taken from one of their network pickles
loads with ``strict=True``. Beyond their forward pass it offers what latent-space work needs: style space (the
per-layer affine outputs), synthesis from given styles or noise maps, seeded sampling into a `LatentCode`.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..errors import InputError, LatentError, UnknownNameError
from ..latents import LatentCode, broadcast_w
from .base import NOISE_MODES, GeneratorMixin
from .layers import (
    FullyConnectedLayer,
    modulated_conv2d,
    normalize_2nd_moment,
    setup_filter,
    upsample2d,
)


class MappingNetwork(nn.Module):
    """z → w: 2nd-moment normalisation, `num_layers` equalised-lr FC layers (lr multiplier), tracked `w_avg`."""

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        num_ws: int,
        num_layers: int = 8,
        embed_features: int | None = None,
        layer_features: int | None = None,
        activation: str = "lrelu",
        lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.995,
    ) -> None:
        super().__init__()
        if c_dim:
            raise NotImplementedError(
                f"conditional generators (c_dim={c_dim}) are not supported yet; ganlens handles c_dim=0 models"
            )
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        layer_features = w_dim if layer_features is None else layer_features
        features = [z_dim] + [layer_features] * (num_layers - 1) + [w_dim]
        for idx in range(num_layers):
            layer = FullyConnectedLayer(features[idx], features[idx + 1], activation=activation, lr_multiplier=lr_multiplier)
            setattr(self, f"fc{idx}", layer)
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
    ) -> torch.Tensor:
        """Map z [N, z_dim] to ws [N, num_ws, w_dim]; truncation w' = w_avg + psi (w − w_avg) on the first
        `truncation_cutoff` layers (all when None)."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise LatentError(f"z must have shape [N, {self.z_dim}], got {list(z.shape)}")
        x = normalize_2nd_moment(z.to(torch.float32))
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        if update_emas:
            self.w_avg.copy_(x.detach().float().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        return broadcast_truncated(x, self.w_avg, self.num_ws, truncation_psi, truncation_cutoff)


def broadcast_truncated(w: torch.Tensor, w_avg: torch.Tensor, num_ws: int, psi: float = 1.0,
                        cutoff: int | None = None) -> torch.Tensor:
    """w [N, w_dim] → ws [N, num_ws, w_dim], truncated towards w_avg (w' = w_avg + psi (w − w_avg)) on the first
    `cutoff` layers (all when None)."""
    x = broadcast_w(w, num_ws)
    if psi != 1:
        cut = num_ws if cutoff is None else cutoff
        x[:, :cut] = w_avg.to(x.dtype).lerp(x[:, :cut], psi)
    return x


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally 2x up) + per-pixel noise with learned strength + bias + lrelu."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        kernel_size: int = 3,
        up: int = 1,
        use_noise: bool = True,
        activation: str = "lrelu",
        resample_filter: Sequence[int] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.resolution, self.up, self.use_noise = resolution, up, use_noise
        self.activation, self.conv_clamp = activation, conv_clamp
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.padding = kernel_size // 2
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    def forward(
        self, x: torch.Tensor, styles: torch.Tensor, noise_mode: str = "const", noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        n = x.shape[0]
        noise_term = None
        if self.use_noise and noise_mode != "none":
            if noise is not None:
                noise_term = noise * self.noise_strength
            elif noise_mode == "random":
                noise_term = torch.randn([n, 1, self.resolution, self.resolution], device=x.device) * self.noise_strength
            else:
                noise_term = self.noise_const * self.noise_strength
        return modulated_conv2d(
            x, self.weight, styles, noise=noise_term, up=self.up, padding=self.padding,
            resample_filter=self.resample_filter, bias=self.bias, activation=self.activation, clamp=self.conv_clamp,
        )


class ToRGBLayer(nn.Module):
    """Modulated 1x1 conv to RGB without demodulation."""

    def __init__(
        self, in_channels: int, out_channels: int, w_dim: int, kernel_size: int = 1, conv_clamp: float | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)

    def forward(self, x: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
        return modulated_conv2d(x, self.weight, styles * self.weight_gain, demodulate=False, bias=self.bias,
                                clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution: const (4x4) or 2x-up conv0, conv1, and a skip toRGB added to the upsampled image."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        is_last: bool,
        architecture: str = "skip",
        resample_filter: Sequence[int] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        use_fp16: bool = False,
        fp16_channels_last: bool = False,
        **layer_kwargs,
    ) -> None:
        super().__init__()
        if architecture != "skip":
            raise NotImplementedError(
                f"synthesis architecture {architecture!r} is not supported; ganlens implements 'skip' (StyleGAN2's default)"
            )
        self.in_channels, self.resolution, self.is_last = in_channels, resolution, is_last
        self.use_fp16 = use_fp16  # kept for checkpoint round trips; ganlens computes in fp32/bf16 instead
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.num_conv = 0
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(
                in_channels, out_channels, w_dim, resolution, up=2, resample_filter=resample_filter,
                conv_clamp=conv_clamp, **layer_kwargs,
            )
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp, **layer_kwargs)
        self.num_conv += 1
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        self.num_torgb = 1

    def conv_layers(self) -> list[SynthesisLayer]:
        return [self.conv1] if self.in_channels == 0 else [self.conv0, self.conv1]

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        styles: Sequence[torch.Tensor],
        noise_mode: str,
        noise: Sequence[torch.Tensor | None],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        n = styles[0].shape[0]
        if self.in_channels == 0:
            x = self.const.unsqueeze(0).repeat([n, 1, 1, 1])
        for layer, s, nz in zip(self.conv_layers(), styles, noise):
            x = layer(x, s, noise_mode=noise_mode, noise=nz)
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        y = self.torgb(x, styles[-1])
        img = y if img is None else img + y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] (or explicit styles) → images [N, C, R, R], roughly in [-1, 1]."""

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_fp16_res: int = 0,
        **block_kwargs,
    ) -> None:
        super().__init__()
        log2 = int(np.log2(img_resolution))
        if img_resolution < 4 or 2**log2 != img_resolution:
            raise InputError(f"img_resolution must be a power of two >= 4, got {img_resolution}")
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.img_resolution_log2 = log2
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        fp16_resolution = max(2 ** (log2 + 1 - num_fp16_res), 8)
        self.num_ws = 0
        for res in self.block_resolutions:
            in_channels = channels[res // 2] if res > 4 else 0
            block = SynthesisBlock(
                in_channels, channels[res], w_dim, res, img_channels, is_last=(res == img_resolution),
                use_fp16=(res >= fp16_resolution), **block_kwargs,
            )
            self.num_ws += block.num_conv
            if res == img_resolution:
                self.num_ws += block.num_torgb
            setattr(self, f"b{res}", block)

    def blocks(self) -> list[SynthesisBlock]:
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def style_layers(self) -> list[tuple[str, nn.Module, int]]:
        """Every modulated layer in order as (name, module, index of the w it reads); defines style space S."""
        out, w_idx = [], 0
        for block in self.blocks():
            prefix = f"b{block.resolution}"
            for layer in block.conv_layers():
                name = "conv1" if layer is block.conv1 else "conv0"
                out.append((f"{prefix}.{name}", layer, w_idx))
                w_idx += 1
            out.append((f"{prefix}.torgb", block.torgb, w_idx))
        return out

    def noise_layers(self) -> list[tuple[str, SynthesisLayer]]:
        """The layers that add per-pixel noise, in order (what explicit `noise` maps must follow)."""
        return [(name, m) for name, m, _ in self.style_layers() if isinstance(m, SynthesisLayer) and m.use_noise]

    def styles(self, ws: torch.Tensor) -> list[torch.Tensor]:
        """Style space: the affine output s of every modulated layer, each [N, in_channels]."""
        self._check_ws(ws)
        return [m.affine(ws[:, idx].to(torch.float32)) for _, m, idx in self.style_layers()]

    def _check_ws(self, ws: torch.Tensor) -> None:
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise LatentError(f"ws must have shape [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")

    def forward(
        self,
        ws: torch.Tensor | None = None,
        noise_mode: str = "const",
        noise: Sequence[torch.Tensor] | None = None,
        styles: Sequence[torch.Tensor] | None = None,
        **_ignored,
    ) -> torch.Tensor:
        """Synthesise from `ws` or from explicit `styles`; `noise` replaces the stored constant noise maps."""
        if noise_mode not in NOISE_MODES:
            raise UnknownNameError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        if styles is None:
            if ws is None:
                raise ValueError("synthesis needs ws or styles")
            styles = self.styles(ws)
        layers = self.style_layers()
        if len(styles) != len(layers):
            raise LatentError(f"expected {len(layers)} style tensors, got {len(styles)}")
        noise_iter = iter(noise) if noise is not None else None
        if noise is not None and len(noise) != len(self.noise_layers()):
            raise LatentError(f"expected {len(self.noise_layers())} noise maps, got {len(noise)}")
        x = img = None
        pos = 0
        for block in self.blocks():
            k = block.num_conv + 1
            block_noise = [next(noise_iter) if noise_iter else None for _ in range(block.num_conv)]
            x, img = block(x, img, styles[pos : pos + k], noise_mode, block_noise)
            pos += k
        return img


class Generator(GeneratorMixin, nn.Module):
    """StyleGAN2 generator: `mapping` (z → ws) and `synthesis` (ws → image), plus latent-space conveniences
    (`GeneratorMixin`) and style space S (every modulated layer's affine output)."""

    architecture = "stylegan2"
    spaces = ("z", "w", "w+", "s")

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        mapping_kwargs: dict | None = None,
        synthesis_kwargs: dict | None = None,
    ) -> None:
        super().__init__()
        self._assemble(MappingNetwork, SynthesisNetwork, z_dim, c_dim, w_dim, img_resolution, img_channels,
                       mapping_kwargs, synthesis_kwargs)

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
        noise_mode: str = "const",
    ) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff, update_emas=update_emas)
        return self.synthesis(ws, noise_mode=noise_mode)

    def synthesize(self, code: LatentCode, noise_mode: str = "const", batch_size: int = 64,
                   precision: str | None = None) -> torch.Tensor:
        """Float32 images [N, C, R, R] in about [-1, 1] for a code in any space, S included (batched; gradients
        flow). precision: 'fp32' or 'bf16' (see `GeneratorMixin.synthesize`); None: `self.precision`."""
        if code.space != "s":
            return super().synthesize(code, noise_mode=noise_mode, batch_size=batch_size, precision=precision)
        precision = self.resolve_precision(precision)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            return self.synthesis(styles=code.split_styles(self), noise_mode=noise_mode, noise=code.noise).float()

    def to_styles(self, code: LatentCode) -> LatentCode:
        """Convert a z / w / w+ code to style space S (all affine outputs, concatenated)."""
        with torch.no_grad():
            styles = self.synthesis.styles(self.ws_of(code))
        return LatentCode("s", torch.cat(styles, dim=1), noise=code.noise, meta=dict(code.meta))

    def style_dims(self) -> list[int]:
        return [m.affine.out_features for _, m, _ in self.synthesis.style_layers()]

    def latent_weights(self, rgb: str = "last") -> list[tuple[int, torch.Tensor]]:
        """(w index, affine weight x gain) of the modulated convs and, with rgb='last', of the final toRGB only
        (its w drives nothing else), as the SeFa reference code factorises them; rgb='all' adds every toRGB,
        whose w is shared with the next block's first conv."""
        layers = self.synthesis.style_layers()
        final = layers[-1][1]
        return [(i, m.affine.weight.detach() * m.affine.weight_gain) for name, m, i in layers
                if rgb == "all" or not name.endswith(".torgb") or m is final]
