"""Building blocks of StyleGAN2 in plain PyTorch: FIR resampling, equalised-lr layers, modulated convolution.

Parameter and buffer names follow NVIDIA's stylegan2-ada-pytorch (`weight`, `bias`, `resample_filter`) so that
state dicts move between the two with ``strict=True``. Everything here runs on the CPU without custom kernels.
"""

from __future__ import annotations

import contextlib
import math
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)

# The fast ops compute the same linear maps as the reference ops with fewer full-size passes (the filter's padding
# inside its convolution, one fused epilogue per modulated conv); results differ only by rounding.
_FAST_OPS = True


@contextlib.contextmanager
def reference_ops() -> Iterator[None]:
    """Within this block every layer uses the reference forms (explicit padding, the long epilogue): the baseline
    that `benchmarks/train_step.py --ops reference` times and that the tests compare the fast forms against."""
    global _FAST_OPS
    before, _FAST_OPS = _FAST_OPS, False
    try:
        yield
    finally:
        _FAST_OPS = before


def fast_ops_enabled() -> bool:
    return _FAST_OPS


def setup_filter(taps: list[float] | tuple[float, ...] = (1, 3, 3, 1)) -> torch.Tensor:
    """Return the normalised 2-D FIR filter (outer product of `taps`), as NVIDIA stores it in `resample_filter`."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor,
    up: int = 1,
    down: int = 1,
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample by zero insertion, pad (x0, x1, y0, y1; negative crops), filter with 2-D FIR `f`, downsample.

    The filter is applied as a true convolution (flipped), like NVIDIA's reference with ``flip_filter=False``.
    """
    n, c, h, w = x.shape
    f = (f * (gain ** (f.ndim / 2))).to(x.dtype).flip([0, 1])
    if _FAST_OPS and up == 1 and padding[0] >= 0 and len(set(padding)) == 1:
        # Equal, non-negative padding on all sides: let the convolution pad (no padded copy of x). A strided
        # depthwise convolution is several times slower than a dense one on the CPU in bf16, so filter every
        # pixel and keep every `down`-th.
        x = F.conv2d(x, f[None, None].repeat(c, 1, 1, 1), groups=c, padding=padding[0])
        return x[:, :, ::down, ::down] if down > 1 else x
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    px0, px1, py0, py1 = padding
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0) : x.shape[2] - max(-py1, 0), max(-px0, 0) : x.shape[3] - max(-px1, 0)]
    return F.conv2d(x, f[None, None].repeat(c, 1, 1, 1), groups=c, stride=down)


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """2x FIR upsampling that keeps the image's mean (used for the skip-connected RGB output)."""
    fw = f.shape[-1]
    p = ((fw + up - 1) // 2, (fw - up) // 2)
    return upfirdn2d(x, f, up=up, padding=(p[0], p[1], p[0], p[1]), gain=up * up)


def bias_act(x: torch.Tensor, b: torch.Tensor | None, act: str, gain: float = 1.0, clamp: float | None = None) -> torch.Tensor:
    """Add a per-channel bias, apply 'linear' or 'lrelu' (slope 0.2, gain sqrt 2), scale by `gain`, clamp."""
    if b is not None:
        x = x + b.reshape([1, -1] + [1] * (x.ndim - 2)).to(x.dtype)
    if act == "lrelu":
        x = F.leaky_relu(x, LRELU_SLOPE) * (LRELU_GAIN * gain)
    elif act == "linear":
        if gain != 1:
            x = x * gain
    else:
        raise ValueError(f"unknown activation {act!r}; expected 'linear' or 'lrelu'")
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


class FullyConnectedLayer(nn.Module):
    """Dense layer with equalised learning rate: weights stored as N(0, 1/lr_mul²), scaled by lr_mul/sqrt(fan_in)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = None if self.bias is None else self.bias.to(x.dtype) * self.bias_gain
        x = x.matmul(w.t())
        return bias_act(x, b, self.activation)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, activation={self.activation}"


def demodulation_coefficients(weight: torch.Tensor, styles: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Per-sample, per-output-channel factors that give the modulated kernel unit L2 norm. Returns [N, out]."""
    wsq = weight.square().sum(dim=[2, 3])  # [out, in]
    return (styles.square().matmul(wsq.t()) + eps).rsqrt()


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    bias: torch.Tensor | None = None,
    activation: str = "linear",
    clamp: float | None = None,
) -> torch.Tensor:
    """StyleGAN2 modulated convolution, computed as scale-input → shared conv → scale-output, followed by
    ``bias_act(x + noise, bias, activation, clamp=clamp)``.

    Mathematically identical to convolving with per-sample kernels ``weight * styles`` (demodulated), but it
    keeps one ordinary convolution for the whole batch, which is what is fast on the CPU. Demodulation, noise,
    bias and the activation gain are applied in one fused multiply-add (they are all per-channel or per-pixel
    affine, and lrelu(a)·g = lrelu(a·g) for g > 0): the element-wise passes, not the convolution, were half of
    the synthesis time on the CPU.
    """
    n = x.shape[0]
    out_ch, in_ch, kh, kw = weight.shape
    if styles.shape != (n, in_ch):
        raise ValueError(f"styles must have shape [{n}, {in_ch}], got {list(styles.shape)}")
    w = weight.to(x.dtype)
    x = x * styles.to(x.dtype).reshape(n, -1, 1, 1)
    if up == 1:
        x = F.conv2d(x, w, padding=padding)
    else:
        # Transposed strided conv followed by FIR smoothing, with the padding bookkeeping of NVIDIA's
        # conv2d_resample so that the result matches theirs sample for sample.
        fw = resample_filter.shape[-1]
        p0 = padding + (fw + up - 1) // 2 - (kw - 1)
        p1 = padding + (fw - up) // 2 - (kw - up)
        x = F.conv_transpose2d(x, w.transpose(0, 1), stride=up)
        x = upfirdn2d(x, resample_filter, padding=(p0, p1, p0, p1), gain=up * up)
    if activation not in ("linear", "lrelu"):
        raise ValueError(f"unknown activation {activation!r}; expected 'linear' or 'lrelu'")
    gain = LRELU_GAIN if activation == "lrelu" else 1.0
    scale = demodulation_coefficients(weight, styles).reshape(n, -1, 1, 1) * gain if demodulate else None
    x = (_fused_epilogue if _FAST_OPS else _reference_epilogue)(x, scale, noise, bias, gain)
    if activation == "lrelu":
        x = F.leaky_relu(x, LRELU_SLOPE, inplace=True)  # x is always a fresh conv / multiply-add result here
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def _reference_epilogue(x: torch.Tensor, scale: torch.Tensor | None, noise: torch.Tensor | None,
                        bias: torch.Tensor | None, gain: float) -> torch.Tensor:
    """x·scale + (noise + bias)·gain with the shift built at full size first (the reference form)."""
    shift = None
    if noise is not None:
        shift = noise * gain
    if bias is not None:
        b = bias.reshape(1, -1, 1, 1) * gain
        shift = b if shift is None else shift + b
    if scale is not None and shift is not None:
        shift = shift.to(x.dtype)
        if shift.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last):
            shift = shift.contiguous(memory_format=torch.channels_last)  # else the result comes back NCHW
        return torch.addcmul(shift, x, scale.to(x.dtype))
    if scale is not None:
        return x * scale.to(x.dtype)
    if shift is not None:
        return x + shift.to(x.dtype)
    return x * gain if gain != 1.0 else x


