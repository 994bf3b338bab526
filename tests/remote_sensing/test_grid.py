"""Grid windows: whole pixels covering a box, clipped to the grid, and their bounds."""

from __future__ import annotations

import pytest

from remote_sensing.grid import Grid, Window, union

# 30 m pixels on an origin that is not a multiple of the pixel size (as Landsat grids are)
GRID = Grid(crs_wkt="", transform=(30.0, 0.0, 123456.7, 0.0, -30.0, 765432.1), width=1000, height=800)


def test_bounds_on_pixel_edges_cover_exactly_those_pixels():
    # x from column 348 to 361: 123456.7 + 30 * 348 = 133896.7, + 30 * 361 = 134286.7
    # y from row 395 to 546: 765432.1 - 30 * 395 = 753582.1, - 30 * 546 = 749052.1
    window = GRID.window_of((133896.7, 749052.1, 134286.7, 753582.1))
    assert (window.col_off, window.row_off, window.width, window.height) == (348, 395, 13, 151)
    assert GRID.window_bounds(window) == pytest.approx((133896.7, 749052.1, 134286.7, 753582.1))


def test_a_box_partly_in_a_pixel_takes_the_whole_pixel_and_is_clipped_to_the_grid():
    # from 5 m into column 2 to beyond the left and top edges of the grid
    window = GRID.window_of((123456.7 - 100, 765432.1 - 30 * 4 - 5, 123456.7 + 65, 765432.1 + 100))
    assert (window.col_off, window.row_off, window.width, window.height) == (0, 0, 3, 5)


def test_a_box_off_the_grid_has_no_window_and_windows_unite():
    assert GRID.window_of((0.0, 0.0, 10.0, 10.0)) is None
    joined = union(Window(col_off=2, row_off=3, width=4, height=5), Window(col_off=10, row_off=1, width=1, height=1))
    assert (joined.col_off, joined.row_off, joined.width, joined.height) == (2, 1, 9, 7)
