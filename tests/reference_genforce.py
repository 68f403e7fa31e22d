"""Test reference for genforce (github.com/genforce/genforce): its generators' state-dict layouts and forward maths.

* ``*_state`` build generator state dicts with genforce's names, shapes and buffer values
  (``models/pggan_generator.py``, ``models/stylegan_generator.py``, ``models/stylegan2_generator.py``), every
  parameter random (genforce initialises biases and noise weights to zero, which would hide wiring mistakes).
* ``*_forward`` run genforce's maths straight from such a dict, written as genforce writes it and along a
  different route than ganlens: the 4x4 first layer as a padded convolution, PGGAN / StyleGAN up-sampling with
  ``F.interpolate`` or the fused transposed conv, StyleGAN2's per-sample grouped modulated convolution with the
  kernel flipped for the transposed conv and its own FIR padding.
* ``save_*`` write the file layouts genforce produces: model zoo (converters) and training checkpoints (runner).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn.functional as F


def nf(res: int, fmaps_base: int, fmaps_max: int) -> int:
    return min(fmaps_base // res, fmaps_max)


def _fir4(gain: float) -> torch.Tensor:
    k = torch.tensor([1.0, 3.0, 3.0, 1.0])
    k = torch.outer(k, k)
    return (k / k.sum() * gain**2).reshape(1, 1, 4, 4)


class _Rand:
    def __init__(self, seed: int) -> None:
        self.gen = torch.Generator().manual_seed(seed)

    def __call__(self, *shape, scale: float = 1.0) -> torch.Tensor:
        return torch.randn(shape, generator=self.gen) * scale


# ------------------------------------------------------------------------------------------------ state dicts


def pggan_state(res: int, z_dim: int = 16, fmaps_base: int = 128, fmaps_max: int = 16, image_channels: int = 3,
                fused_scale: bool = False, seed: int = 0) -> OrderedDict:
    r_ = _Rand(seed)
    sd = OrderedDict(lod=torch.zeros(()))
    for b in range(int(math.log2(res)) - 1):
        r = 4 * 2**b
        c = nf(r, fmaps_base, fmaps_max)
        if r == 4:
            sd["layer0.weight"] = r_(c, z_dim, 4, 4)
        else:
            cin = nf(r // 2, fmaps_base, fmaps_max)
            sd[f"layer{2 * b}.weight"] = r_(cin, c, 3, 3) if fused_scale else r_(c, cin, 3, 3)
        sd[f"layer{2 * b}.bias"] = r_(c, scale=0.2)
        sd[f"layer{2 * b + 1}.weight"] = r_(c, c, 3, 3)
        sd[f"layer{2 * b + 1}.bias"] = r_(c, scale=0.2)
        sd[f"output{b}.weight"] = r_(image_channels, c, 1, 1)
        sd[f"output{b}.bias"] = r_(image_channels, scale=0.2)
    return sd


def _mapping_state(sd: OrderedDict, r_: _Rand, z_dim: int, w_dim: int, layers: int, lr_mul: float = 0.01) -> None:
    for i in range(layers):
        sd[f"mapping.dense{i}.weight"] = r_(w_dim, z_dim if i == 0 else w_dim, scale=1 / lr_mul)
        sd[f"mapping.dense{i}.bias"] = r_(w_dim, scale=0.2 / lr_mul)
    sd["truncation.w_avg"] = r_(w_dim, scale=0.3)


def stylegan1_state(res: int, z_dim: int = 16, w_dim: int = 16, mapping_layers: int = 2, fmaps_base: int = 128,
                    fmaps_max: int = 16, image_channels: int = 3, seed: int = 0) -> OrderedDict:
    r_ = _Rand(seed)
    sd = OrderedDict()
    _mapping_state(sd, r_, z_dim, w_dim, mapping_layers)
    sd["synthesis.lod"] = torch.zeros(())
    blur = torch.tensor([1.0, 2.0, 1.0])
    blur = torch.outer(blur, blur) / 16
    for b in range(int(math.log2(res)) - 1):
        r = 4 * 2**b
        c = nf(r, fmaps_base, fmaps_max)
        for j in (2 * b, 2 * b + 1):
            p = f"synthesis.layer{j}"
            sd[f"{p}.bias"] = r_(c, scale=0.2)
            sd[f"{p}.apply_noise.noise"] = r_(1, 1, r, r)
            sd[f"{p}.apply_noise.weight"] = r_(c, scale=0.3)
            sd[f"{p}.style.weight"] = r_(2 * c, w_dim)
            sd[f"{p}.style.bias"] = r_(2 * c, scale=0.2)
            if j == 0:
                sd[f"{p}.const"] = r_(1, c, 4, 4)
                continue
            if j == 2 * b:
                sd[f"{p}.blur.kernel"] = blur.reshape(1, 1, 3, 3).repeat(c, 1, 1, 1)
            cin = nf(r // 2, fmaps_base, fmaps_max) if j == 2 * b else c
            sd[f"{p}.weight"] = r_(c, cin, 3, 3)
        sd[f"synthesis.output{b}.weight"] = r_(image_channels, c, 1, 1)
        sd[f"synthesis.output{b}.bias"] = r_(image_channels, scale=0.2)
    return sd


def stylegan2_state(res: int, z_dim: int = 16, w_dim: int = 16, mapping_layers: int = 2, fmaps_base: int = 256,
                    fmaps_max: int = 16, image_channels: int = 3, seed: int = 0) -> OrderedDict:
    r_ = _Rand(seed)
    sd = OrderedDict()
    _mapping_state(sd, r_, z_dim, w_dim, mapping_layers)

    def modconv(p: str, cin: int, cout: int, r: int, k: int = 3, noise: bool = True) -> None:
        sd[f"{p}.weight"] = r_(cout, cin, k, k)
        sd[f"{p}.style.weight"] = r_(cin, w_dim)
        sd[f"{p}.style.bias"] = r_(cin, scale=0.2)  # genforce adds 1 at run time
        sd[f"{p}.bias"] = r_(cout, scale=0.2)
        if noise:
            sd[f"{p}.noise"] = r_(1, 1, r, r)
            sd[f"{p}.noise_strength"] = r_(scale=0.3).reshape([])

    c4 = nf(4, fmaps_base, fmaps_max)
    sd["synthesis.early_layer.const"] = r_(1, c4, 4, 4)
    for b in range(int(math.log2(res)) - 1):
        r = 4 * 2**b
        c = nf(r, fmaps_base, fmaps_max)
        if b > 0:
            modconv(f"synthesis.layer{2 * b - 1}", nf(r // 2, fmaps_base, fmaps_max), c, r)
            sd[f"synthesis.layer{2 * b - 1}.filter.kernel"] = _fir4(2)
        modconv(f"synthesis.layer{2 * b}", c, c, r)
        modconv(f"synthesis.output{b}", c, image_channels, r, k=1, noise=False)
    sd["synthesis.upsample.kernel"] = _fir4(2)
    return sd


# ------------------------------------------------------------------------------------------------ forward passes


def _pixel_norm(x: torch.Tensor) -> torch.Tensor:
    return x / torch.sqrt(torch.mean(x**2, dim=1, keepdim=True) + 1e-8)


def _blocks(sd: dict, prefix: str = "") -> int:
    n = 0
    while f"{prefix}output{n}.weight" in sd:
        n += 1
    return n


def _fused_up(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """genforce's fused up-scaling for a weight already laid out [in, out, 3, 3]."""
    w = F.pad(w, (1, 1, 1, 1, 0, 0, 0, 0))
    w = w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]
    return F.conv_transpose2d(x, w, stride=2, padding=1)


