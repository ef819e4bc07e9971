"""Fixed-step integrators for the synthetic systems (pure functions on numpy arrays)."""

from __future__ import annotations

from typing import Callable

import numpy as np

Derivative = Callable[[np.ndarray], np.ndarray]


def rk4_step(f: Derivative, y: np.ndarray, h: float) -> np.ndarray:
    """One classical fourth-order Runge-Kutta step of ``y' = f(y)`` with step ``h``."""
    k1 = f(y)
    k2 = f(y + 0.5 * h * k1)
    k3 = f(y + 0.5 * h * k2)
    k4 = f(y + h * k3)
    return y + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def rk4_advance(f: Derivative, y: np.ndarray, dt: float, substeps: int) -> np.ndarray:
    """Advance ``y`` by ``dt`` with ``substeps`` equal RK4 steps."""
    h = dt / substeps
    for _ in range(substeps):
        y = rk4_step(f, y, h)
    return y


def integrate(
    advance: Callable[[np.ndarray, float], np.ndarray], y0: np.ndarray, dt: float, steps: int
) -> np.ndarray:
    """Return the trajectory ``(steps + 1, n)`` sampled every ``dt`` by repeatedly calling ``advance(y, dt)``."""
    ys = np.empty((steps + 1, y0.shape[-1]), dtype=np.float64)
    ys[0] = y = np.asarray(y0, dtype=np.float64)
    for k in range(steps):
        y = advance(y, dt)
        ys[k + 1] = y
    return ys
