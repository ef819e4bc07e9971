"""Name -> system registry of the synthetic suite."""

from __future__ import annotations

from lawm_env.data.synthetic.base import System
from lawm_env.data.synthetic.motion import CircularMotion, ConstantAcceleration, ParabolicFlight, SlopeFriction, UniformMotion
from lawm_env.data.synthetic.orbit import TwoBodyOrbit
from lawm_env.data.synthetic.oscillators import DampedPendulum, Pendulum, SpringMass

SYSTEMS: dict[str, type[System]] = {
    cls.name: cls
    for cls in (
        UniformMotion,
        ConstantAcceleration,
        ParabolicFlight,
        SlopeFriction,
        CircularMotion,
        Pendulum,
        DampedPendulum,
        SpringMass,
        TwoBodyOrbit,
    )
}


def make_system(name: str) -> System:
    """Instantiate the system registered as ``name``; an unknown name lists the valid ones."""
    try:
        return SYSTEMS[name]()
    except KeyError:
        raise ValueError(f"unknown synthetic system {name!r}; choose one of: {', '.join(SYSTEMS)}") from None
