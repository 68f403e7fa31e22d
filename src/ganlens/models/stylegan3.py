"""StyleGAN3 (alias-free; configs T and R) in plain PyTorch.

Module tree, parameter and buffer names and constructor kwargs follow NVIDIA's stylegan3
(``training/networks_stylegan3.py``): ``mapping.fc*``, ``mapping.w_avg``; ``synthesis.input`` (Fourier features:
``freqs``, ``phases``, ``transform``, ``weight``, ``affine``); ``synthesis.L{idx}_{size}_{channels}`` with
``affine``, ``weight``, ``bias``, ``magnitude_ema``, ``up_filter``, ``down_filter`` (the last one is ToRGB). A
state dict taken from one of their network pickles therefore loads with ``strict=True``.

What a layer computes: a modulated convolution (weights and styles pre-normalised, demodulated, the input scaled
by ``magnitude_ema ** -0.5``), then the filtered leaky ReLU: add bias, upsample with ``up_filter``, leaky ReLU
with gain sqrt 2, clamp, downsample with ``down_filter``. NVIDIA runs that as a fused CUDA kernel; here it is
`filtered_lrelu`, built on `layers.upfirdn2d`, so it runs anywhere. The layer schedule (sizes, sampling rates,
cutoffs, channels) is `synthesis_schedule`; filters are Kaiser-windowed sinc (config T) or, for the
non-critically sampled layers of config R, a radially symmetric jinc (`lowpass_filter`).

Beyond NVIDIA's forward pass: the input transform as an edit (`make_transform`, `input_transform`,
`Generator.set_transform`, `Generator.transformed`, ``render(..., transform=(tx, ty, angle))``) and ganlens'
latent-code interface (`base.GeneratorMixin`). StyleGAN3 has no noise inputs; ``noise_mode`` is accepted and
ignored.
"""

from __future__ import annotations

import contextlib
import math
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError, LatentError
from ..latents import LatentCode
from .base import GeneratorMixin, check_noise_mode, check_ws, slice_noise
from .layers import FullyConnectedLayer, demodulation_coefficients, upfirdn2d
from .stylegan2 import MappingNetwork as _StyleGAN2Mapping

SQRT2 = math.sqrt(2.0)

# ------------------------------------------------------------------------------------------ filter design


def kaiser_atten(numtaps: int, width: float) -> float:
    """Kaiser's estimate of the stopband attenuation (dB) of a `numtaps` FIR filter whose transition band is
    `width` wide, as a fraction of the Nyquist frequency."""
    return 2.285 * (numtaps - 1) * math.pi * width + 7.95


def kaiser_beta(atten: float) -> float:
    """Kaiser window parameter beta for a stopband attenuation of `atten` dB (Kaiser's empirical formula)."""
    if atten > 50:
        return 0.1102 * (atten - 8.7)
    if atten > 21:
        return 0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21)
    return 0.0


def bessel_j1(x: np.ndarray) -> np.ndarray:
    """Bessel function of the first kind, order 1: J1(x) = 1/(2π) ∫ cos(τ − x sin τ) dτ over one period.

    The integrand is periodic and smooth, so the trapezoidal rule converges exponentially once the number of
    nodes exceeds |x| by a margin (64 + 2|x| nodes: error at float64 rounding for the filters' arguments).
    """
    x = np.asarray(x, dtype=np.float64)
    k = 64 + 2 * int(np.ceil(np.abs(x).max(initial=0.0)))
    tau = np.arange(k) * (2 * np.pi / k)
    return np.cos(tau - x[..., None] * np.sin(tau)).mean(axis=-1)


def lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False) -> torch.Tensor | None:
    """The low-pass FIR filter a StyleGAN3 layer keeps in `up_filter` / `down_filter`.

    numtaps 1: None (identity). Otherwise a Kaiser-windowed design for cutoff `cutoff`, transition band `width`
    and sampling rate `fs` (the window's beta from Kaiser's attenuation estimate), normalised to unit DC gain:
    separable 1-D sinc taps [numtaps] (what ``scipy.signal.firwin(numtaps, cutoff, width=width, fs=fs)`` gives),
    or with `radial` a 2-D radially symmetric jinc [numtaps, numtaps] windowed by the outer product of the window.
    """
    if numtaps < 1:
        raise InputError(f"a low-pass filter needs at least 1 tap, got numtaps={numtaps}")
    if numtaps == 1:
        return None
    nyquist = fs / 2
    window = np.kaiser(numtaps, kaiser_beta(kaiser_atten(numtaps, width / nyquist)))
    m = np.arange(numtaps) - (numtaps - 1) / 2
    if not radial:
        c = cutoff / nyquist
        f = c * np.sinc(c * m) * window
        return torch.as_tensor(f / f.sum(), dtype=torch.float32)
    r = np.hypot(*np.meshgrid(m / fs, m / fs))
    safe_r = np.where(r > 0, r, 1.0)
    # jinc: J1(2π f_c r) / (π r); its limit at r = 0 is f_c (only reached with an odd number of taps).
    f = np.where(r > 0, bessel_j1(2 * np.pi * cutoff * safe_r) / (np.pi * safe_r), cutoff)
    f = f * np.outer(window, window)
    return torch.as_tensor(f / f.sum(), dtype=torch.float32)


# ------------------------------------------------------------------------------------------------- ops


