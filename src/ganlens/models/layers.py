"""Building blocks of StyleGAN2 in plain PyTorch: FIR resampling, equalised-lr layers, modulated convolution.

Parameter and buffer names follow NVIDIA's stylegan2-ada-pytorch (`weight`, `bias`, `resample_filter`) so that
state dicts move between the two with ``strict=True``. Everything here runs on the CPU without custom kernels.
"""

from __future__ import annotations

import contextlib
import math
import weakref
from typing import Callable, Hashable, Iterator

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


# Constants derived from a weight or filter (demodulation norms, dtype casts, the layout a convolution wants, the
# depthwise form of a filter), per source tensor. At batch 1 re-deriving them on every call cost about as much as
# the convolutions themselves.
_DERIVED: dict[int, tuple[weakref.ref, dict]] = {}


def derived(t: torch.Tensor, key: Hashable, make: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """`make(t)`, computed once and reused while `t` is unchanged (same storage, no in-place update since).

    When a gradient must flow into `t` (it requires grad and autograd is on: training, PTI) nothing is kept.
    Writes through `t.data` bypass the version counter and go unseen: ganlens changes weights only in place on
    the tensor itself (optimisers, `load_state_dict`, the EMA copy), which moves it.
    """
    if t.requires_grad and torch.is_grad_enabled():
        return make(t)
    # A value made under inference mode must not reach autograd later (it cannot be saved for backward), so each
    # mode keeps its own: the web UI renders in inference mode and climbs an attribute with gradients.
    key = (key, torch.is_inference_mode_enabled())
    stamp = (t._version, t.data_ptr(), t.dtype, t.device)
    entry = _DERIVED.get(id(t))
    if entry is not None and entry[0]() is t and key in entry[1] and entry[1][key][0] == stamp:
        return entry[1][key][1]
    with torch.no_grad():
        value = make(t)
    if value is t or value._base is t:  # nothing to save, and keeping a reference to `t` would keep it alive
        return value
    if entry is None or entry[0]() is not t:
        entry = (weakref.ref(t, lambda _, k=id(t): _DERIVED.pop(k, None)), {})
        _DERIVED[id(t)] = entry
    entry[1][key] = (stamp, value)
    return value


def setup_filter(taps: list[float] | tuple[float, ...] = (1, 3, 3, 1)) -> torch.Tensor:
    """Return the normalised 2-D FIR filter (outer product of `taps`), as NVIDIA stores it in `resample_filter`."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor,
    up: int | tuple[int, int] = 1,
    down: int | tuple[int, int] = 1,
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample by zero insertion, pad (x0, x1, y0, y1; negative crops), filter with 2-D FIR `f`, downsample.

    `up` and `down` are one factor or (x, y) factors, in the order of NVIDIA's upfirdn2d (a separable filter's
    pass along one axis resamples that axis alone). The filter is applied as a true convolution (flipped), like
    NVIDIA's reference with ``flip_filter=False``.
    """
    ux, uy = (up, up) if isinstance(up, int) else up
    dx, dy = (down, down) if isinstance(down, int) else down
    if _FAST_OPS and max(ux, uy) > 1 and dx == dy == 1:
        return _transposed_fir(x, f, (ux, uy), padding, gain)
    n, c, h, w = x.shape
    px0, px1, py0, py1 = padding
    f = derived(f, ("depthwise", c, gain, x.dtype),
                lambda f: (f * (gain ** (f.ndim / 2))).to(x.dtype).flip([0, 1])[None, None].repeat(c, 1, 1, 1))
    if _FAST_OPS and ux == uy == 1 and padding[0] >= 0 and len(set(padding)) == 1:
        # Equal, non-negative padding on all sides: let the convolution pad (no padded copy of x). With a 2-D
        # filter a strided depthwise convolution is several times slower than a dense one on the CPU in bf16
        # (StyleGAN2's discriminator), so filter every pixel and keep every `down`-th; a 1-D pass (StyleGAN3's
        # separable filters) is faster strided (1.2-2x at 256 px, one thread, fp32 and bf16).
        if f.shape[2] > 1 and f.shape[3] > 1:
            x = F.conv2d(x, f, groups=c, padding=padding[0])
            return x[:, :, ::dy, ::dx] if dx > 1 or dy > 1 else x
        return F.conv2d(x, f, groups=c, padding=padding[0], stride=(dy, dx))
    if ux > 1 or uy > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, ux - 1, 0, 0, 0, uy - 1])
        x = x.reshape(n, c, h * uy, w * ux)
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0) : x.shape[2] - max(-py1, 0), max(-px0, 0) : x.shape[3] - max(-px1, 0)]
    return F.conv2d(x, f, groups=c, stride=(dy, dx))


