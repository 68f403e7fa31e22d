"""The web UI's style-channel sliders (StyleSpace, issue 34) and restoration jobs (issue 31), through the API with
Starlette's TestClient on the bundled synthfaces64 model, with few samples and steps so that each test takes seconds.
"""

from __future__ import annotations

import base64
import io
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from web_jobs import wait_job

pytest.importorskip("fastapi")

with warnings.catch_warnings():  # newer Starlette suggests httpx2 for its TestClient; httpx still works
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

from ganlens.directions.stylespace import StyleChannels, by_sensitivity
from ganlens.edit import move
from ganlens.errors import GanlensError
from ganlens.io.files import atomic_write_bytes
from ganlens.latents import LatentCode
from ganlens.restore import Downsample, restore
from ganlens.web import Studio, create_app
from ganlens.web.studio import _check_style_direction

SEED = 7
SAMPLES = 4  # of the channel ranking (the server's default is 16)


@pytest.fixture(scope="module")
def studio() -> Studio:
    st = Studio.load("synthfaces64", sefa_num=0, encoder=None, guard=None)
    st.styles.samples = SAMPLES
    return st


@pytest.fixture(scope="module")
def client(studio: Studio) -> TestClient:
    with TestClient(create_app(studio, max_upload_bytes=200_000, autolabel_samples=None)) as c:
        yield c


def new_session(client: TestClient, seed: int = SEED) -> dict:
    r = client.post("/api/sessions", json={"seed": seed, "truncation": 0.7})
    assert r.status_code == 200, r.text
    return r.json()


def pixels(data_url: str) -> np.ndarray:
    data = base64.b64decode(data_url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def latent_of(client: TestClient, sid: str, tmp_path: Path) -> LatentCode:
    path = tmp_path / "latent.npz"
    atomic_write_bytes(path, client.get(f"/api/sessions/{sid}/latent.npz").content)
    return LatentCode.load(path)


# ---- style-channel sliders -------------------------------------------------------------------------------------


def test_info_offers_style_channels_and_restoration(client: TestClient) -> None:
    info = client.get("/api/info").json()
    style = info["style"]
    assert style["available"] and style["reason"] is None and style["route"] == "sensitivity" and style["top"] == 3
    assert "smile" in style["attributes"]
    assert info["restore"]["methods"] == ["wplus", "pulse"]  # dgp's tuned generator cannot be shown in a session
    assert set(info["restore"]["tasks"]) == {"sr", "colorize", "denoise", "inpaint", "blur"}


def test_channel_list_is_the_sensitivity_ranking_with_layer_index_and_spread(client: TestClient, studio: Studio,
                                                                             monkeypatch) -> None:
    r = client.get("/api/stylespace/smile")
    assert r.status_code == 200, r.text
    body = r.json()
    rows = body["channels"]
    assert body["attribute"] == "smile" and body["samples"] == SAMPLES and len(rows) == 3
    G, sc = studio.G, studio.scorer
    stats = StyleChannels.fit(G, 2000)  # what `ganlens discover --method stylespace` fits
    col = list(sc.names).index("smile")
    expected = by_sensitivity(G, lambda x: sc.score_tensor(x)[:, col], stats, n=SAMPLES, top=3, batch_size=SAMPLES)
    assert [row["s_index"] for row in rows] == [k for k, _ in expected]
    for row, (k, sens) in zip(rows, expected):
        assert row["key"] == f"style:{row['layer']}:{row['index']}" and row["channel"] == stats.label(k)
        assert row["layer"] in stats.layers and 0 <= row["index"] < stats.widths[stats.layers.index(row["layer"])]
        assert row["spread"] == pytest.approx(float(stats.std[k])) and row["spread"] > 0
        assert row["sensitivity"] == pytest.approx(sens)

    def ranked_again(*_, **__):
        raise AssertionError("the ranking was computed again")

    monkeypatch.setattr("ganlens.web.stylespace.by_sensitivity", ranked_again)
    assert client.get("/api/stylespace/smile").json() == body  # kept: answered from memory


def test_style_slider_edits_the_code_in_s_as_the_library_does(client: TestClient, studio: Studio,
                                                              tmp_path: Path) -> None:
    view = new_session(client)
    sid = view["session"]
    top = client.get("/api/stylespace/smile").json()["channels"][0]
    key, G = top["key"], studio.G
    zero = client.post(f"/api/sessions/{sid}/edit", json={"strengths": {key: 0.0}}).json()
    assert zero["image"] == view["image"]  # a zero move changes nothing
    r = client.post(f"/api/sessions/{sid}/edit", json={"strengths": {key: 4.0}})
    assert r.status_code == 200, r.text
    moved = r.json()
    assert moved["image"] != view["image"] and moved["state"]["strengths"][key] == 4.0
    # The same edit by the library: the seed's code in S, the channel moved by 4 of its spreads (`ganlens edit`
    # with an S direction of this one channel).
    stats = studio.styles.stats()
    base = G.to_styles(studio.sample(SEED, 0.7))
    expected = move(base, stats.direction([top["s_index"]]), [4.0])
    code = latent_of(client, sid, tmp_path)
    assert code.space == "s"
    torch.testing.assert_close(code.tensor, expected.tensor)
    delta = code.tensor - base.tensor
    assert torch.count_nonzero(delta) == 1
    assert float(delta[0, top["s_index"]]) == pytest.approx(4.0 * top["spread"], rel=1e-4)
    library = G.render(expected, precision=studio.precision)[0]
    assert np.abs(pixels(moved["image"]).astype(int) - library.astype(int)).max() <= 1
    # Raising the channel against the sign of its sensitivity lowers smile, with it raises it.
    sign = 1.0 if top["sensitivity"] > 0 else -1.0
    up = client.post(f"/api/sessions/{sid}/edit", json={"strengths": {key: 4.0 * sign}}).json()["scores"]["smile"]
    down = client.post(f"/api/sessions/{sid}/edit", json={"strengths": {key: -4.0 * sign}}).json()["scores"]["smile"]
    assert up > view["scores"]["smile"] > down
    # W sliders still apply (before the conversion to S); undo takes the last move back.
    both = client.post(f"/api/sessions/{sid}/edit", json={"strengths": {"attr:age": 2.0}}).json()
    assert both["scores"]["age"] > view["scores"]["age"] and both["state"]["strengths"][key] == -4.0 * sign
    assert client.post(f"/api/sessions/{sid}/undo").json()["state"]["strengths"] == {key: -4.0 * sign}


def test_style_slider_survives_the_state_token_and_morphs_in_s(client: TestClient) -> None:
    sid = new_session(client)["session"]
    key = client.get("/api/stylespace/smile").json()["channels"][1]["key"]
    moved = client.post(f"/api/sessions/{sid}/edit", json={"strengths": {key: -3.0}}).json()
    restored = client.post("/api/sessions/restore", json={"token": moved["token"]}).json()
    assert restored["image"] == moved["image"] and restored["state"]["strengths"] == {key: -3.0}
    client.post(f"/api/sessions/{sid}/seed", json={"seed": 3, "truncation": 0.7, "slot": "b"})
    r = client.post(f"/api/sessions/{sid}/morph", json={"frames": 2})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path, body, status, words", [
    ("edit", {"strengths": {"style:b99.conv0:1": 1.0}}, 400, "give 'layer:channel'"),
    ("edit", {"strengths": {"style:b16.conv1:9999": 1.0}}, 400, "channels"),
    ("edit", {"layers": {"style:b16.conv1:58": "coarse"}}, 400, "no layer range"),
])
def test_bad_style_slider_requests_get_clear_errors(client: TestClient, path, body, status, words) -> None:
    view = new_session(client)
    r = client.post(f"/api/sessions/{view['session']}/{path}", json=body)
    assert r.status_code == status and words in r.json()["error"], r.text
    assert "\n" not in r.json()["error"]
    assert client.get(f"/api/sessions/{view['session']}").json()["state"] == view["state"]


