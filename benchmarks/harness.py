"""What the benchmarks share: where the repository is, the settings several of them measure with, and how a result
is written with the provenance of the run that produced it.

The scripts import it by name (`from harness import ROOT, write_result`): `python benchmarks/NAME.py` puts
benchmarks/ on sys.path. torch and ganlens are imported inside the functions that need them, so that scripts which
only want ROOT (campaign.py, recipe_probes.py's `run`) start without them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ganlens.models import Generator

ROOT = Path(__file__).resolve().parent.parent

# Issue 4's conditional-manipulation bar, as conditional_ascent.py, guarded_ascent.py, predictor_shortcuts.py and
# semantics.py measure it: (target, condition) pairs that the synthfaces domain correlates, the latent distance a
# per-sample climb travels (the issue's +3), and the condition's change (in spreads) below which there is nothing
# to cut, or no shortcut worth the name.
PAIRS = [("glasses", "age"), ("smile", "age"), ("beard", "hair_length")]
DISTANCE = 3.0
NOTHING_TO_CUT = 0.1

# Predictors trained apart from the bundled ones, used only to judge edits (their commands: train_predictor.py).
CHECK = ROOT / "results" / "check_predictor" / "synthfaces64-check.safetensors"
THIRD = ROOT / "results" / "third_predictor" / "synthfaces64-third.safetensors"
INDEPENDENT_2 = ROOT / "results" / "independent_predictor_2" / "synthfaces64-independent-2.safetensors"


def _git(*args: str) -> str | None:
    """A git command's output in the repository; None without git or outside a clone (a bare copy of the tree)."""
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def _tree_state() -> dict[str, str | bool | None]:
    head, status = _git("rev-parse", "HEAD"), _git("status", "--porcelain")
    return {"commit": head.strip() if head else None, "dirty": None if status is None else bool(status.strip())}


# Read when the benchmark starts, not when it writes: by then its own outputs (the result, figures under docs/)
# have made the tree dirty.
_AT_START = _tree_state()


def generator_hash(source: str | Path | Generator) -> str | None:
    """SHA-256 of the checkpoint file a generator was loaded from.

    Args:
        source: a bundled model's name (its file under the package's assets), a checkpoint path, or a loaded
            Generator whose provenance records its file's hash (NVIDIA and rosinality imports do; ganlens' own
            files do not, so pass the name or path they were loaded from).
    Returns:
        The hex digest, or None for a bundled model built in code (random-tiny), which has no file.
    Raises:
        ValueError: a Generator that does not record its file's hash.
        FileNotFoundError: no such checkpoint file.
    """
    from ganlens.bundled import generator_file
    from ganlens.models import Generator
    from ganlens.models.registry import BUNDLED

    if isinstance(source, Generator):
        digest = source.provenance.get("source_sha256")
        if digest is None:
            raise ValueError(f"generator {source.name!r} does not record its file's hash; pass the name or path "
                             "it was loaded from")
        return digest
    if str(source) in BUNDLED:
        path = generator_file(str(source))
        if not path.exists():  # built in code (random-tiny): there is no file to hash
            return None
    else:
        path = Path(source).expanduser()
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


FEATURE_CACHE = ROOT / "runs" / "cache" / "fid"


