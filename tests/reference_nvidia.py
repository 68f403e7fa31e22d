"""Test reference for NVIDIA stylegan2-ada-pytorch: their module tree and maths, and their pickle format.

* Modules with NVIDIA's class names, constructor signatures, attribute and parameter names
  (``training/networks.py``), so their ``state_dict`` and pickled ``__dict__`` look like the real thing.
* A forward pass with NVIDIA's maths computed along a different route than ganlens: the fused per-sample
  (grouped) modulated convolution, ``conv2d_resample``'s generic path for 2x up-sampling (zero-insert, FIR,
  then a flipped-kernel convolution) instead of the transposed convolution, and a tap-by-tap ``upfirdn2d``.
* A writer that pickles networks the way ``torch_utils.persistence`` does: every module reduces to
  ``torch_utils.persistence._reconstruct_persistent_obj(meta)`` with ``meta = {type, version, module_src,
  class_name, state}``. The function and ``dnnlib.util.EasyDict`` are registered as stand-in modules in
  ``sys.modules`` only while writing, so the pickle's opcodes name the real globals.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

PERSISTENCE_VERSION = 6
SQRT2 = np.sqrt(2)  # NVIDIA's def_gain for lrelu is a NumPy float64; it ends up pickled as such

# ----------------------------------------------------------------------------------------- pickle writer


def _reconstruct_persistent_obj(meta):  # pragma: no cover - only its name is written into pickles
    raise RuntimeError("writer-side stand-in; reading is ganlens' job")


_reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
_reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"


class EasyDict(dict):
    """Pickles as ``dnnlib.util.EasyDict`` (what NVIDIA's kwargs dicts are)."""


EasyDict.__module__ = "dnnlib.util"
EasyDict.__qualname__ = "EasyDict"

_WRITER: dict = {"module_src": None}


@contextlib.contextmanager
def nvidia_modules(module_src: str | None = None):
    """Register ``torch_utils.persistence`` and ``dnnlib.util`` stand-ins in sys.modules while pickling."""
    tu, tp = types.ModuleType("torch_utils"), types.ModuleType("torch_utils.persistence")
    dn, du = types.ModuleType("dnnlib"), types.ModuleType("dnnlib.util")
    tp._reconstruct_persistent_obj = _reconstruct_persistent_obj
    tu.persistence = tp
    du.EasyDict = EasyDict
    dn.util, dn.EasyDict = du, EasyDict
    fakes = {"torch_utils": tu, "torch_utils.persistence": tp, "dnnlib": dn, "dnnlib.util": du}
    saved = {k: sys.modules.get(k) for k in fakes}
    sys.modules.update(fakes)
    _WRITER["module_src"] = module_src
    try:
        yield
    finally:
        _WRITER["module_src"] = None
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def write_pickle(path: str | Path, obj, protocol: int = 3, module_src: str | None = None) -> Path:
    """pickle.dump(obj) as NVIDIA's training loop does (protocol 3 = Python 3.7's default)."""
    path = Path(path)
    with nvidia_modules(module_src), open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    return path


def persistent_class(cls):
    """Record constructor arguments like NVIDIA's decorator (``_init_args``, ``_init_kwargs``)."""
    orig = cls.__init__

    @functools.wraps(orig)
    def __init__(self, *args, **kwargs):
        orig(self, *args, **kwargs)
        self._init_args = copy.deepcopy(args)
        self._init_kwargs = copy.deepcopy(kwargs)

    cls.__init__ = __init__
    return cls


class Persistent(nn.Module):
    """Reduces like a ``@persistence.persistent_class`` instance: a meta record instead of a class global."""

    MODULE_SRC: str | None = None  # None: the source of this file (NVIDIA stores training/networks.py)

    def __reduce__(self):
        fields = list(super().__reduce__())  # copyreg's (reconstructor, args, state=__dict__)
        fields += [None] * max(3 - len(fields), 0)
        src = type(self).MODULE_SRC or _WRITER["module_src"] or _MODULE_SRC
        meta = dict(type="class", version=PERSISTENCE_VERSION, module_src=src, class_name=type(self).__name__,
                    state=fields[2])
        return (_reconstruct_persistent_obj, (meta,), None)

    def __deepcopy__(self, memo):  # the default would call the writer-only reconstruct function
        raise TypeError("reference networks are not deep-copyable; build another one")


# ------------------------------------------------------------------------------------------- NVIDIA maths


def setup_filter(f) -> torch.Tensor:
    f = torch.as_tensor(f, dtype=torch.float32)
    if f.ndim == 1:
        f = f[:, None] * f[None, :]
    return f / f.sum()


def upfirdn2d(x, f, up=1, down=1, padding=(0, 0, 0, 0), gain=1.0, flip_filter=False):
    """NVIDIA's upfirdn2d semantics (zero-insert, pad/crop x0,x1,y0,y1, FIR as convolution, decimate), tap by tap."""
    n, c, h, w = x.shape
    if up > 1:
        z = x.new_zeros([n, c, h * up, w * up])
        z[:, :, ::up, ::up] = x
        x = z
    px0, px1, py0, py1 = padding
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0): x.shape[2] - max(-py1, 0), max(-px0, 0): x.shape[3] - max(-px1, 0)]
    if f is None:
        f = torch.ones([1, 1])
    f = f * gain ** (f.ndim / 2)
    if not flip_filter:
        f = f.flip([0, 1])
    fh, fw = f.shape
    oh, ow = x.shape[2] - fh + 1, x.shape[3] - fw + 1
    out = x.new_zeros([n, c, oh, ow])
    for i in range(fh):
        for j in range(fw):
            out = out + f[i, j] * x[:, :, i: i + oh, j: j + ow]
    return out[:, :, ::down, ::down]


