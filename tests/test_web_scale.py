"""The web UI under load (issue 28): sessions bounded by measured memory and idle time, re-created from the page's
state token (after eviction or a restart), the 413 for oversized uploads, the cross-session batcher, and many
concurrent clients on a real server.
"""

from __future__ import annotations

import base64
import gc
import json
import warnings
import zlib

import numpy as np
import pytest
import torch

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

with warnings.catch_warnings():  # newer Starlette suggests httpx2 for its TestClient; httpx still works
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

from ganlens.latents import LatentCode
from ganlens.web import Studio, create_app, memory, state_token
from ganlens.web import session as session_module
from ganlens.web.session import EditState, Session, SessionStore, with_strengths

LIMIT = 200_000
SEED = 7


@pytest.fixture(scope="module")
def studio() -> Studio:
    return Studio.load("synthfaces64", sefa_num=0)


def make_app(studio: Studio, **kw):
    return create_app(studio, max_upload_bytes=LIMIT, autolabel_samples=None, **kw)


def client_of(app) -> TestClient:
    return TestClient(app)


# ---- the session store ----------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def tiny_session(i: int, side: int = 128) -> Session:
    code = LatentCode("w", torch.full((1, side), float(i)))
    return Session(EditState(code, {"kind": "seed", "seed": i, "truncation": 1.0}), lambda snap: {})


def test_store_is_bounded_by_measured_bytes_and_never_drops_a_session_in_use() -> None:
    one = tiny_session(0).nbytes()
    assert 512 < one < 20_000  # a 128-float code and its snapshot: measured, not counted
    store = SessionStore(max_bytes=int(3.5 * one), idle_s=1e9, grace_s=0)
    first = store.add(tiny_session(0))
    with store.lease(first.id):
        for i in range(1, 8):
            store.add(tiny_session(i))
        assert first.id in store._sessions  # in use: kept although it is the least recently used
    assert len(store) <= 3 and store.total_bytes <= store.max_bytes
    assert store.dropped["memory"] >= 5
    # Recently used sessions (a tab mid-drag) are kept too, beyond the bound.
    clock = Clock()
    recent = SessionStore(max_bytes=int(1.5 * one), idle_s=1e9, grace_s=10, clock=clock)
    for i in range(4):
        recent.add(tiny_session(i))
    assert len(recent) == 4 and recent.dropped["memory"] == 0
    clock.now = 11
    recent.add(tiny_session(9))
    assert len(recent) == 1 and recent.dropped["memory"] == 4
    # The measured total follows the sessions: a bigger history costs more.
    kept = next(iter(store._sessions.values()))
    before = store.total_bytes
    with store.lease(kept.id) as s:
        for k in range(20):
            s.update(lambda st, k=k: EditState(LatentCode("w", torch.randn(1, 128)), st.source), commit=True)
    assert store.total_bytes > before + 20 * 512 or kept.id not in store._sessions


def test_measuring_a_session_walks_only_what_a_request_changed(monkeypatch) -> None:
    """The store measures a session after every request, on the event loop: a slider move must cost a walk of its
    new strengths only, and the cached total must equal a fresh measurement."""
    views = iter(range(10**6))
    s = Session(EditState(LatentCode("w", torch.randn(1, 512)), {"kind": "seed", "seed": 1, "truncation": 1.0},
                          base_readings={"predictor": {f"a{i}": 0.5 for i in range(13)}}),
                lambda snap: {"image": "x" * 3000, "scores": {"smile": 0.1}, "n": next(views)})
    for k in range(6):
        s.update(lambda st, k=k: with_strengths(st, {"attr:smile": k / 2}, None), commit=k % 2 == 0)
        s.view(s.version)
        s.nbytes()
    walked: list[object] = []
    depth = [0]
    real = memory.deep_size

    def counting(obj, seen=None):
        if depth[0] == 0:
            walked.append(obj)
        depth[0] += 1
        try:
            return real(obj, seen)
        finally:
            depth[0] -= 1

    monkeypatch.setattr(memory, "deep_size", counting)
    version = s.update(lambda st: with_strengths(st, {"attr:smile": 9.0}, None), commit=False)
    s.nbytes()
    assert walked == [s.state.strengths]  # the preview's only new value; the last view was measured already
    s.view(version)
    walked.clear()
    s.nbytes()
    assert walked == [s.renderer.latest]  # a new view: measured once
    walked.clear()
    s.nbytes()
    assert walked == []
    monkeypatch.setattr(memory, "deep_size", real)
    fresh = Session.__new__(Session)
    fresh.__dict__.update(s.__dict__, _sizes=memory.SizeCache())
    assert s.nbytes() == fresh.nbytes()  # the same bytes as measuring from scratch


