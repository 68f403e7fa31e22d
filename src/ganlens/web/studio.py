"""What the web UI edits with: the generator, its directions, scorer and encoder, and the calls into the library.

Nothing here edits latents itself: `compose` chains `ganlens.edit.mix.crossover`, `Direction.conditioned_on`,
`ganlens.edit.move` and, for sliders in style space S, `Generator.to_styles`; `read_out` is `Generator.render` of
a batch of codes followed by the scorer and the guards (the web app feeds it many tabs' codes at once, see
`batcher.py`), `render` the same for one code plus its PNG.
One lock serialises every pass through the generator, because a single pass already uses all of torch's
threads: two at once only slow both.
"""

from __future__ import annotations

import base64
import io
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..analysis.autolabel import autolabel
from ..analysis.editability import read_changes
from ..directions import Direction, load_bundled, load_directions, sefa
from ..directions.gradient import is_differentiable
from ..edit import ascend, describe_layers, move, presets
from ..edit.mix import crossover
from ..errors import GanlensError
from ..latents import LatentCode
from ..models.stylegan2 import Generator
from . import stylespace
from .chunks import ChunkPlanner
from .stylespace import StyleChannelIndex


@dataclass
class Slider:
    """One slider of the page: a direction and how to present it.

    Attributes:
        key: stable id used by the API ('attr:smile', 'grad:smile', 'user:my_dir', 'sefa:sefa0',
            'style:b16.conv1:58').
        label: what the page shows.
        group: 'attribute' (shipped boundary), 'gradient' (shipped layer-wise gradient direction), 'user'
            (--directions), 'sefa' (found at start-up) or 'style' (one channel of S, listed per attribute on request).
        direction: the direction moved along (strengths are in units of its `scale`; an S direction's are channel
            spreads).
    """

    key: str
    label: str
    group: str
    direction: Direction

    def describe(self, num_ws: int) -> dict:
        """JSON for the page: key, label, group, default layer range (None for an S direction: its channels name
        their layers) and the auto-label, when there is one."""
        d = self.direction
        m = d.metrics
        return {"key": self.key, "label": self.label, "group": self.group, "space": d.space,
                "layers": None if d.space == "s" else describe_layers(d.layers, num_ws),
                "autolabel": m.get("autolabel"), "label_r": m.get("label_r")}