def fir(x: torch.Tensor, f: torch.Tensor | None, up: int = 1, down: int = 1,
        padding: Sequence[int] = (0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """`layers.upfirdn2d` for the filter forms StyleGAN3 stores: None (identity), 1-D taps (separable: applied
    along x, then along y, each pass with sqrt(gain)) or a 2-D filter. padding: (x0, x1, y0, y1); negative crops.

    Each separable pass resamples and pads only its own axis (zero insertion, padding and decimation along one
    axis commute with filtering along the other), so neither pass filters the other axis' inserted zeros or
    computes the samples the other's decimation drops (full-width StyleGAN3-T at 256 px, batch 1, one thread beside
    a training run: 11.3-11.9 -> 7.8-8.1 s per image)."""
    padding = tuple(int(p) for p in padding)
    if f is None:
        if up == 1 and down == 1 and not any(padding):
            return x * gain if gain != 1 else x
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    if f.ndim == 2:
        return upfirdn2d(x, f, up=up, down=down, padding=padding, gain=gain)
    g = math.sqrt(gain)
    px0, px1, py0, py1 = padding
    x = upfirdn2d(x, f[None, :], up=(up, 1), down=(down, 1), padding=(px0, px1, 0, 0), gain=g)
    return upfirdn2d(x, f[:, None], up=(1, up), down=(1, down), padding=(0, 0, py0, py1), gain=g)


def filtered_lrelu(
    x: torch.Tensor,
    fu: torch.Tensor | None = None,
    fd: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: Sequence[int] = (0, 0, 0, 0),
    gain: float = SQRT2,
    slope: float = 0.2,
    clamp: float | None = None,
) -> torch.Tensor:
    """StyleGAN3's filtered leaky ReLU: add bias `b`; upsample by `up` (zero insertion), pad (x0, x1, y0, y1)
    and filter with `fu` (gain up²); leaky ReLU with `slope`, times `gain`; clamp to ±`clamp`; filter with `fd`
    and keep every `down`-th pixel. Filters: None, 1-D separable taps or 2-D."""
    if b is not None:
        x = x + b.to(x.dtype).reshape(1, -1, 1, 1)
    # lrelu(a)·g = lrelu(a·g) for g > 0, so the activation gain rides in the (linear) up-filter: one full-size
    # pass fewer at the layer's highest sampling rate.
    x = fir(x, fu, up=up, padding=padding, gain=up * up * gain)
    if slope != 1:
        x = F.leaky_relu(x, slope)
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return fir(x, fd, down=down)


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    padding: int = 0,
    demodulate: bool = True,
    input_gain: torch.Tensor | float | None = None,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """StyleGAN3's modulated convolution (+ an optional per-channel bias), as scale-input → one shared conv →
    scale-output (the same linear map as NVIDIA's per-sample grouped kernels).

    With `demodulate`, the weight (per output channel) and the styles are first scaled to unit mean square, then
    each output channel is normalised to unit L2 kernel norm (eps 1e-8). `input_gain` scales the input (NVIDIA
    applies it to the demodulated kernel: the same thing). NVIDIA pre-normalises the styles over the whole batch;
    here each sample on its own, so results do not depend on batching. Demodulation cancels that scale exactly
    except inside the 1e-8 epsilon.
    """
    n = x.shape[0]
    out_ch, in_ch, kh, kw = weight.shape
    if styles.shape != (n, in_ch):
        raise LatentError(f"styles must have shape [{n}, {in_ch}], got {list(styles.shape)}")
    w = weight.to(torch.float32)
    s = styles.to(torch.float32)
    if demodulate:
        w = w * w.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
        s = s * s.square().mean(dim=1, keepdim=True).rsqrt()
    mod = s if input_gain is None else s * input_gain
    x = F.conv2d(x * mod.to(x.dtype).reshape(n, -1, 1, 1), w.to(x.dtype), padding=padding)
    if demodulate:
        scale = demodulation_coefficients(w, s).to(x.dtype).reshape(n, -1, 1, 1)
        if bias is not None:
            return torch.addcmul(bias.to(x.dtype).reshape(1, -1, 1, 1), x, scale)
        return x * scale
    return x if bias is None else x + bias.to(x.dtype).reshape(1, -1, 1, 1)


# ------------------------------------------------------------------------------------------- the network


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    """An int or [width, height] → (width, height)."""
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    w, h = size
    return int(w), int(h)


def synthesis_schedule(
    img_resolution: int,
    img_channels: int,
    channel_base: int = 32768,
    channel_max: int = 512,
    num_layers: int = 14,
    num_critical: int = 2,
    first_cutoff: float = 2,
    first_stopband: float = 2**2.1,
    last_stopband_rel: float = 2**0.3,
    margin_size: int = 10,
) -> dict[str, np.ndarray | list[str]]:
    """Per-layer design of the synthesis network (index 0 is the Fourier input, num_layers the ToRGB layer).

    Cutoff f_c and minimum stopband f_t grow geometrically from the first layer's values to the last's (f_c =
    R/2, f_t = f_c · last_stopband_rel), reaching them `num_critical` layers before the end; sampling rate s =
    the power of two >= 2 f_t (at most R); transition half-width f_h = max(f_t, s/2) − f_c; size = s + 2·margin
    (R for the last two); channels = rint(min(channel_base / 2 / f_c, channel_max)), img_channels for ToRGB.
    Returns arrays 'cutoffs', 'stopbands', 'sampling_rates', 'half_widths', 'sizes', 'channels' and the layer
    names 'names' (``L{idx}_{size}_{channels}`` for idx 0..num_layers).
    """
    if num_layers <= num_critical or num_critical < 0:
        raise InputError(f"StyleGAN3 needs num_layers > num_critical >= 0, got num_layers={num_layers}, "
                         f"num_critical={num_critical}")
    if img_resolution < 4 or img_resolution % 2:
        raise InputError(f"img_resolution must be an even number >= 4, got {img_resolution}")
    last_cutoff = img_resolution / 2
    last_stopband = last_cutoff * last_stopband_rel
    exponents = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)
    cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** exponents
    stopbands = first_stopband * (last_stopband / first_stopband) ** exponents
    sampling_rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
    half_widths = np.maximum(stopbands, sampling_rates / 2) - cutoffs
    sizes = sampling_rates + margin_size * 2
    sizes[-2:] = img_resolution
    channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
    channels[-1] = img_channels
    names = [f"L{idx}_{int(sizes[idx])}_{int(channels[idx])}" for idx in range(num_layers + 1)]
    return dict(cutoffs=cutoffs, stopbands=stopbands, sampling_rates=sampling_rates, half_widths=half_widths,
                sizes=sizes, channels=channels, names=names)


def make_transform(translate: Sequence[float] = (0.0, 0.0), angle: float = 0.0) -> np.ndarray:
    """The 3x3 image transform of NVIDIA's gen_images.py: rotate the content by `angle` degrees
    (counter-clockwise as displayed), then move it by `translate` (x right, y down; 1 = the image's width/height)."""
    tx, ty = (float(v) for v in translate)
    a = math.radians(float(angle))
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, s, tx], [-s, c, ty], [0.0, 0.0, 1.0]])


