"""Control encoders E_k: a human-readable attribute value yᵏ → a latent code, fitted on any generator.

`fit(G, scorer, attributes)` samples codes w_i, reads y_i = scorer(G(w_i)) and trains, per attribute, a small MLP
on the pairs:

- on a `SplitGenerator`, E_k: yᵏ → tᵏ, the attribute's own sub-vector; setting the attribute replaces tᵏ
  (GAN-Control's inference: every sub-vector is set through E_k or sampled);
- on an ordinary generator there is no sub-vector, so E_k: yᵏ → w, the mean code of images with that value, and a
  reader R_k: w → yᵏ says where a code stands; setting the attribute moves w by E_k(y) − E_k(R_k(w)), i.e. along
  the curve of conditional means from the code's value to the requested one.

Files are one safetensors (every network) with a JSON header (attributes, ranges, fit metrics), written atomically.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import GanlensError
from ..io.tensorfile import read_tensor_file, write_tensor_file
from ..scorers.base import AttributeInfo, Scorer
from .split_model import SplitGenerator

FORMAT = "ganlens.control_encoders"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ControlledAttribute:
    """A controllable attribute: the scorer's metadata plus the values seen while fitting (where E_k is reliable)."""

    name: str
    kind: str
    low: float
    high: float
    seen_low: float
    seen_high: float

    def check(self, value: float | Sequence[float] | np.ndarray | torch.Tensor, n: int) -> torch.Tensor:
        """One value, or one per code, as a float tensor [n]; GanlensError naming a bad value and the range."""
        v = torch.as_tensor(np.asarray(value, dtype=np.float32)).reshape(-1)
        if len(v) == 1:
            v = v.expand(n)
        if len(v) != n:
            raise GanlensError(f"{self.name}: got {len(v)} values for {n} codes (give one value, or one per code)")
        bad = ~torch.isfinite(v)
        if self.kind == "continuous":
            bad |= (v < self.low) | (v > self.high)
        if bad.any():
            x = float(v[bad][0])
            raise GanlensError(f"{self.name}={x:g} is out of range: {self.name} takes values in "
                               f"[{self.low:g}, {self.high:g}]" if np.isfinite(x) else f"{self.name}={x} is not finite")
        return v


Target = float | Sequence[float] | np.ndarray | torch.Tensor


def check_targets(attributes: Mapping[str, ControlledAttribute], targets: Mapping[str, Target], n: int
                  ) -> dict[str, torch.Tensor]:
    """{attribute: values [n]} checked against `attributes`; GanlensError names an unknown attribute or bad value."""
    out = {}
    for name, value in targets.items():
        if name not in attributes:
            raise GanlensError(f"unknown attribute {name!r}: these controls know {sorted(attributes)}")
        out[name] = attributes[name].check(value, n)
    return out


class ValueMLP(nn.Module):
    """in → hidden → hidden → out (SiLU), on standardised inputs and outputs (statistics kept as buffers)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, out_dim))
        for name, dim in (("in_mean", in_dim), ("in_std", in_dim), ("out_mean", out_dim), ("out_std", out_dim)):
            self.register_buffer(name, torch.zeros(dim) if "mean" in name else torch.ones(dim))

    def set_stats(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.in_mean.copy_(x.mean(0))
        self.in_std.copy_(x.std(0).clamp(min=1e-6))
        self.out_mean.copy_(y.mean(0))
        self.out_std.copy_(y.std(0).clamp(min=1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.in_mean) / self.in_std) * self.out_std + self.out_mean


def _train_mlp(net: ValueMLP, x: torch.Tensor, y: torch.Tensor, steps: int, batch: int, gen: torch.Generator) -> None:
    """Least squares on standardised targets (so every w dimension counts the same), Adam with a cosine decay."""
    net.set_stats(x, y)
    net.train()
    opt = torch.optim.Adam(net.net.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    yn = (y - net.out_mean) / net.out_std
    for _ in range(steps):
        idx = torch.randint(0, len(x), [min(batch, len(x))], generator=gen)
        pred = net.net((x[idx] - net.in_mean) / net.in_std)
        loss = (pred - yn[idx]).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    net.eval().requires_grad_(False)


def _r2(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Coefficient of determination, pooled over output dimensions."""
    resid = (pred - target).square().sum()
    total = (target - target.mean(0)).square().sum().clamp(min=1e-12)
    return float(1 - resid / total)


