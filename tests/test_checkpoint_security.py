"""Malicious and broken checkpoints: every one is refused with a clear error and no payload ever runs.

Each corpus entry is a file whose payload would create a sentinel file if unpickled naively. The test loads
it through `ganlens.load`, checks the error (UnsafeCheckpointError naming the global, or CheckpointError), checks
the sentinel does not exist, and then — to prove the payload is live — loads it the naive way (plain pickle with
NVIDIA's entry points, or ``torch.load(weights_only=False)``) and checks the sentinel does appear.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import os
import pickle
import shlex
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

import reference_nvidia as RN
import reference_rosinality as RR
from ganlens import load
from ganlens.errors import CheckpointError, UnsafeCheckpointError


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The tensors here are tiny: intra-op threads only add contention on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Reduce:
    """Pickles as ``func(*args)``: the classic code-execution payload."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    state = None

    def with_state(self, state) -> "Reduce":
        """Also BUILD `state` into the result (pickle's third reduce element)."""
        self.state = state
        return self

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


class Sneaky:
    """A harmless custom class: torch's weights-only loader must still refuse to import it."""


def _touch_cmd(sentinel: Path) -> str:
    return f"touch {shlex.quote(str(sentinel))}"


def _create_code(sentinel: Path) -> str:
    return f"open({str(sentinel)!r}, 'w').close()"