def conv2d_resample(x, w, f=None, up=1, down=1, padding=0, groups=1, flip_weight=True):
    """conv2d_resample's generic reference path: upfirdn (up + pad) → conv → upfirdn (down)."""
    fw = f.shape[-1] if f is not None else 1
    px0 = px1 = padding
    if up > 1:
        px0 += (fw + up - 1) // 2
        px1 += (fw - up) // 2
    if down > 1:
        px0 += (fw - down + 1) // 2
        px1 += (fw - down) // 2
    x = upfirdn2d(x, f if up > 1 else None, up=up, padding=(px0, px1, px0, px1), gain=up**2)
    x = F.conv2d(x, w if flip_weight else w.flip([2, 3]), groups=groups)
    if down > 1:
        x = upfirdn2d(x, f, down=down)
    return x


def bias_act(x, b=None, act="linear", gain=None, clamp=None):
    if b is not None:
        x = x + b.reshape([1, -1] + [1] * (x.ndim - 2))
    if act == "lrelu":
        x = torch.where(x >= 0, x, x * 0.2)
        gain = SQRT2 if gain is None else gain
    elif act != "linear":
        raise ValueError(act)
    gain = 1 if gain is None else gain
    if gain != 1:
        x = x * float(gain)
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


def normalize_2nd_moment(x, eps=1e-8):
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def modulated_conv2d(x, weight, styles, noise=None, up=1, padding=0, resample_filter=None, demodulate=True,
                     flip_weight=True):
    """The fused path: per-sample modulated (and demodulated) kernels, one grouped convolution."""
    n = x.shape[0]
    out_ch, in_ch, kh, kw = weight.shape
    w = weight[None] * styles.reshape(n, 1, -1, 1, 1)
    if demodulate:
        d = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
        w = w * d.reshape(n, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])
    x = conv2d_resample(x, w.reshape(-1, in_ch, kh, kw), f=resample_filter, up=up, padding=padding, groups=n,
                        flip_weight=flip_weight)
    x = x.reshape(n, -1, *x.shape[2:])
    if noise is not None:
        x = x + noise
    return x


# ------------------------------------------------------------------------------------------ NVIDIA modules


@persistent_class
class FullyConnectedLayer(Persistent):
    def __init__(self, in_features, out_features, bias=True, activation="linear", lr_multiplier=1, bias_init=0):
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], np.float32(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / np.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x):
        w = self.weight * float(self.weight_gain)
        b = self.bias * self.bias_gain if self.bias is not None else None
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)


@persistent_class
class MappingNetwork(Persistent):
    def __init__(self, z_dim, c_dim, w_dim, num_ws, num_layers=8, embed_features=None, layer_features=None,
                 activation="lrelu", lr_multiplier=0.01, w_avg_beta=0.995):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.num_layers, self.w_avg_beta = num_layers, w_avg_beta
        layer_features = w_dim if layer_features is None else layer_features
        features = [z_dim] + [layer_features] * (num_layers - 1) + [w_dim]
        for idx in range(num_layers):
            setattr(self, f"fc{idx}", FullyConnectedLayer(features[idx], features[idx + 1], activation=activation,
                                                          lr_multiplier=lr_multiplier))
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z, truncation_psi=1, truncation_cutoff=None):
        x = normalize_2nd_moment(z.to(torch.float32))
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            cut = self.num_ws if truncation_cutoff is None else truncation_cutoff
            x = x.clone()
            x[:, :cut] = self.w_avg + truncation_psi * (x[:, :cut] - self.w_avg)
        return x