def _fused_epilogue(x: torch.Tensor, scale: torch.Tensor | None, noise: torch.Tensor | None,
                    bias: torch.Tensor | None, gain: float) -> torch.Tensor:
    """The same affine map in at most two passes over x: per-channel scale and bias in one multiply-add, then
    the per-pixel noise added in place (it is [H, W] or [N, 1, H, W]: never worth a full-size tensor)."""
    if scale is None:
        scale = torch.full([1, 1, 1, 1], gain, dtype=x.dtype, device=x.device) if gain != 1.0 else None
    if bias is not None:
        b = (bias * gain).to(x.dtype).reshape(1, -1, 1, 1)
        x = torch.addcmul(b, x, scale.to(x.dtype)) if scale is not None else x + b
    elif scale is not None:
        x = x * scale.to(x.dtype)
    if noise is not None:
        noise = (noise * gain).to(x.dtype)
        x = x.add_(noise) if (bias is not None or scale is not None) else x + noise
    return x


class Conv2dLayer(nn.Module):
    """Equalised-lr convolution with optional FIR downsampling (the discriminator's building block)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        down: int = 1,
        resample_filter: tuple[int, ...] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.activation = activation
        self.down = down
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        if _FAST_OPS and self.activation in ("linear", "lrelu"):
            return self._fast_forward(x, gain)
        w = self.weight.to(x.dtype) * self.weight_gain
        if self.down == 1:
            x = F.conv2d(x, w, padding=self.padding)
        else:
            fw = self.resample_filter.shape[-1]
            p0 = self.padding + (fw - self.down + 1) // 2
            p1 = self.padding + (fw - self.down) // 2
            if w.shape[-1] == 1:
                x = upfirdn2d(x, self.resample_filter, down=self.down, padding=(p0, p1, p0, p1))
                x = F.conv2d(x, w)
            else:  # FIR first, then a strided conv: the same linear map, a quarter of the conv's outputs
                x = upfirdn2d(x, self.resample_filter, padding=(p0, p1, p0, p1))
                x = F.conv2d(x, w, stride=self.down)
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        b = None if self.bias is None else self.bias
        return bias_act(x, b, self.activation, gain=gain, clamp=clamp)

    def _fast_forward(self, x: torch.Tensor, gain: float) -> torch.Tensor:
        """The same map with the bias inside the convolution and every gain folded into the weights
        (lrelu(a)·g = lrelu(a·g) for g > 0): one element-wise pass after the convolution instead of three."""
        g = gain * (LRELU_GAIN if self.activation == "lrelu" else 1.0)
        w = self.weight.to(x.dtype) * (self.weight_gain * g)
        b = None if self.bias is None else (self.bias * g).to(x.dtype)
        stride = 1
        if self.down > 1:
            fw = self.resample_filter.shape[-1]
            p0 = self.padding + (fw - self.down + 1) // 2
            p1 = self.padding + (fw - self.down) // 2
            if w.shape[-1] == 1:
                x = upfirdn2d(x, self.resample_filter, down=self.down, padding=(p0, p1, p0, p1))
            else:
                x = upfirdn2d(x, self.resample_filter, padding=(p0, p1, p0, p1))
                stride = self.down
        x = F.conv2d(x, w, b, stride=stride, padding=self.padding if self.down == 1 else 0)
        if self.activation == "lrelu":
            x = F.leaky_relu(x, LRELU_SLOPE, inplace=True)
        if self.conv_clamp is not None:
            x = x.clamp(-self.conv_clamp * gain, self.conv_clamp * gain)
        return x


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale each row to unit root-mean-square (the mapping network's input normalisation)."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def seeded_normal(shape: tuple[int, ...] | list[int], seed: int) -> torch.Tensor:
    """Standard normal draws from NumPy's seeded generator: identical bytes on every platform and torch version."""
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(size=tuple(shape)).astype(np.float32))