def pggan_forward(sd: dict, z: torch.Tensor, fused_scale: bool = False, lod: float = 0.0) -> torch.Tensor:
    n = _blocks(sd)
    x = _pixel_norm(z).view(z.shape[0], -1, 1, 1)
    image = None
    for b in range(n):
        cur = n - 1 - b
        if lod < cur + 1:
            for j in (2 * b, 2 * b + 1):
                w, bias = sd[f"layer{j}.weight"], sd[f"layer{j}.bias"]
                x = _pixel_norm(x)
                if j == 0:
                    x = F.conv2d(x, w * (math.sqrt(2) / math.sqrt(w[0].numel())), bias, padding=3)
                elif j == 2 * b and fused_scale:
                    x = _fused_up(x, w * (math.sqrt(2) / math.sqrt(9 * w.shape[0]))) + bias.view(1, -1, 1, 1)
                else:
                    if j == 2 * b:
                        x = F.interpolate(x, scale_factor=2, mode="nearest")
                    x = F.conv2d(x, w * (math.sqrt(2) / math.sqrt(w[0].numel())), bias, padding=1)
                x = F.leaky_relu(x, 0.2)
        if cur - 1 < lod <= cur:
            w = sd[f"output{b}.weight"]
            image = F.conv2d(_pixel_norm(x), w / math.sqrt(w.shape[1]), sd[f"output{b}.bias"])
        elif lod >= cur + 1:
            image = F.interpolate(image, scale_factor=2, mode="nearest")
    return image


