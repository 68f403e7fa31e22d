"""`ganlens serve --ray [ADDRESS]`: the renderer (synthesis and the predictors' read-out) as a Ray Serve deployment,
behind the same page and API.

The web process keeps everything else (sessions, composing edits, climbs, inversions, morphs); each slider move's
code goes to the deployment, whose replicas each load the generator, the scorer and the guards and batch the
requests they receive (`serve.batch`: up to `max_batch` codes, waiting at most `window_s` for a batch to fill).
More replicas, on more machines of a Ray cluster, draw more batches at once.

Ray is imported only here, and only when `--ray` is given: the default server is one plain process. This module
starts Ray itself (a local cluster, or `ray.init(address)` for an existing one) and keeps that to itself; the
nodes of a remote cluster need ganlens installed.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from ..errors import GanlensError
from ..latents import LatentCode
from .studio import Readout, Studio

APP = "ganlens-renderer"
# Codes and 64-px images are kilobytes: a local cluster needs little of Ray's shared-memory object store.
LOCAL_OBJECT_STORE = 256 * 2**20


class RendererReplica:
    """One replica: a `Studio` without directions or encoder, reading out batches of codes."""

    def __init__(self, model: str, scorer: str | None, guard: str | None, threads: int, device: str,
                 precision: str = "auto") -> None:
        if threads:
            torch.set_num_threads(threads)
        self.studio = Studio.load(model, sefa_num=0, scorer=scorer, encoder=None, guard=guard, device=device,
                                  precision=precision)

    def read_batch(self, payloads: list[tuple[str, np.ndarray]]) -> list[tuple[np.ndarray, dict, dict]]:
        """(space, float32 array of one code) → (uint8 image, scores, guard scores), for a whole batch."""
        codes = [LatentCode(space, torch.from_numpy(np.asarray(data, np.float32))) for space, data in payloads]
        return [(r.image, r.scores, r.guard_scores) for r in self.studio.read_out(codes)]


def _deployment(max_batch: int, window_s: float, threads: int):
    """The Ray Serve deployment class (built here, so that importing this module does not import Ray)."""
    from ray import serve

    class GanlensRenderer(RendererReplica):
        @serve.batch(max_batch_size=max_batch, batch_wait_timeout_s=window_s)
        async def read_out(self, payloads: list[tuple[str, np.ndarray]]) -> list[tuple[np.ndarray, dict, dict]]:
            return self.read_batch(payloads)

    # Serve caps the requests a replica holds at once (5 by default): it must admit a full batch and the next.
    return serve.deployment(GanlensRenderer, name="renderer", max_ongoing_requests=2 * max_batch,
                            ray_actor_options={"num_cpus": max(threads, 1)})


class RayReadout:
    """The web app's `read_out` through the deployment: `readout(code) -> Readout`, from any request thread.

    Args:
        handle: the deployment's handle. timeout_s: how long one read-out may take before the request fails.
        owns_ray: whether `close` should shut down the Ray cluster this process started.
    """

    def __init__(self, handle, timeout_s: float = 120.0, owns_ray: bool = False) -> None:
        self.handle, self.timeout_s, self.owns_ray = handle, timeout_s, owns_ray

    def __call__(self, code: LatentCode) -> Readout:
        payload = (code.space, code.tensor.detach().cpu().numpy().astype(np.float32))
        image, scores, guard_scores = self.handle.read_out.remote(payload).result(timeout_s=self.timeout_s)
        return Readout(image, scores, guard_scores)

    def close(self) -> None:
        """Remove the deployment (and stop the local Ray cluster this process started)."""
        import ray
        from ray import serve

        try:
            serve.delete(APP)
            if self.owns_ray:
                serve.shutdown()
        finally:
            if self.owns_ray:
                ray.shutdown()


def check_cpus(replicas: int, threads: int, cluster_cpus: float) -> None:
    """Refuse a deployment the cluster cannot place: each replica asks Ray for `threads` CPUs, and a replica
    without them waits for ever (the server would hang at start-up, saying nothing)."""
    need = replicas * max(threads, 1)
    if need > cluster_cpus:
        raise GanlensError(f"{replicas} Ray Serve replica(s) x {max(threads, 1)} thread(s) need {need} CPUs; the Ray "
                           f"cluster offers {cluster_cpus:g}: lower --ray-replicas or --threads")


def start(model: str, address: str | None = None, replicas: int = 1, max_batch: int = 16,
          window_s: float = 0.004, threads: int = 1, scorer: str | None = "auto", guard: str | None = "auto",
          device: str = "cpu", num_cpus: int | None = None, precision: str = "auto") -> RayReadout:
    """Deploy the renderer on Ray Serve and return the web app's `read_out` for it.

    Args:
        model: the generator each replica loads (with its scorer and guard, as `Studio.load` would).
        address: None or 'local': start a local Ray cluster in this process; otherwise `ray.init(address)`
            ('auto', 'ray://host:10001', ...) joins an existing one.
        replicas: how many copies of the renderer to run. max_batch, window_s: `serve.batch`'s batch size and wait.
        threads: torch threads per replica (each replica also asks Ray for that many CPUs).
        num_cpus: CPUs a local cluster offers (None: Ray's default, all cores).
        precision: what the replicas render in, as `Studio.load`'s.
    """
    try:
        import ray
        from ray import serve
    except ImportError as exc:
        raise GanlensError(f"--ray needs Ray Serve: pip install 'ganlens[ray]' ({exc})") from None
    local = address in (None, "", "local")
    owns_ray = local and not ray.is_initialized()
    if not ray.is_initialized():
        if local:  # address="local": a cluster of our own, even where another one runs on this machine
            ray.init(address="local", num_cpus=num_cpus, object_store_memory=LOCAL_OBJECT_STORE,
                     include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
        else:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    try:
        check_cpus(replicas, threads, ray.cluster_resources().get("CPU", 0.0))
    except GanlensError:
        if owns_ray:
            ray.shutdown()
        raise
    serve.start(proxy_location="Disabled")  # the page talks to uvicorn; Serve's HTTP proxy is not needed
    app = _deployment(max_batch, window_s, threads).options(num_replicas=replicas).bind(
        model, scorer, guard, threads, device, precision)
    handle = serve.run(app, name=APP, route_prefix=None)
    return RayReadout(handle, owns_ray=owns_ray)
