"""Least Action World Models: latent variational integrators as world models."""

from lawm_env.devices import get_device

__version__ = "0.1.0"

__all__ = ["get_device", "__version__"]