@dataclass
class Rendered:
    """One rendered code: its PNG, its attribute scores (raw: logits for binary attributes) and the guard
    predictors' scores of it (guard name → scores), the second reading of whether an edit is visible."""

    png: bytes
    scores: dict[str, float]
    seconds: float
    guard_scores: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def data_url(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass
class Readout:
    """One code's picture (uint8 [R, R, C]) and the predictors' reading of it, before PNG encoding."""

    image: np.ndarray
    scores: dict[str, float]
    guard_scores: dict[str, dict[str, float]] = field(default_factory=dict)

    def rendered(self, seconds: float, scale: int = 1) -> Rendered:
        """The PNG-encoded form the page shows, `scale` times enlarged."""
        return Rendered(encode_png(self.image, scale), self.scores, seconds, self.guard_scores)


def encode_png(image: np.ndarray, scale: int = 1) -> bytes:
    """uint8 [H, W, 3] → PNG bytes; compression level 1 because at 64x64 the bytes hardly differ and level 6
    costs several times the encoding time on the slider's hot path."""
    pil = Image.fromarray(image)
    if scale != 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    pil.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


@dataclass
class Studio:
    """The loaded model and everything the sliders need.

    Attributes:
        G: the generator. scorer: attribute predictor or None. encoder: inversion encoder or None.
        sliders: key → Slider, in page order. boundaries: attribute → shipped boundary ("keep fixed" candidates).
        aligner: a FaceAligner when the faces extra is installed, else None.
        guards: name → further predictor under which a climb holds the ticked attributes too.
        precision: what a slider move renders in ('fp32', 'bf16', or 'auto': bf16 where the device is fast at it);
            the gradient steps of climbs and inversions run in fp32 whatever it says.
        lock: held for every generator / scorer / encoder pass.
        styles: the style-channel sliders' statistics and per-attribute rankings (made on first request).
    """

    G: Generator
    scorer: object | None
    encoder: object | None
    sliders: dict[str, Slider]
    boundaries: dict[str, Direction]
    aligner: object | None = None
    guards: dict = field(default_factory=dict)
    precision: str = "fp32"
    lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    passes: ChunkPlanner = field(default_factory=ChunkPlanner, init=False, repr=False)
    labels_pending: bool = field(default=False, init=False)
    _conditioned: dict = field(default_factory=dict, init=False, repr=False)
    styles: StyleChannelIndex = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.styles = StyleChannelIndex(self.G, self.scorer)

    # ---- building ---------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, model: str = "synthfaces64", directions: str | Path | None = None, sefa_num: int = 5,
             scorer: str | None = "auto", encoder: str | None = "auto", guard: str | None = "auto",
             device: str = "cpu", precision: str = "auto") -> Studio:
        """Load a model with its shipped boundaries, the user's directions and `sefa_num` SeFa directions.

        `scorer` / `encoder`: a name or path, 'auto' (the ones bundled for the model, if any) or None (none).
        `guard`: a predictor under which climbs also hold the ticked attributes; 'auto' is the model's
        '-independent' predictor if one is bundled (trained without the domain's factor correlations) and reads
        every attribute that can be ticked (the shipped boundaries' attributes).
        `precision`: what slider moves render in (see the class); 'auto' is bf16 where the CPU has bf16
        instructions (about 3x faster for synthfaces64 at batch 16, images within a few grey levels of fp32).
        """
        from ..invert import load_encoder
        from ..models import load
        from ..scorers import load_scorer
        from ..scoring import choose_guards

        G = load(model, device=device).eval()
        precision = G.resolve_precision(precision)
        sc = _optional(load_scorer, G.name if scorer == "auto" else scorer, device, required=scorer != "auto")
        enc = _optional(load_encoder, G.name if encoder == "auto" else encoder, device, required=encoder != "auto")
        boundaries = load_bundled(G.name)
        # The same rule as `ganlens ascend --guard`: 'auto' only where the guard reads every tickable attribute.
        guards = dict(choose_guards([guard], G.name, boundaries, device)) if sc is not None and guard else {}
        sliders = {f"attr:{a}": Slider(f"attr:{a}", a, "attribute", d) for a, d in boundaries.items()}
        sliders.update({f"grad:{a}": Slider(f"grad:{a}", a, "gradient", d)
                        for a, d in load_bundled(G.name, "gradient").items()})
        for d in load_directions(directions) if directions else []:
            _check_style_direction(d, G)
            key = _unique(f"user:{d.name}", sliders)
            sliders[key] = Slider(key, _label(d), "user", d)
        for d in sefa(G, "all", sefa_num) if sefa_num else []:
            sliders[f"sefa:{d.name}"] = Slider(f"sefa:{d.name}", d.name, "sefa", d)
        try:
            from ..invert.align import FaceAligner

            aligner = FaceAligner()
        except GanlensError:
            aligner = None  # the faces extra is not installed: the page hides the option
        return cls(G, sc, enc, sliders, boundaries, aligner, {Path(name).stem: g for name, g in guards.items()},
                   precision)

    def label_directions(self, num_samples: int = 32) -> None:
        """Auto-label the SeFa and unlabelled user directions by the attribute they change most.

        Slow (seconds per direction): the server runs it in a background thread and the page picks the labels up
        later. It does not take `lock`: holding the generator for seconds would freeze the sliders, while sharing
        the cores only slows them (forward passes under inference mode are safe to run concurrently).
        """
        self.labels_pending = True
        try:
            todo = [] if self.scorer is None else [
                s for s in self.sliders.values() if s.group != "attribute" and "autolabel" not in s.direction.metrics]
            for s in todo:  # one at a time, so each label shows up as soon as it is known
                with torch.inference_mode():
                    (labelled,) = autolabel(self.G, [s.direction], self.scorer, num_samples=num_samples)
                s.direction = labelled  # same vector, so conditioned copies in the cache stay valid
                s.label = _label(labelled)
        finally:
            self.labels_pending = False

    # ---- what the page needs to know ---------------------------------------------------------------------------

    def info(self) -> dict:
        """Model, sliders, attributes and layer presets, as JSON for the page."""
        G = self.G
        attrs = [] if self.scorer is None else [
            {"name": a.name, "kind": a.kind, "low": a.low, "high": a.high, "fixable": a.name in self.boundaries}
            for a in self.scorer.attributes]
        return {
            "model": G.name, "resolution": G.img_resolution, "num_ws": G.num_ws, "precision": self.precision,
            "layer_presets": {k: describe_layers(v, G.num_ws) for k, v in presets(G.w_resolutions).items()},
            "sliders": [s.describe(G.num_ws) for s in self.sliders.values()],
            "attributes": attrs, "labels_pending": self.labels_pending,
            "methods": [m for m in ("encoder", "hybrid", "optim") if m == "optim" or self.encoder is not None],
            "align_available": self.aligner is not None,
            "climb_available": self.scorer is not None and is_differentiable(self.scorer),
            "climb_guards": sorted(self.guards),
            "style": self.styles.describe(),
            "restore": restore_info(G),
        }

    # ---- codes ---------------------------------------------------------------------------------------------

    def sample(self, seed: int, truncation: float) -> LatentCode:
        """The W code of a seed at a truncation ψ."""
        with self.lock, torch.inference_mode():
            return self.G.sample(1, seed=seed, truncation_psi=truncation, space="w")

    def slider(self, key: str) -> Slider:
        """The slider `key` (a style channel's is made on first use), or a GanlensError listing the known keys."""
        if key.startswith(stylespace.PREFIX) and key not in self.sliders:
            label = key[len(stylespace.PREFIX):]
            return Slider(key, label, "style", self.styles.direction(key))
        if key not in self.sliders:
            raise GanlensError(f"unknown direction {key!r}; known: {', '.join(self.sliders)} and style channels "
                               "'style:LAYER:INDEX'")
        return self.sliders[key]

    def in_style_space(self, key: str) -> bool:
        """Whether slider `key` moves S (a style channel, or a user's S direction file)."""
        return self.slider(key).direction.space == "s"

    def direction(self, key: str, keep_fixed: tuple[str, ...]) -> Direction:
        """The slider's direction, made orthogonal to the kept-fixed attributes' boundaries (cached)."""
        d = self.slider(key).direction
        others = tuple(a for a in keep_fixed if self.boundaries[a] is not d)
        if not others:
            return d
        cache_key = (key, others)
        if cache_key not in self._conditioned:
            self._conditioned[cache_key] = d.conditioned_on(*(self.boundaries[a] for a in others))
        return self._conditioned[cache_key]

    def compose(self, base: LatentCode, strengths: dict[str, float], layers: dict[str, str],
                keep_fixed: tuple[str, ...] = (), second: LatentCode | None = None,
                mix_layers: str | None = None) -> LatentCode:
        """The edited code: `base` crossed with `second` on `mix_layers` (if given), then moved along each slider.

        Sliders in S move the code's style-space image (`G.to_styles`) after every W slider has moved it, as
        `ganlens edit` converts codes for an S direction; the result is then an 's' code. Kept-fixed attributes
        condition W directions only: their boundaries live in W, and a channel's direction is that one channel.
        """
        num_ws = self.G.w_resolutions  # preset names follow the architecture
        code = base
        if second is not None and mix_layers:
            code = crossover(code, second, mix_layers, num_ws)
        in_s = []
        for key, strength in strengths.items():
            if not strength:
                continue
            if self.in_style_space(key):
                in_s.append((key, strength))
                continue
            spec = layers.get(key) or None
            code = move(code, self.direction(key, keep_fixed), [strength], layers=spec, num_ws=num_ws)
        if in_s:
            code = self.G.to_styles(code)
            for key, strength in in_s:
                if (layers.get(key) or "").strip():
                    raise GanlensError(f"slider {key!r} moves style channels, which name their own layers: it takes "
                                       "no layer range")
                code = move(code, self.slider(key).direction, [strength])
        return code

    def climb(self, code: LatentCode, attribute: str, distance: float, keep: tuple[str, ...] = ()) -> LatentCode:
        """`code` moved `distance` latent units up its own gradient of `attribute`'s score, holding `keep` at their
        current scores under the scorer and every guard (`ganlens.edit.ascend`); about a second per latent unit on
        two CPU cores."""
        if self.scorer is None:
            raise GanlensError("climbing needs an attribute predictor; start the server with --scorer")
        with self.lock:
            return ascend(self.G, self.scorer, code, attribute, distance, keep=keep,
                          guards=list(self.guards.values()) if keep else ())

    def read_out(self, codes: list[LatentCode]) -> list[Readout]:
        """Synthesize and score codes of one sample each in one batched pass: W codes join W+ ones (a W code is
        its W+ broadcast, the same image); codes carrying noise maps are drawn on their own.

        A batch is drawn in passes of power-of-two sizes, the last one padded with copies of a code where the
        planner (`chunks.ChunkPlanner`, which times every pass) finds that cheaper than one more pass: every new
        batch shape costs memory that is never given back, see `ganlens.web.chunks`.
        """
        for c in codes:
            if len(c) != 1:
                raise GanlensError(f"read_out takes codes of one sample each, got one of {len(c)}")
        num_ws = self.G.num_ws
        groups: dict[object, list[int]] = {}
        for i, c in enumerate(codes):
            space = "w+" if c.space in ("w", "w+") else c.space
            groups.setdefault(i if c.noise is not None else space, []).append(i)
        out: list[Readout | None] = [None] * len(codes)
        with self.lock, torch.inference_mode():
            for idx in groups.values():
                start = 0
                for size in self.passes.plan(len(idx)):
                    members = idx[start:start + size]
                    start += len(members)
                    part = [codes[i] for i in members]
                    part += [part[-1]] * (size - len(part))  # padding: drawn and dropped
                    t0 = time.perf_counter()
                    batch = LatentCode.cat([c.to_wplus(num_ws) if c.space == "w" else c for c in part])
                    images = self.G.render(batch, precision=self.precision)
                    scores = {} if self.scorer is None else _floats(self.scorer(images))
                    guards = {name: _floats(g(images)) for name, g in self.guards.items()}
                    self.passes.record(size, time.perf_counter() - t0)
                    for j, i in enumerate(members):
                        out[i] = Readout(images[j], {k: v[j] for k, v in scores.items()},
                                         {name: {k: v[j] for k, v in g.items()} for name, g in guards.items()})
        return out  # type: ignore[return-value]

    def render(self, code: LatentCode, scale: int = 1) -> Rendered:
        """Synthesize, score and PNG-encode one code, at once (the web app batches through `read_out`)."""
        t0 = time.perf_counter()
        (shown,) = self.read_out([code])
        return shown.rendered(time.perf_counter() - t0, scale)

    def visible_changes(self, base: Rendered | dict, now: Rendered) -> dict[str, dict]:
        """Which attributes an edit visibly changed from `base` (a rendering, or the `readings` of one) to `now`,
        under the scorer and every guard (`ganlens.analysis.editability.read_changes`); {} without a scorer."""
        if self.scorer is None:
            return {}
        before = base if isinstance(base, dict) else readings(base)
        return read_changes({"predictor": self.scorer, **self.guards}, before, readings(now))

    def render_frames(self, code: LatentCode) -> np.ndarray:
        """uint8 frames [T, H, W, 3] of a batch of codes (morphs)."""
        with self.lock, torch.inference_mode():
            return self.G.render(code)