def test_store_expires_idle_sessions_but_not_a_running_inversion() -> None:
    clock = Clock()
    store = SessionStore(max_bytes=2**30, idle_s=60, grace_s=0, clock=clock)
    idle, busy, fresh = (store.add(tiny_session(i)) for i in range(3))

    class Job:
        status, reported = "running", False

    busy.job = Job()
    clock.now = 50
    store.get(fresh.id)
    clock.now = 100
    store.add(tiny_session(3))  # adding sweeps
    assert idle.id not in store._sessions and busy.id in store._sessions and fresh.id in store._sessions
    assert store.dropped["idle"] == 1
    busy.job.status = "done"
    clock.now = 200
    store.add(tiny_session(4))
    assert busy.id not in store._sessions  # finished and idle: expired (the page still has its token)


# ---- re-creation from the page's state token ------------------------------------------------------------------


def test_a_session_pushed_out_of_a_tiny_store_comes_back_from_the_page_state(studio: Studio) -> None:
    app = make_app(studio, session_bytes=80_000, session_grace_s=0)  # room for two sessions (24 to 45 kB each)
    with client_of(app) as c:
        view = c.post("/api/sessions", json={"seed": SEED, "truncation": 0.7}).json()
        sid = view["session"]
        c.post(f"/api/sessions/{sid}/edit", json={"strengths": {"attr:smile": 2.0}})
        c.post(f"/api/sessions/{sid}/seed", json={"seed": 10, "truncation": 0.7, "slot": "b"})
        mixed = c.post(f"/api/sessions/{sid}/edit", json={"set_mix": True, "mix_layers": "coarse"}).json()
        last = c.post(f"/api/sessions/{sid}/edit", json={"strengths": {"attr:age": 1.5}, "commit": False}).json()
        for seed in (1, 2, 3):  # other tabs push it out
            c.post("/api/sessions", json={"seed": seed})
        assert app.state.sessions.dropped["memory"] >= 1
        stats = c.get("/api/stats").json()  # what an operator sees
        assert stats["dropped"]["memory"] >= 1 and stats["session_bytes"] == app.state.sessions.total_bytes
        gone = c.get(f"/api/sessions/{sid}")
        assert gone.status_code == 404 and gone.json()["expired"] is True
        back = c.post("/api/sessions/restore", json={"token": last["token"]})
        assert back.status_code == 200, back.text
        again = back.json()
        assert again["session"] != sid and again["image"] == last["image"] and again["state"] == last["state"]
        assert again["scores"] == pytest.approx(last["scores"], abs=1e-5)
        # The undo history came back too: undo drops the preview and the mix, then the second seed, then the smile.
        new = again["session"]
        steps = [c.post(f"/api/sessions/{new}/undo").json() for _ in range(3)]
        assert [s["state"]["mix_layers"] for s in steps] == [None, None, None]
        assert [s["state"]["second_source"] is not None for s in steps] == [True, False, False]
        assert [s["state"]["strengths"] for s in steps] == [{"attr:smile": 2.0}, {"attr:smile": 2.0}, {}]
        assert steps[-1]["image"] == view["image"] and not steps[-1]["can_undo"]
        assert mixed["state"]["second_image"] == again["state"]["second_image"]  # the second image re-drawn