def test_unknown_attribute_and_climb_with_a_style_slider_are_refused(client: TestClient) -> None:
    r = client.get("/api/stylespace/weight")
    assert r.status_code == 400 and "unknown attribute 'weight'" in r.json()["error"]
    sid = new_session(client)["session"]
    key = client.get("/api/stylespace/smile").json()["channels"][0]["key"]
    client.post(f"/api/sessions/{sid}/edit", json={"strengths": {key: 2.0}})
    r = client.post(f"/api/sessions/{sid}/climb", json={"attribute": "glasses", "distance": 1.0})
    assert r.status_code == 400 and "set them to 0" in r.json()["error"]


def test_s_direction_files_become_sliders(studio: Studio, tmp_path: Path) -> None:
    stats = studio.styles.stats()
    d = stats.direction(["b16.conv1:58", "b16.conv1:84"], signs=[-1, -1], attribute="smile-s2")
    d.save(tmp_path / "smile-s2.npz")
    mine = Studio.load("synthfaces64", directions=tmp_path, sefa_num=0, encoder=None, guard=None)
    slider = mine.sliders["user:smile-s2"]
    described = next(s for s in mine.info()["sliders"] if s["key"] == "user:smile-s2")
    assert described["group"] == "user" and described["space"] == "s" and described["layers"] is None
    base = mine.sample(SEED, 0.7)
    edited = mine.compose(base, {"user:smile-s2": 2.5}, {})
    torch.testing.assert_close(edited.tensor, move(mine.G.to_styles(base), slider.direction, [2.5]).tensor)
    wrong = stats.direction(["b16.conv1:58"])
    wrong.vector = np.concatenate([wrong.vector, [0.0]])
    with pytest.raises(GanlensError, match="style channels"):
        _check_style_direction(wrong, mine.G)


