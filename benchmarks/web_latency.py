"""Web UI latency: how long a slider move takes to redraw, measured against a real `ganlens serve` server.

The server runs in a child process (as `ganlens serve` does: uvicorn in its own process, `--threads` torch
threads). One session (seed 7, truncation 0.7) gets `--moves` sequential slider moves (the smile slider swept
back and forth, previews as during a drag). For each move we record
- server: the handler's own time from its Server-Timing header (state update, edit, synthesis, scoring, PNG
  encoding, JSON) — the number the <= 50 ms target is about;
- round trip: what the client waits on loopback (adds HTTP and the hand-offs between threads).
Then a burst of `--burst` concurrent moves shows the coalescing (renders run vs requests answered), `--climbs`
per-sample climbs (glasses by 1.5 latent units, age held, under the server's guard too: the Climb button) are timed
by the server, and the parts are timed in isolation in this process (synthesis, scoring, PNG; synthesis also with
`--compare-threads`). The machine's load average is recorded: the numbers are only comparable at similar load.

    python benchmarks/web_latency.py            # writes results/web_latency.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import torch

from ganlens.web import Studio, create_app
from ganlens.web.studio import encode_png
from harness import ROOT, serve_on_free_port, stop_server, write_result


def stats(ms: list[float]) -> dict:
    """Median, p90, mean, min, max of a list of milliseconds (only the count when nothing was timed)."""
    if not ms:
        return {"n": 0}
    a = np.asarray(ms)
    return {"median_ms": round(float(np.median(a)), 2), "p90_ms": round(float(np.percentile(a, 90)), 2),
            "mean_ms": round(float(a.mean()), 2), "min_ms": round(float(a.min()), 2),
            "max_ms": round(float(a.max()), 2), "n": len(ms)}


def timed(fn, n: int) -> list[float]:
    """Milliseconds of n calls of fn (after one warm-up call)."""
    fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def serve(model: str, port: int, threads: int) -> None:
    """The child process: the app on 127.0.0.1:port, set up as `ganlens serve --sefa 0 --threads N` would."""
    import uvicorn

    torch.set_num_threads(threads)
    app = create_app(Studio.load(model, sefa_num=0), autolabel_samples=None)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def start_server(model: str, threads: int, timeout: float = 180) -> tuple[subprocess.Popen, str]:
    """Start `serve` in a child process on a free port; return it and its URL once it answers."""
    return serve_on_free_port(lambda port: [sys.executable, __file__, "--serve", str(port), "--model", model,
                                            "--threads", str(threads)], timeout)


def measure(url: str, moves: int, burst: int, climbs: int) -> dict:
    """Sequential slider moves, a burst of concurrent ones, then `climbs` per-sample climbs, against `url`."""
    strengths = 3 * np.sin(np.linspace(0, 4 * np.pi, moves))  # back and forth across the slider
    with httpx.Client(base_url=url, timeout=60) as http:
        sid = http.post("/api/sessions", json={"seed": 7, "truncation": 0.7}).json()["session"]

        def move(s: float) -> httpx.Response:
            r = http.post(f"/api/sessions/{sid}/edit", json={"strengths": {"attr:smile": float(s)}, "commit": False})
            r.raise_for_status()
            return r

        for s in np.linspace(-1, 1, 10):  # warm-up
            move(s)
        server, trip, render = [], [], []
        for s in strengths:
            t0 = time.perf_counter()
            r = move(s)
            trip.append((time.perf_counter() - t0) * 1000)
            server.append(float(r.headers["server-timing"].split("dur=")[1]))
            render.append(r.json()["render_ms"])
        before = r.json()["renders"]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(burst) as pool:
            replies = list(pool.map(move, np.linspace(-3, 3, burst)))
        wall = time.perf_counter() - t0
        after = http.get(f"/api/sessions/{sid}").json()["renders"]
        http.post(f"/api/sessions/{sid}/edit", json={"keep_fixed": ["age"]}).raise_for_status()
        climb = []
        for i in range(climbs):  # glasses up and down by 1.5 latent units, age held: 12 gradient steps + 1
            r = http.post(f"/api/sessions/{sid}/climb", json={"attribute": "glasses", "distance": 1.5 * (-1) ** i})
            r.raise_for_status()
            climb.append(float(r.headers["server-timing"].split("dur=")[1]))
        guards = http.get("/api/info").json()["climb_guards"]
    return {"climb_1.5_keep_age": stats(climb), "climb_guards": guards, "server_handler": stats(server), "round_trip_loopback": stats(trip),
            "render_compose_score_png": stats(render),
            "burst": {"requests": burst, "all_ok": all(r.status_code == 200 for r in replies),
                      "renders": after - before, "wall_s": round(wall, 3)}}


def parts(model: str, threads: int, compare_threads: int) -> dict:
    """Synthesis, scoring and PNG encoding of one edited code, each alone, in this process."""
    torch.set_num_threads(threads)
    studio = Studio.load(model, sefa_num=0)
    G, scorer = studio.G, studio.scorer
    code = studio.compose(studio.sample(7, 0.7), {"attr:smile": 2.0}, {})
    with torch.inference_mode():
        image = G.render(code)
        out = {"synthesis": stats(timed(lambda: G.render(code), 50)),
               "scoring": stats(timed(lambda: scorer(image), 50)),
               "png_encoding": stats(timed(lambda: encode_png(image[0]), 50))}
        if compare_threads:
            torch.set_num_threads(compare_threads)
            out[f"synthesis_{compare_threads}_threads"] = stats(timed(lambda: G.render(code), 50))
            torch.set_num_threads(threads)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="synthfaces64")
    ap.add_argument("--moves", type=int, default=100)
    ap.add_argument("--burst", type=int, default=50)
    ap.add_argument("--climbs", type=int, default=6, help="per-sample climbs timed after the slider moves")
    ap.add_argument("--threads", type=int, default=1, help="torch threads, as `ganlens serve --threads` (default 1)")
    ap.add_argument("--compare-threads", type=int, default=2,
                    help="also time synthesis alone with this many threads (0: skip)")
    ap.add_argument("--serve", type=int, default=None, metavar="PORT", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "web_latency.json")
    args = ap.parse_args()
    if args.serve:
        serve(args.model, args.serve, args.threads)
        return
    load_before = os.getloadavg()
    proc, url = start_server(args.model, args.threads)
    try:
        doc = measure(url, args.moves, args.burst, args.climbs)
    finally:
        stop_server(proc)
        proc.wait(30)
    doc = {
        "what": "slider move redraw latency of the web UI (one session, sequential previews; server in its own "
                "process)",
        "model": args.model, "moves": args.moves, **doc,
        "parts": parts(args.model, args.threads, args.compare_threads),
        "machine": {"torch_threads": args.threads, "loadavg_before": [round(x, 2) for x in load_before],
                    "loadavg_after": [round(x, 2) for x in os.getloadavg()]},
        "target": "median server_handler <= 50 ms",
    }
    write_result(args.out, doc, generators=[args.model])
    print(json.dumps({k: doc[k] for k in ("server_handler", "round_trip_loopback", "climb_1.5_keep_age", "parts",
                                          "burst", "machine")},
                     indent=1))


if __name__ == "__main__":
    main()
