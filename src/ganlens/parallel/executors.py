"""Where a sharded job runs: in this process, or on a Ray cluster (local or remote), behind one small interface.

An executor does two things:
- `run(make_worker, items)`: stateful workers. Each worker is built once by `make_worker()` (a picklable callable:
  it loads the generator and scorer) and then called on items; results come back as they finish, with their item.
  On Ray the workers are actors (one per CPU, or per GPU) in a `ray.util.ActorPool`; an actor whose process dies is
  restarted by Ray and its unfinished call retried (`retries` times).
- `map(fn, items, *shared)`: independent tasks `fn(item, *shared)`, results in order (one Ray task per item, the
  shared arguments put in the object store once).

Ray is imported only inside `RayExecutor`, so the default, single-process path never loads it.
"""

from __future__ import annotations

import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from ..errors import GanlensError

# What a user can write after --ray: a local Ray started for the job, the cluster this machine belongs to, or one
# cluster by address.
LOCAL = "local"
ADDRESS_FORMS = "'local', 'auto', HOST:PORT (the head's GCS port, 6379 by default) or ray://HOST:PORT (Ray Client)"
INSTALL_HINT = "pip install 'ganlens[ray]' (ray[serve]>=2.9)"


class Executor(ABC):
    """Runs a job's shards; `workers` is how many run at once."""

    workers: int = 1

    @abstractmethod
    def run(self, make_worker: Callable[[], Callable[[Any], Any]], items: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        """(item, worker(item)) for every item, in the order they finish; each worker is `make_worker()`, built once."""

    @abstractmethod
    def map(self, fn: Callable[..., Any], items: Iterable[Any], *shared: Any) -> list[Any]:
        """[fn(item, *shared) for item in items], each call an independent task."""

    def connect(self) -> "Executor":
        """Get ready to run (join a cluster); `workers` is known afterwards. Returns the executor."""
        return self

    def close(self) -> None:
        """Release what the executor holds (workers, a Ray instance it started)."""

    def __enter__(self) -> "Executor":
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> str:
        return f"{type(self).__name__}({self.workers} worker{'s' if self.workers != 1 else ''})"


class InProcessExecutor(Executor):
    """Everything in this process, one item after another: the reference the Ray executor must match."""

    workers = 1

    def run(self, make_worker, items):
        worker = make_worker()
        for item in items:
            yield item, worker(item)

    def map(self, fn, items, *shared):
        return [fn(item, *shared) for item in items]

    def describe(self) -> str:
        return "in process"


class _Holder:
    """The Ray actor: builds its worker on its first call (loading the models once), then runs items through it."""

    def __init__(self) -> None:
        self._worker = None

    def call(self, boxed: list, key: int, item: Any) -> tuple[int, Any]:
        # The factory's reference comes inside a list so Ray does not fetch and unpickle the models for every call;
        # the actor fetches it once. Building on the first call rather than in the constructor keeps the models out
        # of the constructor's arguments, which a restarted actor would need to be still alive.
        if self._worker is None:
            import ray

            self._worker = ray.get(boxed[0])()
        return key, self._worker(item)


class RayExecutor(Executor):
    """Shards on Ray: a local instance started for the job (`address=None` or 'local'), the cluster this machine
    belongs to ('auto'), or a cluster by address ('HOST:PORT', 'ray://HOST:PORT').

    Args:
        address: see above.
        workers: how many workers run at once (default: the cluster's CPUs / `cpus_per_worker`, or its GPUs /
            `gpus_per_worker` when that is smaller).
        cpus_per_worker, gpus_per_worker: Ray resources each worker holds (a worker's torch uses that many threads).
        object_store_mb: object store of a local instance (shards are a few MB each; keep it small on a laptop).
        retries: how often Ray restarts a dead worker and retries its unfinished call (and retries a task).
        connect_timeout: seconds to wait for an address to answer before giving up.
    Raises:
        GanlensError: Ray is not installed, the address is malformed or does not answer, or no running cluster is
            found for 'auto' (when connecting: on entering the context, or on the first `run` / `map`).
    """

    def __init__(self, address: str | None = None, *, workers: int | None = None, cpus_per_worker: float = 1,
                 gpus_per_worker: float = 0, object_store_mb: int = 256, retries: int = 3,
                 connect_timeout: float = 10.0) -> None:
        check_address(address)
        if workers is not None and workers < 1:
            raise GanlensError(f"workers must be >= 1, got {workers}")
        if cpus_per_worker <= 0 or gpus_per_worker < 0:
            raise GanlensError(f"each worker needs cpus > 0 and gpus >= 0, got {cpus_per_worker} and {gpus_per_worker}")
        self.address = address or LOCAL
        self._requested = workers
        self.cpus_per_worker, self.gpus_per_worker = cpus_per_worker, gpus_per_worker
        self.object_store_mb, self.retries, self.connect_timeout = object_store_mb, retries, connect_timeout
        self._ray = None
        self._owns = False  # True when this executor started Ray and must shut it down
        self.workers = workers or 1

    # --- connection -----------------------------------------------------------------------------------------------

    def connect(self) -> "RayExecutor":
        """Import Ray and join (or start) the cluster; a second call does nothing."""
        if self._ray is not None:
            return self
        ray = import_ray()
        if ray.is_initialized():  # a caller (a notebook, a test session) already joined a cluster: use it as is
            self._ray = ray
        elif self.address == LOCAL:
            ray.init(address="local", object_store_memory=int(self.object_store_mb) * 2**20, include_dashboard=False,
                     logging_level="ERROR", log_to_driver=False)
            self._ray, self._owns = ray, True
        else:
            if self.address != "auto":
                wait_for_address(self.address, self.connect_timeout)
            try:
                ray.init(address=self.address, logging_level="ERROR", log_to_driver=False)
            except Exception as exc:  # refused, version mismatch, a token asked for, ...: one line naming the address
                raise GanlensError(f"cannot join Ray at {self.address!r}: {_join_problem(exc, self.address)}") from None
            self._ray = ray
        self.workers = self._worker_count()
        return self

    def _worker_count(self) -> int:
        res = self._ray.cluster_resources()
        fits = int(res.get("CPU", 0) // self.cpus_per_worker)
        if self.gpus_per_worker:
            fits = min(fits, int(res.get("GPU", 0) // self.gpus_per_worker))
        if fits < 1:
            raise GanlensError(f"the Ray cluster at {self.address!r} has {res.get('CPU', 0):g} CPU(s) and "
                               f"{res.get('GPU', 0):g} GPU(s): not enough for one worker of {self.cpus_per_worker:g} "
                               f"CPU / {self.gpus_per_worker:g} GPU")
        return min(fits, self._requested) if self._requested else fits

    def __enter__(self) -> "RayExecutor":
        return self.connect()

    def close(self) -> None:
        if self._ray is not None and self._owns:
            self._ray.shutdown()
        self._ray, self._owns = None, False

    def describe(self) -> str:
        where = "a local Ray" if self._owns else f"Ray at {self.address}"
        return f"{where} ({self.workers} worker{'s' if self.workers != 1 else ''})"

    # --- work -----------------------------------------------------------------------------------------------------

    def run(self, make_worker, items):
        self.connect()
        ray = self._ray
        from ray.util import ActorPool

        actor_cls = ray.remote(num_cpus=self.cpus_per_worker, num_gpus=self.gpus_per_worker,
                               max_restarts=self.retries, max_task_retries=self.retries)(_Holder)
        pending = iter(enumerate(items))
        first = list(islice(pending, self.workers))  # no more actors than items (each one loads the models)
        if not first:
            return
        factory = ray.put(make_worker)  # once: every actor reads the same copy of the models from the object store
        actors = [actor_cls.remote() for _ in first]
        pool = ActorPool(actors)
        held: dict[int, Any] = {}
        # Keep a few items per worker in flight, not all of them: items may be image batches, and the driver reads
        # the next ones only as results come back.
        window = 2 * len(actors)

        def submit(entry: tuple[int, Any]) -> None:
            key, item = entry
            held[key] = item
            pool.submit(lambda actor, v: actor.call.remote([factory], *v), (key, item))

        try:
            for entry in first:
                submit(entry)
            while len(held) < window and (entry := next(pending, None)) is not None:
                submit(entry)
            while held:
                try:
                    key, result = pool.get_next_unordered()
                except Exception as exc:
                    raise _unwrap(ray, exc) from None
                yield held.pop(key), result
                nxt = next(pending, None)
                if nxt is not None:
                    submit(nxt)
        finally:
            for actor in actors:
                ray.kill(actor)

    def map(self, fn, items, *shared):
        self.connect()
        ray = self._ray
        task = ray.remote(num_cpus=self.cpus_per_worker, num_gpus=self.gpus_per_worker, max_retries=self.retries)(fn)
        refs = [ray.put(s) for s in shared]  # put once; Ray hands every task the same (zero-copy) objects
        futures = [task.remote(item, *refs) for item in items]
        try:
            return ray.get(futures)
        except Exception as exc:
            for f in futures:
                ray.cancel(f)
            raise _unwrap(ray, exc) from None


def _unwrap(ray, exc: Exception) -> Exception:
    """The exception a worker raised (a GanlensError stays one line), not Ray's wrapper with its traceback."""
    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = exc.cause
        if isinstance(cause, GanlensError):
            return cause
        return GanlensError(f"a Ray worker failed: {type(cause).__name__}: {cause}".splitlines()[0])
    if isinstance(exc, ray.exceptions.RayError):  # a worker that died more often than the retries allow, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return GanlensError(f"Ray gave up on a shard after its retries: {type(exc).__name__}: {first}")
    return exc


def _join_problem(exc: BaseException, address: str) -> str:
    """What went wrong joining a cluster, in one line with what to do."""
    chain, e = [], exc
    while e is not None and len(chain) < 5:
        chain.append(f"{type(e).__name__}: {e}")
        e = e.__cause__ or e.__context__
    text = " ".join(chain)
    if "AuthToken" in text or "AuthenticationError" in text:
        # Ray >= 2.52 turns token authentication on for `ray start` when ~/.ray/auth_token exists, but a client
        # joining by address sends the token only when told to.
        return ("the cluster asks for a token: run with RAY_AUTH_MODE=token (Ray reads the token from "
                "~/.ray/auth_token, RAY_AUTH_TOKEN_PATH or RAY_AUTH_TOKEN), or use --ray auto on one of its nodes")
    if address == "auto" and isinstance(exc, ConnectionError):
        return "no Ray cluster is running on this machine (start one with `ray start --head`)"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return first


def import_ray():
    """The `ray` module, or a GanlensError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise GanlensError(f"Ray is not installed ({exc}); {INSTALL_HINT}") from None
    return ray


def check_address(address: str | None) -> None:
    """Refuse an address that is none of the forms Ray accepts, before anything starts."""
    if address in (None, LOCAL, "auto"):
        return
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in host:
        raise GanlensError(f"Ray address {address!r} is not one of {ADDRESS_FORMS}")


def wait_for_address(address: str, timeout: float) -> None:
    """Return once something listens at HOST:PORT; a GanlensError after `timeout` seconds (Ray itself would keep
    retrying for a minute before saying so)."""
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=min(2.0, timeout)).close()
            return
        except OSError as exc:
            if time.monotonic() >= deadline:
                reason = exc.strerror or type(exc).__name__
                raise GanlensError(f"no Ray cluster answers at {address} ({reason} after {timeout:g} s); start one "
                                   f"there with `ray start --head --port {port}`, or check the address") from None
            time.sleep(0.25)


def resolve_executor(spec: Executor | str | None, workers: int | None = None) -> Executor:
    """An executor from an executor, 'inprocess' / None (this process), 'ray' / 'local' (a local Ray) or a Ray
    address ('auto', 'HOST:PORT', 'ray://HOST:PORT')."""
    if isinstance(spec, Executor):
        return spec
    if spec in (None, "inprocess"):
        return InProcessExecutor()
    if not isinstance(spec, str):
        raise GanlensError(f"an executor must be an Executor, None, 'inprocess', 'ray' or a Ray address, got "
                           f"{type(spec).__name__}")
    return RayExecutor(None if spec in ("ray", LOCAL) else spec, workers=workers)
