"""The API's request bodies and their limits; a value out of range is refused with a message naming the range."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from ..errors import InputError

MAX_STRENGTH = 10.0
MAX_CLIMB = 5.0  # latent units per climb: a few seconds on the CPU
MAX_TOKEN_CHARS = 4 * 2**20  # a page's state token (a few kB for most tabs; 32 W+ codes are about 0.3 MB)


class SeedRequest(BaseModel):
    """A seed for the main image (slot 'a') or the second image (slot 'b')."""

    seed: int = Field(ge=0, lt=2**32)
    truncation: float = Field(1.0, ge=0.0, le=1.0)
    slot: Literal["a", "b"] = "a"


class EditRequest(BaseModel):
    """A partial update of the edit: only the fields given change (strengths and layers merge per slider)."""

    strengths: dict[str, float] | None = None
    layers: dict[str, str] | None = None
    keep_fixed: list[str] | None = None
    mix_layers: str | None = Field(None, max_length=64)
    set_mix: bool = False  # mix_layers is applied only when set_mix is true (None then switches the mix off)
    commit: bool = True

    @field_validator("strengths")
    @classmethod
    def _finite(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        for key, s in (v or {}).items():
            if not (math.isfinite(s) and abs(s) <= MAX_STRENGTH):
                raise InputError(f"strength of {key!r} must be a number in [-{MAX_STRENGTH:g}, {MAX_STRENGTH:g}]")
        return v

    @field_validator("layers")
    @classmethod
    def _short(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        for key, spec in (v or {}).items():
            if len(spec) > 64:
                raise InputError(f"layer range of {key!r} is too long; give e.g. '0-3', 'coarse' or 'all'")
        return v


class ClimbRequest(BaseModel):
    """Move the current image up (distance > 0) or down its own gradient of one attribute's score."""

    attribute: str = Field(max_length=64)
    distance: float = Field(ge=-MAX_CLIMB, le=MAX_CLIMB)

    @field_validator("distance")
    @classmethod
    def _moves(cls, v: float) -> float:
        if v == 0:
            raise InputError("distance must not be 0 (positive raises the attribute, negative lowers it)")
        return v


class MorphRequest(BaseModel):
    """A morph from the current image to the second one."""

    frames: int = Field(24, ge=2, le=120)
    fps: float = Field(12.0, gt=0, le=50)


class RestoreRequest(BaseModel):
    """The state token of the page's last view, to re-create its session from."""

    token: str = Field(min_length=1, max_length=MAX_TOKEN_CHARS)