# ---- restoration -------------------------------------------------------------------------------------------------


def observation(studio: Studio) -> np.ndarray:
    """A 16 px observation (4x downsampled) of a 64 px image of the model's domain."""
    G = studio.G
    small = Downsample(4).simulate(G.synthesize(G.sample(1, seed=5)))
    return ((small[0].permute(1, 2, 0).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)


@pytest.mark.parametrize("method", ["pulse", "wplus"])
def test_restoration_job_shows_the_result_and_the_code_is_editable(client: TestClient, studio: Studio,
                                                                   tmp_path: Path, method: str) -> None:
    view = new_session(client)
    sid = view["session"]
    obs = observation(studio)
    r = client.post(f"/api/sessions/{sid}/restoration", files={"file": ("small.png", png_bytes(obs), "image/png")},
                    data={"task": "sr:4", "method": method, "steps": "3"})
    assert r.status_code == 202, r.text
    assert r.json()["job"]["kind"] == "restoration" and r.json()["job"]["task"] == "sr:4"
    jobs = wait_job(client, sid, r.json()["job"])
    last = jobs[-1]
    assert last["status"] == "done", last
    progress = [j["progress"] for j in jobs]
    assert progress == sorted(progress) and progress[-1] == 1.0 and last["loss"] is not None
    result = last["result"]
    assert pixels(result["observed"]).shape == (64, 64, 3)  # the 16 px observation, enlarged 4x
    np.testing.assert_array_equal(pixels(result["observed"])[::4, ::4], obs)
    shown = last["view"]
    assert shown["image"] == result["restored"] != view["image"]
    assert shown["state"]["source"] == {"kind": "restore", "name": "small.png", "task": "sr:4", "method": method,
                                        "steps": 3}
    code = latent_of(client, sid, tmp_path)
    assert code.space == ("w+" if method == "wplus" else "w")  # PULSE's z is mapped to its w, which W sliders edit
    if method == "pulse":  # (the cheaper one) the job is one call of the library: the same code as its restore
        lib = restore(studio.G, obs[None], "sr:4", method=method, steps=3)
        torch.testing.assert_close(code.tensor, studio.G.ws_of(lib.code)[:, 0])
    # Editable: a W slider and a style channel move the restored face, and the state token carries it.
    edited = client.post(f"/api/sessions/{sid}/edit", json={"strengths": {"attr:smile": 3.0}}).json()
    assert edited["image"] != shown["image"] and edited["scores"]["smile"] > shown["scores"]["smile"]
    key = client.get("/api/stylespace/smile").json()["channels"][0]["key"]
    styled = client.post(f"/api/sessions/{sid}/edit", json={"strengths": {key: 3.0}}).json()
    assert styled["image"] != edited["image"]
    again = client.post("/api/sessions/restore", json={"token": styled["token"]}).json()
    assert again["image"] == styled["image"] and again["state"]["source"]["kind"] == "restore"


@pytest.mark.parametrize("fields, status, words", [
    ({"task": "zoom:4"}, 400, "unknown restoration task 'zoom'"),
    ({"task": "sr:x"}, 400, "'x' is not a number"),
    ({"task": "sr:3"}, 400, "does not divide"),
    ({"task": "denoise:7"}, 400, "noise sigma must be in (0, 1]"),
    ({"task": "inpaint"}, 400, "needs a value"),
    ({"task": ""}, 400, "no task"),
    ({"task": "sr:4", "method": "dgp"}, 400, "method 'dgp'"),
    ({"task": "sr:4", "method": "magic"}, 400, "unknown restoration method 'magic'"),
    ({"task": "sr:4", "steps": "0"}, 400, "steps must be a whole number"),
])
def test_bad_restoration_requests_get_one_line_json_errors(client: TestClient, studio: Studio, fields, status,
                                                           words) -> None:
    view = new_session(client)
    sid = view["session"]
    r = client.post(f"/api/sessions/{sid}/restoration",
                    files={"file": ("small.png", png_bytes(observation(studio)), "image/png")}, data=fields)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert words in error and "\n" not in error, error
    after = client.get(f"/api/sessions/{sid}").json()
    assert after["state"] == view["state"] and after["job"] is None


def test_restoration_refuses_what_uploads_refuse(client: TestClient) -> None:
    sid = new_session(client)["session"]
    r = client.post(f"/api/sessions/{sid}/restoration", files={"file": ("notes.txt", b"just text", "text/plain")},
                    data={"task": "sr:4"})
    assert r.status_code == 415 and "not an image" in r.json()["error"]
    r = client.post(f"/api/sessions/{sid}/restoration", data={"task": "sr:4"})
    assert r.status_code == 400 and "no file" in r.json()["error"]
