"""Test reference for NVIDIA's StyleGAN3 (stylegan3 repository, ``training/networks_stylegan3.py``).

* Modules with NVIDIA's class names, constructor signatures, attributes (NumPy arrays and scalars where theirs
  are), parameter and buffer names, so the pickled ``__dict__`` looks like a real StyleGAN3 network: the
  Generator takes its synthesis kwargs flat (``**synthesis_kwargs``), the mapping has ``embed = None``, layers
  whose filter is the identity hold ``None`` in ``_buffers``.
* A forward pass computed along NVIDIA's route, not ganlens': per-sample (grouped) modulated kernels with the
  styles pre-normalised over the whole batch, the Fourier grid from ``affine_grid``, the transform matrices built
  in place, filters designed with SciPy (``firwin`` / ``j1``), separable filters applied as their 2-D outer
  product with the tap-by-tap ``upfirdn2d`` of `reference_nvidia`.
* Pickled with `reference_nvidia.write_pickle` (``torch_utils.persistence`` records, ``dnnlib.util.EasyDict``).
"""

from __future__ import annotations

import inspect
import sys

import numpy as np
import scipy.signal
import scipy.special
import torch
from torch import nn

import reference_nvidia as RN
from reference_nvidia import EasyDict, persistent_class


class _SG3(RN.Persistent):
    """Pickles with this file as module_src (it holds 'class SynthesisInput', like networks_stylegan3.py)."""


def _fir(x, f, up=1, down=1, padding=(0, 0, 0, 0), gain=1.0):
    """upfirdn2d for None / separable 1-D / 2-D filters: a 1-D filter becomes its 2-D outer product."""
    if f is None:
        f = torch.ones([1, 1])
    if f.ndim == 1:
        f = f[:, None] * f[None, :]
    return RN.upfirdn2d(x, f, up=up, down=down, padding=padding, gain=gain)


def filtered_lrelu(x, fu, fd, b, up, down, padding, gain, slope, clamp):
    """The reference recipe: bias, upsample (gain up²), leaky ReLU · gain, clamp, downsample."""
    x = x + b.reshape(1, -1, 1, 1)
    x = _fir(x, fu, up=up, padding=padding, gain=up**2)
    x = torch.where(x >= 0, x, x * slope) * float(gain)
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return _fir(x, fd, down=down)


def modulated_conv2d(x, w, s, demodulate=True, padding=0, input_gain=None):
    n = x.shape[0]
    out_ch, in_ch, kh, kw = w.shape
    if demodulate:
        w = w * w.square().mean([1, 2, 3], keepdim=True).rsqrt()
        s = s * s.square().mean().rsqrt()  # over the whole batch, as NVIDIA does
    w = w.unsqueeze(0) * s.reshape(n, 1, -1, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(n, -1, 1, 1, 1)
    if input_gain is not None:
        w = w * input_gain.expand(n, in_ch).reshape(n, 1, -1, 1, 1)
    x = torch.nn.functional.conv2d(x.reshape(1, -1, *x.shape[2:]), w.reshape(-1, in_ch, kh, kw), padding=padding,
                                   groups=n)
    return x.reshape(n, -1, *x.shape[2:])


@persistent_class
class FullyConnectedLayer(_SG3):
    def __init__(self, in_features, out_features, activation="linear", bias=True, lr_multiplier=1, weight_init=1,
                 bias_init=0):
        super().__init__()
        self.in_features, self.out_features, self.activation = in_features, out_features, activation
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) * (weight_init / lr_multiplier))
        bias_init = np.broadcast_to(np.asarray(bias_init, dtype=np.float32), [out_features])
        self.bias = nn.Parameter(torch.from_numpy(bias_init / lr_multiplier)) if bias else None
        self.weight_gain = lr_multiplier / np.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x):
        w = self.weight * float(self.weight_gain)
        b = self.bias * self.bias_gain
        if self.activation == "linear":
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return RN.bias_act(x.matmul(w.t()), b, act=self.activation)


