"""The page's state token: a tab's current edit and its undo history in one string, so that nothing is lost when
the server drops the session (memory bound, idle time) or restarts.

Every view carries the token; the page keeps the newest one (in memory and in the tab's sessionStorage) and,
when the server no longer knows its session, sends it to `POST /api/sessions/restore`, which re-creates the
session with the same codes, sliders and undo steps, so the image is the same.

The token is zlib-compressed JSON in URL-safe base64. Codes travel as their float32 bytes (exact, so a restored
image is bit-identical), each distinct code once however many undo steps share it. Nothing in a token is
trusted: it is size-limited before and after decompression, validated field by field (`TokenModel`), and every
state must compose on this server's model (known sliders, valid layer ranges, finite codes of the right shape),
as a request changing the state would have to.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Callable
from typing import Annotated, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..edit import resolve_layers
from ..errors import GanlensError
from ..latents import LatentCode
from .schemas import MAX_CLIMB, MAX_STRENGTH, MAX_TOKEN_CHARS
from .session import HISTORY, EditState, Snapshot, fields_json
from .studio import Studio

FORMAT = 1
MAX_CODES = 32  # distinct codes one token carries; undo steps older than the 32nd distinct code are left out
MAX_JSON_BYTES = 8 * 2**20  # the same token decompressed (guards against a zlib bomb)


class TokenError(GanlensError):
    """A state token that cannot be restored on this server (damaged, forged, or for another model)."""


Finite = Annotated[float, Field(allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeedSource(_Strict):
    kind: Literal["seed"]
    seed: int = Field(ge=0, lt=2**32)
    truncation: Finite = Field(ge=0.0, le=1.0)


class UploadSource(_Strict):
    kind: Literal["upload"]
    name: str = Field(max_length=80)
    method: Literal["encoder", "hybrid", "optim"]
    steps: int = Field(ge=0, le=2000)


class RestoreSource(_Strict):
    kind: Literal["restore"]
    name: str = Field(max_length=80)
    task: str = Field(max_length=200)
    method: Literal["wplus", "pulse"]
    steps: int = Field(ge=1, le=2000)


class ClimbStep(_Strict):
    attribute: str = Field(max_length=64)
    distance: Finite = Field(ge=-MAX_CLIMB, le=MAX_CLIMB)
    keep: list[str] = Field(max_length=64)


class ClimbSource(_Strict):
    kind: Literal["climb"]
    origin: Annotated[SeedSource | UploadSource | RestoreSource, Field(discriminator="kind")]
    climbs: list[ClimbStep] = Field(max_length=10_000)


Source = Annotated[SeedSource | UploadSource | RestoreSource | ClimbSource, Field(discriminator="kind")]


class TokenCode(_Strict):
    space: Literal["w", "w+"]
    data: str = Field(max_length=2**20)  # base64 of float32 bytes


class TokenState(_Strict):
    base: int = Field(ge=0)
    source: Source
    base_scores: dict[str, Finite] = Field(max_length=256)
    base_readings: dict[str, dict[str, Finite]] = Field(max_length=16)
    strengths: dict[str, Annotated[Finite, Field(ge=-MAX_STRENGTH, le=MAX_STRENGTH)]] = Field(max_length=1024)
    layers: dict[str, Annotated[str, Field(max_length=64)]] = Field(max_length=1024)
    keep_fixed: list[str] = Field(max_length=64)
    second: int | None = Field(None, ge=0)
    second_source: Source | None = None
    mix_layers: str | None = Field(None, max_length=64)


class TokenModel(_Strict):
    """What a token holds: the codes, the distinct states, and which state is current, committed and undoable."""

    v: Literal[1]
    model: str = Field(max_length=200)
    codes: list[TokenCode] = Field(max_length=MAX_CODES)
    states: list[TokenState] = Field(min_length=1, max_length=HISTORY + 2)
    history: list[int] = Field(max_length=HISTORY)
    committed: int = Field(ge=0)
    current: int = Field(ge=0)


# ---- writing ----------------------------------------------------------------------------------------------------


def encode(snap: Snapshot, model: str) -> str:
    """The token of a session's snapshot (current state, committed state, undo history) for `model`."""
    codes: list[LatentCode] = []
    code_ids: dict[int, int] = {}
    states: list[str] = []  # each state's JSON
    state_ids: dict[int, int] = {}

    def code_index(code: LatentCode | None) -> int | None:
        if code is None:
            return None
        if id(code) not in code_ids:
            code_ids[id(code)] = len(codes)
            codes.append(code)
        return code_ids[id(code)]

    def state_index(st: EditState) -> int:
        if id(st) not in state_ids:
            state_ids[id(st)] = len(states)
            refs = json.dumps({"base": code_index(st.base), "second": code_index(st.second)}, separators=(",", ":"))
            states.append(refs[:-1] + "," + fields_json(st)[1:])
        return state_ids[id(st)]

    current, committed = state_index(snap.state), state_index(snap.committed)
    history: list[int] = []
    for st in reversed(snap.history):  # newest first, while the codes fit
        new_codes = {id(c) for c in (st.base, st.second) if c is not None and id(c) not in code_ids}
        if len(codes) + len(new_codes) > MAX_CODES:
            break
        history.append(state_index(st))
    head = {"v": FORMAT, "model": model, "codes": [_code_json(c) for c in codes], "history": history[::-1],
            "committed": committed, "current": current}
    raw = json.dumps(head, separators=(",", ":"))[:-1] + ',"states":[' + ",".join(states) + "]}"
    return base64.urlsafe_b64encode(zlib.compress(raw.encode(), 1)).decode("ascii")


