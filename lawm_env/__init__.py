"""Least Action World Models: latent variational integrators as world models."""

import gymnasium as _gym

from lawm_env.devices import get_device

__version__ = "0.1.0"

if "LaWM-v0" not in _gym.registry:
    _gym.register(
        id="LaWM-v0",
        entry_point="lawm_env.envs.env:LaWMEnv",
        vector_entry_point="lawm_env.envs.vector:LaWMVectorEnv",
    )

__all__ = ["get_device", "__version__"]
