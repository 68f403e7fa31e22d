"""Web UI under load (issue 28): many concurrent tabs moving sliders against a real `ganlens serve`.

The server is the real command (`python -m ganlens serve`, its own process, on loopback), started once per
variant: the plain single process, and `--ray` with 1 and 2 Ray Serve replicas. Against each:

- load: for N in --clients (10, 50, 200), N concurrent clients each open a session and move the smile slider
  --moves times, one request at a time (a bounded loop: each waits for its answer, as the page does). A client
  behaves like the page: when the server answers 404 "expired", it restores the session from the last view's
  state token and sends the move again (counted under `restored`, not as an error). Reported: errors, latency
  p50 / p95 / max per move as the client sees it, edits/s, the server's RSS before and after, and the batch sizes;
- sustained (plain variant): --sustain edits by 50 clients in rounds of 100 concurrent moves, the RSS read at rest
  after each round, and its growth after the first fifth (warm-up);
- per-session memory (plain variant): --sessions fresh sessions, by the store's own measure (`/api/stats`) and as
  the server's RSS growth, per session;
- hostile requests (plain variant): path traversal, NaN / huge strength, bad JSON, unknown key, huge seed, a 30 MB
  upload sent as urllib does (whole body first, Connection: close), a foreign Host header, forged and bomb state
  tokens: each must get a 4xx, and the server must still answer afterwards.

    python benchmarks/web_load.py                                   # writes results/web_load.json
    python benchmarks/web_load.py --clients 4 --moves 3 --sustain 0 --sessions 20 --variants plain --out /tmp/x.json
    python benchmarks/web_load.py --model SNAPSHOT.safetensors --slider user:smile --out results/web_load-v2.json \
        --serve-options "--directions v2dirs/ --scorer synthfaces64 --guard synthfaces64-independent"
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import httpx
import numpy as np
from harness import ROOT, serve_on_free_port, stop_server, write_result

# RSS is read with the server at rest, this long after the last request: the batcher hands the batches' freed
# memory back to the system after half a second without work (`ganlens.web.memory.release_free_memory`).
REST_S = 1.5
VARIANTS = {"plain": [], "ray1": ["--ray", "--ray-replicas", "1"], "ray2": ["--ray", "--ray-replicas", "2"]}


# ---- the server ---------------------------------------------------------------------------------------------------


def start_server(args, extra: list[str], timeout: float = 600) -> tuple[subprocess.Popen, str]:
    """`ganlens serve` on a free loopback port, with `extra` options; returns it and its URL once it answers and has
    finished labelling its directions."""
    return serve_on_free_port(
        lambda port: [sys.executable, "-m", "ganlens", "serve", "--model", args.model, "--sefa", "0", "--port",
                      str(port), "--threads", str(args.threads), "--max-batch", str(args.max_batch),
                      "--batch-window-ms", str(args.window_ms), *shlex.split(args.serve_options), *extra],
        timeout,
        # the server auto-labels directions in the background after start-up: measure after that
        ready=lambda info: not info["labels_pending"])


def rss_mb(pid: int) -> float:
    """Resident memory of one process, MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (with --ray: the Ray processes and replicas), MB."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += rss_mb(p)
        todo += children.get(p, [])
    return total


# ---- the clients ------------------------------------------------------------------------------------------------


class Tab:
    """One client behaving like the page: its session id and the newest state token."""

    def __init__(self, http: httpx.AsyncClient, slider: str) -> None:
        self.http, self.slider, self.sid, self.token, self.restored = http, slider, None, None, 0

    def keep(self, view: dict) -> None:
        self.sid, self.token = view["session"], view["token"]

    async def open(self, seed: int) -> None:
        r = await self.http.post("/api/sessions", json={"seed": seed, "truncation": 0.7})
        r.raise_for_status()
        self.keep(r.json())

    async def move(self, strength: float) -> httpx.Response:
        body = {"strengths": {self.slider: strength}, "commit": False}
        r = await self.http.post(f"/api/sessions/{self.sid}/edit", json=body)
        if r.status_code == 404 and r.json().get("expired"):
            self.restored += 1
            back = await self.http.post("/api/sessions/restore", json={"token": self.token})
            back.raise_for_status()
            self.keep(back.json())
            r = await self.http.post(f"/api/sessions/{self.sid}/edit", json=body)
        if r.status_code == 200:
            self.keep(r.json())
        return r


