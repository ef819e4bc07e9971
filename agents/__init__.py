"""Agents trained in imagination and inside LaWM-v0: a Dreamer-style actor-critic whose actor learns by
backpropagation through the model's dynamics (the implicit DEL gradients for LaWM)."""

from agents.actor_critic import ActorCritic, ActorCriticConfig
from agents.agent import ActorCriticAgent
from agents.imagination import Trajectory, frozen, imagine, start_states
from agents.networks import Actor, Critic, latent_features
from agents.returns import ReturnNormalizer, lambda_returns

__all__ = [
    "Actor", "ActorCritic", "ActorCriticAgent", "ActorCriticConfig", "Critic", "ReturnNormalizer", "Trajectory",
    "frozen", "imagine", "lambda_returns", "latent_features", "start_states",
]
