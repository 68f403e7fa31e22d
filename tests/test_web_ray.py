"""`ganlens serve --ray`: the real command starts a local Ray Serve deployment for the renderer and serves the same
page and API; a slider move is drawn by the deployment. Slow (a Ray cluster starts): skipped without ganlens[ray]."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

pytest.importorskip("ray.serve")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")


def test_serve_ray_serves_the_page_and_moves_a_slider() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "ganlens", "serve", "--model", "random-tiny", "--sefa", "2", "--port", str(port),
           "--ray", "--ray-replicas", "1", "--max-batch", "8"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600  # a Ray cluster on two busy cores takes its time
        while True:
            assert proc.poll() is None, f"ganlens serve --ray exited: {proc.stdout.read()[-3000:]}"
            assert time.monotonic() < deadline, "ganlens serve --ray did not answer within 600 s"
            try:
                if httpx.get(f"{url}/api/info", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(1)
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
        proc.terminate()  # uvicorn stops, then the server removes the deployment and stops its Ray cluster
        try:
            proc.wait(180)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever of its Ray cluster is left in its process group
        except ProcessLookupError:
            pass
