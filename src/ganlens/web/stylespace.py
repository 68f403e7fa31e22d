"""Style-channel sliders (StyleSpace, `ganlens.directions.stylespace`): per attribute, the few channels of style
space S that move its score most, each a slider in units of the channel's spread.

A channel slider's key is ``style:LAYER:INDEX`` (e.g. ``style:b16.conv1:58``) and its direction is the one-channel
S direction `StyleChannels.direction` builds, so strength a moves the channel by a spreads: what
``ganlens edit --direction ATTR-s1.npz`` does with a direction file of `ganlens discover --method stylespace`.
Nothing is computed at start-up: the channel statistics on the first request, each attribute's ranking on the first
request for it; both are kept for the server's lifetime (the model does not change under it).
"""

from __future__ import annotations

import threading

from ..directions import Direction
from ..directions.gradient import is_differentiable
from ..directions.stylespace import StyleChannels, by_sensitivity
from ..errors import GanlensError

PREFIX = "style:"
STATS_SAMPLES = 2000  # as `ganlens discover --method stylespace`, so a channel's spread is the CLI's
MAX_CACHED = 512  # one-channel directions kept (a dense vector over S each; 14 kB on synthfaces64)


class StyleChannelIndex:
    """One generator's style channels: statistics, per-attribute rankings and one-channel directions, each made on
    first use and kept.

    Args:
        G: the generator. scorer: the attribute predictor whose scores rank the channels (differentiable).
        samples: samples of the sensitivity ranking (`by_sensitivity`; `ganlens discover` uses 64, the page 16 by
            default so that the first list of an attribute comes in seconds on a CPU). top: channels per attribute.
    """

    route = "sensitivity"

    def __init__(self, G, scorer, samples: int = 16, top: int = 3) -> None:
        self.G, self.scorer, self.samples, self.top = G, scorer, samples, top
        self._stats: StyleChannels | None = None
        self._ranked: dict[str, list[tuple[int, float]]] = {}
        self._directions: dict[int, Direction] = {}
        self._stats_lock = threading.Lock()
        # One ranking at a time: a second request for the same attribute waits and reads the cache. Separate from
        # the statistics' lock, so that slider moves never wait for a ranking.
        self._rank_lock = threading.Lock()

    @property
    def unavailable(self) -> str | None:
        """Why the page cannot offer channel sliders for this model, or None when it can."""
        if "s" not in getattr(self.G, "spaces", ()):
            return f"the {getattr(self.G, 'architecture', 'loaded')} generator {self.G.name!r} has no style space S"
        if self.scorer is None or not is_differentiable(self.scorer):
            return "ranking style channels needs a differentiable attribute predictor; start the server with --scorer"
        return None

    @property
    def attributes(self) -> list[str]:
        return [] if self.unavailable else list(self.scorer.names)

    def stats(self) -> StyleChannels:
        """Every channel's mean and spread over `STATS_SAMPLES` samples (seed 0, as the CLI fits them)."""
        if "s" not in getattr(self.G, "spaces", ()):
            raise GanlensError(f"model {self.G.name!r} has no style space S: its style-channel sliders cannot exist")
        if self._stats is None:
            with self._stats_lock:
                if self._stats is None:
                    self._stats = StyleChannels.fit(self.G, STATS_SAMPLES)
        return self._stats

    def direction(self, key: str) -> Direction:
        """The one-channel S direction of slider `key` ('style:LAYER:INDEX'); a GanlensError names the format."""
        if not key.startswith(PREFIX):
            raise GanlensError(f"{key!r} is not a style-channel slider (those are 'style:LAYER:INDEX')")
        stats = self.stats()
        k = stats.index(key[len(PREFIX):])  # InputError naming the layers / the layer's width
        d = self._directions.get(k)
        if d is None:
            if len(self._directions) >= MAX_CACHED:
                self._directions.clear()  # rebuilding one costs microseconds; the bound only caps memory
            d = self._directions[k] = stats.direction([k])
        return d

    def channels(self, attribute: str) -> list[dict]:
        """The `top` channels of `attribute` by the sensitivity route: E[d score / d s_k] times the spread,
        through the generator (`by_sensitivity`), as JSON rows for the page.

        Raises:
            GanlensError: no style space, no differentiable predictor, or an attribute the predictor does not read.
        """
        if self.unavailable:
            raise GanlensError(self.unavailable)
        names = list(self.scorer.names)
        if attribute not in names:
            raise GanlensError(f"unknown attribute {attribute!r}; the predictor reads {', '.join(names)}")
        stats = self.stats()
        with self._rank_lock:
            if attribute not in self._ranked:
                col = names.index(attribute)
                # Not under the studio's generator lock: this pass takes seconds and the sliders must stay live
                # (as auto-labelling does); gradients flow to the style codes only, the weights are not touched.
                self._ranked[attribute] = by_sensitivity(
                    self.G, lambda x: self.scorer.score_tensor(x)[:, col], stats, n=self.samples, top=self.top,
                    batch_size=self.samples)
            ranked = self._ranked[attribute]
        rows = []
        for k, sensitivity in ranked:
            label = stats.label(k)
            layer, _, index = label.rpartition(":")
            rows.append({"key": PREFIX + label, "channel": label, "layer": layer, "index": int(index), "s_index": k,
                         "spread": float(stats.std[k]), "sensitivity": sensitivity})
        return rows

    def describe(self) -> dict:
        """JSON for /api/info: whether the page can list channels, for which attributes, and how they are ranked."""
        return {"available": self.unavailable is None, "reason": self.unavailable, "attributes": self.attributes,
                "route": self.route, "top": self.top, "samples": self.samples}
