"""Layer-wise analysis (HiGAN): which layers control which attribute.

For each layer group, move fresh samples along each direction in that group's w's only, re-score, and record the
HiGAN Δ of the direction's own attribute. The result is a heat-map attribute × layer group; each row's peak is
the layer range that controls the attribute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..directions.direction import Direction
from ..errors import GanlensError
from ..latents.layers import resolution_groups, resolve_layers
from .rescore import _measure

if TYPE_CHECKING:  # pragma: no cover
    from ..models.stylegan2 import Generator
    from ..parallel import Executor
    from ..scorers import Scorer


@dataclass
class LayerwiseReport:
    """Δ of each direction's own attribute when only one layer group moves.

    Attributes:
        directions: row names.
        groups: column names; `group_layers` their w indices.
        delta: HiGAN Δ (mean positive change; probability for binary) [D, G].
        mean_change: mean signed change of the own attribute [D, G].
        leakage: mean change of every attribute, normalised by its spread [D, G, A].
        attributes: the scorer's attributes (last axis of `leakage`).
    """

    directions: list[str]
    groups: list[str]
    group_layers: list[tuple[int, ...]]
    delta: np.ndarray
    mean_change: np.ndarray
    leakage: np.ndarray
    attributes: list[str]

    def relative(self) -> np.ndarray:
        """Each row divided by its maximum (1 = the layer group that controls the attribute best)."""
        return self.delta / np.maximum(self.delta.max(axis=1, keepdims=True), 1e-12)

    def best(self) -> dict[str, str]:
        """The layer group with the largest Δ for each direction."""
        return {d: self.groups[int(np.argmax(self.delta[i]))] for i, d in enumerate(self.directions)}

    def to_dict(self) -> dict:
        return {"directions": self.directions, "groups": self.groups,
                "group_layers": [list(g) for g in self.group_layers], "delta": self.delta.round(5).tolist(),
                "relative": self.relative().round(4).tolist(), "mean_change": self.mean_change.round(5).tolist(),
                "best": self.best()}


def layerwise(
    G: Generator,
    directions: Sequence[Direction],
    scorer: Scorer | str,
    groups: dict[str, Sequence[int]] | str | None = None,
    strength: float = 2.0,
    num_samples: int = 200,
    seed: int = 1,
    batch_size: int = 64,
    progress: bool = False,
    executor: Executor | str | None = None,
) -> LayerwiseReport:
    """The attribute × layer-group heat-map.

    Args:
        G: the generator.
        directions: W / W+ directions with target attributes.
        scorer: a Scorer or a scorer spec.
        groups: {name: w indices}; 'layers' for one group per w; None for the resolution groups (4px, 8px, ...).
        strength: the move (HiGAN: λ = 2) in each direction's units.
        num_samples: fresh samples per group.
        seed: seed of the fresh samples.
        batch_size: synthesis batch.
        progress: a tqdm bar.
        executor: None: in this process; otherwise every (layer group, shard of samples) pair is a task of this
            executor ('ray', a Ray address or an Executor), with the same result (see `measure_edits`).
    Returns:
        A LayerwiseReport.
    """
    if any(d.space == "z" for d in directions):
        raise GanlensError("layer-wise analysis needs W / W+ directions; Z has no layers")
    if groups is None:
        groups = resolution_groups(G.w_resolutions)
    elif groups == "layers":
        groups = {str(i): (i,) for i in range(G.num_ws)}
    elif isinstance(groups, str):
        raise GanlensError(f"groups must be None, 'layers' or a dict of name → w indices, got {groups!r}")
    names = list(groups)
    layer_sets = [resolve_layers(groups[g], G.w_resolutions) for g in names]
    d_num, g_num = len(directions), len(names)
    delta = np.zeros((d_num, g_num))
    mean_change = np.zeros((d_num, g_num))
    leak = None
    attributes: list[str] = []
    reports = _measure(G, directions, scorer, [strength], num_samples, seed, layer_sets, 0, 1.0, batch_size, progress,
                       executor)
    for j, rep in enumerate(reports):
        attributes = rep.attributes
        ch = rep.changes()[:, :, 0]  # [D, A, N]
        if leak is None:
            leak = np.zeros((d_num, g_num, len(attributes)))
        leak[:, j] = ch.mean(axis=-1) / rep.attribute_std()[None, :]
        for i in range(d_num):
            t = rep.target_index(i)
            delta[i, j] = np.maximum(ch[i, t], 0).mean()
            mean_change[i, j] = ch[i, t].mean()
    return LayerwiseReport([d.name for d in directions], names, layer_sets, delta, mean_change, leak, attributes)