def test_a_restarted_server_restores_what_the_page_shows(studio: Studio) -> None:
    with client_of(make_app(studio)) as before:
        sid = before.post("/api/sessions", json={"seed": 3, "truncation": 0.5}).json()["session"]
        shown = before.post(f"/api/sessions/{sid}/edit", json={"strengths": {"attr:smile": -2.0},
                                                              "layers": {"attr:smile": "coarse"},
                                                              "keep_fixed": ["age"]}).json()
    with client_of(make_app(studio)) as after:  # a new process would hold nothing either
        assert after.get(f"/api/sessions/{sid}").status_code == 404
        back = after.post("/api/sessions/restore", json={"token": shown["token"]}).json()
        assert back["image"] == shown["image"] and back["state"] == shown["state"] and back["can_undo"]


def test_token_round_trips_w_plus_codes_bit_for_bit(studio: Studio) -> None:
    code = studio.sample(5, 0.8).to_wplus(studio.G.num_ws)
    code = LatentCode("w+", code.tensor + 0.01 * torch.randn_like(code.tensor))
    source = {"kind": "climb", "origin": {"kind": "seed", "seed": 5, "truncation": 0.8},
              "climbs": [{"attribute": "glasses", "distance": 1.5, "keep": ["age"]}]}
    state = EditState(code, source, {"smile": 0.5}, {"predictor": {"smile": 0.5}}, {"attr:smile": 1.0})
    snap = Session(state, lambda s: {}).snapshot()
    current, committed, history = state_token.restore(state_token.encode(snap, studio.G.name), studio,
                                                      lambda c: "data:")
    assert torch.equal(current.base.tensor, code.tensor) and current.base.space == "w+"
    assert current.source == source and current.strengths == {"attr:smile": 1.0} and history == ()


def test_tokens_keep_at_most_32_codes_dropping_the_oldest_undo_steps(studio: Studio) -> None:
    session = Session(EditState(studio.sample(1, 0.7), {"kind": "seed", "seed": 1, "truncation": 0.7}),
                      lambda s: {})
    for i in range(50):
        session.update(lambda st, i=i: EditState(LatentCode("w", torch.randn(1, 128)), st.source))
    doc = state_token.decode(state_token.encode(session.snapshot(), studio.G.name))
    assert len(doc.codes) == state_token.MAX_CODES and 25 <= len(doc.history) < 50


def test_a_token_writes_each_undo_state_once_and_forgets_it_with_the_session(studio: Studio, monkeypatch) -> None:
    base = studio.sample(2, 0.7)
    readings = {"predictor": {f"a{i}": i / 7 for i in range(13)}}
    session = Session(EditState(base, {"kind": "seed", "seed": 2, "truncation": 0.7}, {"smile": 0.1}, readings),
                      lambda s: {})
    for i in range(30):
        session.update(lambda st, i=i: with_strengths(st, {"attr:smile": i / 10}, None), commit=True)
    first = state_token.encode(session.snapshot(), studio.G.name)
    written: list[object] = []
    real_dumps = state_token.json.dumps
    monkeypatch.setattr(state_token.json, "dumps", lambda obj, **kw: written.append(obj) or real_dumps(obj, **kw))
    session.update(lambda st: with_strengths(st, {"attr:smile": -1.0}, None), commit=False)  # a preview move
    moved = state_token.encode(session.snapshot(), studio.G.name)
    assert sum("base_readings" in o for o in written if isinstance(o, dict)) == 1  # only the new state is written
    monkeypatch.undo()
    session_module._FIELDS_JSON.clear()  # the same snapshot written from nothing gives the same token
    assert state_token.encode(session.snapshot(), studio.G.name) == moved != first
    counted = session.nbytes()
    session_module._FIELDS_JSON.clear()
    assert session.nbytes() < counted - 31 * 100  # the store counts the states' written JSON
    state_token.encode(session.snapshot(), studio.G.name)
    doc = state_token.decode(moved)
    assert doc.states[doc.current].strengths == {"attr:smile": -1.0} and len(doc.history) == 30
    assert doc.states[doc.current].base_readings == readings
    kept = len(session_module._FIELDS_JSON)
    del session, doc
    gc.collect()  # a session refers to itself through its renderer
    assert kept >= 31 and len(session_module._FIELDS_JSON) <= kept - 31  # the written states go with the session