def _floats(scores: dict) -> dict[str, list[float]]:
    """A predictor's output (attribute → scores of the batch) as plain floats."""
    return {k: np.asarray(v, dtype=np.float64).tolist() for k, v in scores.items()}


def readings(shown: Rendered) -> dict[str, dict[str, float]]:
    """A rendering's scores by reader: 'predictor' (the main scorer) and each guard by name."""
    return {"predictor": shown.scores, **shown.guard_scores}


def _optional(loader, name: str | None, device: str, required: bool):
    """Load a scorer / encoder; with required=False a missing one is simply left out."""
    if name is None or name == "none":
        return None
    try:
        return loader(name, device=device)
    except GanlensError:
        if required:
            raise
        return None


def _label(d: Direction) -> str:
    """A slider's label: the direction's name, and its auto-label with the correlation when it has one."""
    m = d.metrics
    return f"{d.name} ~ {m['autolabel']} ({m['label_r']:+.2f})" if "autolabel" in m else d.name


def _check_style_direction(d: Direction, G: Generator) -> None:
    """Refuse at start-up an S direction file that cannot edit this generator's style codes (rather than at the
    first slider move)."""
    if d.space != "s":
        return
    if "s" not in getattr(G, "spaces", ()):
        raise GanlensError(f"direction {d.name!r} lives in style space S, which model {G.name!r} does not have")
    dim = sum(G.style_dims())
    if d.dim != dim:
        raise GanlensError(f"S direction {d.name!r} has dim {d.dim}; model {G.name!r} has {dim} style channels "
                           f"(found on {d.model!r}?)")


def restore_info(G: Generator) -> dict:
    """The restoration tasks (task → its form) and the methods the page offers for G: those of `ganlens.restore`
    whose search space G has, except 'dgp', whose per-image generator tuning the shared session renderer cannot
    carry."""
    from ..restore import TASKS
    from ..restore.methods import METHODS, SETTINGS

    methods = [m for m in METHODS if m != "dgp" and SETTINGS[m]["space"] in getattr(G, "spaces", ())]
    return {"tasks": dict(TASKS), "methods": methods, "descriptions": {m: METHODS[m] for m in methods}}


def _unique(key: str, taken: dict) -> str:
    out, i = key, 2
    while out in taken:
        out, i = f"{key}_{i}", i + 1
    return out
