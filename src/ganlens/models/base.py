"""What every ganlens generator offers on top of its two networks (`mapping`: z → ws, `synthesis`: ws → image):
seeded sampling into a `LatentCode`, turning codes of any supported space into ws, batched synthesis and rendering.

`GeneratorMixin` holds that logic once for every generator (StyleGAN2, StyleGAN3, `pggan.PGGANGenerator`,
`stylegan1.StyleGAN1Generator`); it is mixed in before `nn.Module`. A class using it provides the attributes
`z_dim`, `w_dim`, `num_ws`, `img_resolution`, `img_channels`, `init_kwargs`, the sub-modules `mapping` (with a
`w_avg` buffer and the keywords `truncation_psi` / `truncation_cutoff`) and `synthesis` (with `noise_mode`,
`noise` and `noise_layers()`), and the class attributes `architecture` and `spaces`.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import InputError, LatentError, UnknownNameError
from ..latents import LatentCode, broadcast_w, check_truncation, layer_resolutions
from .layers import seeded_normal
from .precision import fast_precision

NOISE_MODES = ("const", "random", "none")
PRECISIONS = ("fp32", "bf16", "auto")


class GeneratorMixin:
    """Latent-space conveniences shared by ganlens' generators (see the module docstring for what a class supplies)."""

    architecture: str = "unknown"
    spaces: tuple[str, ...] = ("z", "w", "w+")
    # One line appended to the error for a space this architecture lacks (e.g. why PGGAN has no W).
    space_note: str = ""

    def _assemble(self, mapping_cls: type, synthesis_cls: type, z_dim: int, c_dim: int, w_dim: int,
                  img_resolution: int, img_channels: int, mapping_kwargs: dict | None,
                  synthesis_kwargs: dict | None) -> None:
        """Build `synthesis`, then `mapping` (it needs the synthesis' w count), and record the constructor's
        arguments in `init_kwargs`, which a saved file restores the generator from. For the StyleGAN2/3 layout."""
        mapping_kwargs = dict(mapping_kwargs or {})
        synthesis_kwargs = dict(synthesis_kwargs or {})
        self.init_kwargs = dict(
            z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels,
            mapping_kwargs=mapping_kwargs, synthesis_kwargs=synthesis_kwargs,
        )
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = synthesis_cls(w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels,
                                       **synthesis_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.mapping = mapping_cls(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=self.num_ws, **mapping_kwargs)
        self._init_meta()

    def _init_meta(self) -> None:
        """The descriptive attributes every generator carries; call at the end of `__init__`."""
        self.provenance: dict = {}
        self.name: str = "unnamed"
        # What `synthesize` / `render` use when not told: 'fp32' or 'bf16' (CPU/GPU autocast).
        self.precision: str = "fp32"

    @property
    def w_avg(self) -> torch.Tensor:
        return self.mapping.w_avg

    @property
    def resolution(self) -> int:
        return self.img_resolution

    @property
    def device(self) -> torch.device:
        return self.w_avg.device

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, noise_mode: str = "const") -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode)

    def __repr__(self) -> str:  # one line: the full module tree is available via `describe()`
        n = sum(p.numel() for p in self.parameters())
        return (
            f"{type(self).__name__}(name={self.name!r}, architecture={self.architecture!r}, "
            f"resolution={self.img_resolution}, z_dim={self.z_dim}, w_dim={self.w_dim}, num_ws={self.num_ws}, "
            f"params={n / 1e6:.2f}M)"
        )

    def describe(self) -> str:
        """The full module tree (what `repr` shows for an ordinary nn.Module)."""
        return nn.Module.__repr__(self)

    @property
    def w_resolutions(self) -> list[int]:
        """The resolution each w of a W+ code feeds (StyleGAN2's layout here; other architectures override it):
        what layer presets and resolution groups are named by."""
        return layer_resolutions(self.num_ws)

    def style_dims(self) -> list[int]:
        """Widths of style space S; these generators do not offer S (their `spaces` say which they do)."""
        return []

    def latent_weights(self, rgb: str = "last") -> list[tuple[int, torch.Tensor]]:
        """(w index, A) for every linear map from a layer's latent into the network (A: [outputs, w_dim], the
        effective weight with its runtime gain): what closed-form factorisation (SeFa) decomposes. `rgb` says
        which toRGB affines count where a network has them ('last' or 'all'; see StyleGAN2's)."""
        raise NotImplementedError(f"{self.architecture} generator {self.name!r} does not expose its latent weights")

    def to_styles(self, code: LatentCode) -> LatentCode:
        """Style space S is StyleGAN2's here; other architectures refuse it in one line."""
        self.check_space("s")
        raise LatentError(f"{self.architecture} generator {self.name!r} lists 's' but does not implement to_styles")

    def check_space(self, space: str) -> None:
        """Raise LatentError unless codes of `space` are supported by this generator."""
        if space not in self.spaces:
            note = f"; {self.space_note}" if self.space_note else ""
            raise LatentError(
                f"{self.architecture} generator {self.name!r} has no {space!r} space: it supports "
                f"{', '.join(repr(s) for s in self.spaces)}{note}"
            )

    def sample_z(self, n: int, seed: int) -> torch.Tensor:
        """n standard-normal z codes from `seed` (NumPy's generator, so the same on every platform)."""
        return seeded_normal([n, self.z_dim], seed).to(self.device)

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, truncation_psi: float = 1.0, space: str | None = None) -> LatentCode:
        """Draw n codes from `seed` in `space` ('z', 'w', 'w+'; None: 'w' where the generator has W, else 'z').

        A 'w' code is one vector for every layer, so its truncation applies to all layers; a 'w+' code keeps the
        mapping's truncation cutoff (StyleGAN's "first layers only").
        """
        space = space or ("w" if "w" in self.spaces else "z")
        self.check_space(space)
        check_truncation(space, truncation_psi)
        z = self.sample_z(n, seed)
        if space == "z":
            return LatentCode("z", z, meta={"seed": seed})
        meta = {"seed": seed, "truncation_psi": truncation_psi}
        if space == "w":
            return LatentCode("w", self.mapping(z, truncation_psi=truncation_psi, truncation_cutoff=self.num_ws)[:, 0],
                              meta=meta)
        if space == "w+":
            return LatentCode("w+", self.mapping(z, truncation_psi=truncation_psi), meta=meta)
        raise LatentError(f"cannot sample space {space!r}; choose one of {self.spaces}")

    def ws_of(self, code: LatentCode) -> torch.Tensor:
        """The ws tensor [N, num_ws, w_dim] of a code in a supported space (validated against this generator)."""
        self.check_space(code.space)
        code.validate_for(self)
        t = code.tensor.to(self.device, torch.float32)
        if code.space == "z":
            return self.mapping(t)
        if code.space == "w":
            return broadcast_w(t, self.num_ws)
        if code.space == "w+":
            return t
        raise LatentError(f"cannot turn a code in space {code.space!r} into ws")

    def synthesize(self, code: LatentCode, noise_mode: str = "const", batch_size: int = 64,
                   precision: str | None = None) -> torch.Tensor:
        """Float32 images [N, C, R, R] in about [-1, 1] for a code in a supported space (batched; gradients flow).

        precision: 'fp32', 'bf16' (bfloat16 autocast: within a few grey levels, and faster where the hardware has
        bf16) or 'auto' (bf16 only where it is faster); None: `self.precision`.
        """
        precision = self.resolve_precision(precision)
        self.check_space(code.space)
        outs = []
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            for i in range(0, len(code), batch_size):
                part = code[i : i + batch_size]
                outs.append(self.synthesis(self.ws_of(part), noise_mode=noise_mode,
                                           noise=slice_noise(code.noise, i, batch_size)).float())
        return torch.cat(outs) if outs else torch.empty(0, self.img_channels, self.img_resolution, self.img_resolution)

    def resolve_precision(self, precision: str | None) -> str:
        """'fp32' or 'bf16' for a requested precision (None: `self.precision`; 'auto': the fast one here)."""
        precision = precision or self.precision
        if precision not in PRECISIONS:
            raise UnknownNameError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        return fast_precision(self.device) if precision == "auto" else precision

    @torch.no_grad()
    def render(self, code: LatentCode, noise_mode: str = "const", batch_size: int = 64,
               precision: str | None = None) -> np.ndarray:
        """uint8 images [N, R, R, C] for a code in a supported space (precision as in `synthesize`)."""
        from ..io.images import to_uint8

        return to_uint8(self.synthesize(code, noise_mode=noise_mode, batch_size=batch_size, precision=precision))


