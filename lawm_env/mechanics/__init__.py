"""The latent variational integrator: discrete Lagrangians, discrete forcing, the forced DEL solver with
implicit gradients, rollouts and the invariants (discrete momentum, energy)."""

from lawm_env.mechanics.forcing import CallableForcing, DiscreteForcing, Forcing, ForcingTerms, as_forcing
from lawm_env.mechanics.invariants import discrete_momentum, energy
from lawm_env.mechanics.lagrangians import (
    CallableLagrangian,
    DiscreteLagrangian,
    MechanicalLagrangian,
    MidpointLagrangian,
    MidpointRule,
    Partials,
    SeparableLagrangian,
    as_lagrangian,
)
from lawm_env.mechanics.newton import NewtonResult, damped_newton
from lawm_env.mechanics.rollout import Rollout, rollout
from lawm_env.mechanics.solver import DELInfo, DELState, DELStepper, solve_del

__all__ = [
    "CallableForcing", "CallableLagrangian", "DELInfo", "DELState", "DELStepper", "DiscreteForcing",
    "DiscreteLagrangian", "Forcing", "ForcingTerms", "MechanicalLagrangian", "MidpointLagrangian",
    "MidpointRule", "NewtonResult", "Partials", "Rollout", "SeparableLagrangian", "as_forcing",
    "as_lagrangian", "damped_newton", "discrete_momentum", "energy", "rollout", "solve_del",
]