def _code_json(code: LatentCode) -> dict:
    data = code.tensor.detach().cpu().numpy().astype("<f4").tobytes()
    return {"space": code.space, "data": base64.b64encode(data).decode("ascii")}


# ---- reading ----------------------------------------------------------------------------------------------------


def decode(token: str) -> TokenModel:
    """Parse and check the form of a token (sizes, types, ranges); `restore` checks it against the model."""
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenError(f"the page's state token is {len(token) / 1e6:.1f} MB; the limit is "
                         f"{MAX_TOKEN_CHARS / 1e6:.1f} MB")
    try:
        packed = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True)
    except (UnicodeError, binascii.Error):
        raise TokenError("the page's state token is damaged (not URL-safe base64)") from None
    inflate = zlib.decompressobj()
    try:
        raw = inflate.decompress(packed, MAX_JSON_BYTES)
    except zlib.error:
        raise TokenError("the page's state token is damaged (not zlib data)") from None
    if inflate.unconsumed_tail:
        raise TokenError(f"the page's state token unpacks to more than {MAX_JSON_BYTES / 1e6:.0f} MB")
    try:
        return TokenModel.model_validate(json.loads(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise TokenError(f"the page's state token is invalid at {where or 'top level'}: {first.get('msg')}") from None
    except (UnicodeError, ValueError, RecursionError):
        raise TokenError("the page's state token is damaged (not JSON)") from None


def restore(token: str, studio: Studio,
            picture: Callable[[LatentCode], str]) -> tuple[EditState, EditState, tuple[EditState, ...]]:
    """The (current, committed, history) states a token describes, checked against `studio`'s model.

    Args:
        picture: a code's PNG data URL (the second image is re-drawn, not carried).

    Raises:
        TokenError: a damaged or forged token, or one made for another model; GanlensError: a state that does
            not compose here (an unknown slider, a bad layer range).
    """
    doc = decode(token)
    G = studio.G
    if doc.model != G.name:
        raise TokenError(f"the page's state is for model {doc.model!r}; this server runs {G.name!r}")
    codes = [_code(c, G) for c in doc.codes]
    pictures: dict[int, str] = {}
    n = len(doc.states)
    for i in (doc.current, doc.committed, *doc.history):
        if i >= n:
            raise TokenError(f"the page's state token names state {i} of {n}")

    def build(st: TokenState) -> EditState:
        for i in (st.base, st.second):
            if i is not None and i >= len(codes):
                raise TokenError(f"the page's state token names code {i} of {len(codes)}")
        for key in [*st.strengths, *st.layers]:
            studio.slider(key)  # an unknown key: GanlensError naming the known ones
        for spec in st.layers.values():
            if spec.strip():
                resolve_layers(spec, G.w_resolutions)
        unknown = [a for a in st.keep_fixed if a not in studio.boundaries]
        if unknown:
            raise TokenError(f"the page's state keeps {unknown} fixed; this model has no boundary for them")
        second = None if st.second is None else codes[st.second]
        if st.second is not None and st.second not in pictures:
            pictures[st.second] = picture(second)
        state = EditState(codes[st.base], st.source.model_dump(), dict(st.base_scores),
                          {k: dict(v) for k, v in st.base_readings.items()}, dict(st.strengths), dict(st.layers),
                          tuple(dict.fromkeys(st.keep_fixed)), second,
                          None if st.second_source is None else st.second_source.model_dump(),
                          None if st.second is None else pictures[st.second], st.mix_layers)
        studio.compose(state.base, state.strengths, state.layers, state.keep_fixed, state.second, state.mix_layers)
        return state

    built: dict[int, EditState] = {}

    def state(i: int) -> EditState:
        if i not in built:
            built[i] = build(doc.states[i])
        return built[i]

    return state(doc.current), state(doc.committed), tuple(state(i) for i in doc.history)


def _code(c: TokenCode, G) -> LatentCode:
    """A token's code as a LatentCode of one sample, checked for shape and finite values against G."""
    try:
        data = base64.b64decode(c.data.encode("ascii"), validate=True)
    except (UnicodeError, binascii.Error):
        raise TokenError("the page's state token holds a damaged code") from None
    shape = [1, G.w_dim] if c.space == "w" else [1, G.num_ws, G.w_dim]
    if len(data) != 4 * int(np.prod(shape)):
        raise TokenError(f"the page's state token holds a {c.space!r} code of {len(data)} bytes; this model's "
                         f"codes are {shape} float32")
    code = LatentCode(c.space, torch.from_numpy(np.frombuffer(data, dtype="<f4").astype(np.float32).reshape(shape)))
    code.validate_for(G)  # NaN / inf: LatentError
    return code
