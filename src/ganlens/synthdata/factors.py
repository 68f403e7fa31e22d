"""The ground-truth factors of the synthfaces domain and how they are drawn.

Thirteen factors span the four abstraction levels HiGAN found in GAN layers:

| # | name        | level     | kind       | range   | meaning                                                      | drawn as |
|---|-------------|-----------|------------|---------|--------------------------------------------------------------|----------|
| 0 | yaw         | layout    | continuous | [-1, 1] | head turned left/right: features shift, face narrows, far ear hides | clip(N(0, 0.5)) |
| 1 | face_size   | layout    | continuous | [0, 1]  | head scale in the frame                                       | U(0, 1) |
| 2 | hair_length | layout    | continuous | [0, 1]  | short crop .. shoulder length                                 | U(0, 1) |
| 3 | glasses     | object    | binary     | {0, 1}  | round eyeglasses (transparent lenses)                         | Bernoulli(σ(−2.6 + 3.6·age)) |
| 4 | beard       | object    | binary     | {0, 1}  | full beard in hair colour, mouth stays visible                | Bernoulli(σ(−0.2 − 3.2·hair_length)) |
| 5 | hat         | object    | binary     | {0, 1}  | a cap over the top of the head                                | Bernoulli(0.2) |
| 6 | smile       | attribute | continuous | [-1, 1] | mouth curvature: frown .. smile                               | clip(N(0.45 − 0.9·age, 0.4)) |
| 7 | age         | attribute | continuous | [0, 1]  | forehead and eye wrinkles, greying hair                       | U(0, 1) |
| 8 | eye_open    | attribute | continuous | [0, 1]  | eyelid opening                                                | U(0, 1) |
| 9 | background  | colour    | continuous | [0, 1]  | background colour along teal → purple → orange               | U(0, 1) |
|10 | skin_tone   | colour    | continuous | [0, 1]  | light .. dark skin                                            | U(0, 1) |
|11 | hair_color  | colour    | continuous | [0, 1]  | black → brown → blond (hair, eyebrows, sideburns, beard)      | U(0, 1) |
|12 | light       | colour    | continuous | [-1, 1] | light direction: brightness gradient across the head          | U(−1, 1) |

Deliberate correlations, as in real face data: glasses become likelier with age, smiles rarer with age, beards
likelier with short hair. Everything else is drawn independently. `sample_factors(..., independent=True)` breaks
the three correlations (glasses and beard Bernoulli(0.5), smile U(-1, 1)): renders for training a predictor that
cannot learn one factor as a cue for another.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class Factor:
    """One ground-truth factor: its name, kind, range, HiGAN level and a description."""

    name: str
    kind: str  # "continuous" | "binary"
    low: float
    high: float
    level: str  # "layout" | "object" | "attribute" | "colour"
    description: str


FACTORS: tuple[Factor, ...] = (
    Factor("yaw", "continuous", -1, 1, "layout", "head turned left/right; features shift, face narrows; clip(N(0, 0.5))"),
    Factor("face_size", "continuous", 0, 1, "layout", "head scale in the frame; U(0, 1)"),
    Factor("hair_length", "continuous", 0, 1, "layout", "short crop .. shoulder length; U(0, 1)"),
    Factor("glasses", "binary", 0, 1, "object", "round eyeglasses; Bernoulli(sigmoid(-2.6 + 3.6 age))"),
    Factor("beard", "binary", 0, 1, "object", "beard in hair colour; Bernoulli(sigmoid(-0.2 - 3.2 hair_length))"),
    Factor("hat", "binary", 0, 1, "object", "cap over the top of the head; Bernoulli(0.2)"),
    Factor("smile", "continuous", -1, 1, "attribute", "mouth curvature frown .. smile; clip(N(0.45 - 0.9 age, 0.4))"),
    Factor("age", "continuous", 0, 1, "attribute", "wrinkles and greying hair; U(0, 1)"),
    Factor("eye_open", "continuous", 0, 1, "attribute", "eyelid opening; U(0, 1)"),
    Factor("background", "continuous", 0, 1, "colour", "background colour teal -> purple -> orange; U(0, 1)"),
    Factor("skin_tone", "continuous", 0, 1, "colour", "light .. dark skin; U(0, 1)"),
    Factor("hair_color", "continuous", 0, 1, "colour", "black -> brown -> blond; U(0, 1)"),
    Factor("light", "continuous", -1, 1, "colour", "light from the left (-1) .. right (+1); U(-1, 1)"),
)
FACTOR_NAMES: tuple[str, ...] = tuple(f.name for f in FACTORS)
INDEX = {name: i for i, name in enumerate(FACTOR_NAMES)}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def sample_factors(n: int, seed: int, independent: bool = False) -> np.ndarray:
    """Draw n factor vectors (float32 [n, 13], columns in FACTORS order, binary as 0/1) from `seed`.

    `independent=True` draws glasses, beard and smile without their dependence on age and hair length (see the
    module docstring); the other columns are the same draws as with the default.
    """
    if n < 0:
        raise InputError(f"n must be >= 0, got {n}")
    rng = np.random.default_rng(seed)
    out = np.zeros((n, len(FACTORS)), dtype=np.float64)
    c = INDEX
    out[:, c["yaw"]] = np.clip(rng.normal(0, 0.5, n), -1, 1)
    out[:, c["face_size"]] = rng.uniform(0, 1, n)
    out[:, c["hair_length"]] = rng.uniform(0, 1, n)
    age = rng.uniform(0, 1, n)
    out[:, c["age"]] = age
    p_glasses = np.full(n, 0.5) if independent else _sigmoid(-2.6 + 3.6 * age)
    p_beard = np.full(n, 0.5) if independent else _sigmoid(-0.2 - 3.2 * out[:, c["hair_length"]])
    out[:, c["glasses"]] = rng.uniform(0, 1, n) < p_glasses
    out[:, c["beard"]] = rng.uniform(0, 1, n) < p_beard
    out[:, c["hat"]] = rng.uniform(0, 1, n) < 0.2
    smile = np.clip(rng.normal(0.45 - 0.9 * age, 0.4), -1, 1)  # drawn in both modes so later columns match
    if independent:
        smile = np.random.default_rng((seed, 1)).uniform(-1, 1, n)
    out[:, c["smile"]] = smile
    out[:, c["eye_open"]] = rng.uniform(0, 1, n)
    out[:, c["background"]] = rng.uniform(0, 1, n)
    out[:, c["skin_tone"]] = rng.uniform(0, 1, n)
    out[:, c["hair_color"]] = rng.uniform(0, 1, n)
    out[:, c["light"]] = rng.uniform(-1, 1, n)
    return out.astype(np.float32)
