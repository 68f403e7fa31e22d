"""The Python work of one slider move outside the generator (issue 28): what the server's threads do while holding
the interpreter lock, part by part, in this process.

Under load the server answered about 100 edits/s on a Xeon with bf16 while using 1.1 of its 2 cores: past the
generator, a move's cost is Python work that holds the interpreter lock, so the other requests wait for it. This
times each part of that work on a real session of the app (`create_app` over `Studio.load`), after --history
committed moves and then on preview moves as during a drag:

- compose: the edited code from the state (`Studio.compose`: crossover, conditioned directions, `move`);
- measure: `Session.nbytes`, which the session store runs on the event loop after every request;
- token: the page's state token (`state_token.encode`);
- visible: the visible-change read-out against the unedited image (`Studio.visible_changes`);
- png: the PNG and its data URL; json: the view's JSON body;
- request: one whole preview move through the app in this process (Starlette's TestClient), generator included.

    python benchmarks/web_request_cost.py                     # writes results/web_request_cost.json
    python benchmarks/web_request_cost.py --model SNAPSHOT.safetensors --slider sefa:sefa0 --out /tmp/cost.json
"""

from __future__ import annotations

import json
import time
import warnings

import torch

from ganlens.web import Studio, create_app, state_token
from ganlens.web.session import with_strengths
from harness import arguments, write_result


def timed(fn, repeat: int) -> float:
    """Mean microseconds of `fn()` over `repeat` calls (after one warm-up call)."""
    fn()
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat * 1e6


def main() -> None:
    ap = arguments(__doc__, "web_request_cost.json", threads=1)
    ap.add_argument("--model", default="synthfaces64")
    ap.add_argument("--slider", default="attr:smile", help="the slider moved ('sefa:sefa0' for a snapshot)")
    ap.add_argument("--history", type=int, default=40, help="committed moves before the timing (undo steps)")
    ap.add_argument("--moves", type=int, default=200, help="preview moves timed through the app")
    ap.add_argument("--repeat", type=int, default=200, help="calls per timed part")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sefa = 1 if args.slider.startswith("sefa:") else 0
    studio = Studio.load(args.model, sefa_num=sefa, scorer="synthfaces64", guard="synthfaces64-independent")
    app = create_app(studio, autolabel_samples=None)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient

    with TestClient(app) as client:
        sid = client.post("/api/sessions", json={"seed": 7, "truncation": 0.7}).json()["session"]
        move = f"/api/sessions/{sid}/edit"
        for k in range(args.history):
            client.post(move, json={"strengths": {args.slider: (k % 20 - 10) / 5}, "commit": True}).raise_for_status()
        t0 = time.perf_counter()
        for k in range(args.moves):
            client.post(move, json={"strengths": {args.slider: (k % 40 - 20) / 10}, "commit": False}).raise_for_status()
        request_us = (time.perf_counter() - t0) / args.moves * 1e6

        ctx = app.state.context
        session = app.state.sessions.get(sid)
        measured: list[float] = []
        for k in range(args.repeat + 1):  # what the store pays per request: a new state, its view, the measure
            version = session.update(lambda s, k=k: with_strengths(s, {args.slider: (k % 40 - 20) / 10}, None),
                                     commit=False)
            session.view(version)
            t = time.perf_counter()
            session.nbytes()
            measured.append(time.perf_counter() - t)
        snap = session.snapshot()
        state = snap.state
        view = session.view(snap.version)
        readout = ctx.read_out(studio.compose(state.base, state.strengths, state.layers, state.keep_fixed))
        shown = readout.rendered(0.0)
        parts = {
            "compose": timed(lambda: studio.compose(state.base, state.strengths, state.layers, state.keep_fixed,
                                                    state.second, state.mix_layers), args.repeat),
            "measure": sum(measured[1:]) / args.repeat * 1e6,
            "token": timed(lambda: state_token.encode(snap, studio.G.name), args.repeat),
            "visible": timed(lambda: studio.visible_changes(state.base_readings, shown), args.repeat),
            "png": timed(lambda: readout.rendered(0.0).data_url, args.repeat),
            "json": timed(lambda: json.dumps(view), args.repeat),
        }
    doc = {
        "model": args.model, "slider": args.slider, "history": args.history, "threads": args.threads,
        "parts_us": {k: round(v, 1) for k, v in parts.items()},
        "python_parts_us": round(sum(parts.values()), 1),
        "request_us": round(request_us, 1), "request_moves": args.moves,
        "note": "per preview move, mean of --repeat calls; 'request' is a whole move through the app in-process "
                "(TestClient), generator and predictors included",
    }
    print(json.dumps(doc, indent=1))
    write_result(args.out, doc, [args.model])


if __name__ == "__main__":
    main()