class ControlEncoders:
    """Per-attribute encoders (and, on ordinary generators, readers) plus what they were fitted on."""

    def __init__(self, attributes: Sequence[ControlledAttribute], encoders: Mapping[str, ValueMLP],
                 readers: Mapping[str, ValueMLP] | None, model: str, split: bool, meta: dict | None = None) -> None:
        self.attributes = {a.name: a for a in attributes}
        self.encoders = dict(encoders)
        self.readers = dict(readers or {})
        self.model, self.split, self.meta = model, split, dict(meta or {})
        if not split and set(self.readers) != set(self.encoders):
            raise GanlensError("encoders for an ordinary generator need one reader per attribute")

    def __repr__(self) -> str:
        kind = "sub-vector" if self.split else "w"
        return f"ControlEncoders(model={self.model!r}, target={kind}, attributes={list(self.attributes)})"

    def check_targets(self, targets: Mapping[str, Target], n: int) -> dict[str, torch.Tensor]:
        """Validated {attribute: values [n]}; GanlensError for an unknown attribute or a value out of range."""
        return check_targets(self.attributes, targets, n)

    @torch.no_grad()
    def apply(self, G, w: torch.Tensor, targets: Mapping[str, Target]) -> torch.Tensor:
        """Codes w [n, w_dim] with every attribute in `targets` set to its value (others left as they are).

        Args:
            G: the generator the encoders were fitted on (a split model's sub-vectors are looked up on it).
            w: codes [n, w_dim].
            targets: {attribute: one value, or one value per code}.
        Raises:
            GanlensError: unknown attribute, value out of range, or a generator that does not match the fit.
        """
        targets = self.check_targets(targets, len(w))
        w = w.to(torch.float32)
        if self.split:
            if not isinstance(G, SplitGenerator):
                raise GanlensError(f"these encoders target the sub-vectors of a split model ({self.model!r}); "
                                   f"{G.name!r} is an ordinary generator")
            t = G.mapping.subvectors(w)
            mask = torch.zeros(t.shape[1], dtype=torch.bool)
            for name, value in targets.items():
                k = G.index(name)
                t[:, k] = self.encoders[name](value[:, None])[:, 0]
                mask[k] = True
            return G.mapping.with_subvectors(w, t, mask)
        for name, value in targets.items():
            enc = self.encoders[name]
            # Apply one attribute after the other: each reader sees the code as the earlier moves left it.
            current = self.readers[name](w)
            w = w + enc(value[:, None]) - enc(current)
        return w

    @torch.no_grad()
    def read(self, name: str, w: torch.Tensor) -> torch.Tensor:
        """The reader's estimate of attribute `name` for codes w [n, w_dim] (ordinary generators only)."""
        if name not in self.readers:
            raise GanlensError(f"no reader for {name!r} (readers exist for ordinary generators: {sorted(self.readers)})")
        return self.readers[name](w.to(torch.float32))[:, 0]

    def save(self, path: str | Path) -> Path:
        """One safetensors file with a JSON header (atomic)."""
        state = {}
        for group, nets in (("enc", self.encoders), ("read", self.readers)):
            for name, net in nets.items():
                state.update({f"{group}.{name}.{k}": v.detach().cpu().contiguous() for k, v in net.state_dict().items()})
        dims = {name: [net.net[0].in_features, net.net[-1].out_features, net.net[0].out_features]
                for name, net in {**{f"enc.{k}": v for k, v in self.encoders.items()},
                                  **{f"read.{k}": v for k, v in self.readers.items()}}.items()}
        doc = {"format": FORMAT, "version": FORMAT_VERSION, "model": self.model, "split": self.split,
               "attributes": [asdict(a) for a in self.attributes.values()], "dims": dims, "meta": self.meta}
        return write_tensor_file(path, state, doc)

    @classmethod
    def load(cls, path: str | Path) -> ControlEncoders:
        """Read what `save` wrote."""
        doc, state = read_tensor_file(path, FORMAT, "ganlens.control_encoders file", max_version=FORMAT_VERSION)
        nets: dict[str, dict[str, ValueMLP]] = {"enc": {}, "read": {}}
        for key, (i, o, h) in doc["dims"].items():
            group, name = key.split(".", 1)
            net = ValueMLP(i, o, h)
            prefix = f"{key}."
            net.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}, strict=True)
            nets[group][name] = net.eval().requires_grad_(False)
        attrs = [ControlledAttribute(**a) for a in doc["attributes"]]
        return cls(attrs, nets["enc"], nets["read"], doc["model"], doc["split"], doc.get("meta"))