def _mapping(sd: dict, z: torch.Tensor, gain: float, act_scale: float, lr_mul: float = 0.01) -> torch.Tensor:
    w = _pixel_norm(z)
    i = 0
    while f"mapping.dense{i}.weight" in sd:
        weight = sd[f"mapping.dense{i}.weight"]
        w = F.linear(w, weight * (gain / math.sqrt(weight.shape[1]) * lr_mul), sd[f"mapping.dense{i}.bias"] * lr_mul)
        w = F.leaky_relu(w, 0.2) * act_scale
        i += 1
    return w


def _truncate(sd: dict, w: torch.Tensor, num_layers: int, psi: float, trunc_layers: int) -> torch.Tensor:
    wp = w.view(-1, 1, w.shape[1]).repeat(1, num_layers, 1)
    if psi < 1 and trunc_layers > 0:
        coefs = torch.ones(1, num_layers, 1)
        coefs[:, :trunc_layers] *= psi
        avg = sd["truncation.w_avg"].view(1, 1, -1)
        wp = avg + (wp - avg) * coefs
    return wp


def stylegan1_forward(sd: dict, z: torch.Tensor, psi: float = 1.0, trunc_layers: int = 0) -> torch.Tensor:
    n = _blocks(sd, "synthesis.")
    wp = _truncate(sd, _mapping(sd, z, math.sqrt(2), 1.0), 2 * n, psi, trunc_layers)
    x = None
    for b in range(n):
        r = 4 * 2**b
        for j in (2 * b, 2 * b + 1):
            p = f"synthesis.layer{j}"
            if j == 0:
                x = sd[f"{p}.const"].repeat(z.shape[0], 1, 1, 1)
            else:
                w = sd[f"{p}.weight"] * (math.sqrt(2) / math.sqrt(sd[f"{p}.weight"][0].numel()))
                if j == 2 * b and r >= 128:  # genforce's fused_scale='auto'
                    x = _fused_up(x, w.permute(1, 0, 2, 3))
                else:
                    if j == 2 * b:
                        x = F.interpolate(x, scale_factor=2, mode="nearest")
                    x = F.conv2d(x, w, padding=1)
                if j == 2 * b:
                    x = F.conv2d(x, sd[f"{p}.blur.kernel"], padding=1, groups=x.shape[1])
            x = x + sd[f"{p}.apply_noise.noise"] * sd[f"{p}.apply_noise.weight"].view(1, -1, 1, 1)
            x = F.leaky_relu(x + sd[f"{p}.bias"].view(1, -1, 1, 1), 0.2)
            x = x - x.mean(dim=[2, 3], keepdim=True)
            x = x / torch.sqrt((x**2).mean(dim=[2, 3], keepdim=True) + 1e-8)
            sw = sd[f"{p}.style.weight"]
            style = F.linear(wp[:, j], sw / math.sqrt(sw.shape[1]), sd[f"{p}.style.bias"]).view(-1, 2, x.shape[1], 1, 1)
            x = x * (style[:, 0] + 1) + style[:, 1]
    w = sd[f"synthesis.output{n - 1}.weight"]
    return F.conv2d(x, w / math.sqrt(w.shape[1]), sd[f"synthesis.output{n - 1}.bias"])