def input_transform(translate: Sequence[float] = (0.0, 0.0), angle: float = 0.0) -> torch.Tensor:
    """What `SynthesisInput.transform` holds for that edit: the inverse of `make_transform` (float32 [3, 3]);
    the network samples its Fourier features through it, so the image shows the transform itself."""
    return torch.from_numpy(np.linalg.inv(make_transform(translate, angle))).to(torch.float32)


class MappingNetwork(_StyleGAN2Mapping):
    """z → ws; StyleGAN2's mapping with StyleGAN3's defaults (2 layers, w_avg decay 0.998). Same names and maths:
    2nd-moment normalisation, equalised-lr lrelu FC layers ``fc{idx}``, tracked ``w_avg``, truncation."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int, num_layers: int = 2,
                 lr_multiplier: float = 0.01, w_avg_beta: float = 0.998) -> None:
        super().__init__(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=num_ws, num_layers=num_layers,
                         lr_multiplier=lr_multiplier, w_avg_beta=w_avg_beta)


class SynthesisInput(nn.Module):
    """Fourier features: `channels` sinusoids of fixed frequencies (`freqs` [C, 2]) and phases (`phases` [C]),
    sampled on a `size` grid at `sampling_rate` after a per-sample rotation + translation predicted from w
    (`affine`: w → (r_c, r_s, t_x, t_y)) and the user transform (`transform`, the inverse of the image transform);
    frequencies pushed beyond `bandwidth` by the transform are faded out; then a learned channel mix (`weight`)."""

    def __init__(self, w_dim: int, channels: int, size: int | Sequence[int], sampling_rate: float,
                 bandwidth: float) -> None:
        super().__init__()
        self.w_dim, self.channels = w_dim, channels
        self.size = _pair(size)
        self.sampling_rate, self.bandwidth = float(sampling_rate), float(bandwidth)
        # Initial frequencies: random directions, radii r rescaled by 1/(r·exp(r²/4)) (denser at low
        # frequencies), times the bandwidth; phases uniform in [-0.5, 0.5) cycles.
        freqs = torch.randn([channels, 2])
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * bandwidth
        self.weight = nn.Parameter(torch.randn([channels, channels]))
        self.affine = FullyConnectedLayer(w_dim, 4)
        with torch.no_grad():  # start at the identity transform: (r_c, r_s, t_x, t_y) = (1, 0, 0, 0)
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
        self.register_buffer("transform", torch.eye(3))
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", torch.rand([channels]) - 0.5)

    def grid(self, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample positions (x [W], y [H]) of the feature grid: pixel centres in units where `sampling_rate`
        pixels span 1, centred on the image (what ``affine_grid(align_corners=False)`` gives NVIDIA)."""
        w, h = self.size
        x = (torch.arange(w, dtype=torch.float32, device=device) + 0.5 - w / 2) / self.sampling_rate
        y = (torch.arange(h, dtype=torch.float32, device=device) + 0.5 - h / 2) / self.sampling_rate
        return x, y

    def set_transform(self, translate: Sequence[float] = (0.0, 0.0), angle: float = 0.0) -> None:
        """Make every later image show this transform (as gen_images.py does); (0, 0), 0 restores the default."""
        with torch.no_grad():
            self.transform.copy_(input_transform(translate, angle).to(self.transform.device))

    def transforms(self, w: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        """Per-sample 3x3 sampling transforms [N, 3, 3]: the inverse rotation and translation predicted from w,
        then `transform` (default: the `transform` buffer)."""
        t = self.affine(w.to(torch.float32))
        t = t / t[:, :2].norm(dim=1, keepdim=True)  # a pure rotation: (r_c, r_s) on the unit circle
        c, s, tx, ty = t.unbind(dim=1)
        zero, one = torch.zeros_like(c), torch.ones_like(c)
        # rotation @ translation(−t) written out:
        # [[c, −s, −(c tx − s ty)], [s, c, −(s tx + c ty)], [0, 0, 1]]
        m = torch.stack([
            torch.stack([c, -s, -(c * tx - s * ty)], dim=1),
            torch.stack([s, c, -(s * tx + c * ty)], dim=1),
            torch.stack([zero, zero, one], dim=1),
        ], dim=1)
        user = self.transform if transform is None else transform
        return m @ user.to(m.device, m.dtype)

    def forward(self, w: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        """w [N, w_dim] → features [N, channels, H, W]; `transform` overrides the buffer for this call only."""
        # Geometry in float32 even under bf16 autocast: a phase off by 1 % of a cycle moves the whole image.
        with torch.autocast(w.device.type, enabled=False):
            m = self.transforms(w, transform)
            freqs = self.freqs.to(torch.float32)
            phases = self.phases + (freqs @ m[:, :2, 2:]).squeeze(2)  # [N, C]: the translation, as phase shifts
            freqs = freqs @ m[:, :2, :2]  # [N, C, 2]
            # Fade out frequencies the user transform moved past the bandwidth, reaching 0 at Nyquist.
            fade = (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)
            amplitudes = (1 - fade).clamp(0, 1)
            gx, gy = self.grid(w.device)
            x = (gx[None, None, :, None] * freqs[:, None, None, :, 0]
                 + gy[None, :, None, None] * freqs[:, None, None, :, 1] + phases[:, None, None, :])  # [N, H, W, C]
            x = torch.sin(x * (2 * math.pi)) * amplitudes[:, None, None, :]
        x = x @ (self.weight / math.sqrt(self.channels)).t().to(x.dtype)
        return x.permute(0, 3, 1, 2)

    def extra_repr(self) -> str:
        return (f"w_dim={self.w_dim}, channels={self.channels}, size={list(self.size)}, "
                f"sampling_rate={self.sampling_rate:g}, bandwidth={self.bandwidth:g}")


def _ratio(high: float, low: float, what: str) -> int:
    factor = int(np.rint(high / low))
    if low * factor != high:
        raise InputError(f"{what} factor {high:g}/{low:g} is not an integer; StyleGAN3 layers resample by integers")
    return factor


class SynthesisLayer(nn.Module):
    """One StyleGAN3 layer (or the final ToRGB): modulated conv, then the filtered leaky ReLU between the input
    and output sampling rates (through a temporary rate `lrelu_upsampling` times the higher one)."""

    def __init__(
        self,
        w_dim: int,
        is_torgb: bool,
        is_critically_sampled: bool,
        use_fp16: bool,
        in_channels: int,
        out_channels: int,
        in_size: int | Sequence[int],
        out_size: int | Sequence[int],
        in_sampling_rate: float,
        out_sampling_rate: float,
        in_cutoff: float,
        out_cutoff: float,
        in_half_width: float,
        out_half_width: float,
        conv_kernel: int = 3,
        filter_size: int = 6,
        lrelu_upsampling: int = 2,
        use_radial_filters: bool = False,
        conv_clamp: float | None = 256,
        magnitude_ema_beta: float = 0.999,
    ) -> None:
        super().__init__()
        self.w_dim, self.is_torgb, self.is_critically_sampled = w_dim, is_torgb, is_critically_sampled
        self.use_fp16 = use_fp16  # kept for checkpoint round trips; ganlens computes in fp32/bf16 instead
        self.in_channels, self.out_channels = in_channels, out_channels
        self.in_size, self.out_size = _pair(in_size), _pair(out_size)
        self.in_sampling_rate, self.out_sampling_rate = in_sampling_rate, out_sampling_rate
        self.tmp_sampling_rate = max(in_sampling_rate, out_sampling_rate) * (1 if is_torgb else lrelu_upsampling)
        self.in_cutoff, self.out_cutoff = float(in_cutoff), float(out_cutoff)
        self.in_half_width, self.out_half_width = float(in_half_width), float(out_half_width)
        self.conv_kernel = 1 if is_torgb else conv_kernel
        self.conv_clamp = conv_clamp
        self.magnitude_ema_beta = magnitude_ema_beta

        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, self.conv_kernel, self.conv_kernel]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))
        self.weight_gain = 1 / math.sqrt(in_channels * self.conv_kernel**2)  # ToRGB's styles (not demodulated)

        self.up_factor = _ratio(self.tmp_sampling_rate, in_sampling_rate, "upsampling")
        self.up_taps = filter_size * self.up_factor if self.up_factor > 1 and not is_torgb else 1
        self.register_buffer("up_filter", lowpass_filter(self.up_taps, in_cutoff, in_half_width * 2,
                                                         self.tmp_sampling_rate))
        self.down_factor = _ratio(self.tmp_sampling_rate, out_sampling_rate, "downsampling")
        self.down_taps = filter_size * self.down_factor if self.down_factor > 1 and not is_torgb else 1
        self.down_radial = bool(use_radial_filters and not is_critically_sampled)
        self.register_buffer("down_filter", lowpass_filter(self.down_taps, out_cutoff, out_half_width * 2,
                                                           self.tmp_sampling_rate, radial=self.down_radial))

        # Padding of the upsampled image so that the output has out_size samples, with sample positions shifted
        # as in the symmetric interpretation of the paper's appendix C.3 (pad_lo rounds up by up_factor / 2).
        pad = []
        for i in range(2):
            total = (self.out_size[i] - 1) * self.down_factor + 1
            total -= (self.in_size[i] + self.conv_kernel - 1) * self.up_factor
            total += self.up_taps + self.down_taps - 2
            lo = (total + self.up_factor) // 2
            pad += [lo, total - lo]
        self.padding = [int(p) for p in pad]  # x0, x1, y0, y1

    def forward(self, x: torch.Tensor, w: torch.Tensor, update_emas: bool = False) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels or tuple(x.shape[2:]) != (self.in_size[1], self.in_size[0]):
            raise InputError(f"this layer takes [N, {self.in_channels}, {self.in_size[1]}, {self.in_size[0]}] "
                             f"inputs, got {list(x.shape)}")
        if update_emas:  # training only: track the input's mean square
            with torch.no_grad():
                cur = x.detach().to(torch.float32).square().mean()
                self.magnitude_ema.copy_(cur.lerp(self.magnitude_ema, self.magnitude_ema_beta))
        styles = self.affine(w.to(torch.float32))
        if self.is_torgb:
            styles = styles * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, padding=self.conv_kernel - 1, demodulate=not self.is_torgb,
                             input_gain=self.magnitude_ema.rsqrt(), bias=self.bias)
        return filtered_lrelu(x, self.up_filter, self.down_filter, up=self.up_factor, down=self.down_factor,
                              padding=self.padding, gain=1.0 if self.is_torgb else SQRT2,
                              slope=1.0 if self.is_torgb else 0.2, clamp=self.conv_clamp)

    def extra_repr(self) -> str:
        return (f"is_torgb={self.is_torgb}, critical={self.is_critically_sampled}, in={self.in_channels}x"
                f"{list(self.in_size)}@{self.in_sampling_rate:g}, out={self.out_channels}x{list(self.out_size)}"
                f"@{self.out_sampling_rate:g}, up={self.up_factor}, down={self.down_factor}, "
                f"cutoff={self.in_cutoff:g}->{self.out_cutoff:g}, radial={self.down_radial}")


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] → images [N, C, R, R]: Fourier input (w 0), `num_layers` layers and ToRGB (w 1..),
    times `output_scale`."""

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_layers: int = 14,
        num_critical: int = 2,
        first_cutoff: float = 2,
        first_stopband: float = 2**2.1,
        last_stopband_rel: float = 2**0.3,
        margin_size: int = 10,
        output_scale: float = 0.25,
        num_fp16_res: int = 4,
        **layer_kwargs,
    ) -> None:
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.num_ws = num_layers + 2
        self.num_layers, self.num_critical = num_layers, num_critical
        self.margin_size, self.output_scale, self.num_fp16_res = margin_size, output_scale, num_fp16_res
        sch = synthesis_schedule(img_resolution, img_channels, channel_base, channel_max, num_layers, num_critical,
                                 first_cutoff, first_stopband, last_stopband_rel, margin_size)
        cutoffs, rates, half, sizes, channels = (sch[k] for k in ("cutoffs", "sampling_rates", "half_widths",
                                                                  "sizes", "channels"))
        self.input = SynthesisInput(w_dim=w_dim, channels=int(channels[0]), size=int(sizes[0]),
                                    sampling_rate=rates[0], bandwidth=cutoffs[0])
        self.layer_names: list[str] = list(sch["names"])
        for idx, name in enumerate(self.layer_names):
            prev = max(idx - 1, 0)
            layer = SynthesisLayer(
                w_dim=w_dim, is_torgb=(idx == num_layers), is_critically_sampled=(idx >= num_layers - num_critical),
                use_fp16=bool(rates[idx] * 2**num_fp16_res > img_resolution),
                in_channels=int(channels[prev]), out_channels=int(channels[idx]),
                in_size=int(sizes[prev]), out_size=int(sizes[idx]),
                in_sampling_rate=int(rates[prev]), out_sampling_rate=int(rates[idx]),
                in_cutoff=cutoffs[prev], out_cutoff=cutoffs[idx],
                in_half_width=half[prev], out_half_width=half[idx],
                **layer_kwargs,
            )
            setattr(self, name, layer)

    def layers(self) -> list[SynthesisLayer]:
        """The synthesis layers in order (the last is ToRGB); w index i + 1 feeds layer i."""
        return [getattr(self, name) for name in self.layer_names]

    def noise_layers(self) -> list:
        """StyleGAN3 has no per-pixel noise inputs."""
        return []

    def forward(
        self,
        ws: torch.Tensor,
        noise_mode: str = "const",
        noise: Sequence[torch.Tensor] | None = None,
        update_emas: bool = False,
        transform: torch.Tensor | None = None,
        **_ignored,
    ) -> torch.Tensor:
        """Synthesise from ws; `noise_mode` / an empty `noise` are accepted for the shared interface and ignored;
        `transform` (a [3, 3] input transform, see `input_transform`) overrides the stored one for this call."""
        check_noise_mode(noise_mode)
        if noise:
            raise LatentError(f"StyleGAN3 has no noise inputs, got {len(noise)} noise maps")
        check_ws(ws, self.num_ws, self.w_dim)
        ws = ws.to(torch.float32)
        x = self.input(ws[:, 0], transform=transform)
        for idx, layer in enumerate(self.layers()):
            x = layer(x, ws[:, idx + 1], update_emas=update_emas)
        if self.output_scale != 1:
            x = x * self.output_scale
        return x.float()


TransformSpec = tuple[float, float, float] | Sequence[float] | torch.Tensor


class Generator(GeneratorMixin, nn.Module):
    """StyleGAN3 generator: `mapping` (z → ws) and `synthesis` (ws → image), plus latent-space conveniences and
    the input transform as an edit (`set_transform`, `transformed`, ``render(..., transform=(tx, ty, angle))``)."""

    architecture = "stylegan3"
    spaces = ("z", "w", "w+")
    space_note = "ganlens has no style space S for StyleGAN3 (it edits in Z, W and W+)"

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


    @property
    def w_resolutions(self) -> list[int]:
        """Each w's band as a resolution: twice the cutoff frequency of what it feeds (the Fourier input for w 0,
        layer i's output for w i + 1), rounded to a power of two. StyleGAN3 layers sample at 16 px and more even
        where their content is coarse, so the cutoff, not the grid size, says what a layer controls."""
        syn = self.synthesis
        cutoffs = [syn.input.bandwidth] + [layer.out_cutoff for layer in syn.layers()]
        return [int(2 ** round(math.log2(2 * c))) for c in cutoffs]

    def latent_weights(self, rgb: str = "last") -> list[tuple[int, torch.Tensor]]:
        """(w index, affine weight x gain): the input's transform affine (w 0) and every layer's style affine,
        the toRGB layer's included (it reads its own w: `rgb` changes nothing)."""
        syn = self.synthesis
        out = [(0, syn.input.affine.weight.detach() * syn.input.affine.weight_gain)]
        return out + [(i + 1, layer.affine.weight.detach() * layer.affine.weight_gain)
                      for i, layer in enumerate(syn.layers())]

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, noise_mode: str = "const", update_emas: bool = False,
                transform: TransformSpec | None = None) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
                          update_emas=update_emas)
        return self.synthesis(ws, noise_mode=noise_mode, update_emas=update_emas,
                              transform=self._transform_matrix(transform))

    # --- the input transform as an edit

    def set_transform(self, translate: Sequence[float] = (0.0, 0.0), angle: float = 0.0) -> None:
        """Translate (x right, y down; 1 = image size) and rotate (degrees, counter-clockwise) every later image,
        as NVIDIA's gen_images.py does; this changes the generator for all its users (see `transformed` and
        ``render(transform=...)`` for one-off use). (0, 0), 0 restores the default."""
        self.synthesis.input.set_transform(translate, angle)

    @contextlib.contextmanager
    def transformed(self, translate: Sequence[float] = (0.0, 0.0), angle: float = 0.0) -> Iterator["Generator"]:
        """Within the block, images show this translate/rotate; the previous transform comes back afterwards."""
        buf = self.synthesis.input.transform
        before = buf.detach().clone()
        self.set_transform(translate, angle)
        try:
            yield self
        finally:
            with torch.no_grad():
                buf.copy_(before)

    def _transform_matrix(self, transform: TransformSpec | None) -> torch.Tensor | None:
        """(tx, ty, angle) → the input transform matrix; a [3, 3] tensor is taken as that matrix; None stays."""
        if transform is None:
            return None
        if isinstance(transform, torch.Tensor) and transform.shape == (3, 3):
            return transform.to(self.device, torch.float32)
        try:
            tx, ty, angle = (float(v) for v in transform)
        except (TypeError, ValueError):
            raise InputError(f"transform must be (translate_x, translate_y, angle_degrees) or a [3, 3] input "
                             f"transform tensor, got {transform!r:.80}") from None
        if not all(math.isfinite(v) for v in (tx, ty, angle)):
            raise InputError(f"transform values must be finite, got {(tx, ty, angle)}")
        return input_transform((tx, ty), angle).to(self.device)

    # --- the shared interface, plus `transform`

    def synthesize(self, code: LatentCode, noise_mode: str = "const", batch_size: int = 64,
                   precision: str | None = None, transform: TransformSpec | None = None) -> torch.Tensor:
        """Float32 images [N, C, R, R] in about [-1, 1] for a code in z, w or w+ (batched; gradients flow).

        precision: 'fp32' or 'bf16' (autocast), None: `self.precision`. transform: (tx, ty, angle) for these
        images only (as `set_transform`; the generator is not changed), or None for the stored transform.
        """
        precision = self.resolve_precision(precision)
        self.check_space(code.space)
        matrix = self._transform_matrix(transform)
        outs = []
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            for i in range(0, len(code), batch_size):
                part = code[i : i + batch_size]
                outs.append(self.synthesis(self.ws_of(part), noise_mode=noise_mode,
                                           noise=slice_noise(code.noise, i, batch_size), transform=matrix).float())
        return torch.cat(outs) if outs else torch.empty(0, self.img_channels, self.img_resolution, self.img_resolution)

    @torch.no_grad()
    def render(self, code: LatentCode, noise_mode: str = "const", batch_size: int = 64,
               precision: str | None = None, transform: TransformSpec | None = None) -> np.ndarray:
        """uint8 images [N, R, R, C] for a code (arguments as in `synthesize`)."""
        from ..io.images import to_uint8

        return to_uint8(self.synthesize(code, noise_mode=noise_mode, batch_size=batch_size, precision=precision,
                                        transform=transform))