def slice_noise(noise: Sequence[torch.Tensor] | None, start: int, size: int) -> list[torch.Tensor] | None:
    """Rows [start, start + size) of per-image noise maps; maps with batch 1 are shared and kept whole."""
    if noise is None:
        return None
    return [n if n.shape[0] == 1 else n[start : start + size] for n in noise]


def check_noise_mode(noise_mode: str) -> None:
    if noise_mode not in NOISE_MODES:
        raise UnknownNameError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")


def check_ws(ws: torch.Tensor, num_ws: int, w_dim: int) -> None:
    if ws.ndim != 3 or ws.shape[1] != num_ws or ws.shape[2] != w_dim:
        raise LatentError(f"ws must have shape [N, {num_ws}, {w_dim}], got {list(ws.shape)}")


def check_resolution(resolution: int) -> int:
    """log2 of a power-of-two resolution >= 4 (what every progressive / style generator here builds)."""
    log2 = int(np.log2(resolution)) if resolution > 0 else 0
    if resolution < 4 or 2**log2 != resolution:
        raise InputError(f"img_resolution must be a power of two >= 4, got {resolution}")
    return log2


def progressive_synthesis(stored_lod: torch.Tensor, lod: float | None, blocks: int, what: str,
                          run_block: Callable[[int, torch.Tensor | None], torch.Tensor],
                          to_rgb: Callable[[int, torch.Tensor], torch.Tensor], x: torch.Tensor | None) -> torch.Tensor:
    """PGGAN / StyleGAN's level-of-detail synthesis (genforce's order): blocks run while the level asks for their
    resolution; the image is the output layer of the block at `lod`, faded in against the up-sampled coarser image
    at a fractional level, and nearest-up-sampled to full size above it.

    Args:
        stored_lod: the network's `lod` buffer (used when `lod` is None). blocks: number of resolutions.
        what: the architecture's name, for the error. run_block(b, x) → features; to_rgb(b, x) → image.
    Raises:
        LatentError: a level outside [0, blocks − 1].
    """
    lod = float(stored_lod) if lod is None else float(lod)
    top = blocks - 1
    if not 0 <= lod <= top:
        raise LatentError(f"level of detail must be in [0, {top}] for a {what}, got {lod:g}")
    image = None
    for b in range(blocks):
        block_lod = top - b  # this block's output is the image at lod == block_lod
        if lod < block_lod + 1:
            x = run_block(b, x)
        if block_lod - 1 < lod <= block_lod:
            image = to_rgb(b, x)
        elif block_lod < lod < block_lod + 1:  # fading in: blend with the up-sampled coarser image
            alpha = float(np.ceil(lod) - lod)
            up = nn.functional.interpolate(image, scale_factor=2, mode="nearest")
            image = to_rgb(b, x) * alpha + up * (1 - alpha)
        elif lod >= block_lod + 1:
            image = nn.functional.interpolate(image, scale_factor=2, mode="nearest")
    return image


def equalized_dense_4x4(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """PGGAN / StyleGAN's first layer from a vector: [N, C_in] → [N, C_out, 4, 4] with an (already scaled)
    weight [C_out, C_in, 4, 4], as genforce computes it: a 4x4 convolution with padding 3 over the 1x1 input,
    which reads the kernel back to front (output pixel (i, j) uses tap (3 - i, 3 - j))."""
    return torch.einsum("oiyx,ni->noyx", weight.flip([2, 3]).to(x.dtype), x)


def fused_upscale_kernel(weight: torch.Tensor) -> torch.Tensor:
    """The 4x4 kernel of a 'fused' 2x up-scaling conv: the 3x3 kernel padded to 5x5 and summed over its four
    one-pixel shifts (TF PGGAN / StyleGAN's `upscale2d_conv2d`), for `conv_transpose2d(stride=2, padding=1)`."""
    w = nn.functional.pad(weight, [1, 1, 1, 1])
    return w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]
