"""The procedural domain: deterministic, seeded, every factor moves the pixels it should, correlations hold."""

from __future__ import annotations

import numpy as np
import pytest

from ganlens.errors import GanlensError
from ganlens.synthdata import FACTOR_NAMES, FACTORS, build_dataset, load_dataset, render, render_batch, sample_factors

I = {n: i for i, n in enumerate(FACTOR_NAMES)}


def base() -> np.ndarray:
    f = sample_factors(1, seed=11)[0]
    f[I["yaw"]], f[I["glasses"]], f[I["beard"]], f[I["hat"]] = 0.0, 0.0, 0.0, 0.0
    f[I["face_size"]], f[I["light"]] = 0.5, 0.0
    return f


def with_(f: np.ndarray, **kw) -> np.ndarray:
    g = f.copy()
    for k, v in kw.items():
        g[I[k]] = v
    return g


def changed_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.nonzero(np.abs(a.astype(int) - b.astype(int)).sum(axis=(1, 2)) > 0)[0]


def test_render_is_deterministic_and_shaped():
    f = base()
    a, b = render(f), render(f)
    assert a.dtype == np.uint8 and a.shape == (64, 64, 3) and a.tobytes() == b.tobytes()
    assert render(f, size=32).shape == (32, 32, 3)
    with pytest.raises(ValueError, match=r"\[13\]"):
        render(np.zeros(5))


def test_sampler_is_seeded_and_in_range():
    a, b, c = sample_factors(500, 1), sample_factors(500, 1), sample_factors(500, 2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    for j, f in enumerate(FACTORS):
        assert a[:, j].min() >= f.low and a[:, j].max() <= f.high, f.name
        if f.kind == "binary":
            assert set(np.unique(a[:, j])) <= {0.0, 1.0}
        else:  # broad coverage, not piled up at the ends
            assert np.ptp(a[:, j]) > 0.8 * (f.high - f.low), f.name


def test_glasses_change_only_the_eye_band_and_hat_only_the_top():
    f = base()
    rows = changed_rows(render(with_(f, glasses=0)), render(with_(f, glasses=1)))
    assert rows.size and rows.min() >= 20 and rows.max() <= 40  # eyes sit at about row 30 of 64
    rows = changed_rows(render(with_(f, hat=0)), render(with_(f, hat=1)))
    assert rows.size and rows.max() <= 28
    rows = changed_rows(render(with_(f, smile=-1)), render(with_(f, smile=1)))
    assert rows.size and rows.min() >= 40  # the mouth


def test_every_factor_changes_the_image():
    f = base()
    for fac in FACTORS:
        lo, hi = render(with_(f, **{fac.name: fac.low})), render(with_(f, **{fac.name: fac.high}))
        assert np.abs(lo.astype(int) - hi.astype(int)).sum() > 500, fac.name


def test_background_changes_only_background_pixels():
    f = base()
    a, b = render(with_(f, background=0.0)), render(with_(f, background=1.0))
    centre = (slice(28, 36), slice(28, 36))
    assert np.array_equal(a[centre], b[centre]) and not np.array_equal(a[:4, :4], b[:4, :4])


def test_documented_correlations_hold():
    f = sample_factors(20000, seed=0)
    c = np.corrcoef(f.T)
    assert c[I["glasses"], I["age"]] > 0.3
    assert c[I["smile"], I["age"]] < -0.3
    assert c[I["beard"], I["hair_length"]] < -0.2
    assert abs(c[I["hat"], I["age"]]) < 0.05 and abs(c[I["background"], I["skin_tone"]]) < 0.05
    assert 0.25 < f[:, I["glasses"]].mean() < 0.4 and 0.15 < f[:, I["beard"]].mean() < 0.25
    assert 0.17 < f[:, I["hat"]].mean() < 0.23


def test_independent_sampling_breaks_only_the_three_correlations():
    f, g = sample_factors(20000, seed=0), sample_factors(20000, seed=0, independent=True)
    c = np.corrcoef(g.T)
    for a, b in (("glasses", "age"), ("smile", "age"), ("beard", "hair_length")):
        assert abs(c[I[a], I[b]]) < 0.03, (a, b)
    assert 0.47 < g[:, I["glasses"]].mean() < 0.53 and 0.47 < g[:, I["beard"]].mean() < 0.53
    assert g[:, I["smile"]].min() < -0.95 and g[:, I["smile"]].max() > 0.95
    changed = [n for n in FACTOR_NAMES if not np.array_equal(f[:, I[n]], g[:, I[n]])]
    assert changed == ["glasses", "beard", "smile"]


def test_dataset_round_trip_and_no_silent_overwrite(tmp_path):
    path = build_dataset(40, seed=3, out=tmp_path / "d.npz", progress=False)
    ds = load_dataset(path)
    assert len(ds) == 40 and ds.names == FACTOR_NAMES and ds.seed == 3 and not ds.independent
    assert np.array_equal(ds.factors, sample_factors(40, 3))
    assert np.array_equal(ds.images, render_batch(sample_factors(40, 3)))
    with pytest.raises(GanlensError, match="already exists"):
        build_dataset(40, seed=3, out=path, progress=False)
    indep = load_dataset(build_dataset(40, seed=3, out=tmp_path / "i.npz", progress=False, independent=True))
    assert indep.independent and np.array_equal(indep.factors, sample_factors(40, 3, independent=True))


def test_bad_dataset_files_are_clear_errors(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(GanlensError, match="cannot read"):
        load_dataset(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", images=np.zeros((2, 8, 8, 3), np.uint8))
    with pytest.raises(GanlensError, match="missing"):
        load_dataset(tmp_path / "other.npz")
    with pytest.raises(GanlensError, match="not found"):
        load_dataset(tmp_path / "nope.npz")
