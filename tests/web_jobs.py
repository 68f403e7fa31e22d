"""Polling a web UI job through the API until it ends, as the page does (shared by the web tests)."""

from __future__ import annotations

import time


def wait_job(client, sid: str, job: dict, timeout: float = 120) -> list[dict]:
    """Every state the job was seen in, from `job` to its end; fails after `timeout` seconds still running."""
    seen = [job]
    deadline = time.monotonic() + timeout
    while job["status"] == "running":
        assert time.monotonic() < deadline, f"the job did not finish in {timeout} s: {job}"
        time.sleep(0.05)
        job = client.get(f"/api/sessions/{sid}/jobs/{job['id']}").json()
        seen.append(job)
    return seen
