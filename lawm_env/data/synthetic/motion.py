"""Point-mass motions: uniform, constant acceleration, parabolic flight, friction slope, circular motion."""

from __future__ import annotations

import numpy as np

from lawm_env.data.synthetic.base import Params, System, point_momentum, unit
from lawm_env.data.synthetic.palette import BLUE, DARK, LIGHT, RED, YELLOW
from lawm_env.data.synthetic.shapes import Box, Disc, Scene, Segment, pixel_offset

G = 9.81


def _xy(ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return ys[:, 0:2], ys[:, 2:4]


def kinetic_energy(ys: np.ndarray, p: Params) -> np.ndarray:
    """½ m |v|² of a planar point mass with state (x, y, vx, vy)."""
    return 0.5 * p["mass"] * (ys[:, 2] ** 2 + ys[:, 3] ** 2)


class PlanarPointMass(System):
    """A point mass with state (x, y, vx, vy), observed as is, with momentum m·v."""

    def observe(self, ys: np.ndarray, p: Params) -> np.ndarray:
        return ys.copy()

    def momentum(self, ys: np.ndarray, p: Params) -> np.ndarray:
        return point_momentum(p["mass"], *_xy(ys))


class UniformMotion(PlanarPointMass):
    """A free particle moving in a straight line at constant velocity."""

    name = "uniform"
    param_names = ("mass",)

    def sample(self, rng: np.random.Generator) -> tuple[Params, np.ndarray]:
        speed, heading = rng.uniform(0.3, 1.0), rng.uniform(0.0, 2.0 * np.pi)
        y0 = np.concatenate([rng.uniform(-1.0, 1.0, size=2), speed * unit(heading)])
        return {"mass": float(rng.uniform(0.5, 2.0))}, y0

    def derivative(self, y: np.ndarray, p: Params) -> np.ndarray:
        return np.array([y[2], y[3], 0.0, 0.0])

    def energy(self, ys: np.ndarray, p: Params) -> np.ndarray:
        return kinetic_energy(ys, p)

    def scene(self, ys: np.ndarray, p: Params) -> Scene:
        return Scene(moving=[Disc(ys[:, 0:2], 4.0, RED)])


class ConstantAcceleration(PlanarPointMass):
    """A cart on a straight rail under a constant force along the rail (it may slow down and turn back)."""

    name = "acceleration"
    param_names = ("mass", "ax", "ay")

    def sample(self, rng: np.random.Generator) -> tuple[Params, np.ndarray]:
        u = unit(rng.uniform(0.0, 2.0 * np.pi))
        a = rng.uniform(0.3, 1.5) * rng.choice([-1.0, 1.0]) * u
        y0 = np.concatenate([rng.uniform(-0.5, 0.5, size=2), rng.uniform(-1.5, 1.5) * u])
        return {"mass": float(rng.uniform(0.5, 2.0)), "ax": float(a[0]), "ay": float(a[1])}, y0

    def derivative(self, y: np.ndarray, p: Params) -> np.ndarray:
        return np.array([y[2], y[3], p["ax"], p["ay"]])

    def energy(self, ys: np.ndarray, p: Params) -> np.ndarray:
        return kinetic_energy(ys, p) - p["mass"] * (p["ax"] * ys[:, 0] + p["ay"] * ys[:, 1])

    def scene(self, ys: np.ndarray, p: Params) -> Scene:
        heading = np.arctan2(p["ay"], p["ax"])
        u = unit(heading)
        along = ys[:, 0:2] @ u
        pad = 0.15 * max(float(np.ptp(along)), 0.5)
        ends = ys[0, 0:2] + np.outer([along.min() - along[0] - pad, along.max() - along[0] + pad], u)
        rail = Segment(ends[None, 0], ends[None, 1], 1.0, DARK)
        cart = Box(ys[:, 0:2], np.full(len(ys), heading), 3.5, YELLOW)
        return Scene(moving=[cart], static=[rail])


class ParabolicFlight(PlanarPointMass):
    """A ball thrown under uniform gravity (no drag)."""

    name = "parabolic"
    param_names = ("mass",)
    dt = 0.02

    def sample(self, rng: np.random.Generator) -> tuple[Params, np.ndarray]:
        angle = rng.uniform(np.radians(30.0), np.radians(75.0))
        if rng.random() < 0.5:
            angle = np.pi - angle
        y0 = np.concatenate([np.zeros(2), rng.uniform(3.0, 6.0) * unit(angle)])
        return {"mass": float(rng.uniform(0.5, 2.0))}, y0

    def derivative(self, y: np.ndarray, p: Params) -> np.ndarray:
        return np.array([y[2], y[3], 0.0, -G])

    def energy(self, ys: np.ndarray, p: Params) -> np.ndarray:
        return p["mass"] * (0.5 * (ys[:, 2] ** 2 + ys[:, 3] ** 2) + G * ys[:, 1])

    def scene(self, ys: np.ndarray, p: Params) -> Scene:
        return Scene(moving=[Disc(ys[:, 0:2], 4.0, BLUE)])


class SlopeFriction(System):
    """A block sliding on an inclined plane with Coulomb friction (equal static and kinetic coefficients).

    Generalized coordinates are (s, v): distance up the slope and its rate. Between stops the acceleration is
    constant, so ``advance`` is piecewise exact (it solves for the stopping time) instead of integrating across
    the friction discontinuity.
    """

    name = "slope"
    conservative = False
    param_names = ("mass", "incline", "friction", "side")
    dt = 0.04

    def sample(self, rng: np.random.Generator) -> tuple[Params, np.ndarray]:
        p = {
            "mass": float(rng.uniform(0.5, 2.0)),
            "incline": float(rng.uniform(np.radians(15.0), np.radians(35.0))),
            "friction": float(rng.uniform(0.05, 0.7)),
            "side": float(rng.choice([-1.0, 1.0])),
        }
        v0 = rng.uniform(0.5, 3.0) if rng.random() < 0.5 else -rng.uniform(0.0, 2.0)
        return p, np.array([0.0, v0])

    @staticmethod
    def acceleration(v: float, p: Params) -> float:
        """Acceleration along the slope at velocity ``v`` (0 when static friction holds the block)."""
        down = G * np.sin(p["incline"])
        grip = p["friction"] * G * np.cos(p["incline"])
        if v > 0.0:
            return -(down + grip)
        if v < 0.0:
            return -down + grip
        return -(down - grip) if down > grip else 0.0

    def derivative(self, y: np.ndarray, p: Params) -> np.ndarray:
        return np.array([y[1], self.acceleration(float(y[1]), p)])

    def advance(self, y: np.ndarray, p: Params, dt: float) -> np.ndarray:
        s, v, left = float(y[0]), float(y[1]), dt
        while left > 0.0:
            a = self.acceleration(v, p)
            if a == 0.0 and v == 0.0:
                break
            if v * a < 0.0 and -v / a < left:  # the block stops within this interval
                t = -v / a
                s, v, left = s + v * t + 0.5 * a * t * t, 0.0, left - t
                continue
            s, v, left = s + v * left + 0.5 * a * left * left, v + a * left, 0.0
        return np.array([s, v])

    def _direction(self, p: Params) -> np.ndarray:
        return np.array([p["side"] * np.cos(p["incline"]), np.sin(p["incline"])])

    def observe(self, ys: np.ndarray, p: Params) -> np.ndarray:
        d = self._direction(p)
        return np.concatenate([ys[:, 0:1] * d, ys[:, 1:2] * d], axis=1)

    def energy(self, ys: np.ndarray, p: Params) -> np.ndarray:
        return p["mass"] * (0.5 * ys[:, 1] ** 2 + G * np.sin(p["incline"]) * ys[:, 0])

    def momentum(self, ys: np.ndarray, p: Params) -> np.ndarray:
        st = self.observe(ys, p)
        return point_momentum(p["mass"], st[:, 0:2], st[:, 2:4])

    def scene(self, ys: np.ndarray, p: Params) -> Scene:
        d = self._direction(p)
        normal = np.array([-d[1], d[0]]) * p["side"]
        span = max(float(np.ptp(ys[:, 0])), 1.0)
        ends = np.outer([ys[:, 0].min() - 0.2 * span, ys[:, 0].max() + 0.2 * span], d)
        ground = Segment(ends[None, 0], ends[None, 1], 1.5, DARK, pixel_offset(normal, -1.5))
        angle = np.full(len(ys), np.arctan2(d[1], d[0]))
        block = Box(ys[:, 0:1] * d, angle, 3.5, RED, pixel_offset(normal, 3.5))
        return Scene(moving=[block], static=[ground])


class CircularMotion(PlanarPointMass):
    """A ball on a string whirling at constant angular speed around a fixed pin at the origin."""

    name = "circular"
    param_names = ("mass", "radius", "omega")

    def sample(self, rng: np.random.Generator) -> tuple[Params, np.ndarray]:
        r, omega, phase = rng.uniform(0.5, 1.5), rng.uniform(1.0, 3.0) * rng.choice([-1.0, 1.0]), rng.uniform(0, 2 * np.pi)
        u = unit(phase)
        y0 = np.concatenate([r * u, omega * r * np.array([-u[1], u[0]])])
        return {"mass": float(rng.uniform(0.5, 2.0)), "radius": float(r), "omega": float(omega)}, y0

    def derivative(self, y: np.ndarray, p: Params) -> np.ndarray:
        w2 = p["omega"] ** 2
        return np.array([y[2], y[3], -w2 * y[0], -w2 * y[1]])

    def energy(self, ys: np.ndarray, p: Params) -> np.ndarray:
        # the string's tension is always normal to the velocity and does no work: energy is kinetic
        return kinetic_energy(ys, p)

    def scene(self, ys: np.ndarray, p: Params) -> Scene:
        pin = np.zeros((len(ys), 2))
        string = Segment(pin, ys[:, 0:2], 0.6, LIGHT)
        r = p["radius"]
        return Scene(
            moving=[string, Disc(ys[:, 0:2], 4.0, YELLOW)],
            static=[Disc(pin[:1], 2.0, DARK)],
            extent=np.array([[-r, -r], [r, r]]),
        )
