"""Scatter figures of 2-D mixture samples over their modes (reports/plots.py), the papers'
Figure 2 look: one panel, and one row of panels over training."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from reports import plots

# the ring of VEEGAN and PacGAN, written out here: reports receives arrays, knows no metric
ANGLES = 2 * np.pi * np.arange(8) / 8
RING = np.stack([np.cos(ANGLES), np.sin(ANGLES)], axis=1)
SIGMA = 0.01


def _samples(n: int, seed: int, modes=range(8)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    chosen = rng.choice(list(modes), size=n)
    return RING[chosen] + SIGMA * rng.standard_normal((n, 2))


def _red_pixels(path) -> int:
    with Image.open(path) as img:
        px = np.asarray(img.convert("RGB")).astype(int)
    return int(((px[..., 0] > 200) & (px[..., 1] < 80) & (px[..., 2] < 80)).sum())


def test_limits_come_from_the_centres():
    assert plots.mixture_limits(RING) == (-1.5, 1.5)
    grid = np.array([(i, j) for i in range(-4, 5, 2) for j in range(-4, 5, 2)], float)
    assert plots.mixture_limits(grid) == (-6.0, 6.0)


def test_scatter_is_a_square_png_that_shows_missed_modes(tmp_path):
    covered = plots.mixture_scatter(tmp_path / "all.png", _samples(8000, 0), RING, title="t")
    with Image.open(covered) as img:
        side = round(plots.MIXTURE_PANEL * plots.DPI)
        assert img.format == "PNG" and img.size == (side, side)
        assert np.asarray(img.convert("L")).min() < 60  # the dots are drawn, dark
    # the centres lie under the samples: a covered mode hides its cross, a missed one shows it
    on_one = _red_pixels(plots.mixture_scatter(tmp_path / "one.png", _samples(8000, 1, [0]),
                                               RING))
    per_cross = on_one / 7
    assert per_cross > 5
    missed = _red_pixels(plots.mixture_scatter(tmp_path / "seven.png",
                                               _samples(8000, 2, range(1, 8)), RING))
    assert 0.5 * per_cross < missed < 1.5 * per_cross
    assert _red_pixels(covered) < 0.25 * per_cross


def test_scatter_is_deterministic_and_written_alone(tmp_path):
    points = _samples(3000, 3)
    a = plots.mixture_scatter(tmp_path / "a.png", points, RING, radius=3 * SIGMA)
    b = plots.mixture_scatter(tmp_path / "b.png", points, RING, radius=3 * SIGMA)
    assert a.read_bytes() == b.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]  # no temp files
    assert a.stat().st_mode & 0o777 == 0o644


def test_points_off_the_axes_are_not_drawn(tmp_path):
    inside = _samples(2000, 4)
    far = np.concatenate([inside, [[50.0, 50.0], [np.nan, 0.0], [0.0, np.inf]]])
    plain = plots.mixture_scatter(tmp_path / "in.png", inside, RING)
    noted = plots.mixture_scatter(tmp_path / "far.png", far, RING)
    with Image.open(plain) as p, Image.open(noted) as q:
        # the same picture but for the note counting the 3 points not drawn
        diff = np.asarray(p.convert("L")).astype(int) != np.asarray(q.convert("L")).astype(int)
    assert 0 < diff.sum() < 0.02 * diff.size


def test_progress_is_one_row_of_square_panels(tmp_path):
    panel = round(plots.PROGRESS_PANEL * plots.DPI)
    for n in (1, 3):
        frames = [(step, _samples(1000, step)) for step in range(0, 1000 * n, 1000)]
        path = plots.mixture_progress(tmp_path / f"p{n}.png", frames, RING)
        with Image.open(path) as img:
            assert img.format == "PNG" and img.size == (n * panel, panel)
    titled = plots.mixture_progress(tmp_path / "t.png", [(0, _samples(10, 0))], RING,
                                    title="ring over training")
    with Image.open(titled) as img:
        assert img.size == (panel, round((plots.PROGRESS_PANEL + 0.3) * plots.DPI))


@pytest.mark.parametrize("points", [np.zeros((5, 3)), np.zeros(4), np.zeros((0, 2)),
                                    np.zeros((2, 2, 2))])
def test_points_not_in_the_plane_are_a_clear_value_error(tmp_path, points):
    with pytest.raises(ValueError, match=r"points must be shaped \(n >= 1, 2\)"):
        plots.mixture_scatter(tmp_path / "x.png", points, RING)
    with pytest.raises(ValueError, match=r"points of step 7 must be shaped \(n >= 1, 2\)"):
        plots.mixture_progress(tmp_path / "x.png", [(0, _samples(5, 0)), (7, points)], RING)
    with pytest.raises(ValueError, match=r"centres must be shaped"):
        plots.mixture_scatter(tmp_path / "x.png", _samples(5, 0), points)
    assert not list(tmp_path.iterdir())


def test_progress_needs_a_frame(tmp_path):
    with pytest.raises(ValueError, match="at least one"):
        plots.mixture_progress(tmp_path / "x.png", [], RING)