def client_limits(clients: int) -> httpx.Limits:
    """One connection per client, and pooled connections dropped after 1 s idle: uvicorn closes a connection idle
    for 5 s, and httpx's default expiry is also 5 s, so a connection reused just as the server closes it fails with
    a ReadError (a browser retries such a request on a fresh connection; httpx does not)."""
    return httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=1.0)


def percentile(ms: list[float], q: float) -> float | None:
    return round(float(np.percentile(ms, q)), 1) if ms else None


async def load(url: str, clients: int, moves: int, slider: str, seed0: int = 0) -> dict:
    """`clients` tabs, each opening a session and moving the slider `moves` times, all at once."""
    latencies: list[float] = []
    errors: list[str] = []
    restored = 0
    limits = client_limits(clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        async def one(i: int) -> None:
            nonlocal restored
            tab = Tab(http, slider)
            try:
                await tab.open(seed0 + i)
            except Exception as exc:  # noqa: BLE001 - counted
                errors.append(f"open: {exc!r}"[:200])
                return
            for k in range(moves):
                t0 = time.perf_counter()
                try:
                    r = await tab.move(round(3 * np.sin(0.7 * k + i), 2))
                except Exception as exc:  # noqa: BLE001 - counted
                    errors.append(f"move: {exc!r}"[:200])
                    continue
                if r.status_code == 200:
                    latencies.append((time.perf_counter() - t0) * 1000)
                else:
                    errors.append(f"HTTP {r.status_code}: {r.text[:160]}")
            restored += tab.restored

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(clients)))
        wall = time.perf_counter() - t0
    return {"clients": clients, "moves_each": moves, "errors": len(errors), "error_examples": errors[:5],
            "restored": restored, "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
            "max_ms": round(max(latencies), 1) if latencies else None,
            "edits_per_s": round(len(latencies) / wall, 1), "wall_s": round(wall, 2)}