@persistent_class
class MappingNetwork(_SG3):
    def __init__(self, z_dim, c_dim, w_dim, num_ws, num_layers=2, lr_multiplier=0.01, w_avg_beta=0.998):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.num_layers, self.w_avg_beta = num_layers, w_avg_beta
        self.embed = None
        features = [z_dim] + [w_dim] * num_layers
        for idx in range(num_layers):
            setattr(self, f"fc{idx}", FullyConnectedLayer(features[idx], features[idx + 1], activation="lrelu",
                                                          lr_multiplier=lr_multiplier))
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z, c=None, truncation_psi=1, truncation_cutoff=None):
        cut = self.num_ws if truncation_cutoff is None else truncation_cutoff
        x = z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            x[:, :cut] = self.w_avg.lerp(x[:, :cut], truncation_psi)
        return x


@persistent_class
class SynthesisInput(_SG3):
    def __init__(self, w_dim, channels, size, sampling_rate, bandwidth):
        super().__init__()
        self.w_dim, self.channels = w_dim, channels
        self.size = np.broadcast_to(np.asarray(size), [2])
        self.sampling_rate, self.bandwidth = sampling_rate, bandwidth
        freqs = torch.randn([channels, 2])
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs /= radii * radii.square().exp().pow(0.25)
        freqs *= bandwidth
        self.weight = nn.Parameter(torch.randn([channels, channels]))
        self.affine = FullyConnectedLayer(w_dim, 4, weight_init=0, bias_init=[1, 0, 0, 0])
        self.register_buffer("transform", torch.eye(3, 3))
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", torch.rand([channels]) - 0.5)

    def forward(self, w):
        n = w.shape[0]
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        m_r = torch.eye(3).unsqueeze(0).repeat([n, 1, 1])
        m_r[:, 0, 0], m_r[:, 0, 1], m_r[:, 1, 0], m_r[:, 1, 1] = t[:, 0], -t[:, 1], t[:, 1], t[:, 0]
        m_t = torch.eye(3).unsqueeze(0).repeat([n, 1, 1])
        m_t[:, 0, 2], m_t[:, 1, 2] = -t[:, 2], -t[:, 3]
        transforms = m_r @ m_t @ self.transform.unsqueeze(0)
        freqs, phases = self.freqs.unsqueeze(0), self.phases.unsqueeze(0)
        phases = phases + (freqs @ transforms[:, :2, 2:]).squeeze(2)
        freqs = freqs @ transforms[:, :2, :2]
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
        theta = torch.eye(2, 3)
        theta[0, 0] = 0.5 * self.size[0] / self.sampling_rate
        theta[1, 1] = 0.5 * self.size[1] / self.sampling_rate
        grids = torch.nn.functional.affine_grid(theta.unsqueeze(0), [1, 1, int(self.size[1]), int(self.size[0])],
                                                align_corners=False)
        x = (grids.unsqueeze(3) @ freqs.permute(0, 2, 1).unsqueeze(1).unsqueeze(2)).squeeze(3)
        x = torch.sin((x + phases.unsqueeze(1).unsqueeze(2)) * (np.pi * 2)) * amplitudes.unsqueeze(1).unsqueeze(2)
        x = x @ (self.weight / np.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2)


def design_lowpass_filter(numtaps, cutoff, width, fs, radial=False):
    if numtaps == 1:
        return None
    if not radial:
        return torch.as_tensor(scipy.signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs),
                               dtype=torch.float32)
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    f = scipy.special.j1(2 * cutoff * (np.pi * r)) / (np.pi * r)
    beta = scipy.signal.kaiser_beta(scipy.signal.kaiser_atten(numtaps, width / (fs / 2)))
    win = np.kaiser(numtaps, beta)
    f = f * np.outer(win, win)
    return torch.as_tensor(f / np.sum(f), dtype=torch.float32)


