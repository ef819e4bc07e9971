"""Integrate a pendulum with the variational integrator and with RK4, and plot their energy errors.

    python examples/pendulum_energy.py --steps 20000 --out pendulum_energy.png
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from lawm_env.mechanics import MidpointLagrangian, SeparableLagrangian, discrete_momentum, energy, rollout


def rk4_energy(q: float, v: float, dt: float, steps: int) -> np.ndarray:
    """Energy ½v² - cos q along an RK4 run of q'' = -sin q."""
    out = np.empty(steps)
    for i in range(steps):
        k1 = (v, -np.sin(q))
        k2 = (v + 0.5 * dt * k1[1], -np.sin(q + 0.5 * dt * k1[0]))
        k3 = (v + 0.5 * dt * k2[1], -np.sin(q + 0.5 * dt * k2[0]))
        k4 = (v + dt * k3[1], -np.sin(q + dt * k3[0]))
        q += dt / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        v += dt / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        out[i] = 0.5 * v * v - np.cos(q)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--dt", type=float, default=0.1)
    parser.add_argument("--out", default="pendulum_energy.png")
    args = parser.parse_args()

    potential = lambda q: -torch.cos(q[..., 0])  # noqa: E731
    eye = torch.eye(1, dtype=torch.float64)
    lagrangians = {
        "separable (Störmer–Verlet)": SeparableLagrangian(1, args.dt, potential=potential, mass=eye).double(),
        "midpoint (implicit)": MidpointLagrangian(lambda q: eye.expand(q.shape[0], 1, 1), potential, args.dt),
    }
    q0 = torch.tensor([[1.2]], dtype=torch.float64)
    q1 = q0 + args.dt * 0.5
    curves = {}
    with torch.no_grad():
        for name, lag in lagrangians.items():
            out = rollout(lag, q0, q1, horizon=args.steps)
            traj = torch.cat([q0[:, None], q1[:, None], out.positions], 1)
            e = energy(lag, traj[:, 1:], discrete_momentum(lag, traj[:, :-1], traj[:, 1:]))[0].numpy()
            curves[name] = e - e[0]
            print(f"{name:28s} max |E - E0| = {np.abs(curves[name]).max():.2e}, Newton its/step {out.iterations.float().mean():.2f}")
    rk4 = rk4_energy(1.2, 0.5, args.dt, args.steps)
    curves["RK4"] = rk4 - rk4[0]
    print(f"{'RK4':28s} max |E - E0| = {np.abs(curves['RK4']).max():.2e}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, curve in curves.items():
        ax.plot(np.arange(curve.size) * args.dt, curve, label=name, lw=0.8)
    ax.set_xlabel("time")
    ax.set_ylabel("E - E0")
    ax.set_title("Pendulum energy error: variational integrators vs RK4")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