def _modconv(sd: dict, p: str, x: torch.Tensor, w_code: torch.Tensor, up: bool = False, demodulate: bool = True,
             noise: bool = True, act: bool = True) -> torch.Tensor:
    """genforce's ModulateConvBlock with fused modulation: one grouped conv over the batch."""
    n, cin = x.shape[:2]
    weight = sd[f"{p}.weight"]
    cout, k = weight.shape[0], weight.shape[-1]
    sw = sd[f"{p}.style.weight"]
    style = F.linear(w_code, sw / math.sqrt(sw.shape[1]), sd[f"{p}.style.bias"]) + 1.0
    wk = weight[None] / math.sqrt(cin * k * k) * style.view(n, 1, cin, 1, 1)  # [N, out, in, k, k]
    if demodulate:
        wk = wk / torch.sqrt((wk**2).sum(dim=[2, 3, 4], keepdim=True) + 1e-8)
    xg = x.reshape(1, n * cin, *x.shape[2:])
    if up:
        wt = wk.flip(3, 4).transpose(1, 2).reshape(n * cin, cout, k, k)  # genforce flips before the transposed conv
        y = F.conv_transpose2d(xg, wt, stride=2, groups=n)
        y = y.reshape(n * cout, 1, *y.shape[2:])
        y = F.conv2d(F.pad(y, (1, 1, 1, 1)), sd[f"{p}.filter.kernel"])
    else:
        y = F.conv2d(xg, wk.reshape(n * cout, cin, k, k), padding=k // 2, groups=n)
    y = y.reshape(n, cout, *y.shape[-2:])
    if noise:
        y = y + sd[f"{p}.noise"] * sd[f"{p}.noise_strength"]
    y = y + sd[f"{p}.bias"].view(1, -1, 1, 1)
    return F.leaky_relu(y, 0.2) * math.sqrt(2) if act else y


def stylegan2_forward(sd: dict, z: torch.Tensor, psi: float = 1.0, trunc_layers: int = 0) -> torch.Tensor:
    n = _blocks(sd, "synthesis.")
    num_layers = 2 * n
    wp = _truncate(sd, _mapping(sd, z, 1.0, math.sqrt(2)), num_layers, psi, trunc_layers)
    x = sd["synthesis.early_layer.const"].repeat(z.shape[0], 1, 1, 1)
    image = None
    for i in range(num_layers - 1):
        x = _modconv(sd, f"synthesis.layer{i}", x, wp[:, i], up=i % 2 == 1)
        if i % 2 == 0:
            rgb = _modconv(sd, f"synthesis.output{i // 2}", x, wp[:, i + 1], demodulate=False, noise=False, act=False)
            if image is None:
                image = rgb
            else:  # zero-insert 2x, pad (2, 1), FIR with gain 4
                c, h, w = image.shape[1:]
                up = F.pad(image.reshape(-1, c, h, 1, w, 1), (0, 1, 0, 0, 0, 1)).reshape(-1, 1, 2 * h, 2 * w)
                up = F.conv2d(F.pad(up, (2, 1, 2, 1)), sd["synthesis.upsample.kernel"]).reshape(-1, c, 2 * h, 2 * w)
                image = rgb + up
    return image


# ------------------------------------------------------------------------------------------------ file layouts


def save_model_zoo(path: str | Path, generator: dict, generator_smooth: dict | None = None) -> Path:
    """What genforce's converters write: {'generator', 'discriminator', 'generator_smooth'}."""
    obj = {"generator": generator, "discriminator": OrderedDict(lod=torch.zeros(()), **{"layer0.weight": torch.zeros(2)})}
    if generator_smooth is not None:
        obj["generator_smooth"] = generator_smooth
    torch.save(obj, path)
    return Path(path)


def save_training(path: str | Path, generator: dict, generator_smooth: dict) -> Path:
    """What genforce's BaseRunner.save writes: {'models', 'running_metadata', 'optimizers', 'learning_rates'}."""
    params = [torch.nn.Parameter(v.clone()) for v in generator.values() if v.dtype.is_floating_point]
    opt = torch.optim.Adam(params, lr=1e-3, betas=(0.0, 0.99))
    torch.save({
        "models": {"generator": generator, "discriminator": OrderedDict(x=torch.zeros(3)),
                   "generator_smooth": generator_smooth},
        "running_metadata": {"iter": 1000, "seen_img": 64000},
        "optimizers": {"generator": opt.state_dict()},
        "learning_rates": {"generator": {"base_lrs": [1e-3], "last_epoch": 1000}},
    }, path)
    return Path(path)
