"""The actor-critic as an agent in the real task: frames are encoded to the world model's latent state."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from agents.actor_critic import ActorCritic, ActorCriticConfig
from agents.imagination import start_states
from lawm_env.model import TransitionState, WorldModel


class ActorCriticAgent:
    """Acts from real frames with an actor trained in the imagination of ``model``.

    ``act`` encodes each frame to q_k and forms the state (q_{k-1}, q_k) with the previous frame's latent (the
    first frame of an episode has zero velocity). ``update(model, batch)`` runs one imagination update
    from the replayed real windows ``batch`` (``obs`` (B, L+1, H, W, 3) uint8, ``actions`` (B, L, m)).
    """

    def __init__(self, model: WorldModel, config: ActorCriticConfig = ActorCriticConfig(), seed: int = 0) -> None:
        self.model, self.config = model, config
        self.device = next(model.parameters()).device
        self.learner = ActorCritic(model.config.latent_dim, model.config.action_dim, model.config.dt, config, self.device)
        self.generator = torch.Generator(self.device).manual_seed(seed)
        self.start_generator = torch.Generator().manual_seed(seed + 1)
        self._q: Tensor | None = None

    def reset(self) -> None:
        """Forget the previous frame (call at the start of every episode)."""
        self._q = None

    @torch.no_grad()
    def act(self, frame: np.ndarray, explore: bool = False) -> np.ndarray:
        """Action (action_dim,) float32 in [-1, 1] for a uint8 frame (H, W, 3): a sample from the actor when
        ``explore``, else its mean action."""
        q = self.model.encode(torch.as_tensor(np.ascontiguousarray(frame), device=self.device)[None])
        state = TransitionState(q if self._q is None else self._q, q)
        self._q = q
        action = self.learner.policy(state, explore, self.generator)
        return action[0].float().cpu().numpy()

    def update(self, model: WorldModel, batch: dict[str, Tensor]) -> dict[str, float]:
        """One actor-critic update in the imagination of ``model`` (the current world model)."""
        self.model = model
        start = start_states(model, batch["obs"], batch["actions"], self.config.starts, self.start_generator)
        return self.learner.learn(model, start, self.generator)

    def value(self, state: TransitionState) -> Tensor:
        """The critic's V(s) for a batch of transition states: a terminal value for planning objectives."""
        return self.learner.value(state)

    def state_dict(self) -> dict:
        return {**self.learner.state_dict(), "generator": self.generator.get_state(),
                "start_generator": self.start_generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.learner.load_state_dict(state)
        self.generator.set_state(state["generator"])
        self.start_generator.set_state(state["start_generator"])
