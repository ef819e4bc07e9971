"""Synthetic episodes: simulate a system, frame it with a fixed camera, render it on the system's textured
background."""

from __future__ import annotations

import zlib

import numpy as np

from lawm_env.data.episode import Episode, episode_seed
from lawm_env.data.synthetic.base import System
from lawm_env.data.synthetic.render import fit_camera, render_scene, texture


def system_background(system: System, size: int) -> np.ndarray:
    """The system's still background (size, size, 3): one texture per system, seeded by its name, shared by all
    its episodes (a fixed scene, as in a simulator's tasks), so a decoder that sees only the coordinates can
    draw it."""
    return texture(np.random.default_rng(zlib.crc32(system.name.encode())), size)


def generate_episode(system: System, seed: int, steps: int, size: int = 64) -> Episode:
    """One deterministic episode of ``steps`` frame intervals (``steps + 1`` frames) seeded by ``seed``.

    The systems are passive: actions have zero columns and rewards are zero. ``extras`` holds ``masks`` (T+1,
    H, W) bool, ``momentum`` (T+1, 3) (px, py, Lz), the generalized ``coords``, the ``params`` in the system's
    ``param_names`` order, and the ``camera`` (x0, y0, scale, size) mapping world to pixels.
    """
    if size < 16:
        raise ValueError(f"image size must be at least 16 pixels, got {size}")
    rng = np.random.default_rng(seed)
    traj = system.simulate(rng, steps)
    camera = fit_camera(traj.scene, size, system.min_span)
    frames, masks = render_scene(traj.scene, camera, system_background(system, size))
    return Episode(
        obs=frames,
        actions=np.zeros((steps, 0), dtype=np.float32),
        rewards=np.zeros(steps, dtype=np.float32),
        terminated=False,
        truncated=True,
        states=traj.states.astype(np.float32),
        energies=traj.energy.astype(np.float64),
        extras={
            "masks": masks,
            "momentum": traj.momentum,
            "coords": traj.coords,
            "params": np.array([traj.params[k] for k in system.param_names], dtype=np.float64),
            "camera": camera.as_array(),
        },
    )


def generate_episodes(system: System, seed: int, indices: range | list[int], steps: int, size: int = 64) -> list[Episode]:
    """Episodes ``indices`` of a collection seeded with ``seed`` (episode i uses ``episode_seed(seed, i)``)."""
    return [generate_episode(system, episode_seed(seed, i), steps, size) for i in indices]