@persistent_class
class SynthesisLayer(Persistent):
    def __init__(self, in_channels, out_channels, w_dim, resolution, kernel_size=3, up=1, use_noise=True,
                 activation="lrelu", resample_filter=[1, 3, 3, 1], conv_clamp=None, channels_last=False):
        super().__init__()
        self.resolution, self.up, self.use_noise = resolution, up, use_noise
        self.activation, self.conv_clamp = activation, conv_clamp
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.padding = kernel_size // 2
        self.act_gain = SQRT2 if activation == "lrelu" else 1
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    def forward(self, x, w, noise_mode="const"):
        styles = self.affine(w)
        noise = self.noise_const * self.noise_strength if self.use_noise and noise_mode == "const" else None
        x = modulated_conv2d(x, self.weight, styles, noise=noise, up=self.up, padding=self.padding,
                             resample_filter=self.resample_filter, flip_weight=(self.up == 1))
        return bias_act(x, self.bias, act=self.activation, gain=self.act_gain, clamp=self.conv_clamp)


@persistent_class
class ToRGBLayer(Persistent):
    def __init__(self, in_channels, out_channels, w_dim, kernel_size=1, conv_clamp=None, channels_last=False):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / np.sqrt(in_channels * (kernel_size**2))

    def forward(self, x, w):
        styles = self.affine(w) * float(self.weight_gain)
        x = modulated_conv2d(x, self.weight, styles, demodulate=False)
        return bias_act(x, self.bias, clamp=self.conv_clamp)


