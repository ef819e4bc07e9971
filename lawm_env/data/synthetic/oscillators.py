"""Oscillators: undamped and damped pendulum, horizontal spring-mass."""

from __future__ import annotations

import numpy as np

from lawm_env.data.synthetic.base import Params, System, point_momentum
from lawm_env.data.synthetic.palette import DARK, LIGHT, RED, YELLOW
from lawm_env.data.synthetic.shapes import Box, Disc, Scene, Segment

G = 9.81


class Pendulum(System):
    """A point mass on a rigid massless rod; coordinates (theta, omega) with theta from straight down."""

    name = "pendulum"
    state_names = ("x", "y", "vx", "vy", "theta", "omega")
    param_names = ("mass", "length")

    def sample(self, rng: np.random.Generator) -> tuple[Params, np.ndarray]:
        p = {"mass": float(rng.uniform(0.5, 2.0)), "length": float(rng.uniform(0.5, 1.5))}
        theta0 = rng.uniform(0.3, 2.6) * rng.choice([-1.0, 1.0])
        return p, np.array([theta0, rng.uniform(-1.0, 1.0)])

    def derivative(self, y: np.ndarray, p: Params) -> np.ndarray:
        return np.array([y[1], -(G / p["length"]) * np.sin(y[0])])

    def observe(self, ys: np.ndarray, p: Params) -> np.ndarray:
        theta, omega, length = ys[:, 0], ys[:, 1], p["length"]
        s, c = np.sin(theta), np.cos(theta)
        return np.stack([length * s, -length * c, length * omega * c, length * omega * s, theta, omega], axis=1)

    def energy(self, ys: np.ndarray, p: Params) -> np.ndarray:
        m, length = p["mass"], p["length"]
        return m * length * (0.5 * length * ys[:, 1] ** 2 - G * np.cos(ys[:, 0]))

    def momentum(self, ys: np.ndarray, p: Params) -> np.ndarray:
        st = self.observe(ys, p)
        return point_momentum(p["mass"], st[:, 0:2], st[:, 2:4])

    def scene(self, ys: np.ndarray, p: Params) -> Scene:
        bob = self.observe(ys, p)[:, 0:2]
        pivot = np.zeros((len(ys), 2))
        length = p["length"]
        return Scene(
            moving=[Segment(pivot, bob, 0.8, LIGHT), Disc(bob, 4.0, RED)],
            static=[Disc(pivot[:1], 2.0, DARK)],
            extent=np.array([[-length, -length], [length, length]]),
        )


class DampedPendulum(Pendulum):
    """A pendulum with viscous damping at the pivot: theta'' = -(g/L) sin(theta) - c * theta'."""

    name = "damped_pendulum"
    conservative = False
    param_names = ("mass", "length", "damping")

    def sample(self, rng: np.random.Generator) -> tuple[Params, np.ndarray]:
        p, y0 = super().sample(rng)
        p["damping"] = float(rng.uniform(0.2, 0.8))
        return p, y0

    def derivative(self, y: np.ndarray, p: Params) -> np.ndarray:
        return np.array([y[1], -(G / p["length"]) * np.sin(y[0]) - p["damping"] * y[1]])


class SpringMass(System):
    """A block on a frictionless floor tied to a wall at x = 0 by a linear spring; coordinates (x, vx)."""

    name = "spring"
    param_names = ("mass", "stiffness", "rest_length")
    coils = 8

    def sample(self, rng: np.random.Generator) -> tuple[Params, np.ndarray]:
        rest = rng.uniform(1.0, 1.5)
        p = {"mass": float(rng.uniform(0.5, 2.0)), "stiffness": float(rng.uniform(5.0, 40.0)), "rest_length": float(rest)}
        x0 = rest * (1.0 + rng.uniform(0.2, 0.5) * rng.choice([-1.0, 1.0]))
        return p, np.array([x0, rng.uniform(-0.5, 0.5)])

    def derivative(self, y: np.ndarray, p: Params) -> np.ndarray:
        return np.array([y[1], -(p["stiffness"] / p["mass"]) * (y[0] - p["rest_length"])])

    def observe(self, ys: np.ndarray, p: Params) -> np.ndarray:
        zero = np.zeros(len(ys))
        return np.stack([ys[:, 0], zero, ys[:, 1], zero], axis=1)

    def energy(self, ys: np.ndarray, p: Params) -> np.ndarray:
        return 0.5 * p["mass"] * ys[:, 1] ** 2 + 0.5 * p["stiffness"] * (ys[:, 0] - p["rest_length"]) ** 2

    def momentum(self, ys: np.ndarray, p: Params) -> np.ndarray:
        st = self.observe(ys, p)
        return point_momentum(p["mass"], st[:, 0:2], st[:, 2:4])

    def scene(self, ys: np.ndarray, p: Params) -> Scene:
        frames, rest = len(ys), p["rest_length"]
        fractions = np.linspace(0.0, 1.0, self.coils + 1)
        zig = 0.06 * rest * np.where(np.arange(self.coils + 1) % 2 == 1, 1.0, -1.0)
        zig[0] = zig[-1] = 0.0
        xs = fractions[None, :] * ys[:, 0:1]  # (F, coils + 1)
        pts = np.stack([xs, np.broadcast_to(zig, xs.shape)], axis=-1)
        coils = [Segment(pts[:, i], pts[:, i + 1], 0.5, LIGHT) for i in range(self.coils)]
        wall = Segment(np.array([[0.0, -0.25 * rest]]), np.array([[0.0, 0.25 * rest]]), 1.5, DARK)
        block = Box(ys[:, 0:2] * np.array([1.0, 0.0]), np.zeros(frames), 4.0, YELLOW)
        return Scene(moving=[*coils, block], static=[wall], extent=np.array([[0.0, 0.0], [2.0 * rest, 0.0]]))
