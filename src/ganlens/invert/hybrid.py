"""Hybrid inversion: the encoder's prediction as the starting point of optimisation (Zhu et al. 2020's recipe).

Starting near the answer, a short optimisation reaches what a long one from w_avg reaches; the encoder pass
costs a few milliseconds.
"""

from __future__ import annotations

import time
from dataclasses import replace

from ..models.stylegan2 import Generator
from .encoder import Encoder, load_encoder
from .optimize import InversionResult, OptimConfig, preset, project


def invert_hybrid(
    G: Generator,
    images,
    encoder: Encoder | str | None = None,
    config: OptimConfig | str = "ganlens",
    iterations: int = 2,
    progress: bool = False,
    **overrides,
) -> InversionResult:
    """Encoder (pSp pass + `iterations` − 1 ReStyle refinements), then optimisation from its codes.

    Args:
        G: the generator.
        images: uint8 [N, R, R, 3] or float [N, 3, R, R] in [-1, 1].
        encoder: an Encoder, a path / bundled name, or None for the encoder bundled with G (by G.name).
        config: optimisation settings or preset name; `steps` defaults to 100 here (a third of the preset's).
        iterations: encoder passes before optimising.
        **overrides: OptimConfig fields.
    Returns:
        InversionResult whose `seconds` include the encoder and whose code meta says method 'hybrid'.
    """
    t0 = time.perf_counter()
    enc = encoder if isinstance(encoder, Encoder) else load_encoder(encoder or G.name, device=G.device)
    init = enc.invert(images, G=G, iterations=iterations)
    cfg = preset(config) if isinstance(config, str) else config
    overrides.setdefault("steps", max(1, cfg.steps // 3))
    cfg = replace(cfg, **overrides).validate()
    res = project(G, images, cfg, init_code=init, progress=progress)
    res.seconds = time.perf_counter() - t0
    res.code.meta.update({"method": "hybrid", "encoder_iterations": iterations})
    res.config["encoder_iterations"] = iterations
    return res