@persistent_class
class SynthesisBlock(Persistent):
    def __init__(self, in_channels, out_channels, w_dim, resolution, img_channels, is_last, architecture="skip",
                 resample_filter=[1, 3, 3, 1], conv_clamp=None, use_fp16=False, fp16_channels_last=False,
                 **layer_kwargs):
        super().__init__()
        self.in_channels, self.w_dim, self.resolution = in_channels, w_dim, resolution
        self.img_channels, self.is_last, self.architecture = img_channels, is_last, architecture
        self.use_fp16 = use_fp16
        self.channels_last = use_fp16 and fp16_channels_last
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.num_conv = self.num_torgb = 0
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim=w_dim, resolution=resolution, up=2,
                                        resample_filter=resample_filter, conv_clamp=conv_clamp,
                                        channels_last=self.channels_last, **layer_kwargs)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim=w_dim, resolution=resolution,
                                    conv_clamp=conv_clamp, channels_last=self.channels_last, **layer_kwargs)
        self.num_conv += 1
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim=w_dim, conv_clamp=conv_clamp,
                                channels_last=self.channels_last)
        self.num_torgb += 1

    def forward(self, x, img, ws, noise_mode="const"):
        w_iter = iter(ws.unbind(dim=1))
        if self.in_channels == 0:
            x = self.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
            x = self.conv1(x, next(w_iter), noise_mode)
        else:
            x = self.conv0(x, next(w_iter), noise_mode)
            x = self.conv1(x, next(w_iter), noise_mode)
        if img is not None:
            f = self.resample_filter
            p = ((f.shape[-1] + 1) // 2, (f.shape[-1] - 2) // 2)  # upsample2d's padding for up=2
            img = upfirdn2d(img, f, up=2, padding=(p[0], p[1], p[0], p[1]), gain=4)
        y = self.torgb(x, next(w_iter))
        return x, (img + y if img is not None else y)


@persistent_class
class SynthesisNetwork(Persistent):
    def __init__(self, w_dim, img_resolution, img_channels, channel_base=32768, channel_max=512, num_fp16_res=0,
                 **block_kwargs):
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.img_resolution_log2 = int(np.log2(img_resolution))
        self.block_resolutions = [2**i for i in range(2, self.img_resolution_log2 + 1)]
        ch = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        fp16_resolution = max(2 ** (self.img_resolution_log2 + 1 - num_fp16_res), 8)
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(ch[res // 2] if res > 4 else 0, ch[res], w_dim=w_dim, resolution=res,
                                   img_channels=img_channels, is_last=(res == img_resolution),
                                   use_fp16=(res >= fp16_resolution), **block_kwargs)
            self.num_ws += block.num_conv + (block.num_torgb if res == img_resolution else 0)
            setattr(self, f"b{res}", block)

    def forward(self, ws, noise_mode="const"):
        x = img = None
        w_idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            x, img = block(x, img, ws.narrow(1, w_idx, block.num_conv + block.num_torgb), noise_mode)
            w_idx += block.num_conv
        return img


@persistent_class
class Generator(Persistent):
    def __init__(self, z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs={}, synthesis_kwargs={}):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = SynthesisNetwork(w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels,
                                          **synthesis_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=self.num_ws, **mapping_kwargs)

    def forward(self, z, c=None, truncation_psi=1, truncation_cutoff=None, noise_mode="const"):
        ws = self.mapping(z, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode)


@persistent_class
class Conv2dLayer(Persistent):
    def __init__(self, in_channels, out_channels, kernel_size, bias=True, activation="linear", up=1, down=1,
                 resample_filter=[1, 3, 3, 1], conv_clamp=None, channels_last=False, trainable=True):
        super().__init__()
        self.activation, self.up, self.down, self.conv_clamp = activation, up, down, conv_clamp
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.padding = kernel_size // 2
        self.weight_gain = 1 / np.sqrt(in_channels * (kernel_size**2))
        self.act_gain = SQRT2 if activation == "lrelu" else 1
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None

    def forward(self, x, gain=1):
        w = self.weight * float(self.weight_gain)
        x = conv2d_resample(x, w, f=self.resample_filter, up=self.up, down=self.down, padding=self.padding,
                            flip_weight=(self.up == 1))
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, act=self.activation, gain=self.act_gain * gain, clamp=clamp)


@persistent_class
class DiscriminatorBlock(Persistent):
    def __init__(self, in_channels, tmp_channels, out_channels, resolution, img_channels, first_layer_idx,
                 architecture="resnet", activation="lrelu", resample_filter=[1, 3, 3, 1], conv_clamp=None,
                 use_fp16=False, fp16_channels_last=False, freeze_layers=0):
        super().__init__()
        self.in_channels, self.resolution, self.img_channels = in_channels, resolution, img_channels
        self.first_layer_idx, self.architecture, self.use_fp16 = first_layer_idx, architecture, use_fp16
        self.channels_last = use_fp16 and fp16_channels_last
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.num_layers = 0
        if in_channels == 0:
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, kernel_size=1, activation=activation,
                                       conv_clamp=conv_clamp)
            self.num_layers += 1
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, kernel_size=3, activation=activation,
                                 conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, kernel_size=3, activation=activation, down=2,
                                 resample_filter=resample_filter, conv_clamp=conv_clamp)
        self.skip = Conv2dLayer(tmp_channels, out_channels, kernel_size=1, bias=False, down=2,
                                resample_filter=resample_filter)
        self.num_layers += 3

    def forward(self, x, img):
        if self.in_channels == 0:
            x = self.fromrgb(img)
        y = self.skip(x, gain=np.sqrt(0.5))
        x = self.conv1(self.conv0(x), gain=np.sqrt(0.5))
        return y + x


@persistent_class
class MinibatchStdLayer(Persistent):
    def __init__(self, group_size, num_channels=1):
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x):
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        f = self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)
        y = (y - y.mean(dim=0)).square().mean(dim=0)
        y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4]).reshape(-1, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)


@persistent_class
class DiscriminatorEpilogue(Persistent):
    def __init__(self, in_channels, cmap_dim, resolution, img_channels, architecture="resnet", mbstd_group_size=4,
                 mbstd_num_channels=1, activation="lrelu", conv_clamp=None):
        super().__init__()
        self.in_channels, self.cmap_dim, self.resolution = in_channels, cmap_dim, resolution
        self.img_channels, self.architecture = img_channels, architecture
        self.mbstd = MinibatchStdLayer(group_size=mbstd_group_size, num_channels=mbstd_num_channels)
        self.conv = Conv2dLayer(in_channels + mbstd_num_channels, in_channels, kernel_size=3, activation=activation,
                                conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * (resolution**2), in_channels, activation=activation)
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x):
        return self.out(self.fc(self.conv(self.mbstd(x)).flatten(1)))


