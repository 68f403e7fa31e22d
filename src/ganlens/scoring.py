"""Scoring sampled codes with an attribute scorer (InterFaceGAN's first step), and CSV labels for saved codes.

Three sources of scores, one result type (`ScoredCodes`):
- a bundled predictor by name (``'synthfaces64'``);
- any `Scorer`, or a user's Python callable given as ``module:function`` or ``path/to/file.py:function``;
- a CSV of labels for a saved latent file (one row per code, one column per attribute), for users who label
  samples with their own classifiers elsewhere.
Codes are saved as a LatentCode ``.npz`` and scores as a ``.csv`` beside it, the same format the CSV path reads.
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
import inspect
import io
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from .bundled import guard_name
from .errors import GanlensError
from .io.files import atomic_write_bytes
from .latents import LatentCode, check_truncation
from .scorers import AttributeInfo, CallableScorer, Scorer, load_scorer

if TYPE_CHECKING:  # pragma: no cover
    from .models.stylegan2 import Generator
    from .parallel import Executor, Shard


@dataclass
class ScoredCodes:
    """Codes and the scores of their images: ``result.codes``, ``result['smile']`` → [N]."""

    codes: LatentCode
    scores: dict[str, np.ndarray]
    attributes: tuple[AttributeInfo, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for name, v in self.scores.items():
            if np.shape(v) != (len(self.codes),):
                raise GanlensError(f"scores for {name!r} have shape {list(np.shape(v))}; expected [{len(self.codes)}]")

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.scores:
            raise GanlensError(f"no scores for attribute {name!r}; available: {sorted(self.scores)}")
        return self.scores[name]

    @property
    def names(self) -> list[str]:
        return list(self.scores)

    def info(self, name: str) -> AttributeInfo | None:
        """The scorer's description of `name` (None for CSV labels, which carry no kind)."""
        return next((a for a in self.attributes if a.name == name), None)

    def __repr__(self) -> str:
        return f"ScoredCodes({len(self)} {self.codes.space!r} codes, attributes={self.names})"

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write the codes to ``path`` (.npz) and the scores to the ``.csv`` beside it; returns both paths."""
        path = Path(path)
        code = LatentCode(self.codes.space, self.codes.tensor, noise=self.codes.noise, meta=dict(self.codes.meta))
        code.meta["attributes"] = [vars(a) for a in self.attributes]
        code.save(path)
        csv_path = path.with_suffix(".csv")
        write_labels(csv_path, self.scores)
        return path, csv_path


def resolve_scorer(spec: str | Scorer, device: str = "cpu") -> Scorer:
    """A Scorer from a Scorer, a bundled name, or ``module:function`` / ``file.py:function``.

    The named object may be a Scorer, a zero-argument factory returning one, or an image function
    ``fn(uint8 [N, H, W, 3]) -> {name: [N]}`` that declares ``fn.attributes`` (AttributeInfo objects or names of
    continuous attributes).

    Raises:
        GanlensError: the module, file or function cannot be found, or it is not usable as a scorer.
    """
    if isinstance(spec, Scorer):
        return spec
    if not isinstance(spec, str):
        raise GanlensError(f"a scorer must be a Scorer, a bundled name or 'module:function', got {type(spec).__name__}")
    if ":" not in spec:
        return load_scorer(spec, device=device)
    target, _, attr = spec.rpartition(":")
    obj = getattr(_import_target(target, spec), attr, None)
    if obj is None:
        raise GanlensError(f"scorer {spec!r}: {target!r} has no attribute {attr!r}")
    if isinstance(obj, Scorer):
        return obj
    if not callable(obj):
        raise GanlensError(f"scorer {spec!r} is a {type(obj).__name__}, not a Scorer or a function")
    required = [p for p in inspect.signature(obj).parameters.values()
                if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if not required:
        made = obj()
        if not isinstance(made, Scorer):
            raise GanlensError(f"scorer factory {spec!r} returned a {type(made).__name__}, not a Scorer")
        return made
    declared = getattr(obj, "attributes", None)
    if not declared:
        raise GanlensError(
            f"scorer function {spec!r} must declare what it returns, e.g. `{attr}.attributes = ['smile', 'age']` "
            "(or AttributeInfo objects), or be a zero-argument factory returning a Scorer"
        )
    infos = [a if isinstance(a, AttributeInfo) else AttributeInfo(str(a), "continuous") for a in declared]
    return CallableScorer(obj, infos)


def choose_guards(requested: Sequence[str], model_name: str, must_read: Iterable[str],
                  device: str = "cpu") -> list[tuple[str, Scorer]]:
    """The guard predictors of a conditional edit, with their names: the rule the CLI and the web UI share.

    Args:
        requested: guard names; 'auto' is the model's bundled independent predictor (`ganlens.bundled.guard_name`), taken only
            where one is bundled and it reads every attribute in `must_read` (so nothing when that is empty);
            'none' (alone) is no guard; anything else is loaded as `resolve_scorer` reads it and must load.
        must_read: the attributes the guard has to hold (the kept ones, or every one a user may tick).
    Raises:
        GanlensError: 'none' combined with other names, or a named guard that cannot be loaded.
    """
    requested, must_read = list(requested), set(must_read)
    if "none" in requested:
        if len(requested) > 1:
            raise GanlensError(f"guard 'none' cannot be combined with other guards (got {requested})")
        return []
    chosen = []
    for name in requested:
        if name != "auto":
            chosen.append((name, resolve_scorer(name, device=device)))
        elif must_read and (auto := guard_name(model_name)) is not None:
            guard = resolve_scorer(auto, device=device)
            if must_read <= set(guard.names):
                chosen.append((auto, guard))
    return chosen


def _import_target(target: str, spec: str) -> ModuleType:
    path = Path(target)
    if target.endswith(".py"):
        if not path.exists():
            raise GanlensError(f"scorer {spec!r}: file {path} not found")
        mod_spec = importlib.util.spec_from_file_location(f"_ganlens_user_scorer_{path.stem}", path)
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
        return module
    if "" not in sys.path and "." not in sys.path:  # like `python -m`, let a user's scorer in the cwd be found
        sys.path.insert(0, "")
    try:
        return importlib.import_module(target)
    except ImportError as exc:
        raise GanlensError(f"scorer {spec!r}: cannot import module {target!r} ({exc})") from exc


def sample_codes(G: Generator, n: int, seed: int = 0, space: str = "w", truncation_psi: float = 1.0,
                 block: int = 64) -> LatentCode:
    """n codes from `seed` exactly as `G.sample` draws them (one NumPy z stream), mapped `block` rows at a time.

    Mapping in blocks keeps memory flat for large n, and is what lets a job split by index reproduce the codes bit
    for bit: a shard that starts at a multiple of `block` continues the same z stream (`stream_states`) and maps the
    same blocks.
    """
    G.check_space(space)
    check_truncation(space, truncation_psi)
    meta = {"seed": seed} if space == "z" else {"seed": seed, "truncation_psi": truncation_psi}
    return LatentCode(space, _draw_codes(G, np.random.default_rng(seed), n, space, truncation_psi, block), meta=meta)


@torch.no_grad()
def _draw_codes(G: Generator, rng: np.random.Generator, count: int, space: str, truncation_psi: float,
                block: int) -> torch.Tensor:
    """The next `count` codes of the z stream `rng`, mapped into `space` in blocks of `block` rows."""
    parts = []
    for i in range(0, count, block):
        # The same float64 draws, in the same order, as `seeded_normal([n, z_dim], seed)`: a block continues the stream.
        z = torch.from_numpy(rng.standard_normal(size=(min(block, count - i), G.z_dim)).astype(np.float32)).to(G.device)
        if space == "z":
            parts.append(z)
        elif space == "w":
            parts.append(G.mapping(z, truncation_psi=truncation_psi, truncation_cutoff=G.num_ws)[:, 0])
        else:
            parts.append(G.mapping(z, truncation_psi=truncation_psi))
    return torch.cat(parts) if parts else torch.empty(0, G.z_dim)


def stream_states(seed: int, z_dim: int, starts: Iterable[int]) -> Iterator[tuple[int, dict]]:
    """(start, state of the z stream of `seed` at code `start`) for increasing `starts`: a worker that sets its
    generator to the state draws exactly the codes [start, ...) of the single-process stream.

    NumPy's normal sampler uses a varying number of random words per value, so the stream cannot jump; walking it
    costs about a second per 64 M values (500,000 codes of 128), once, on the driver.
    """
    rng = np.random.default_rng(seed)
    pos = 0
    for start in starts:
        if start < pos:
            raise GanlensError(f"stream positions must increase, got {start} after {pos}")
        left = (start - pos) * z_dim
        while left:
            step = min(left, 1 << 22)
            rng.standard_normal(size=step)
            left -= step
        pos = start
        yield start, rng.bit_generator.state


@torch.no_grad()
def score(
    G: Generator,
    codes_or_n: LatentCode | int,
    scorer: str | Scorer,
    *,
    seed: int = 0,
    space: str = "w",
    truncation_psi: float = 1.0,
    batch_size: int = 64,
    noise_mode: str = "const",
    progress: bool = False,
    precision: str | None = None,
    executor: Executor | str | None = None,
    work_dir: str | Path | None = None,
    shard_size: int | None = None,
    fresh: bool = False,
    on_shard: Callable[[Shard, dict], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> ScoredCodes:
    """Synthesise and score codes in batches, in this process or split into shards (on Ray, resumable).

    Args:
        G: the generator.
        codes_or_n: codes to score, or how many to sample (seeded by `seed`, in `space`; see `sample_codes`).
        scorer: a Scorer, a bundled scorer name, or 'module:function'.
        seed: z seed when sampling.
        space: 'z', 'w' or 'w+' for sampled codes.
        truncation_psi: truncation for sampled W / W+ codes.
        batch_size: images synthesised and scored at once.
        noise_mode: the generator's noise mode.
        progress: show a tqdm bar (over all shards when sharded).
        precision: synthesis precision, 'fp32', 'bf16' or 'auto' (see `Generator.synthesize`; None: the
            generator's). 'auto' is resolved here, once, so every shard of a sharded job uses the same one.
        executor: None (with no `work_dir`): the plain loop in this process, no shards. Otherwise the job is split
            into shards of consecutive indices run by this executor (`ganlens.parallel.resolve_executor`: an
            Executor, 'inprocess', 'ray' for a local Ray, or a Ray address such as 'auto' or 'ray://host:10001').
            The codes and scores are bit-for-bit those of the plain loop.
        work_dir: keep finished shards here (a manifest and one atomic file per shard) and resume from them; the
            folder stays after the merge (the caller removes it once the result is saved).
        shard_size: codes per shard, rounded up to a multiple of `batch_size` (default: about four shards per
            worker, at most 4096 codes).
        fresh: clear a `work_dir` that holds another job's shards instead of refusing it.
        on_shard: called on the driver as each shard is finished and written, with the shard and
            {'seconds', 'pid'} (the worker's compute time and process id).
        log: where to say that a job resumes (None: nowhere).
    Returns:
        ScoredCodes with scores for every attribute of the scorer.
    Raises:
        GanlensError: bad count or codes; for a sharded job also Ray missing or unreachable, a `work_dir` holding
            another job, or a shard that failed on its worker.
    """
    scorer = resolve_scorer(scorer)
    if precision == "auto":
        precision = G.resolve_precision(precision)
    if isinstance(codes_or_n, LatentCode):
        codes = codes_or_n
    elif isinstance(codes_or_n, (int, np.integer)) and not isinstance(codes_or_n, bool) and codes_or_n > 0:
        if executor is not None or work_dir is not None:
            return _score_sharded(G, int(codes_or_n), scorer, seed, space, truncation_psi, batch_size, noise_mode,
                                  progress, precision, executor, work_dir, shard_size, fresh, on_shard, log)
        codes = sample_codes(G, int(codes_or_n), seed=seed, space=space, truncation_psi=truncation_psi,
                             block=batch_size)
        codes.meta["model"] = getattr(G, "name", None)
    else:
        raise GanlensError(f"codes_or_n must be a LatentCode or a positive count, got {codes_or_n!r}")
    codes.validate_for(G)
    if executor is not None or work_dir is not None:
        return _score_sharded(G, codes, scorer, seed, space, truncation_psi, batch_size, noise_mode, progress,
                              precision, executor, work_dir, shard_size, fresh, on_shard, log)
    parts: list[dict[str, np.ndarray]] = []
    with tqdm(total=len(codes), desc="scoring", unit="img", disable=not progress) as bar:
        for start in range(0, len(codes), batch_size):
            chunk = codes[start : start + batch_size]
            parts.append(_score_chunk(G, scorer, chunk, noise_mode, batch_size, precision))
            bar.update(len(chunk))
    scores = {a: np.concatenate([p[a] for p in parts]).astype(np.float32) for a in scorer.names}
    return ScoredCodes(codes, scores, tuple(scorer.attributes))


def _score_chunk(G: Generator, scorer: Scorer, chunk: LatentCode, noise_mode: str, batch_size: int,
                 precision: str | None) -> dict[str, np.ndarray]:
    """One batch's scores: the single-process loop and every shard worker run exactly this."""
    # Score the picture a user sees: generator output clipped to the image range, as in `G.render`.
    images = G.synthesize(chunk, noise_mode=noise_mode, batch_size=batch_size, precision=precision).clamp(-1, 1)
    return scorer(images)


class _ScoreWorker:
    """A shard worker: holds the generator and scorer, scores codes [start, stop) in the single-process batches."""

    def __init__(self, G: Generator, scorer: Scorer, space: str, truncation_psi: float, batch_size: int,
                 noise_mode: str, precision: str | None) -> None:
        self.G, self.scorer, self.space, self.psi = G, scorer, space, truncation_psi
        self.batch_size, self.noise_mode, self.precision = batch_size, noise_mode, precision

    @torch.no_grad()
    def __call__(self, item: tuple[Shard, object]) -> dict:
        import os
        import time

        t0 = time.perf_counter()
        shard, source = item
        if isinstance(source, LatentCode):  # given codes: the shard's slice travelled with the item
            codes, sampled = source, None
        else:  # a z stream state: draw this shard's codes as the single-process stream would
            rng = np.random.default_rng()
            rng.bit_generator.state = source
            sampled = _draw_codes(self.G, rng, len(shard), self.space, self.psi, self.batch_size)
            codes = LatentCode(self.space, sampled)
        parts = [_score_chunk(self.G, self.scorer, codes[i : i + self.batch_size], self.noise_mode, self.batch_size,
                              self.precision) for i in range(0, len(codes), self.batch_size)]
        out = {f"score.{a}": np.concatenate([p[a] for p in parts]).astype(np.float32) for a in self.scorer.names}
        if sampled is not None:
            out["codes"] = sampled.cpu().numpy()
        return {"arrays": out, "seconds": time.perf_counter() - t0, "pid": os.getpid()}


def _score_sharded(G, codes_or_n, scorer, seed, space, psi, batch_size, noise_mode, progress, precision, executor,
                   work_dir, shard_size, fresh, on_shard, log) -> ScoredCodes:
    """`score` split by index into shards run by `executor`, optionally kept in `work_dir` (see `score`)."""
    from functools import partial

    from .parallel import Executor, ShardStore, default_shard_size, digest, plan_shards, resolve_executor

    sampled = not isinstance(codes_or_n, LatentCode)
    if sampled:
        G.check_space(space)
        check_truncation(space, psi)
        n = codes_or_n
    else:
        n = len(codes_or_n)
    owned = not isinstance(executor, Executor)
    ex = resolve_executor(executor)
    try:
        ex.connect()
        plan = plan_shards(n, shard_size or default_shard_size(n, ex.workers, batch_size), batch_size)
        job = {"job": "score", "model": getattr(G, "name", None), "model_digest": digest(G),
               "scorer": repr(scorer), "scorer_digest": digest(scorer), "n": n, "batch_size": batch_size,
               "noise_mode": noise_mode, "precision": precision}
        job |= ({"seed": seed, "space": space, "truncation_psi": psi} if sampled
                else {"codes_digest": digest(codes_or_n.tensor, codes_or_n.noise)})
        store = ShardStore(work_dir, job, plan, fresh=fresh) if work_dir is not None else None
        shards = store.shards if store else plan
        pending = store.pending() if store else plan
        if store and store.done and log:
            log(f"resuming: {len(store.done)} of {len(shards)} shards already finished in {store.folder}")
        if sampled:
            states = dict(stream_states(seed, G.z_dim, [s.start for s in pending]))  # small: one dict per shard
            items = ((s, states[s.start]) for s in pending)
        else:
            items = ((s, codes_or_n[s.start : s.stop]) for s in pending)
        make_worker = partial(_ScoreWorker, G, scorer, space, psi, batch_size, noise_mode, precision)
        kept: dict[int, dict[str, np.ndarray]] = {}
        desc = f"scoring ({len(shards)} shards, {ex.describe()})"
        with tqdm(total=n, initial=store.done_items() if store else 0, desc=desc, unit="img",
                  disable=not progress) as bar:
            for (shard, _), result in ex.run(make_worker, items):
                info = {"seconds": round(result["seconds"], 4), "pid": result["pid"]}
                if store:
                    store.save(shard, result["arrays"], info)
                else:
                    kept[shard.index] = result["arrays"]
                bar.update(len(shard))
                if on_shard:
                    on_shard(shard, info)
    finally:
        if owned:
            ex.close()
    parts = [store.load(s) if store else kept[s.index] for s in shards]
    scores = {a: np.concatenate([p[f"score.{a}"] for p in parts]).astype(np.float32) for a in scorer.names}
    if not sampled:
        return ScoredCodes(codes_or_n, scores, tuple(scorer.attributes))
    meta = {"seed": seed} if space == "z" else {"seed": seed, "truncation_psi": psi}
    codes = LatentCode(space, torch.from_numpy(np.concatenate([p["codes"] for p in parts])), meta=meta)
    codes.meta["model"] = getattr(G, "name", None)
    return ScoredCodes(codes, scores, tuple(scorer.attributes))


def write_labels(path: str | Path, scores: dict[str, np.ndarray]) -> Path:
    """Write scores as CSV: a header of attribute names, then one row per code."""
    names = list(scores)
    cols = [np.asarray(scores[n]).reshape(-1) for n in names]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    for row in zip(*cols):
        writer.writerow([f"{float(v):.7g}" for v in row])
    return atomic_write_bytes(path, buf.getvalue().encode())


def read_labels(path: str | Path, num_codes: int | None = None, latents_name: str = "the latent file") -> dict[str, np.ndarray]:
    """Read a labels CSV (header row of attribute names, one numeric row per code; empty or 'nan' = unlabelled).

    Args:
        path: the CSV file.
        num_codes: the number of codes the labels must match (None: no check).
        latents_name: the latent file's name for messages.
    Raises:
        GanlensError: missing file, no header, ragged or non-numeric rows, or a row count that differs from
            `num_codes`.
    """
    path = Path(path)
    if not path.exists():
        raise GanlensError(f"labels file not found: {path}")
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if any(cell.strip() for cell in r)]
    if not rows:
        raise GanlensError(f"{path} is empty; expected a header row of attribute names and one row per code")
    header = [h.strip() for h in rows[0]]
    if any(not h for h in header) or len(set(header)) != len(header):
        raise GanlensError(f"{path}: the header must name every column once, got {header}")
    data = rows[1:]
    if num_codes is not None and len(data) != num_codes:
        raise GanlensError(
            f"{path} has {len(data)} label rows but {latents_name} holds {num_codes} codes; "
            "give exactly one row per code, in the same order"
        )
    out = np.full((len(data), len(header)), np.nan, dtype=np.float64)
    for i, row in enumerate(data):
        if len(row) != len(header):
            raise GanlensError(f"{path}, data row {i + 1}: {len(row)} values for {len(header)} columns")
        for j, cell in enumerate(row):
            cell = cell.strip()
            if cell == "" or cell.lower() == "nan":
                continue
            try:
                out[i, j] = float(cell)
            except ValueError:
                raise GanlensError(f"{path}, data row {i + 1}, column {header[j]!r}: {cell!r} is not a number") from None
    return {name: out[:, j] for j, name in enumerate(header)}


def load_scored(latents: str | Path, labels: str | Path | None = None, G: Generator | None = None) -> ScoredCodes:
    """Codes from a latent file plus their labels (default: the ``.csv`` beside it), row counts checked; with `G`,
    the codes' shape is checked against that generator too."""
    latents = Path(latents)
    codes = LatentCode.load(latents, G)
    labels = Path(labels) if labels is not None else latents.with_suffix(".csv")
    scores = read_labels(labels, len(codes), latents_name=str(latents))
    attrs = tuple(AttributeInfo(**a) for a in codes.meta.get("attributes", []) if a.get("name") in scores)
    return ScoredCodes(codes, scores, attrs)
