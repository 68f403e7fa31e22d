"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest

import ganlens
from ganlens.models import Generator


@pytest.fixture(scope="session")
def tiny_G() -> Generator:
    """The bundled random-tiny generator (torch seed 0, untrained), built once for the whole run.

    Shared, so a test must not change it: library functions that tune or convert a generator (PTI, the split
    model) work on copies, and a test that sets an attribute such as `precision` builds its own.
    """
    return ganlens.load("random-tiny")


@pytest.fixture(scope="session")
def G(tiny_G: Generator) -> Generator:
    """`tiny_G` under the name most tests give the generator they use."""
    return tiny_G
