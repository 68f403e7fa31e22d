"""Scale-out (issue 29): jobs split by sample index into shards give bit for bit the single-process answer, in this
process and on Ray; finished shards are kept on disk so a killed job resumes without redoing or losing one; a Ray
worker killed mid-job is restarted and its shard retried.

The Ray tests share one cluster started with `ray start --head` on this machine (2 CPUs, a 100 MB object store),
joined once by this process and stopped (by its process group) at the end of the session; they are skipped when
Ray is not installed. The generator is `random-tiny` with the bundled predictor, N in the hundreds.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ganlens.cli import cli
from ganlens.directions import Direction, fit_boundaries
from ganlens.errors import GanlensError
from ganlens.latents import LatentCode
from ganlens.models.layers import seeded_normal
from ganlens.parallel import (
    InProcessExecutor,
    RayExecutor,
    ShardStore,
    default_shard_size,
    digest,
    plan_shards,
    resolve_executor,
)
from ganlens.parallel.executors import check_address, wait_for_address
from ganlens.scoring import sample_codes, score, stream_states

HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (pip install 'ganlens[ray]')")
SCORER = "synthfaces64"  # the bundled predictor: importable on every worker, unlike a test module's function
# Ray >= 2.52 turns on token authentication for `ray start` when ~/.ray/auth_token exists (a local `ray.init()`
# writes one), while a client joining by address sends no token unless told: the test cluster, this process and
# the CLI runs all keep it off, whatever that file says.
ENV = dict(os.environ, OMP_NUM_THREADS="1", RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")


def _same(a, b) -> None:
    """Two ScoredCodes are identical: codes, metadata and every score, bit for bit."""
    assert torch.equal(a.codes.tensor, b.codes.tensor)
    assert a.codes.space == b.codes.space and a.codes.meta == b.codes.meta
    assert a.names == b.names
    for name in a.names:
        assert np.array_equal(a[name], b[name]), name


@pytest.fixture(scope="module")
def reference(G):
    """The single-process run every sharded run must reproduce: 300 w codes, batches of 32."""
    return score(G, 300, SCORER, seed=5, batch_size=32)


# --- Splitting and the shard store (no Ray) ----------------------------------------------------------------------

def test_shards_cover_the_range_in_whole_batches():
    shards = plan_shards(300, 50, align=32)
    assert [(s.start, s.stop) for s in shards] == [(0, 64), (64, 128), (128, 192), (192, 256), (256, 300)]
    assert sum(len(s) for s in shards) == 300 and [s.index for s in shards] == list(range(5))
    assert default_shard_size(500_000, 2, 64) == 4096  # capped
    assert default_shard_size(300, 2, 32) == 64  # about four per worker, whole batches
    with pytest.raises(GanlensError, match="at least one item"):
        plan_shards(0, 10)


def test_the_z_stream_continues_across_shard_starts():
    full = seeded_normal([40, 8], seed=3).numpy()
    for start, state in stream_states(3, 8, [0, 7, 31]):
        rng = np.random.default_rng()
        rng.bit_generator.state = state
        assert np.array_equal(rng.standard_normal(size=(40 - start, 8)).astype(np.float32), full[start:])
    with pytest.raises(GanlensError, match="must increase"):
        list(stream_states(3, 8, [5, 2]))


def test_blockwise_sampling_is_the_generators_sampling(G):
    for space in ("z", "w", "w+"):
        mine, ref = sample_codes(G, 70, seed=2, space=space, block=16), G.sample(70, seed=2, space=space)
        assert torch.equal(mine.tensor, ref.tensor) and mine.meta == ref.meta


@pytest.mark.parametrize("space", ["w", "z"])
def test_sharded_in_process_equals_the_plain_loop(G, reference, space, tmp_path):
    plain = reference if space == "w" else score(G, 300, SCORER, seed=5, batch_size=32, space=space)
    sharded = score(G, 300, SCORER, seed=5, batch_size=32, space=space, executor="inprocess", shard_size=50,
                    work_dir=tmp_path / "shards")
    _same(plain, sharded)
    manifest = json.loads((tmp_path / "shards" / "manifest.json").read_text())
    assert manifest["shards"] == [[0, 64], [64, 128], [128, 192], [192, 256], [256, 300]]
    assert sorted(manifest["done"]) == ["0", "1", "2", "3", "4"] and manifest["job"]["seed"] == 5


def test_given_codes_are_sharded_too(G):
    codes = G.sample(45, seed=8)
    plain = score(G, codes, SCORER, batch_size=8)
    sharded = score(G, codes, SCORER, batch_size=8, executor=InProcessExecutor(), shard_size=16)
    assert sharded.codes is codes
    for name in plain.names:
        assert np.array_equal(plain[name], sharded[name])


def test_a_killed_job_resumes_without_redoing_a_finished_shard(G, reference, tmp_path):
    work = tmp_path / "shards"
    seen: list[int] = []

    def die_after_two(shard, info):
        seen.append(shard.index)
        if len(seen) == 2:
            raise KeyboardInterrupt  # the user's Ctrl-C, or the machine going away, after two shards were written

    with pytest.raises(KeyboardInterrupt):
        score(G, 300, SCORER, seed=5, batch_size=32, executor="inprocess", shard_size=64, work_dir=work,
              on_shard=die_after_two)
    assert sorted(p.name for p in work.glob("shard-*.npz")) == ["shard-00000.npz", "shard-00001.npz"]
    (work / ".shard-00002.npz.abc.tmp").write_bytes(b"half a file")  # what a kill during a write leaves
    redone: list[int] = []
    logs: list[str] = []
    resumed = score(G, 300, SCORER, seed=5, batch_size=32, executor="inprocess", shard_size=128, work_dir=work,
                    on_shard=lambda s, info: redone.append(s.index), log=logs.append)
    assert redone == [2, 3, 4]  # the stored plan (64 per shard) wins over the new shard size
    assert logs == [f"resuming: 2 of 5 shards already finished in {work}"]
    assert not list(work.glob(".*.tmp"))
    _same(reference, resumed)
    with pytest.raises(GanlensError, match=r"holds the shards of another job \(seed 5 → 6\).*--overwrite"):
        score(G, 300, SCORER, seed=6, batch_size=32, executor="inprocess", work_dir=work)
    again = score(G, 300, SCORER, seed=6, batch_size=32, executor="inprocess", work_dir=work, fresh=True)
    assert again.codes.meta["seed"] == 6 and json.loads((work / "manifest.json").read_text())["job"]["seed"] == 6


def test_a_damaged_shard_file_is_named(tmp_path):
    shards = plan_shards(10, 5)
    store = ShardStore(tmp_path / "s", {"job": "x"}, shards)
    store.save(shards[0], {"a": np.arange(5)})
    assert np.array_equal(store.load(shards[0])["a"], np.arange(5))
    store.path(shards[0]).write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(GanlensError, match=r"cannot read shard .*shard-00000.npz .*delete it and re-run"):
        store.load(shards[0])
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "shard-00000.npz").write_bytes(b"")
    with pytest.raises(GanlensError, match="no manifest.json"):
        ShardStore(tmp_path / "loose", {"job": "x"}, shards)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("a user's file")
    with pytest.raises(GanlensError, match="holds other files; shards need a new or empty folder"):
        ShardStore(tmp_path / "mine", {"job": "x"}, shards)
    assert digest(torch.ones(3)) == digest(torch.ones(3)) != digest(torch.zeros(3))


def test_addresses_and_a_missing_ray_are_one_line_errors(monkeypatch, tmp_path):
    for good in (None, "local", "auto", "10.0.0.5:6379", "ray://head:10001"):
        check_address(good)
    for bad in ("photos/", "head", "ray://head", "host:99999"):
        with pytest.raises(GanlensError, match="is not one of 'local', 'auto', HOST:PORT"):
            check_address(bad)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(GanlensError, match=rf"no Ray cluster answers at 127.0.0.1:{port} .*ray start --head"):
        wait_for_address(f"127.0.0.1:{port}", 0.5)
    assert time.monotonic() - t0 < 5
    assert isinstance(resolve_executor(None), InProcessExecutor)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(GanlensError, match=r"Ray is not installed .*pip install 'ganlens\[ray\]'"):
        RayExecutor().connect()
    r = CliRunner().invoke(cli, ["score", "--model", "random-tiny", "-n", "8", "--ray", "--out",
                                 str(tmp_path / "c.npz")])
    assert r.exit_code != 0 and "Ray is not installed" in str(r.exception)
    r = CliRunner().invoke(cli, ["invert", "a.png", "--ray", "photos/", "--out", str(tmp_path / "inv")])
    assert r.exit_code == 2 and "write --ray=ADDRESS or put --ray after the arguments" in r.output
    r = CliRunner().invoke(cli, ["score", "--model", "random-tiny", "--workers", "2", "-n", "8", "--out",
                                 str(tmp_path / "d.npz")])
    assert r.exit_code == 2 and "--workers goes with --ray" in r.output
    for cmd in ("score", "boundary", "invert", "analyze"):
        assert "--ray [ADDRESS]" in CliRunner().invoke(cli, [cmd, "--help"]).output


# --- On a Ray cluster started with `ray start --head` ------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ray_cluster():
    """The address of a Ray head started here with `ray start --head --block` (2 CPUs, small object store); this
    process joins it. Stopped at the end by signalling the process group it was started in (only ours; `ray stop`
    would also stop clusters other programs on this machine run)."""
    if not HAS_RAY:
        pytest.skip("ray is not installed (pip install 'ganlens[ray]')")
    import ray

    port = _free_port()
    temp = tempfile.mkdtemp(prefix="glray", dir="/tmp")  # short: Ray's socket paths live under it
    log = open(Path(temp) / "head.log", "w")
    ray_bin = str(Path(sys.executable).parent / "ray")
    proc = subprocess.Popen(
        [ray_bin, "start", "--head", "--block", "--num-cpus=2", "--object-store-memory=100000000",
         "--include-dashboard=false", "--disable-usage-stats", f"--port={port}",
         f"--ray-client-server-port={_free_port()}", f"--temp-dir={temp}"],
        stdout=log, stderr=subprocess.STDOUT, env=ENV, start_new_session=True)
    address = f"127.0.0.1:{port}"
    auth_mode = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # as the head runs (see ENV)
    try:
        wait_for_address(address, 300)  # a busy 2-core machine can take a while
        ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        proc.terminate()
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever of the group is left
        except ProcessLookupError:
            pass
        log.close()
        shutil.rmtree(temp, ignore_errors=True)
        if auth_mode is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = auth_mode


@needs_ray
def test_ray_scoring_equals_the_single_process_run(ray_cluster, G, reference):
    with RayExecutor(ray_cluster) as ex:
        assert ex.workers == 2
        got = score(G, 300, SCORER, seed=5, batch_size=32, executor=ex, shard_size=64)
    _same(reference, got)


@needs_ray
def test_a_ray_worker_killed_mid_job_is_replaced_and_the_result_unchanged(ray_cluster, G, reference, tmp_path):
    finished: list[tuple[int, int]] = []
    killed: list[int] = []

    def kill_first_worker(shard, info):
        finished.append((shard.index, info["pid"]))
        if not killed:
            os.kill(info["pid"], signal.SIGKILL)  # its next shard is already on its way to it
            killed.append(info["pid"])

    with RayExecutor(ray_cluster, retries=2) as ex:
        got = score(G, 300, SCORER, seed=5, batch_size=32, executor=ex, shard_size=32, work_dir=tmp_path / "w",
                    on_shard=kill_first_worker)
    _same(reference, got)
    indices = [i for i, _ in finished]
    assert sorted(indices) == list(range(10))  # every shard finished once: none lost, none written twice
    assert killed[0] not in [pid for _, pid in finished[1:]]  # the dead process did no further shard
    done = json.loads((tmp_path / "w" / "manifest.json").read_text())["done"]
    assert sorted(int(i) for i in done) == list(range(10))


@needs_ray
def test_boundaries_fitted_as_ray_tasks_are_the_same(ray_cluster, G):
    scored = score(G, 400, SCORER, seed=1, batch_size=64)
    names = ["yaw", "smile", "glasses"]
    kwargs = dict(ratio=0.1, seed=0, model=G.name, num_ws=G.num_ws, per_attribute={"glasses": {"binary": True}})
    here = fit_boundaries(scored.codes, {a: scored[a] for a in names}, **kwargs)
    with RayExecutor(ray_cluster) as ex:
        there = fit_boundaries(scored.codes, {a: scored[a] for a in names}, executor=ex, **kwargs)
    assert list(there) == names
    for a in names:
        assert np.array_equal(here[a].vector, there[a].vector) and here[a].bias == there[a].bias
        assert here[a].metrics == there[a].metrics and here[a].provenance == there[a].provenance


@needs_ray
def test_cli_boundary_and_analyze_on_ray(ray_cluster, tmp_path):
    args = ["boundary", "--model", "random-tiny", "-a", "glasses", "-a", "beard", "--samples", "256", "--ratio", "0.1",
            "--batch-size", "32", "--diagnose"]
    for name, extra in (("here", []), ("ray", ["--ray", ray_cluster])):
        r = CliRunner().invoke(cli, [*args, *extra, "--out", str(tmp_path / name)], catch_exceptions=False)
        assert r.exit_code == 0, r.output
    for a in ("glasses", "beard"):
        here, there = Direction.load(tmp_path / "here" / f"{a}.npz"), Direction.load(tmp_path / "ray" / f"{a}.npz")
        assert np.array_equal(here.vector, there.vector) and here.metrics == there.metrics
    assert not (tmp_path / "ray.shards").exists()  # the scored shards are removed once the directions are saved
    args = ["analyze", "--model", "random-tiny", "--directions", str(tmp_path / "ray"), "--samples", "16", "--null",
            "1", "--layerwise-samples", "8", "--groups", "presets", "--batch-size", "8"]
    for name, extra in (("an_here", []), ("an_ray", ["--ray", ray_cluster])):
        r = CliRunner().invoke(cli, [*args, *extra, "--out", str(tmp_path / name)], catch_exceptions=False)
        assert r.exit_code == 0, r.output
    here, there = (json.loads((tmp_path / n / "analysis.json").read_text()) for n in ("an_here", "an_ray"))
    assert here == there and there["layerwise"]["groups"] == ["coarse", "middle", "fine"]


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganlens", *args], capture_output=True, text=True, env=ENV,
                          timeout=900)


def _same_files(a: Path, b: Path) -> None:
    """Two `ganlens score` outputs hold the same codes and the same CSV."""
    ca, cb = LatentCode.load(a), LatentCode.load(b)
    assert torch.equal(ca.tensor, cb.tensor) and ca.meta == cb.meta
    assert a.with_suffix(".csv").read_bytes() == b.with_suffix(".csv").read_bytes()


@needs_ray
def test_cli_score_against_the_cluster_by_address(ray_cluster, tmp_path):
    common = ["score", "--model", "random-tiny", "-n", "256", "--seed", "2", "--batch-size", "32"]
    r = CliRunner().invoke(cli, [*common, "--out", str(tmp_path / "here.npz")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    r = _run_cli(*common, "--ray", ray_cluster, "--shard-size", "64", "--out", str(tmp_path / "ray.npz"))
    assert r.returncode == 0, r.stderr
    assert "scoring (4 shards, Ray at 127.0.0.1" in r.stderr and "256/256" in r.stderr  # the driver's progress bar
    assert f"on Ray at {ray_cluster} (2 workers)" in r.stdout
    _same_files(tmp_path / "here.npz", tmp_path / "ray.npz")
    assert not (tmp_path / "ray.shards").exists()


@needs_ray
def test_cli_score_on_a_local_ray(ray_cluster, tmp_path):
    """`--ray` alone starts (and stops) a Ray of its own on this machine: what `ganlens score --samples 500000
    --ray` does, here with 256 samples."""
    common = ["score", "--model", "random-tiny", "-n", "256", "--seed", "4", "--batch-size", "32"]
    r = CliRunner().invoke(cli, [*common, "--out", str(tmp_path / "here.npz")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    r = _run_cli(*common, "--ray", "--workers", "2", "--out", str(tmp_path / "ray.npz"))
    assert r.returncode == 0, r.stderr
    assert "a local Ray (2 workers)" in r.stdout and "256/256" in r.stderr
    _same_files(tmp_path / "here.npz", tmp_path / "ray.npz")


@needs_ray
def test_inverting_a_folder_on_ray_gives_the_same_files(ray_cluster, G, tmp_path):
    from ganlens.invert import Encoder, RunSettings, invert_images, save_encoder
    from ganlens.io import save_image

    torch.manual_seed(0)
    enc = save_encoder(Encoder(G.img_resolution, G.num_ws, G.w_dim).attach(G), tmp_path / "enc.safetensors", {})
    src = tmp_path / "in"
    for i, img in enumerate(G.render(G.sample(6, seed=3))):
        save_image(img, src / f"img{i}.png")
    # Hybrid: the encoder's pass, then optimisation steps (gradients too must not depend on where they run).
    settings = RunSettings(method="hybrid", steps=3, batch_size=2, encoder=str(enc), overrides={"perceptual": 0.0})
    here = invert_images(G, [src], tmp_path / "here", settings, log=lambda m: None, progress=False)
    with RayExecutor(ray_cluster) as ex:
        there = invert_images(G, [src], tmp_path / "ray", settings, log=lambda m: None, progress=False, executor=ex)
    assert set(here) == set(there) and {r["status"] for r in there.values()} == {"done"}
    for name in here:
        a, b = LatentCode.load(tmp_path / "here" / f"{name}.npz"), LatentCode.load(tmp_path / "ray" / f"{name}.npz")
        assert torch.equal(a.tensor, b.tensor), name
        assert here[name]["psnr"] == there[name]["psnr"]
        assert (tmp_path / "here" / f"{name}.png").read_bytes() == (tmp_path / "ray" / f"{name}.png").read_bytes()


@needs_ray
def test_rescoring_and_the_layer_map_on_ray_are_the_same(ray_cluster, G):
    from ganlens.analysis import layerwise, measure_edits

    rng = np.random.default_rng(0)
    dirs = [Direction(rng.standard_normal(G.w_dim), "w", attribute=a) for a in ("smile", "age")]
    dirs.append(Direction(rng.standard_normal(G.z_dim), "z", attribute="yaw"))
    kw = dict(strengths=[2.0], num_samples=40, seed=1, null_directions=1, batch_size=16)
    here = measure_edits(G, dirs, SCORER, **kw)
    groups = {"coarse": (0, 1, 2), "fine": (6, 7)}
    lw_here = layerwise(G, dirs[:2], SCORER, groups=groups, num_samples=24, batch_size=8)
    with RayExecutor(ray_cluster) as ex:
        there = measure_edits(G, dirs, SCORER, executor=ex, **kw)
        lw_there = layerwise(G, dirs[:2], SCORER, groups=groups, num_samples=24, batch_size=8, executor=ex)
    for field in ("base", "edited", "pixel_change"):
        assert np.array_equal(getattr(here, field), getattr(there, field)), field
    assert set(here.null_edited) == {"w", "z"}
    for sp in here.null_edited:
        assert np.array_equal(here.null_edited[sp], there.null_edited[sp])
    assert here.to_dict() == there.to_dict()
    assert np.array_equal(lw_here.delta, lw_there.delta) and np.array_equal(lw_here.leakage, lw_there.leakage)
