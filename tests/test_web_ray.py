"""`ganlens serve --ray`: the real command starts a local Ray Serve deployment for the renderer and serves the same
page and API; a slider move is drawn by the deployment. Slow (a Ray cluster starts): skipped without ganlens[ray]."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("ray.serve")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

# The benchmarks' harness starts and stops `ganlens serve` (and its Ray cluster) the way web_load.py does.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from harness import serve_on_free_port, stop_server  # noqa: E402


def serve_command(port: int) -> list[str]:
    return [sys.executable, "-m", "ganlens", "serve", "--model", "random-tiny", "--sefa", "2", "--port", str(port),
            "--ray", "--ray-replicas", "1", "--max-batch", "8"]


def test_serve_ray_serves_the_page_and_moves_a_slider() -> None:
    proc, url = serve_on_free_port(serve_command, timeout=600)  # a Ray cluster on two busy cores takes its time
    try:
        with httpx.Client(base_url=url, timeout=300) as http:
            page = http.get("/")
            assert page.status_code == 200 and 'id="current"' in page.text
            info = http.get("/api/info").json()
            key = info["sliders"][0]["key"]
            view = http.post("/api/sessions", json={"seed": 3}).json()
            moved = http.post(f"/api/sessions/{view['session']}/edit", json={"strengths": {key: 3.0}})
            assert moved.status_code == 200, moved.text
            assert moved.json()["image"].startswith("data:image/png;base64,")
            assert moved.json()["image"] != view["image"] and moved.json()["state"]["strengths"] == {key: 3.0}
            # The restore path renders through the deployment too.
            back = http.post("/api/sessions/restore", json={"token": moved.json()["token"]})
            assert back.status_code == 200 and back.json()["image"] == moved.json()["image"]
    finally:
        stop_server(proc)


def test_a_deployment_the_cluster_cannot_place_is_refused_in_one_line() -> None:
    from ganlens.errors import GanlensError
    from ganlens.web.ray_serve import check_cpus

    check_cpus(2, 1, 2.0)  # one CPU per replica: fits
    with pytest.raises(GanlensError, match=r"2 Ray Serve replica\(s\) x 2 thread\(s\) need 4 CPUs; the Ray cluster "
                                           r"offers 2: lower --ray-replicas or --threads"):
        check_cpus(2, 2, 2.0)