def _transposed_fir(x: torch.Tensor, f: torch.Tensor, up: tuple[int, int], padding: tuple[int, int, int, int],
                    gain: float) -> torch.Tensor:
    """`upfirdn2d` with up-sampling by `up` = (ux, uy) and no down-sampling as one depthwise transposed convolution with
    the unflipped filter: it computes only the products with the inserted zeros left out (a quarter of them at up
    = 2) and makes no up-sampled, padded copy of x. The full transposed output is longer than the padded result by
    fh - 1 - py0 at the top and fh - uy - py1 at the bottom (likewise across): the convolution crops what it can on
    both sides, a pad (negative where it crops) settles the rest."""
    c, (fh, fw), (ux, uy) = x.shape[1], f.shape, up
    k = derived(f, ("transposed", c, gain, x.dtype),
                lambda f: (f * (gain ** (f.ndim / 2))).to(x.dtype).reshape(1, 1, fh, fw).repeat(c, 1, 1, 1))
    px0, px1, py0, py1 = padding
    cx0, cx1, cy0, cy1 = fw - 1 - px0, fw - ux - px1, fh - 1 - py0, fh - uy - py1
    cx, cy = max(0, min(cx0, cx1)), max(0, min(cy0, cy1))
    x = F.conv_transpose2d(x, k, stride=(uy, ux), padding=(cy, cx), groups=c)
    rest = [cx - cx0, cx - cx1, cy - cy0, cy - cy1]
    return F.pad(x, rest) if any(rest) else x


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
    wsq = derived(weight, "demodulation", lambda w: w.square().sum(dim=[2, 3]))  # [out, in]
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
    the synthesis time on the CPU. For a single image at 32x32 and up the per-sample kernel is the cheaper form
    and is used instead (`_single_sample_conv`).
    """
    n = x.shape[0]
    out_ch, in_ch, kh, kw = weight.shape
    if styles.shape != (n, in_ch):
        raise ValueError(f"styles must have shape [{n}, {in_ch}], got {list(styles.shape)}")
    if activation not in ("linear", "lrelu"):
        raise ValueError(f"unknown activation {activation!r}; expected 'linear' or 'lrelu'")
    gain = LRELU_GAIN if activation == "lrelu" else 1.0
    if _FAST_OPS and n == 1 and up == 1 and x.shape[2] * x.shape[3] >= out_ch * kh * kw:
        # one image, and its feature map is larger than the kernel: scale the kernel instead of the map
        x = _single_sample_conv(x, weight, styles, noise, padding, demodulate, bias, gain)
    else:
        x = x * styles.to(x.dtype).reshape(n, -1, 1, 1)
        if up == 1:
            x = F.conv2d(x, derived(weight, ("conv", x.dtype), lambda w: w.to(x.dtype)), padding=padding)
        else:
            x = _up_conv(x, derived(weight, ("conv_transpose", x.dtype), lambda w: _transposed(w.to(x.dtype))),
                         up, padding, resample_filter)
        scale = demodulation_coefficients(weight, styles).reshape(n, -1, 1, 1) * gain if demodulate else None
        x = (_fused_epilogue if _FAST_OPS else _reference_epilogue)(x, scale, noise, bias, gain)
    if activation == "lrelu":
        x = F.leaky_relu(x, LRELU_SLOPE, inplace=True)  # x is always a fresh conv / multiply-add result here
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def _transposed(w: torch.Tensor) -> torch.Tensor:
    """[out, in, k, k] -> the [in, out, k, k] weight of a transposed convolution, stored channels-last (at batch 1
    twice as fast as the strided view)."""
    return w.transpose(0, 1).contiguous(memory_format=torch.channels_last)


def _up_conv(x: torch.Tensor, w_t: torch.Tensor, up: int, padding: int, resample_filter: torch.Tensor) -> torch.Tensor:
    """Transposed strided conv (weight `w_t` from `_transposed`) followed by FIR smoothing, with the padding
    bookkeeping of NVIDIA's conv2d_resample so that the result matches theirs sample for sample."""
    fw, kw = resample_filter.shape[-1], w_t.shape[-1]
    p0 = padding + (fw + up - 1) // 2 - (kw - 1)
    p1 = padding + (fw - up) // 2 - (kw - up)
    x = F.conv_transpose2d(x, w_t, stride=up)
    return upfirdn2d(x, resample_filter, padding=(p0, p1, p0, p1), gain=up * up)


def _single_sample_conv(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, noise: torch.Tensor | None,
                        padding: int, demodulate: bool, bias: torch.Tensor | None, gain: float) -> torch.Tensor:
    """Batch 1: style, demodulation and activation gain folded into the kernel, as StyleGAN2 defines the layer.

    Scaling the kernel costs out x in x k x k multiplies; scaling the input and output feature maps costs two
    passes over them, the larger bill from 32x32 up (the web UI and `ganlens edit` render one image at a time:
    measured on a 2-core Xeon, 10.2 -> 9.0 ms per synthesis of the v2 network)."""
    w = weight * styles.reshape(1, -1, 1, 1)
    if demodulate:
        w = w * (demodulation_coefficients(weight, styles).reshape(-1, 1, 1, 1) * gain)
    elif gain != 1.0:
        w = w * gain
    b = None if bias is None else (bias * gain).to(x.dtype)
    x = F.conv2d(x, w.to(x.dtype), b, padding=padding)
    if noise is not None:
        x = x.add_((noise * gain).to(x.dtype))
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
