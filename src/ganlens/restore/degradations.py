"""Differentiable degradations: what turned a clean image into the one observed.

Each degradation has two faces. Called on a batch ``x`` [N, 3, H, W] in [-1, 1] it is the *forward model*: the
expected observation of a clean image, differentiable, so that an inversion can compare ``degradation(G(w))`` with
what was observed. `simulate` damages a clean image the way the world would (it adds the noise the forward model
only averages over), for building test cases with known ground truth. They compose with ``+`` or `Compose`, and
`parse_task` reads the CLI's task strings ("sr:4", "colorize", "denoise:0.1", "inpaint:0.25,0.25,0.75,0.75",
"blur:1.5", joined by "+").
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError, ShapeError
from ..io.masks import rect_mask

# ITU-R BT.601 luma weights: what "grayscale" means in PIL and most photo tools.
LUMA = (0.299, 0.587, 0.114)


class Degradation:
    """Base class: a forward model x → expected observation, plus `simulate` for real damage."""

    name = "identity"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def simulate(self, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """The damaged image: the forward model plus whatever randomness it averages over, clipped to [-1, 1]."""
        return self(x).clamp(-1, 1)

    def align_observed(self, y: torch.Tensor) -> torch.Tensor:
        """Make an observation consistent with the forward model where the model discards information (a mask
        zeroes its hole, whatever the file holds there)."""
        return y

    def output_size(self, size: int) -> int:
        """Side of the observation of a `size`-pixel square image."""
        return size

    def spec(self) -> str:
        """The task string that `parse_task` turns back into this degradation."""
        return self.name

    def stages(self) -> list["Degradation"]:
        return [self]

    def __add__(self, other: "Degradation") -> "Compose":
        return Compose(*self.stages(), *other.stages())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec()!r})"


def _check_batch(x: torch.Tensor, what: str) -> None:
    if x.ndim != 4 or x.shape[1] != 3:
        raise ShapeError(f"{what} expects images [N, 3, H, W], got {list(x.shape)}")


class Downsample(Degradation):
    """Super-resolution's forward model: shrink by an integer `factor`, by area averaging (each output pixel the
    mean of a factor x factor block) or bicubic with antialiasing."""

    name = "sr"

    def __init__(self, factor: int, mode: str = "area") -> None:
        if int(factor) != factor or factor < 2:
            raise InputError(f"downsampling factor must be an integer >= 2, got {factor}")
        if mode not in ("area", "bicubic"):
            raise InputError(f"downsampling mode must be 'area' or 'bicubic', got {mode!r}")
        self.factor, self.mode = int(factor), mode

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        _check_batch(x, "Downsample")
        if x.shape[2] % self.factor or x.shape[3] % self.factor:
            raise ShapeError(f"a {x.shape[2]}x{x.shape[3]} image does not divide by the downsampling factor {self.factor}")
        if self.mode == "area":
            return F.avg_pool2d(x, self.factor)
        size = (x.shape[2] // self.factor, x.shape[3] // self.factor)
        return F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)

    def output_size(self, size: int) -> int:
        if size % self.factor:
            raise ShapeError(f"a {size}x{size} image does not divide by the downsampling factor {self.factor}")
        return size // self.factor

    def spec(self) -> str:
        return f"sr:{self.factor}" + ("" if self.mode == "area" else ":bicubic")


class Grayscale(Degradation):
    """Colourisation's forward model: BT.601 luma, repeated on the three channels (an RGB file of a grey photo)."""

    name = "colorize"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        _check_batch(x, "Grayscale")
        w = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x * w).sum(dim=1, keepdim=True).expand(-1, 3, -1, -1)