def _pack(doc: dict) -> str:
    return base64.urlsafe_b64encode(zlib.compress(json.dumps(doc).encode())).decode()


@pytest.mark.parametrize("change, words", [
    (lambda d: "not a token!", "not URL-safe base64"),
    (lambda d: base64.urlsafe_b64encode(b"plain bytes").decode(), "not zlib"),
    (lambda d: base64.urlsafe_b64encode(zlib.compress(b"\0" * (9 * 2**20), 9)).decode(), "unpacks to more"),
    (lambda d: {**d, "model": "ffhq1024"}, "this server runs 'synthfaces64'"),
    (lambda d: {**d, "states": [{**d["states"][0], "strengths": {"attr:nope": 1.0}}]}, "unknown direction"),
    (lambda d: {**d, "states": [{**d["states"][0], "strengths": {"attr:smile": 99.0}}]}, "strengths"),
    (lambda d: {**d, "states": [{**d["states"][0], "layers": {"attr:smile": "0-99"}}]}, "out of range"),
    (lambda d: {**d, "states": [{**d["states"][0], "base": 5}]}, "code 5 of 1"),
    (lambda d: {**d, "current": 9}, "state 9 of 1"),
    (lambda d: {**d, "states": [{**d["states"][0], "source": {"kind": "file", "path": "/etc/passwd"}}]}, "source"),
    (lambda d: {**d, "codes": [{"space": "w", "data": base64.b64encode(
        np.full(128, np.nan, "<f4").tobytes()).decode()}]}, "NaN"),
    (lambda d: {**d, "codes": [{"space": "w", "data": "AAAA"}]}, "3 bytes"),
    (lambda d: {**d, "extra": 1}, "extra"),
])
def test_forged_or_damaged_tokens_are_refused_in_one_line(studio: Studio, change, words) -> None:
    with client_of(make_app(studio)) as c:
        token = c.post("/api/sessions", json={"seed": SEED}).json()["token"]
        doc = json.loads(zlib.decompress(base64.urlsafe_b64decode(token)))
        bad = change(doc)
        r = c.post("/api/sessions/restore", json={"token": bad if isinstance(bad, str) else _pack(bad)})
        assert r.status_code in (400, 422), r.text
        error = r.json()["error"]
        assert words in error and "\n" not in error
        assert c.get("/api/info").status_code == 200


# ---- oversized uploads ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(studio: Studio):
    from ganlens.web import background_server

    app = make_app(studio, allowed_hosts=["127.0.0.1", "localhost"])
    with background_server(app) as url:
        yield url, app


