"""The interface every synthetic system implements, and the simulated trajectory it returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from lawm_env.data.synthetic.integrators import integrate, rk4_advance
from lawm_env.data.synthetic.shapes import Scene

Params = dict[str, float]


@dataclass(frozen=True)
class Trajectory:
    """A simulated episode in world units, one row per frame (steps + 1 rows)."""

    coords: np.ndarray  # (F, k) generalized coordinates the simulator integrates
    states: np.ndarray  # (F, n) observable state, columns named by the system's ``state_names``
    energy: np.ndarray  # (F,) total mechanical energy
    momentum: np.ndarray  # (F, 3) linear momentum (px, py) and angular momentum Lz about the origin
    params: Params
    scene: Scene


class System(ABC):
    """A physical system with randomized parameters, an accurate simulator and a drawable scene.

    Subclasses define ``sample`` (parameters and initial coordinates from a generator), ``derivative`` (the
    equations of motion in generalized coordinates), and the maps to observable state, energy, momentum and
    shapes. Time between frames is ``dt``; the simulator takes ``substeps`` RK4 steps per frame.
    """

    name: ClassVar[str]
    conservative: ClassVar[bool] = True
    state_names: ClassVar[tuple[str, ...]] = ("x", "y", "vx", "vy")
    param_names: ClassVar[tuple[str, ...]]
    dt: ClassVar[float] = 0.05
    substeps: ClassVar[int] = 20
    min_span: ClassVar[float] = 1.0  # smallest world extent the camera frames (metres)

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> tuple[Params, np.ndarray]:
        """Random parameters and initial generalized coordinates."""

    @abstractmethod
    def derivative(self, y: np.ndarray, p: Params) -> np.ndarray:
        """Time derivative of the generalized coordinates ``y``."""

    @abstractmethod
    def observe(self, ys: np.ndarray, p: Params) -> np.ndarray:
        """Observable state (F, n) from generalized coordinates (F, k)."""

    @abstractmethod
    def energy(self, ys: np.ndarray, p: Params) -> np.ndarray:
        """Total mechanical energy (F,)."""

    @abstractmethod
    def momentum(self, ys: np.ndarray, p: Params) -> np.ndarray:
        """Linear momentum and angular momentum about the origin (F, 3)."""

    @abstractmethod
    def scene(self, ys: np.ndarray, p: Params) -> Scene:
        """Shapes to draw for every frame."""

    def advance(self, y: np.ndarray, p: Params, dt: float) -> np.ndarray:
        """Coordinates after ``dt``: ``substeps`` RK4 steps by default."""
        return rk4_advance(lambda z: self.derivative(z, p), y, dt, self.substeps)

    def simulate(self, rng: np.random.Generator, steps: int) -> Trajectory:
        """Sample parameters and initial conditions from ``rng`` and simulate ``steps`` frame intervals."""
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        p, y0 = self.sample(rng)
        ys = integrate(lambda y, dt: self.advance(y, p, dt), y0, self.dt, steps)
        return Trajectory(
            coords=ys,
            states=self.observe(ys, p),
            energy=self.energy(ys, p),
            momentum=self.momentum(ys, p),
            params=p,
            scene=self.scene(ys, p),
        )


def point_momentum(m: float | np.ndarray, pos: np.ndarray, vel: np.ndarray) -> np.ndarray:
    """(px, py, Lz) of point masses: pos and vel are (F, 2) or (F, bodies, 2) with masses broadcasting."""
    m = np.asarray(m, dtype=np.float64)
    p = m[..., None] * vel if m.ndim else m * vel
    lz = pos[..., 0] * p[..., 1] - pos[..., 1] * p[..., 0]
    if pos.ndim == 3:
        p, lz = p.sum(axis=1), lz.sum(axis=1)
    return np.concatenate([p, lz[:, None]], axis=1)


def unit(angle: float | np.ndarray) -> np.ndarray:
    """Unit vector(s) at ``angle`` radians from the +x axis, shape (..., 2)."""
    return np.stack([np.cos(angle), np.sin(angle)], axis=-1)