@persistent_class
class SynthesisLayer(_SG3):
    def __init__(self, w_dim, is_torgb, is_critically_sampled, use_fp16, in_channels, out_channels, in_size, out_size,
                 in_sampling_rate, out_sampling_rate, in_cutoff, out_cutoff, in_half_width, out_half_width,
                 conv_kernel=3, filter_size=6, lrelu_upsampling=2, use_radial_filters=False, conv_clamp=256,
                 magnitude_ema_beta=0.999):
        super().__init__()
        self.w_dim, self.is_torgb, self.is_critically_sampled = w_dim, is_torgb, is_critically_sampled
        self.use_fp16, self.in_channels, self.out_channels = use_fp16, in_channels, out_channels
        self.in_size = np.broadcast_to(np.asarray(in_size), [2])
        self.out_size = np.broadcast_to(np.asarray(out_size), [2])
        self.in_sampling_rate, self.out_sampling_rate = in_sampling_rate, out_sampling_rate
        self.tmp_sampling_rate = max(in_sampling_rate, out_sampling_rate) * (1 if is_torgb else lrelu_upsampling)
        self.in_cutoff, self.out_cutoff = in_cutoff, out_cutoff
        self.in_half_width, self.out_half_width = in_half_width, out_half_width
        self.conv_kernel = 1 if is_torgb else conv_kernel
        self.conv_clamp, self.magnitude_ema_beta = conv_clamp, magnitude_ema_beta
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, self.conv_kernel, self.conv_kernel]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))
        self.up_factor = int(np.rint(self.tmp_sampling_rate / in_sampling_rate))
        self.up_taps = filter_size * self.up_factor if self.up_factor > 1 and not is_torgb else 1
        self.register_buffer("up_filter", design_lowpass_filter(self.up_taps, in_cutoff, in_half_width * 2,
                                                                self.tmp_sampling_rate))
        self.down_factor = int(np.rint(self.tmp_sampling_rate / out_sampling_rate))
        self.down_taps = filter_size * self.down_factor if self.down_factor > 1 and not is_torgb else 1
        self.down_radial = use_radial_filters and not is_critically_sampled
        self.register_buffer("down_filter", design_lowpass_filter(self.down_taps, out_cutoff, out_half_width * 2,
                                                                  self.tmp_sampling_rate, radial=self.down_radial))
        pad_total = (self.out_size - 1) * self.down_factor + 1
        pad_total -= (self.in_size + self.conv_kernel - 1) * self.up_factor
        pad_total += self.up_taps + self.down_taps - 2
        pad_lo = (pad_total + self.up_factor) // 2
        pad_hi = pad_total - pad_lo
        self.padding = [int(pad_lo[0]), int(pad_hi[0]), int(pad_lo[1]), int(pad_hi[1])]

    def forward(self, x, w):
        styles = self.affine(w)
        if self.is_torgb:
            styles = styles * (1 / np.sqrt(self.in_channels * self.conv_kernel**2))
        x = modulated_conv2d(x, self.weight, styles, demodulate=not self.is_torgb, padding=self.conv_kernel - 1,
                             input_gain=self.magnitude_ema.rsqrt())
        return filtered_lrelu(x, self.up_filter, self.down_filter, self.bias, self.up_factor, self.down_factor,
                              self.padding, 1 if self.is_torgb else np.sqrt(2), 1 if self.is_torgb else 0.2,
                              self.conv_clamp)


@persistent_class
class SynthesisNetwork(_SG3):
    def __init__(self, w_dim, img_resolution, img_channels, channel_base=32768, channel_max=512, num_layers=14,
                 num_critical=2, first_cutoff=2, first_stopband=2**2.1, last_stopband_rel=2**0.3, margin_size=10,
                 output_scale=0.25, num_fp16_res=4, **layer_kwargs):
        super().__init__()
        self.w_dim, self.num_ws = w_dim, num_layers + 2
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.num_layers, self.num_critical, self.margin_size = num_layers, num_critical, margin_size
        self.output_scale, self.num_fp16_res = output_scale, num_fp16_res
        last_cutoff = img_resolution / 2
        last_stopband = last_cutoff * last_stopband_rel
        e = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)
        cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** e
        stopbands = first_stopband * (last_stopband / first_stopband) ** e
        rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
        half_widths = np.maximum(stopbands, rates / 2) - cutoffs
        sizes = rates + margin_size * 2
        sizes[-2:] = img_resolution
        channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
        channels[-1] = img_channels
        self.input = SynthesisInput(w_dim=w_dim, channels=int(channels[0]), size=int(sizes[0]),
                                    sampling_rate=rates[0], bandwidth=cutoffs[0])
        self.layer_names = []
        for idx in range(num_layers + 1):
            prev = max(idx - 1, 0)
            layer = SynthesisLayer(
                w_dim=w_dim, is_torgb=(idx == num_layers), is_critically_sampled=(idx >= num_layers - num_critical),
                use_fp16=(rates[idx] * (2**num_fp16_res) > img_resolution),
                in_channels=int(channels[prev]), out_channels=int(channels[idx]), in_size=int(sizes[prev]),
                out_size=int(sizes[idx]), in_sampling_rate=int(rates[prev]), out_sampling_rate=int(rates[idx]),
                in_cutoff=cutoffs[prev], out_cutoff=cutoffs[idx], in_half_width=half_widths[prev],
                out_half_width=half_widths[idx], **layer_kwargs)
            name = f"L{idx}_{layer.out_size[0]}_{layer.out_channels}"
            setattr(self, name, layer)
            self.layer_names.append(name)

    def forward(self, ws):
        ws = ws.to(torch.float32).unbind(dim=1)
        x = self.input(ws[0])
        for name, w in zip(self.layer_names, ws[1:]):
            x = getattr(self, name)(x, w)
        return x * self.output_scale if self.output_scale != 1 else x