async def sustained(url: str, pid: int, edits: int, slider: str, clients: int = 50, every: int = 100) -> dict:
    """`edits` slider moves by `clients` tabs, in rounds of about `every` moves (each tab moving `every // clients`
    times); after each round, with the server at rest, its RSS is read (at rest, so that a batch's activations in
    flight do not blur the trend)."""
    samples, errors, done = [], 0, 0
    limits = client_limits(clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        tabs = [Tab(http, slider) for _ in range(clients)]
        await asyncio.gather(*(t.open(1000 + i) for i, t in enumerate(tabs)))
        async def moves(tab: Tab, i: int, k: int) -> int:
            failed = 0
            for m in range(k):  # one request at a time per tab, as the page sends them
                r = await tab.move(round(3 * np.sin(0.3 * (done + m) + i), 2))
                failed += r.status_code != 200
            return failed

        per_tab = max(1, every // clients)
        while done < edits:
            errors += sum(await asyncio.gather(*(moves(t, i, per_tab) for i, t in enumerate(tabs))))
            done += per_tab * clients
            await asyncio.sleep(REST_S)
            samples.append((done, round(rss_mb(pid), 1)))
    rss = [r for _, r in samples]
    warm = rss[len(rss) // 5] if rss else None
    return {"edits": done, "clients": clients, "errors": errors, "rss_mb_at_rest_every_100": samples,
            "rss_after_warmup_mb": warm, "rss_end_mb": rss[-1] if rss else None,
            "growth_after_warmup_mb": round(rss[-1] - warm, 1) if rss else None}


def per_session(url: str, pid: int, n: int) -> dict:
    """What `n` fresh sessions (each with its first view) cost: by the store's own measure (`/api/stats`), and as
    the server's RSS growth (coarser: the allocator's state moves it by tens of MB either way)."""
    with httpx.Client(base_url=url, timeout=120) as http:
        for i in range(20):  # warm the allocator with sessions of the same kind first
            http.post("/api/sessions", json={"seed": 5000 + i})
        time.sleep(REST_S)
        before, held = rss_mb(pid), http.get("/api/stats").json()
        for i in range(n):
            http.post("/api/sessions", json={"seed": 6000 + i}).raise_for_status()
        time.sleep(REST_S)
        after, now = rss_mb(pid), http.get("/api/stats").json()
    dropped = sum(now["dropped"].values()) - sum(held["dropped"].values())
    return {"sessions": n, "dropped_meanwhile": dropped,
            "measured_kb_per_session": round((now["session_bytes"] - held["session_bytes"]) / 1024 / max(n, 1), 1),
            "rss_before_mb": round(before, 1), "rss_after_mb": round(after, 1),
            "rss_kb_per_session": round((after - before) * 1024 / max(n, 1), 1)}


# ---- hostile requests -----------------------------------------------------------------------------------------


def hostile(url: str) -> dict:
    """Requests a hostile page or script might send; each must be refused with a 4xx."""
    host_port = url.split("//")[1]
    with httpx.Client(base_url=url, timeout=120) as http:
        sid = http.post("/api/sessions", json={"seed": 1}).json()["session"]
        edit = f"/api/sessions/{sid}/edit"
        bomb = base64.urlsafe_b64encode(zlib.compress(b"\0" * (64 * 2**20), 9)).decode()

        def raw(method: str, path: str, content: bytes = b"", headers: dict | None = None) -> int:
            # httpx would normalise '..' away: send the target as written
            with socket.create_connection(("127.0.0.1", int(host_port.split(":")[1])), timeout=60) as s:
                head = f"{method} {path} HTTP/1.1\r\nHost: {host_port}\r\nContent-Length: {len(content)}\r\n"
                head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items()) + "Connection: close\r\n\r\n"
                s.sendall(head.encode() + content)
                return int(s.recv(64).split()[1])

        def upload_30mb() -> int:
            body = (b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n\x89PNG\r\n\x1a\n'
                    + b"\0" * 30_000_000 + b"\r\n--xx--\r\n")
            req = urllib.request.Request(f"{url}/api/sessions/{sid}/upload", data=body, method="POST",
                                         headers={"Content-Type": "multipart/form-data; boundary=xx"})
            try:
                return urllib.request.urlopen(req, timeout=120).status
            except urllib.error.HTTPError as exc:
                return exc.code
            except OSError:
                return 0  # the connection was reset: no status at all

        json_type = {"Content-Type": "application/json"}
        checks = {
            "path traversal (static)": lambda: raw("GET", "/static/../../../../etc/passwd"),
            "path traversal (encoded)": lambda: raw("GET", "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd"),
            "path traversal (session id)": lambda: raw("GET", "/api/sessions/..%2F..%2Fetc%2Fpasswd/image.png"),
            "NaN strength": lambda: raw("POST", edit, b'{"strengths": {"attr:smile": NaN}}', json_type),
            "huge strength": lambda: http.post(edit, json={"strengths": {"attr:smile": 1e308}}).status_code,
            "bad JSON": lambda: raw("POST", edit, b'{"strengths": ', json_type),
            "unknown key": lambda: http.post(edit, json={"strengths": {"attr:nope": 1}}).status_code,
            "huge seed": lambda: http.post("/api/sessions", json={"seed": 2**70}).status_code,
            "30 MB upload (urllib)": upload_30mb,
            "foreign Host header": lambda: http.get("/api/info", headers={"Host": "evil.example"}).status_code,
            "forged state token": lambda: http.post("/api/sessions/restore", json={"token": "Zm9yZ2Vk"}).status_code,
            "state token zlib bomb": lambda: http.post("/api/sessions/restore", json={"token": bomb}).status_code,
        }
        statuses = {name: check() for name, check in checks.items()}
        alive = http.get("/api/info").status_code == 200
    return {"statuses": statuses, "all_4xx": all(400 <= s < 500 for s in statuses.values()), "server_alive": alive}


# ---- main -------------------------------------------------------------------------------------------------------


def measure_variant(args, name: str) -> dict:
    proc, url = start_server(args, VARIANTS[name])
    try:
        out: dict = {"rss_start_mb": round(rss_mb(proc.pid), 1)}
        with httpx.Client(base_url=url, timeout=120) as http:  # warm-up: a few renders
            sid = http.post("/api/sessions", json={"seed": 0}).json()["session"]
            for s in (-1, 0, 1):
                http.post(f"/api/sessions/{sid}/edit", json={"strengths": {args.slider: s}}).raise_for_status()
        runs = []
        for n in args.clients:
            before, tree_before = rss_mb(proc.pid), tree_rss_mb(proc.pid)
            run = asyncio.run(load(url, n, args.moves, args.slider, seed0=100 * n))
            time.sleep(REST_S)
            run["server"] = httpx.get(f"{url}/api/stats", timeout=60).json()
            run.update(rss_before_mb=round(before, 1), rss_after_mb=round(rss_mb(proc.pid), 1),
                       tree_rss_before_mb=round(tree_before, 1), tree_rss_after_mb=round(tree_rss_mb(proc.pid), 1))
            runs.append(run)
            print(name, json.dumps(run), flush=True)
        out["load"] = runs
        if name == "plain":
            if args.sustain:
                out["sustained"] = asyncio.run(sustained(url, proc.pid, args.sustain, args.slider))
                print(name, "sustained", json.dumps({k: v for k, v in out["sustained"].items()
                                                     if k != "rss_mb_at_rest_every_100"}), flush=True)
            if args.sessions:
                out["per_session"] = per_session(url, proc.pid, args.sessions)
                print(name, "per session", json.dumps(out["per_session"]), flush=True)
            out["hostile"] = hostile(url)
            print(name, "hostile", json.dumps(out["hostile"]), flush=True)
        out["rss_end_mb"] = round(rss_mb(proc.pid), 1)
        return out
    finally:
        stop_server(proc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="synthfaces64")
    ap.add_argument("--serve-options", default="", help="more options of `ganlens serve`, e.g. for a snapshot: "
                    "'--directions DIR --scorer synthfaces64 --guard synthfaces64-independent'")
    ap.add_argument("--slider", default="attr:smile", help="the direction the clients move ('user:NAME' for a file "
                    "NAME.npz given by --directions)")
    ap.add_argument("--clients", default="10,50,200", help="comma-separated numbers of concurrent clients")
    ap.add_argument("--moves", type=int, default=10, help="slider moves per client")
    ap.add_argument("--sustain", type=int, default=2000, help="edits of the sustained-memory run (0: skip)")
    ap.add_argument("--sessions", type=int, default=2000, help="fresh sessions for the per-session memory (0: skip)")
    ap.add_argument("--variants", default="plain,ray1,ray2", help=f"comma-separated, of {', '.join(VARIANTS)}")
    ap.add_argument("--threads", type=int, default=1, help="the server's --threads")
    ap.add_argument("--max-batch", type=int, default=16)
    ap.add_argument("--window-ms", type=float, default=4.0)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "web_load.json")
    args = ap.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    load_before = os.getloadavg()
    doc = {"what": "concurrent slider moves against `ganlens serve` on loopback (issue 28)",
           "model": args.model, "serve_options": args.serve_options,
           "slider": args.slider,
           "clients": args.clients, "moves_each": args.moves,
           "server": {"threads": args.threads, "max_batch": args.max_batch, "batch_window_ms": args.window_ms},
           "variants": {}}
    for name in args.variants.split(","):
        doc["variants"][name] = measure_variant(args, name)
    doc["machine"] = {"cores": os.cpu_count(), "loadavg_before": [round(x, 2) for x in load_before],
                      "loadavg_after": [round(x, 2) for x in os.getloadavg()]}
    doc["targets"] = "50 clients: 0 errors, p95 <= 500 ms (goal 150 ms); 200 clients: 0 errors; flat RSS"
    write_result(args.out, doc, generators=[args.model])
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
