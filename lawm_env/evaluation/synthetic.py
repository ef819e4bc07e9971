"""Ground-truth physics of the synthetic suite from object positions: each system's own energy and momentum
functions evaluated on coordinates rebuilt from (calibrated) positions with finite-difference velocities."""

from __future__ import annotations

from typing import Callable

import numpy as np

from lawm_env.data.synthetic import make_system
from lawm_env.data.synthetic.base import Params, System
from lawm_env.data.synthetic.palette import BLUE, DARK, LIGHT, YELLOW

RGB = tuple[float, float, float]

BODY_COLORS: dict[str, tuple[RGB, ...]] = {"orbit": (YELLOW, BLUE), "spring": (YELLOW,)}
"""Colours of the tracked bodies of the systems that draw several bodies or a shape that deforms as the body moves
(a spring's coils); the others track the centroid of all moving shapes, which moves rigidly with the body (a
pendulum's rod) and is less noisy than the body's own few pixels."""

OTHER_COLORS: tuple[RGB, ...] = (LIGHT, DARK)
"""Colours of the shapes drawn beside the bodies (coils, rods, pins): a pixel nearest to one of them is nobody's."""

MOMENTUM_INVARIANTS: dict[str, tuple[str, ...]] = {"uniform": ("px", "py", "Lz"), "circular": ("Lz",), "orbit": ("px", "py", "Lz")}
"""Momentum components each system conserves (beside the energy of the conservative ones)."""

_MOMENTUM_COLUMNS = {"px": 0, "py": 1, "Lz": 2}


def position_columns(system: System) -> list[int]:
    """State columns holding the tracked bodies' world positions: (x, y) or (x1, y1, x2, y2)."""
    names = system.state_names
    wanted = ("x1", "y1", "x2", "y2") if "x1" in names else ("x", "y")
    return [names.index(n) for n in wanted]


EDGE = 2
"""Frames at each end of a sequence without a velocity (the difference stencil does not fit there)."""


def _velocity(values: np.ndarray, dt: float) -> np.ndarray:
    """Time derivative along axis 0 by fourth-order central differences (at frame rate, second-order ones
    err by a few percent of the kinetic energy on fast swings); NaN at the ``EDGE`` frames of each end."""
    v = np.full(values.shape, np.nan)
    if len(values) > 2 * EDGE:
        v[EDGE:-EDGE] = (values[:-4] - 8 * values[1:-3] + 8 * values[3:-1] - values[4:]) / (12 * dt)
    return v


def _point(pos: np.ndarray, p: Params, dt: float) -> np.ndarray:
    return np.concatenate([pos, _velocity(pos, dt)], axis=1)


def _pendulum(pos: np.ndarray, p: Params, dt: float) -> np.ndarray:
    theta = np.unwrap(np.arctan2(pos[:, 0], -pos[:, 1]))
    return np.stack([theta, _velocity(theta, dt)], axis=1)


def _spring(pos: np.ndarray, p: Params, dt: float) -> np.ndarray:
    return np.stack([pos[:, 0], _velocity(pos[:, 0], dt)], axis=1)


def _slope(pos: np.ndarray, p: Params, dt: float) -> np.ndarray:
    s = pos @ np.array([p["side"] * np.cos(p["incline"]), np.sin(p["incline"])])
    return np.stack([s, _velocity(s, dt)], axis=1)


def _orbit(pos: np.ndarray, p: Params, dt: float) -> np.ndarray:
    return np.concatenate([pos, _velocity(pos, dt)], axis=1)  # (x1, y1, x2, y2, vx1, vy1, vx2, vy2)


COORDINATES: dict[str, Callable[[np.ndarray, Params, float], np.ndarray]] = {
    "uniform": _point, "acceleration": _point, "parabolic": _point, "circular": _point, "slope": _slope,
    "pendulum": _pendulum, "damped_pendulum": _pendulum, "spring": _spring, "orbit": _orbit,
}
"""System name -> generalized coordinates (T, k) from tracked world positions (T, 2·bodies)."""


def params_dict(system: System, values: np.ndarray) -> Params:
    """A system's parameters from the array stored with each episode (in ``param_names`` order)."""
    return {name: float(v) for name, v in zip(system.param_names, values)}


def kinetic_energy_scale(name: str, states: np.ndarray, params: np.ndarray) -> float:
    """The mean true kinetic energy ½ Σ m_i |v_i|² over a sequence of true states (T, n) of system ``name``: the
    scale energy errors are measured in. Unlike |E_0| it does not depend on where the potential's zero lies (a
    pendulum swinging through the pivot's height has E_0 near 0)."""
    system = make_system(name)
    p = params_dict(system, params)
    names = system.state_names
    bodies = [("vx", "vy", "mass")] if "vx" in names else [(f"vx{i}", f"vy{i}", f"mass{i}") for i in (1, 2)]
    states = np.asarray(states, dtype=np.float64)
    kinetic = sum(0.5 * p[m] * (states[:, names.index(vx)] ** 2 + states[:, names.index(vy)] ** 2) for vx, vy, m in bodies)
    return float(np.mean(kinetic))


def invariants_from_positions(name: str, positions: np.ndarray, params: np.ndarray, dt: float | None = None) -> dict[str, np.ndarray]:
    """Energy and conserved momentum components (T,) of system ``name`` from world positions (T, 2·bodies),
    using the system's own energy and momentum functions on finite-difference velocities (NaN at the
    ``EDGE`` frames of each end)."""
    system = make_system(name)
    p = params_dict(system, params)
    coords = COORDINATES[name](np.asarray(positions, dtype=np.float64), p, system.dt if dt is None else dt)
    out = {"energy": system.energy(coords, p)}
    momentum = system.momentum(coords, p)
    for component in MOMENTUM_INVARIANTS.get(name, ()):
        out[component] = momentum[:, _MOMENTUM_COLUMNS[component]]
    return out