def _naive_pickle_load(data: bytes):
    """What NVIDIA's loader does, minus its exec of module_src: every global resolves."""

    class Naive(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ("torch_utils.persistence", "_reconstruct_persistent_obj"):
                return lambda meta: meta
            if module.startswith("dnnlib"):
                return dict
            return super().find_class(module, name)

    return Naive(io.BytesIO(data)).load()


def _naive_torch_load(data: bytes):
    return torch.load(io.BytesIO(data), weights_only=False)


@dataclass
class Case:
    name: str
    suffix: str
    build: Callable[[Path, Path], bytes]  # (sentinel, workdir) -> file content
    error: type[Exception] = UnsafeCheckpointError
    match: str = ""
    naive: Callable[[bytes], object] | None = _naive_pickle_load  # None: nothing would run anyway


def _pkl(obj, protocol: int = 4) -> bytes:
    buf = io.BytesIO()
    with RN.nvidia_modules():
        pickle.dump(obj, buf, protocol=protocol)
    return buf.getvalue()


def _torch_bytes(obj, legacy: bool = False) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def _tiny_snapshot(**extra) -> dict:
    G = RN.make_generator(16, seed=0, channel_base=64, channel_max=8)
    snap = RN.snapshot(G, RN.make_discriminator(16, channel_base=64, channel_max=8), G, 16, with_augment=False)
    snap.update(extra)
    return snap


def _ros_state() -> dict:
    return RR.make_generator(16, channels={4: 8, 8: 8, 16: 8}).state_dict()


def _in_network_state(s, _):
    snap = _tiny_snapshot()
    snap["G_ema"].synthesis.b8.evil = Reduce(os.system, (_touch_cmd(s),))  # a plain attribute → in __dict__
    return _pkl(snap, protocol=3)


def _in_init_kwargs(s, _):
    snap = _tiny_snapshot()
    snap["G_ema"]._init_kwargs["synthesis_kwargs"]["evil"] = Reduce(subprocess.Popen, (["touch", str(s)],))
    return _pkl(snap)


def _as_buffer(s, _):
    snap = _tiny_snapshot()
    snap["G_ema"].mapping._buffers["w_avg"] = Reduce(eval, (_create_code(s),))
    return _pkl(snap)


def _evil_module(s, workdir):
    name = f"ganlens_evil_{uuid.uuid4().hex[:8]}"
    (workdir / f"{name}.py").write_text(_create_code(s) + "\n")
    return f"cbuiltins\n__import__\n(S'{name}'\ntR.".encode()


CASES = [
    Case("os.system (protocol 0, GLOBAL)", ".pkl",
         lambda s, _: f"cos\nsystem\n(S'{_touch_cmd(s)}'\ntR.".encode(), match="os.system"),
    Case("posix.system via __reduce__", ".pkl", lambda s, _: _pkl(Reduce(os.system, (_touch_cmd(s),))),
         match="posix.system"),
    Case("subprocess.Popen", ".pkl", lambda s, _: _pkl(Reduce(subprocess.Popen, (["touch", str(s)],))),
         match="subprocess.Popen"),
    Case("builtins.eval", ".pkl", lambda s, _: _pkl(Reduce(eval, (_create_code(s),))), match="builtins.eval"),
    Case("__builtin__.exec (protocol 2 spelling)", ".pkl",
         lambda s, _: _pkl(Reduce(exec, (_create_code(s),)), protocol=2), match="__builtin__.exec"),
    Case("builtins.getattr chain", ".pkl",
         lambda s, _: ("cbuiltins\ngetattr\n(cbuiltins\n__import__\n(S'os'\ntRS'system'\ntR"
                       f"(S'{_touch_cmd(s)}'\ntR.").encode(), match="builtins.getattr"),
    Case("builtins.__import__ of a module with side effects", ".pkl", _evil_module, match="builtins.__import__"),
    Case("functools.partial around os.system", ".pkl",
         lambda s, _: _pkl(Reduce(functools.partial(os.system, _touch_cmd(s)), ())), match="functools.partial"),
    Case("nested pickle.loads", ".pkl",
         lambda s, _: _pkl(Reduce(pickle.loads, (pickle.dumps(Reduce(os.system, (_touch_cmd(s),))),))),
         match="loads"),
    Case("unlisted torch function (torch.save writes a file)", ".pkl",
         lambda s, _: _pkl(Reduce(torch.save, ({"x": 1}, str(s)))), match="torch.serialization.save"),
    Case("payload inside a storage's _load_from_bytes stream", ".pkl",
         lambda s, _: _pkl(Reduce(torch.storage._load_from_bytes,
                                  (pickle.dumps(Reduce(os.system, (_touch_cmd(s),)), protocol=2),))),
         match="storage"),
    Case("payload nested in the snapshot dict", ".pkl",
         lambda s, _: _pkl(_tiny_snapshot(extra={"deep": [(1, {"x": Reduce(os.system, (_touch_cmd(s),))})]})),
         match="posix.system"),
    Case("payload as the augment_pipe entry", ".pkl",
         lambda s, _: _pkl(_tiny_snapshot(augment_pipe=Reduce(os.system, (_touch_cmd(s),)))), match="posix.system"),
    Case("payload in a network's state (__dict__)", ".pkl", _in_network_state, match="posix.system"),
    Case("payload in _init_kwargs", ".pkl", _in_init_kwargs, match="subprocess.Popen"),
    Case("payload in place of a buffer", ".pkl", _as_buffer, match="builtins.eval"),
    Case("BUILD on an OrderedDict (attribute injection)", ".pkl",
         lambda s, _: b"\x80\x02ccollections\nOrderedDict\n)R}X\x09\x00\x00\x00__class__Nsb.",
         match="BUILD", naive=None),
    Case("NumPy dtype state claiming to hold objects (memory-corruption vector)", ".pkl",
         lambda s, _: _pkl(Reduce(np.dtype, ("V8", False, True)).with_state((3, "|", None, None, None, 8, 1, 63))),
         match="dtype", naive=None),
    Case("NumPy object array", ".pkl", lambda s, _: _pkl(np.array([None, 1], dtype=object)), match="object dtype",
         naive=None),
    Case("torch.save zip archive named .pkl", ".pkl",
         lambda s, _: _torch_bytes({"g_ema": Reduce(os.system, (_touch_cmd(s),))}), error=CheckpointError,
         match="zip archive", naive=_naive_torch_load),
    # ------------------------------------------------------------------------------------------- .pt path
    Case("zip .pt with os.system in g_ema", ".pt",
         lambda s, _: _torch_bytes({"g_ema": {"style.1.weight": Reduce(os.system, (_touch_cmd(s),))}}),
         match="posix.system", naive=_naive_torch_load),
    Case("zip .pt that is one Popen payload", ".pt",
         lambda s, _: _torch_bytes(Reduce(subprocess.Popen, (["touch", str(s)],))), match="Popen",
         naive=_naive_torch_load),
    Case("legacy-format .pt with eval", ".pt",
         lambda s, _: _torch_bytes({"g_ema": _ros_state(), "latent_avg": Reduce(eval, (_create_code(s),))},
                                   legacy=True), match="builtins.eval", naive=_naive_torch_load),
    Case("payload inside the allowed argparse args", ".pt",
         lambda s, _: _torch_bytes({"g_ema": _ros_state(), "args": argparse.Namespace(
             size=16, evil=Reduce(os.system, (_touch_cmd(s),)))}), match="posix.system", naive=_naive_torch_load),
    Case("rosinality file with a custom-class object", ".pt",
         lambda s, _: _torch_bytes({"g_ema": _ros_state(), "latent_avg": Sneaky()}), match="Sneaky", naive=None),
    Case("rosinality file with a non-tensor in the state dict", ".pt",
         lambda s, _: _torch_bytes({"g_ema": {**_ros_state(), "style.1.weight": "not a tensor"}}),
         error=CheckpointError, match="not a tensor", naive=None),
    Case("NVIDIA pickle (protocol 3) named .pt", ".pt", lambda s, _: _pkl(_tiny_snapshot(), protocol=3),
         match="give it the .pkl suffix", error=CheckpointError, naive=None),
    Case("plain pickle payload named .pt", ".pt", lambda s, _: _pkl(Reduce(os.system, (_touch_cmd(s),))),
         match="plain Python pickle", error=CheckpointError, naive=_naive_torch_load),
]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))  # where the __import__ payload's module lives
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith("ganlens_evil_"):
            del sys.modules[name]