def cached_features(net, images: np.ndarray, cache_dir: Path = FEATURE_CACHE) -> np.ndarray:
    """Inception features (`net`: `ganlens.metrics.fid.InceptionFeatures`) of `images`, reused when the same network
    has seen the same bytes before (cached under runs/cache/fid)."""
    key = hashlib.sha1(net.source.encode() + images.tobytes()).hexdigest()[:20]
    entry = cache_dir / f"{key}.npy"
    if entry.exists():
        print(f"inception features of {len(images)} renders taken from {entry}")
        return np.load(entry).astype(np.float64)
    feats = net(images, progress=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = entry.with_suffix(".tmp.npy")
    np.save(tmp, feats.astype(np.float32))
    tmp.replace(entry)
    return feats


def provenance(generators: Iterable[str | Path | Generator] = ()) -> dict:
    """What produced a result: the commit and whether the working tree differed from it when the run started, the
    command, the machine, when it was written, and the checkpoint hash of each of `generators` (`generator_hash`)."""
    import torch

    from ganlens.models.precision import cpu_model

    return {
        **_AT_START,
        "command": shlex.join([sys.executable, *sys.argv]),
        "machine": {"cpu_count": os.cpu_count(), "cpu": cpu_model(),
                    "cpu_capability": torch.backends.cpu.get_cpu_capability(), "platform": platform.platform(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"},
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "generators": {str(g) if isinstance(g, (str, Path)) else g.name: generator_hash(g) for g in generators},
    }


def write_result(path: str | Path, doc: dict, generators: Iterable[str | Path | Generator] = (),
                 parts: Iterable[str] = ()) -> Path:
    """Set doc["provenance"] to this run's `provenance(generators)` and write doc atomically as JSON.

    A script whose runs each update some parts of one file (model_quality.py, inversion.py, recipe_probes.py) names
    the parts this run wrote: each is stamped in doc["provenance_by_part"] as well, so the parts an earlier run
    wrote keep that run's provenance. Returns the path written.
    """
    from ganlens.io import atomic_write_json

    earlier = doc.get("provenance")
    doc["provenance"] = provenance(generators)
    if parts and earlier and "provenance_by_part" not in doc:
        # The parts this run does not rewrite keep the record of the run(s) that wrote them.
        doc["provenance_by_part"] = {"earlier": earlier}
    for part in parts:
        doc.setdefault("provenance_by_part", {})[part] = doc["provenance"]
    return atomic_write_json(path, doc)


def device_label(device: str) -> str:
    """The device a measurement ran on, as the results name it: the CUDA card, or the CPU and torch's threads."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name()
    from ganlens.models.precision import cpu_model

    return f"cpu ({cpu_model()}, {torch.get_num_threads()} threads)"


def arguments(description: str | None, result: str | Path, threads: int = 2) -> argparse.ArgumentParser:
    """A benchmark's argument parser with the options every measurement takes: --threads and --out (the result
    file, `results/<result>` unless a path is given)."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=threads, help="torch threads the measurement runs on")
    out = Path(result) if Path(result).is_absolute() else ROOT / "results" / result
    ap.add_argument("--out", default=str(out), help="where the result (JSON) is written")
    return ap


def factor_error(scorer, clean, restored) -> dict[str, float]:
    """Per factor: flip share (binary) or mean |change| / range (continuous), as the predictor reads both images."""
    a, b = scorer.readable(scorer(clean)), scorer.readable(scorer(restored))
    out = {}
    for name in scorer.names:
        info = scorer.info(name)
        if info.kind == "binary":
            out[name] = float(np.mean((a[name] > 0.5) != (b[name] > 0.5)))
        else:
            out[name] = float(np.mean(np.abs(a[name] - b[name])) / (info.high - info.low))
    return out


def load_measured(model: str, threads: int, precision: str | None = "auto") -> Generator:
    """The generator a measurement runs on, on `threads` torch threads, synthesising at `precision`."""
    import torch

    import ganlens

    torch.set_num_threads(threads)
    G = ganlens.load(model).eval()
    if precision is not None:
        G.precision = precision
    return G


def serve_on_free_port(command: Callable[[int], list[str]], timeout: float,
                       ready: Callable[[dict], bool] = lambda info: True) -> tuple[subprocess.Popen, str]:
    """Start a web server (`command(port)`, its own process group) on a free loopback port; return it and its URL
    once /api/info answers and `ready(info)` holds. Exits naming the command if it dies or stays silent."""
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = command(port)
    proc = subprocess.Popen(cmd, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode}: {' '.join(cmd)}")
        try:
            info = httpx.get(f"{url}/api/info", timeout=5)
            if info.status_code == 200 and ready(info.json()):
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    stop_server(proc)
    raise SystemExit(f"the server did not answer within {timeout:g} s: {' '.join(cmd)}")


def stop_server(proc: subprocess.Popen) -> None:
    """Stop a server started by `serve_on_free_port` (with --ray it removes its deployment and stops its Ray
    cluster), then whatever is left of its process group."""
    import signal

    proc.terminate()
    try:
        proc.wait(180)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(30)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
