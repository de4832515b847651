"""Load and validate DeepRacer route files: float arrays of shape (N, 6).

Columns are ``[center_x, center_y, inner_x, inner_y, outer_x, outer_y]`` in metres. A route is a
closed loop if and only if its first row equals its last row (docs/simulator-contract.md §10).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

ROUTE_COLUMNS = ("center_x", "center_y", "inner_x", "inner_y", "outer_x", "outer_y")
MIN_ROUTE_ROWS = 3


class RouteFileError(ValueError):
    """A route file or array does not follow the (N, 6) route format."""


def validate_route(route: np.ndarray, source: str) -> np.ndarray:
    """Return ``route`` as a float64 (N, 6) array, or raise a RouteFileError naming ``source``."""
    array = np.asarray(route)
    if array.dtype.kind not in "fiu":
        raise RouteFileError(
            f"{source}: route values must be numbers, got dtype {array.dtype}. "
            "Save the route with numpy as a float array of shape (N, 6)."
        )
    if array.ndim != 2 or array.shape[1] != len(ROUTE_COLUMNS):
        raise RouteFileError(
            f"{source}: a route must have shape (N, 6) with columns {', '.join(ROUTE_COLUMNS)}; "
            f"got shape {array.shape}. Stack the centre, inner and outer points column-wise."
        )
    if array.shape[0] < MIN_ROUTE_ROWS:
        raise RouteFileError(
            f"{source}: a route needs at least {MIN_ROUTE_ROWS} rows, got {array.shape[0]}."
        )
    bad_rows = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad_rows.size:
        shown = ", ".join(str(i) for i in bad_rows[:5])
        raise RouteFileError(
            f"{source}: rows {shown} contain NaN or infinite values "
            f"({bad_rows.size} bad rows in total). Fix or remove those rows."
        )
    return np.array(array, dtype=np.float64)


def load_route_file(path: str | os.PathLike[str]) -> np.ndarray:
    """Load a ``.npy`` route file without pickle and validate its shape and values."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(
            f"Route file {file} does not exist. Pass the path of a .npy file of shape (N, 6), "
            "a built-in track name, or an official track name."
        )
    try:
        array = np.load(file, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise RouteFileError(
            f"{file}: not a readable .npy route file ({error}). "
            "Save it with numpy.save as a float array of shape (N, 6)."
        ) from error
    return validate_route(array, str(file))


def is_closed_route(route: np.ndarray) -> bool:
    """A route is a closed loop iff its first row equals its last row exactly."""
    return bool(np.array_equal(route[0], route[-1]))