def test_corpus_is_big_enough():
    assert len(CASES) + 1 >= 15  # +1: the module_src payload below


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_malicious_file_is_refused_and_never_runs(case: Case, workdir: Path):
    sentinel = workdir / "PWNED"
    path = workdir / f"evil{case.suffix}"
    path.write_bytes(case.build(sentinel, workdir))
    with pytest.raises(case.error) as info:
        load(path)
    message = str(info.value)
    assert case.match in message and str(path) in message, message
    assert not sentinel.exists(), "the payload ran"
    if case.naive is not None:  # prove the payload is live: a naive loader does run it
        try:
            case.naive(path.read_bytes())
        except Exception:  # noqa: BLE001 - payload results are not valid checkpoints
            pass
        deadline = time.monotonic() + 10  # Popen payloads finish asynchronously
        while not sentinel.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sentinel.exists(), "corpus entry is not a working payload"


def test_module_src_is_data_never_executed(workdir: Path):
    """NVIDIA's loader exec()s module_src; ganlens keeps it as text, so a payload there is inert."""
    sentinel = workdir / "PWNED"
    src = _create_code(sentinel) + "\n# (the rest of training/networks.py would follow)\n"
    path = RN.write_pickle(workdir / "evil-src.pkl", _tiny_snapshot(), module_src=src)
    G = load(path)
    assert not sentinel.exists()
    assert G.provenance["module_src_sha256"] == hashlib.sha256(src.encode()).hexdigest()
    exec(compile(src, "module_src", "exec"), {})  # what NVIDIA's _src_to_module would do
    assert sentinel.exists()


# ---------------------------------------------------------------------------------- truncated / corrupt


@pytest.fixture(scope="module")
def good_files(tmp_path_factory) -> dict[str, bytes]:
    return {".pkl": _pkl(_tiny_snapshot(), protocol=3),
            ".pt": _torch_bytes({"g_ema": _ros_state(), "latent_avg": torch.zeros(16)})}


@pytest.mark.parametrize("suffix", [".pkl", ".pt"])
@pytest.mark.parametrize("damage", ["half", "last-byte-missing", "random", "empty", "flipped"])
def test_broken_files_give_checkpoint_error_with_name(tmp_path, good_files, suffix, damage):
    data = good_files[suffix]
    rng = np.random.default_rng(len(data))
    if damage == "half":
        data = data[: len(data) // 2]
    elif damage == "last-byte-missing":
        data = data[:-1]
    elif damage == "random":
        data = rng.bytes(4096)
    elif damage == "empty":
        data = b""
    else:  # corrupt bytes in the middle of the tensor data
        arr = np.frombuffer(data, dtype=np.uint8).copy()
        mid = len(arr) // 3
        arr[mid: mid + 64] = rng.integers(0, 256, 64, dtype=np.uint8)
        data = arr.tobytes()
    path = tmp_path / f"broken-{damage}{suffix}"
    path.write_bytes(data)
    try:
        load(path)
    except CheckpointError as exc:
        assert path.name in str(exc)
    else:
        # Flipping bytes inside raw tensor data can leave a structurally valid file with other numbers.
        assert damage == "flipped", "a damaged file loaded"


def test_allow_list_is_small_and_data_only():
    from ganlens.models.safe_unpickle import allowed_globals

    names = allowed_globals()
    assert len(names) < 40
    for bad in ("builtins.eval", "builtins.exec", "builtins.getattr", "builtins.__import__", "os.system",
                "posix.system", "subprocess.Popen", "torch.load", "pickle.loads", "copyreg._reconstructor"):
        assert bad not in names
