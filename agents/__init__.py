"""Agents that act through a world model: model-predictive control, which plans with a sampling planner on the
imagined returns of the model, and a Dreamer-style actor-critic whose actor learns by backpropagation through the
model's dynamics (the implicit DEL gradients for LaWM)."""

from agents.actor_critic import ActorCritic, ActorCriticConfig
from agents.agent import ActorCriticAgent
from agents.imagined_return import ImaginedReturn
from agents.imagination import Trajectory, frozen, imagine, start_states
from agents.actor_critic_networks import Actor, Critic, state_features
from agents.mpc import MPCAgent
from agents.returns import ReturnNormalizer, lambda_returns

__all__ = [
    "Actor", "ActorCritic", "ActorCriticAgent", "ActorCriticConfig", "Critic", "ImaginedReturn", "MPCAgent", "ReturnNormalizer", "Trajectory",
    "frozen", "imagine", "lambda_returns", "state_features", "start_states",
]