def sample_and_score(
    G, scorer: Scorer, num_samples: int, seed: int = 0, truncation_psi: float = 1.0,
    render: Callable | None = None, batch_size: int = 64,
) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
    """Codes w [n, w_dim] drawn from G and the scorer's reading of their images (render: code → uint8 NHWC)."""
    code = G.sample(num_samples, seed=seed, truncation_psi=truncation_psi, space="w")
    render = render or G.render
    scores: dict[str, list[np.ndarray]] = {}
    for i in range(0, num_samples, batch_size):
        for k, v in scorer(render(code[i : i + batch_size])).items():
            scores.setdefault(k, []).append(v)
    return code.tensor.float().cpu(), {k: np.concatenate(v) for k, v in scores.items()}


def fit_from_samples(
    w: torch.Tensor, scores: Mapping[str, np.ndarray], attributes: Sequence[AttributeInfo], model: str,
    subvectors: torch.Tensor | None = None, steps: int = 1500, hidden: int = 64, seed: int = 0,
    val_fraction: float = 0.15, meta: dict | None = None,
) -> ControlEncoders:
    """Train E_k (and R_k) from codes w [n, w_dim] and their scores.

    Args:
        subvectors: for a split model, its attribute sub-vectors t [n, N] (column k belongs to attributes[k]);
            None for an ordinary generator (E_k then predicts w, and a reader is trained too).
        val_fraction: held out to report each network's R² in `meta["fit"]`.
    Raises:
        GanlensError: an attribute without scores, or too few samples.
    """
    n = len(w)
    if n < 20:
        raise GanlensError(f"fitting control encoders needs at least 20 samples, got {n}")
    missing = [a.name for a in attributes if a.name not in scores]
    if missing:
        raise GanlensError(f"no scores for {missing}; the scorer gave {sorted(scores)}")
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=gen)
    n_val = max(1, int(n * val_fraction))
    val, train = perm[:n_val], perm[n_val:]
    w = w.to(torch.float32)
    encoders, readers, attrs, report = {}, {}, [], {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # weight initialisation, so a fit is reproducible
        for k, info in enumerate(attributes):
            y = torch.as_tensor(np.asarray(scores[info.name]), dtype=torch.float32)[:, None]
            target = w if subvectors is None else subvectors[:, k : k + 1].to(torch.float32)
            enc = ValueMLP(1, target.shape[1], hidden)
            _train_mlp(enc, y[train], target[train], steps, 256, gen)
            encoders[info.name] = enc
            report[info.name] = {"encoder_val_r2": _r2(enc(y[val]), target[val])}
            if subvectors is None:
                rd = ValueMLP(w.shape[1], 1, hidden)
                _train_mlp(rd, w[train], y[train], steps, 256, gen)
                readers[info.name] = rd
                report[info.name]["reader_val_r2"] = _r2(rd(w[val]), y[val])
            lo, hi = np.quantile(y.numpy(), [0.005, 0.995])
            attrs.append(ControlledAttribute(info.name, info.kind, float(info.low), float(info.high), float(lo), float(hi)))
    meta = dict(meta or {}, fit={"num_samples": n, "val_samples": n_val, "steps": steps, "seed": seed, **report})
    return ControlEncoders(attrs, encoders, readers if subvectors is None else None, model, subvectors is not None, meta)


def fit(
    G, scorer: Scorer, attributes: Sequence[str], num_samples: int = 3000, seed: int = 0,
    truncation_psi: float = 1.0, steps: int = 1500, hidden: int = 64, render: Callable | None = None,
) -> ControlEncoders:
    """Fit control encoders for `attributes` of `G` from `num_samples` sampled codes scored by `scorer`.

    Args:
        G: any generator (a `SplitGenerator` gets sub-vector encoders, others W encoders plus readers).
        scorer: reads the attributes from images.
        attributes: names among `scorer.names`.
        render: code → uint8 images (default `G.render`; pass a faster one, e.g. under bf16 autocast).
    Raises:
        GanlensError: an attribute the scorer does not know, or one a split model has no sub-vector for.
    """
    unknown = [a for a in attributes if a not in scorer.names]
    if unknown or not attributes:
        raise GanlensError(f"cannot control {unknown or list(attributes)}: the scorer knows {list(scorer.names)}")
    w, scores = sample_and_score(G, scorer, num_samples, seed, truncation_psi, render)
    subvectors = None
    if isinstance(G, SplitGenerator):
        idx = [G.index(a) for a in attributes]
        subvectors = G.mapping.subvectors(w.to(G.device)).cpu()[:, idx]
    meta = {"scorer": repr(scorer), "truncation_psi": truncation_psi, "sample_seed": seed}
    return fit_from_samples(w, scores, [scorer.info(a) for a in attributes], G.name, subvectors, steps, hidden,
                            seed, meta=meta)
