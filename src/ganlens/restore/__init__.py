"""Restoration with the GAN as a prior: super-resolution, colourisation, denoising, deblurring and inpainting by
inverting through a differentiable degradation (`restore`), and classical baselines to compare with
(`baselines`).

- `degradations` — `Downsample`, `Grayscale`, `Noise`, `Mask`, `Blur`, `Compose`, and `parse_task` for task strings;
- `methods` — `restore(G, observed, task, method='wplus'|'pulse'|'dgp')` and `RestoreResult`;
- `inpaint` — fill a hole: restore through a mask, blend the fill into the picture;
- `artefacts` — InterFaceGAN's artefact correction: a realism score, the boundary between poor and good samples, and
  samples moved across it.
"""

from .artefacts import RealismScore, correct, quality_boundary
from .degradations import TASKS, Blur, Compose, Degradation, Downsample, Grayscale, Mask, Noise, parse_task
from .inpaint import InpaintResult, inpaint
from .methods import METHODS, RestoreResult, restore

__all__ = ["METHODS", "TASKS", "Blur", "Compose", "Degradation", "Downsample", "Grayscale", "InpaintResult", "Mask",
           "Noise", "RealismScore", "RestoreResult", "correct", "inpaint", "parse_task", "quality_boundary", "restore"]
