"""Two point masses under Newtonian gravity (G = 1), started on a bound Keplerian orbit."""

from __future__ import annotations

import numpy as np

from lawm_env.data.synthetic.base import Params, System, point_momentum
from lawm_env.data.synthetic.palette import BLUE, YELLOW
from lawm_env.data.synthetic.shapes import Disc, Scene


class TwoBodyOrbit(System):
    """Two bodies with coordinates (x1, y1, x2, y2, vx1, vy1, vx2, vy2); the centre of mass drifts slowly."""

    name = "orbit"
    state_names = ("x1", "y1", "vx1", "vy1", "x2", "y2", "vx2", "vy2")
    param_names = ("mass1", "mass2", "semi_major_axis", "eccentricity", "period")
    substeps = 60

    def sample(self, rng: np.random.Generator) -> tuple[Params, np.ndarray]:
        a, e, period = rng.uniform(0.8, 1.2), rng.uniform(0.0, 0.5), rng.uniform(3.0, 6.0)
        total = 4.0 * np.pi**2 * a**3 / period**2  # Kepler's third law with G = 1
        share = rng.uniform(0.55, 0.85)
        m1, m2 = share * total, (1.0 - share) * total
        anomaly, tilt = rng.uniform(0.0, 2.0 * np.pi), rng.uniform(0.0, 2.0 * np.pi)
        semi_latus = a * (1.0 - e**2)
        r = semi_latus / (1.0 + e * np.cos(anomaly))
        rel_pos = r * np.array([np.cos(anomaly), np.sin(anomaly)])
        rel_vel = np.sqrt(total / semi_latus) * np.array([-np.sin(anomaly), e + np.cos(anomaly)])
        rot = np.array([[np.cos(tilt), -np.sin(tilt)], [np.sin(tilt), np.cos(tilt)]])
        rel_pos, rel_vel = rot @ rel_pos, rot @ rel_vel
        drift = rng.uniform(-0.05, 0.05, size=2)
        pos1, pos2 = -(m2 / total) * rel_pos, (m1 / total) * rel_pos
        vel1, vel2 = drift - (m2 / total) * rel_vel, drift + (m1 / total) * rel_vel
        p = {"mass1": float(m1), "mass2": float(m2), "semi_major_axis": float(a), "eccentricity": float(e), "period": float(period)}
        return p, np.concatenate([pos1, pos2, vel1, vel2])

    def derivative(self, y: np.ndarray, p: Params) -> np.ndarray:
        d = y[2:4] - y[0:2]
        inv_r3 = (d[0] * d[0] + d[1] * d[1]) ** -1.5
        return np.concatenate([y[4:8], p["mass2"] * inv_r3 * d, -p["mass1"] * inv_r3 * d])

    def observe(self, ys: np.ndarray, p: Params) -> np.ndarray:
        return ys[:, [0, 1, 4, 5, 2, 3, 6, 7]].copy()

    def energy(self, ys: np.ndarray, p: Params) -> np.ndarray:
        m1, m2 = p["mass1"], p["mass2"]
        kinetic = 0.5 * m1 * (ys[:, 4] ** 2 + ys[:, 5] ** 2) + 0.5 * m2 * (ys[:, 6] ** 2 + ys[:, 7] ** 2)
        return kinetic - m1 * m2 / np.hypot(ys[:, 2] - ys[:, 0], ys[:, 3] - ys[:, 1])

    def momentum(self, ys: np.ndarray, p: Params) -> np.ndarray:
        pos = ys[:, 0:4].reshape(-1, 2, 2)
        vel = ys[:, 4:8].reshape(-1, 2, 2)
        return point_momentum(np.array([p["mass1"], p["mass2"]]), pos, vel)

    def scene(self, ys: np.ndarray, p: Params) -> Scene:
        share = p["mass1"] / (p["mass1"] + p["mass2"])
        r1, r2 = 3.0 + 2.0 * share, 3.0 + 2.0 * (1.0 - share)
        return Scene(moving=[Disc(ys[:, 0:2], r1, YELLOW), Disc(ys[:, 2:4], r2, BLUE)])