@persistent_class
class Discriminator(Persistent):
    def __init__(self, c_dim, img_resolution, img_channels, architecture="resnet", channel_base=32768,
                 channel_max=512, num_fp16_res=0, conv_clamp=None, cmap_dim=None, block_kwargs={},
                 mapping_kwargs={}, epilogue_kwargs={}):
        super().__init__()
        self.c_dim, self.img_resolution, self.img_channels = c_dim, img_resolution, img_channels
        self.img_resolution_log2 = int(np.log2(img_resolution))
        self.block_resolutions = [2**i for i in range(self.img_resolution_log2, 2, -1)]
        ch = {res: min(channel_base // res, channel_max) for res in self.block_resolutions + [4]}
        common = dict(img_channels=img_channels, architecture=architecture, conv_clamp=conv_clamp)
        idx = 0
        for res in self.block_resolutions:
            block = DiscriminatorBlock(ch[res] if res < img_resolution else 0, ch[res], ch[res // 2], resolution=res,
                                       first_layer_idx=idx, **block_kwargs, **common)
            setattr(self, f"b{res}", block)
            idx += block.num_layers
        self.b4 = DiscriminatorEpilogue(ch[4], cmap_dim=0, resolution=4, **epilogue_kwargs, **common)

    def forward(self, img, c=None):
        x = None
        for res in self.block_resolutions:
            x = getattr(self, f"b{res}")(x, img)
        return self.b4(x)


@persistent_class
class AugmentPipe(Persistent):
    """Stands in for training/augment.py's AugmentPipe (a different module_src, buffers, float attributes)."""

    MODULE_SRC = "# training/augment.py (stand-in)\nclass AugmentPipe: pass\n"

    def __init__(self, xflip=0, rotate90=0, xint=0, scale=0, rotate=0, aniso=0, xfrac=0):
        super().__init__()
        self.register_buffer("p", torch.zeros([]))
        self.xflip, self.rotate90, self.xint = float(xflip), float(rotate90), float(xint)
        self.register_buffer("Hz_geom", setup_filter([1, 3, 3, 1])[0])


# ----------------------------------------------------------------------------------------------- fixtures


def randomize_(net: nn.Module, seed: int) -> nn.Module:
    """Give biases, noise strengths, w_avg etc. non-trivial values (a fresh init has many zeros)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "bias" and ".affine." in f".{name}":
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif leaf in ("bias", "noise_strength"):
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * (p.std() if p.numel() > 1 else 1))
        for name, b in net.named_buffers():
            if name.endswith("w_avg"):
                b.copy_(0.5 * torch.randn(b.shape, generator=g))
            elif name.endswith("noise_const"):
                b.copy_(torch.randn(b.shape, generator=g))
    return net.eval().requires_grad_(False)


def make_generator(resolution: int, seed: int = 0, conv_clamp=None, z_dim: int = 16, channel_base: int = 256,
                   channel_max: int = 32, num_layers: int = 2) -> Generator:
    torch.manual_seed(seed)
    G = Generator(z_dim=z_dim, w_dim=z_dim, mapping_kwargs=EasyDict(num_layers=num_layers),
                  synthesis_kwargs=EasyDict(channel_base=channel_base, channel_max=channel_max, num_fp16_res=2,
                                            conv_clamp=conv_clamp),
                  c_dim=0, img_resolution=resolution, img_channels=3)  # NVIDIA passes these as kwargs too
    return randomize_(G, seed)


def make_discriminator(resolution: int, seed: int = 0, channel_base: int = 256, channel_max: int = 32) -> Discriminator:
    torch.manual_seed(seed)
    D = Discriminator(channel_base=channel_base, channel_max=channel_max, num_fp16_res=2, conv_clamp=None,
                      block_kwargs=EasyDict(), mapping_kwargs=EasyDict(), epilogue_kwargs=EasyDict(mbstd_group_size=4),
                      c_dim=0, img_resolution=resolution, img_channels=3)
    return randomize_(D, seed)


def snapshot(G, D, G_ema, resolution: int, with_augment: bool = True) -> dict:
    """The dict NVIDIA's training loop pickles as network-snapshot-*.pkl."""
    return dict(
        training_set_kwargs=dict(class_name="training.dataset.ImageFolderDataset", path="~/datasets/tiny.zip",
                                 use_labels=False, max_size=100, xflip=False, resolution=resolution),
        G=G, D=D, G_ema=G_ema, augment_pipe=AugmentPipe(xflip=1, rotate90=1, xint=1) if with_augment else None,
    )


_MODULE_SRC = inspect.getsource(sys.modules[__name__])