class Noise(Degradation):
    """Denoising: additive Gaussian noise of std `sigma` in units of the [0, 1] intensity range. The forward model
    is the identity (the noise has mean zero, so fitting the noisy image by least squares is the maximum-likelihood
    fit); `simulate` adds the noise."""

    name = "denoise"

    def __init__(self, sigma: float) -> None:
        if not (0 < sigma <= 1):
            raise InputError(f"noise sigma must be in (0, 1] (a fraction of the intensity range), got {sigma}")
        self.sigma = float(sigma)

    def simulate(self, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        noise = torch.randn(x.shape, generator=gen).to(x.device, x.dtype)
        return (x + 2 * self.sigma * noise).clamp(-1, 1)  # [-1, 1] spans twice the [0, 1] range

    def spec(self) -> str:
        return f"denoise:{self.sigma:g}"


class Mask(Degradation):
    """Inpainting: the pixels of `hole` ([H, W], 1 = missing) are lost; the forward model sets them to 0 (mid grey)
    on both sides of the comparison, so they cost nothing and the generator fills them."""

    name = "inpaint"

    def __init__(self, hole: np.ndarray | torch.Tensor, rect: str | None = None) -> None:
        h = torch.as_tensor(np.asarray(hole, np.float32))
        if h.ndim != 2 or h.shape[0] != h.shape[1]:
            raise ShapeError(f"an inpainting hole is a square [R, R] mask, got shape {list(h.shape)}")
        if float(h.min()) < 0 or float(h.max()) > 1:
            raise InputError("an inpainting hole mask holds values in [0, 1] (1 = missing)")
        if float(h.mean()) >= 1:
            raise InputError("the inpainting hole covers the whole image: nothing is left to fit")
        self.hole, self.rect = h, rect

    @classmethod
    def from_rect(cls, spec: str, size: int) -> "Mask":
        """A rectangular hole "x0,y0,x1,y1" (pixels, or fractions of the side) in a `size`-pixel image."""
        return cls(rect_mask(spec, size), rect=spec)

    def known(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[2:]) != tuple(self.hole.shape):
            raise ShapeError(f"the inpainting hole is {list(self.hole.shape)} but the images are {list(x.shape[2:])}")
        return (1 - self.hole).to(x.device, x.dtype)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        _check_batch(x, "Mask")
        return x * self.known(x)

    def align_observed(self, y: torch.Tensor) -> torch.Tensor:
        return self(y)

    def spec(self) -> str:
        return f"inpaint:{self.rect}" if self.rect else "inpaint:<mask>"


class Blur(Degradation):
    """Deblurring: a Gaussian blur of std `sigma` pixels (kernel radius ceil(3 sigma), reflected borders)."""

    name = "blur"

    def __init__(self, sigma: float) -> None:
        if not (0 < sigma <= 20):
            raise InputError(f"blur sigma must be in (0, 20] pixels, got {sigma}")
        self.sigma = float(sigma)
        r = math.ceil(3 * self.sigma)
        t = torch.arange(-r, r + 1, dtype=torch.float32)
        k = torch.exp(-0.5 * (t / self.sigma) ** 2)
        self.kernel = k / k.sum()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        _check_batch(x, "Blur")
        r = len(self.kernel) // 2
        if r >= min(x.shape[2], x.shape[3]):
            raise ShapeError(f"blur sigma {self.sigma} is too wide for a {x.shape[2]}x{x.shape[3]} image")
        k = self.kernel.to(x.device, x.dtype)
        x = F.pad(x, (r, r, r, r), mode="reflect")
        x = F.conv2d(x, k.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3)  # separable: rows, then columns
        return F.conv2d(x, k.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)

    def spec(self) -> str:
        return f"blur:{self.sigma:g}"


class Compose(Degradation):
    """Stages applied in order (e.g. ``Downsample(4) + Noise(0.1)``: shrink, then add noise)."""

    name = "compose"

    def __init__(self, *stages: Degradation) -> None:
        if not stages:
            raise InputError("a composed degradation needs at least one stage")
        self._stages = [s for st in stages for s in st.stages()]

    def stages(self) -> list[Degradation]:
        return list(self._stages)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for s in self._stages:
            x = s(x)
        return x

    def simulate(self, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
        for i, s in enumerate(self._stages):
            x = s.simulate(x, seed + i)
        return x

    def align_observed(self, y: torch.Tensor) -> torch.Tensor:
        # Only trailing stages can be undone on a real observation: a mask before a downsampling has already been
        # mixed into its neighbours' pixels.
        for s in reversed(self._stages):
            if type(s).align_observed is Degradation.align_observed:
                break
            y = s.align_observed(y)
        return y

    def output_size(self, size: int) -> int:
        for s in self._stages:
            size = s.output_size(size)
        return size

    def spec(self) -> str:
        return "+".join(s.spec() for s in self._stages)


TASKS = {
    "sr": "sr:F (F x smaller, area averaging; sr:F:bicubic for bicubic)",
    "colorize": "colorize (grey observation)",
    "denoise": "denoise:SIGMA (Gaussian noise, SIGMA a fraction of the intensity range)",
    "inpaint": "inpaint:x0,y0,x1,y1 (a rectangular hole, pixels or fractions)",
    "blur": "blur:SIGMA (Gaussian blur, SIGMA in pixels)",
}


def _number(text: str, task: str, kind=float):
    try:
        return kind(text)
    except ValueError:
        raise InputError(f"task {task!r}: {text!r} is not a number; expected {TASKS[task.split(':')[0]]}") from None


def parse_task(spec: str, resolution: int) -> Degradation:
    """A degradation from a task string: one of `TASKS`, or several joined by '+' (applied left to right).

    Args:
        spec: e.g. "sr:4", "colorize", "denoise:0.1", "inpaint:0.25,0.25,0.75,0.75", "blur:1.5", "sr:4+denoise:0.05".
        resolution: the generator's resolution (where an inpainting rectangle is drawn; a rectangle after a
            downsampling stage is drawn at that stage's size).
    Raises:
        InputError: an unknown task or a malformed value, in one line that lists the valid forms.
    """
    stages: list[Degradation] = []
    size = resolution
    for part in spec.split("+"):
        part = part.strip()
        head, _, arg = part.partition(":")
        if head not in TASKS:
            raise InputError(f"unknown restoration task {head!r} in {spec!r}; tasks: " + "; ".join(TASKS.values()))
        if head == "colorize":
            if arg:
                raise InputError(f"task 'colorize' takes no value, got {part!r}")
            stage: Degradation = Grayscale()
        elif not arg:
            raise InputError(f"task {head!r} needs a value: {TASKS[head]}")
        elif head == "sr":
            factor, _, mode = arg.partition(":")
            stage = Downsample(_number(factor, part, int), mode or "area")
        elif head == "denoise":
            stage = Noise(_number(arg, part))
        elif head == "blur":
            stage = Blur(_number(arg, part))
        else:
            stage = Mask.from_rect(arg, size)
        size = stage.output_size(size)
        stages.append(stage)
    return stages[0] if len(stages) == 1 else Compose(*stages)