@persistent_class
class Generator(_SG3):
    def __init__(self, z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs={}, **synthesis_kwargs):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = SynthesisNetwork(w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels,
                                          **synthesis_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=self.num_ws, **mapping_kwargs)

    def forward(self, z, c=None, truncation_psi=1, truncation_cutoff=None, **synthesis_kwargs):
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws)


# ----------------------------------------------------------------------------------------------- fixtures

# Tiny configs T and R at 32 px: 4 layers (2 critically sampled), sampling rates 16 → 32, so the layers
# up-sample by 2 and 4 and down-sample by 2. T keeps NVIDIA's margin of 10 px, so its last 52 → 32 px layer
# crops (negative padding), and clamps at NVIDIA's 256; R has 1x1 convs, doubled channels, radial filters, a 4 px
# margin and a clamp low enough to bite.
TINY = dict(
    T=dict(channel_base=256, channel_max=16, num_layers=4, num_critical=2, output_scale=0.5,
           magnitude_ema_beta=0.5 ** (32 / 20e3)),
    R=dict(channel_base=512, channel_max=32, num_layers=4, num_critical=2, margin_size=4, conv_kernel=1,
           use_radial_filters=True, magnitude_ema_beta=0.5 ** (32 / 20e3), conv_clamp=1.5),
)


def randomize_(G: Generator, seed: int) -> Generator:
    """Non-trivial values where a fresh init has constants (biases, magnitudes, the input's learned transform)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name == "synthesis.input.affine.weight":
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            elif name == "synthesis.input.affine.bias":
                p.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]) + 0.2 * torch.randn(p.shape, generator=g))
            elif name.startswith("mapping.") and name.endswith("bias"):
                p.copy_(10 * torch.randn(p.shape, generator=g))  # times the bias gain 0.01
            elif name.endswith("affine.bias"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
        for name, b in G.named_buffers():
            if name.endswith("magnitude_ema"):
                b.copy_(0.5 + 1.5 * torch.rand(b.shape, generator=g))
            elif name.endswith("w_avg"):
                b.copy_(0.5 * torch.randn(b.shape, generator=g))
    return G.eval().requires_grad_(False)


def make_generator(config: str = "T", seed: int = 0, resolution: int = 32, z_dim: int = 16,
                   **overrides) -> Generator:
    """A tiny NVIDIA-style StyleGAN3 generator, constructed with kwargs laid out as train.py passes them
    (`overrides` replace the tiny synthesis settings, e.g. the widths of a full-size network)."""
    torch.manual_seed(seed)
    G = Generator(z_dim=z_dim, w_dim=z_dim, mapping_kwargs=EasyDict(num_layers=2), **{**TINY[config], **overrides},
                  c_dim=0, img_resolution=resolution, img_channels=3)
    return randomize_(G, seed)


def snapshot(G, G_ema, resolution: int = 32) -> dict:
    """network-snapshot-*.pkl as NVIDIA's stylegan3 training loop writes it (D left out: not needed here)."""
    return dict(G=G, D=None, G_ema=G_ema, augment_pipe=None,
                training_set_kwargs=dict(class_name="training.dataset.ImageFolderDataset", path="~/tiny.zip",
                                         use_labels=False, max_size=100, xflip=False, resolution=resolution))


_SG3.MODULE_SRC = inspect.getsource(sys.modules[__name__])