@pytest.mark.parametrize("chunked", [False, True])
def test_an_oversized_upload_gets_a_413_with_the_json_error_not_a_reset(server, chunked: bool) -> None:
    """urllib sends the whole body before reading and asks the server to close: before the fix it saw the
    connection reset instead of the answer."""
    import urllib.error
    import urllib.request

    import httpx

    url, _ = server
    sid = httpx.post(f"{url}/api/sessions", json={"seed": SEED}).json()["session"]
    head = b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n\x89PNG\r\n\x1a\n'
    body = head + b"\0" * 8_000_000 + b"\r\n--xx--\r\n"  # 30 times the test server's limit
    data = iter([body[i:i + 65536] for i in range(0, len(body), 65536)]) if chunked else body
    request = urllib.request.Request(f"{url}/api/sessions/{sid}/upload", data=data, method="POST",
                                     headers={"Content-Type": "multipart/form-data; boundary=xx"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=60)
    assert caught.value.code == 413
    error = json.loads(caught.value.read())["error"]
    assert "limit" in error and "\n" not in error
    assert httpx.get(f"{url}/api/info").status_code == 200


# ---- the cross-session batcher --------------------------------------------------------------------------------


def test_batcher_coalesces_concurrent_calls_and_keeps_each_callers_result_and_error() -> None:
    import threading

    from ganlens.web.batcher import Batcher

    calls = []

    def run(items: list[int]) -> list[int]:
        calls.append(list(items))
        if 13 in items:
            raise ValueError("13 is unlucky")
        return [i * i for i in items]

    batcher = Batcher(run, window_s=0.2, max_batch=8)
    results: dict[int, object] = {}
    start = threading.Barrier(20)

    def call(i: int) -> None:
        start.wait()
        try:
            results[i] = batcher.submit(i)
        except ValueError as exc:
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(results[i] == i * i for i in range(20) if i != 13)
    assert isinstance(results[13], ValueError)  # its own error; its batch-mates were answered one by one
    assert max(len(c) for c in calls) == 8 and len(calls) < 20 + 8  # batched, never beyond max_batch


def test_batcher_calls_on_idle_once_per_quiet_spell() -> None:
    import time

    from ganlens.web.batcher import Batcher

    quiet = []
    batcher = Batcher(lambda items: items, window_s=0, on_idle=lambda: quiet.append(1), quiet_s=0.1)
    for i in range(5):
        assert batcher.submit(i) == i
    time.sleep(0.5)
    calls = len(quiet)
    assert calls >= 1
    time.sleep(0.3)
    assert len(quiet) == calls  # nothing ran since: no further call
    batcher.submit(9)
    time.sleep(0.5)
    assert len(quiet) == calls + 1


def test_a_slider_move_composes_its_code_once(studio: Studio, monkeypatch) -> None:
    """Validating a move and drawing it need the same composed code: it is made once (a millisecond of small
    tensor operations under the interpreter lock), and it is the code the move describes."""
    app = make_app(studio)
    calls = []
    real = studio.compose
    monkeypatch.setattr(studio, "compose", lambda *a, **k: calls.append(a) or real(*a, **k))
    with client_of(app) as c:
        sid = c.post("/api/sessions", json={"seed": SEED}).json()["session"]
        calls.clear()
        view = c.post(f"/api/sessions/{sid}/edit", json={"strengths": {"attr:smile": 2.0}, "commit": False}).json()
    assert len(calls) == 1
    session = app.state.sessions.get(sid)
    expected = real(session.state.base, {"attr:smile": 2.0}, {})
    drawn = studio.render(expected)
    assert view["image"] == drawn.data_url and view["scores"] == pytest.approx(drawn.scores, abs=1e-6)


def test_batched_read_out_equals_a_batch_1_render_of_each_code(studio: Studio) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import replace

    from ganlens.web.batcher import Batcher

    codes = [studio.compose(studio.sample(seed, 0.7), {"attr:smile": s, "attr:age": -s}, {"attr:age": "coarse"})
             for seed, s in zip(range(12), np.linspace(-3, 3, 12))]
    codes[3] = codes[3].to_wplus(studio.G.num_ws)  # W and W+ codes share a batch
    # fp32 here: batching must change nothing beyond float rounding, and bf16's own rounding (checked below)
    # would hide a mix-up of codes within a batch
    exact = replace(studio, precision="fp32")
    alone = [exact.read_out([c])[0] for c in codes]
    batcher = Batcher(exact.read_out, window_s=0.5, max_batch=16)
    with ThreadPoolExecutor(12) as pool:
        batched = list(pool.map(batcher.submit, codes))
    assert max(batcher.batches) >= 6, list(batcher.batches)
    for a, b in zip(alone, batched):
        diff = np.abs(a.image.astype(int) - b.image.astype(int))
        assert diff.max() <= 1 and diff.mean() < 0.01  # float rounding of a different batch shape, at most
        # ... and the predictors read the same within what a grey level moves them (1e-3 of a logit of -11)
        assert b.scores == pytest.approx(a.scores, rel=1e-3, abs=2e-3)
        for name in a.guard_scores:
            assert b.guard_scores[name] == pytest.approx(a.guard_scores[name], rel=1e-3, abs=2e-3)
    assert any(not np.array_equal(alone[0].image, b.image) for b in batched[1:])  # each got its own image
    # In the studio's own precision a render alone (style folded into the kernel) and in a batch round
    # differently, but neither is farther from the fp32 image than the precision itself puts it.
    reference = np.stack([a.image.astype(int) for a in alone])
    for render in ([studio.read_out([c])[0] for c in codes], studio.read_out(codes)):
        off = np.abs(np.stack([r.image.astype(int) for r in render]) - reference)
        assert off.mean() < 0.5 and off.max() <= 16, (off.mean(), off.max())


def test_slider_moves_render_in_the_studio_precision(studio: Studio) -> None:
    from dataclasses import replace

    from ganlens.models.precision import fast_precision

    assert studio.precision == fast_precision("cpu")  # Studio.load's 'auto', resolved once
    assert studio.info()["precision"] == studio.precision
    codes = [studio.sample(seed, 0.7) for seed in range(4)]
    fp32 = [r.image.astype(int) for r in replace(studio, precision="fp32").read_out(codes)]
    bf16 = [r.image.astype(int) for r in replace(studio, precision="bf16").read_out(codes)]
    diff = np.abs(np.stack(fp32) - np.stack(bf16))
    assert diff.max() > 0  # the setting reaches the generator ...
    assert diff.mean() < 1.0 and diff.max() <= 32  # ... and bf16 stays a few grey levels from fp32


# ---- many clients on a real server ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_studio() -> Studio:
    return Studio.load("random-tiny", sefa_num=2)


def test_forty_concurrent_clients_on_a_tiny_model_get_no_errors(tiny_studio: Studio) -> None:
    """Forty tabs, ten slider moves each with pauses, against a store far too small for them: idle sessions are
    dropped and restored from the clients' tokens as the page does, and not one request fails."""
    import random
    import time
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from ganlens.web import background_server

    app = create_app(tiny_studio, autolabel_samples=None, session_bytes=200_000, session_grace_s=0.3,
                     batch_window_s=0.01)
    key = next(iter(tiny_studio.sliders))

    def tab(i: int) -> tuple[int, int]:
        errors = restored = 0
        pause = random.Random(i)
        with httpx.Client(base_url=url, timeout=120) as http:
            view = http.post("/api/sessions", json={"seed": i}).json()
            for k in range(10):
                body = {"strengths": {key: round(-2 + 0.4 * k, 1)}, "commit": k % 3 == 0}
                for _ in range(3):  # as the page does: restore from the last token and send the move again
                    r = http.post(f"/api/sessions/{view['session']}/edit", json=body)
                    if r.status_code != 404 or not r.json().get("expired"):
                        break
                    restored += 1
                    view = http.post("/api/sessions/restore", json={"token": view["token"]}).json()
                errors += r.status_code != 200
                if r.status_code == 200:
                    view = r.json()
                    assert view["state"]["strengths"][key] == body["strengths"][key]
                time.sleep(pause.uniform(0, 0.6))
        return errors, restored

    with background_server(app) as url:
        with ThreadPoolExecutor(40) as pool:
            outcomes = list(pool.map(tab, range(40)))
    assert sum(e for e, _ in outcomes) == 0
    assert app.state.sessions.dropped["memory"] > 0 and sum(r for _, r in outcomes) > 0
    assert max(app.state.batcher.batches) > 1  # moves of different tabs were drawn together
