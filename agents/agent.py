"""The actor-critic as an agent in the real task: frames are encoded to the world model's latent state."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from agents.actor_critic import ActorCritic, ActorCriticConfig
from agents.imagination import imagine, start_states
from lawm_env.model import TransitionState, WorldModel


class ActorCriticAgent(ActorCritic):
    """An actor-critic that acts from real frames, trained in the imagination of ``model``.

    ``act`` encodes each frame to q_k and forms the state (q_{k-1}, q_k) with the previous frame's latent (the
    first frame of an episode has zero velocity). ``update(model, batch)`` runs one imagination update from
    the replayed real windows ``batch`` (``obs`` (B, L+1, H, W, 3) uint8, ``actions`` (B, L, m)). Its
    randomness comes from ``seed``, the episode seed given to ``reset`` and the update count, so a resumed
    run repeats an uninterrupted one. The world model is referenced, not owned: it is not in ``state_dict``.
    """

    def __init__(self, model: WorldModel, config: ActorCriticConfig = ActorCriticConfig(), seed: int = 0) -> None:
        super().__init__(model.config.latent_dim, model.config.action_dim, model.config.dt, config, model.config.angles)
        self._model = (model,)  # a tuple, so that the world model is not registered as a submodule
        self.seed = seed
        device = next(model.parameters()).device
        self.to(device)
        self.generator = torch.Generator(device).manual_seed(seed)
        self._q: Tensor | None = None
        self._first: Tensor | None = None
        self.last_metrics: dict[str, float] = {}

    @property
    def model(self) -> WorldModel:
        return self._model[0]

    @property
    def device(self) -> torch.device:
        return self.updates.device

    def reset(self, seed: int | None = None) -> None:
        """A new episode: forget the previous frame; ``seed`` reseeds the exploration noise."""
        self._q = None
        if seed is not None:
            self.generator.manual_seed(seed)

    @torch.no_grad()
    def act(self, frame: np.ndarray, explore: bool = False) -> np.ndarray:
        """Action (action_dim,) float32 in [-1, 1] for a uint8 frame (H, W, 3): a sample from the actor when
        ``explore``, else its mean action."""
        q = self.model.encode_frame(frame)[None]
        if self._q is None:
            self._first = q
        state = TransitionState(q if self._q is None else self._q, q)
        self._q = q
        return self.policy(state, explore, self.generator)[0].float().cpu().numpy()

    def update(self, model: WorldModel, batch: dict[str, Tensor]) -> dict[str, float]:
        """One actor-critic update in the imagination of ``model`` (the current world model)."""
        self._model = (model,)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + int(self.updates))
        start = start_states(model, batch["obs"], batch["actions"], self.config.starts, generator)
        noise = torch.Generator(self.device).manual_seed(self.seed * 1_000_003 + int(self.updates) + 1)
        self.last_metrics = self.learn(model, start, noise)
        return self.last_metrics

    @torch.no_grad()
    def imagined_episode_return(self, steps: int) -> float:
        """The return the model predicts for the actor's mean actions over ``steps`` steps from the first frame
        of the latest episode (at rest): set beside the real return, it shows how far the model flatters."""
        if self._first is None:
            raise RuntimeError("no episode yet: call act() first")
        start = self.model.start(self._first, self._first, torch.zeros(1, self.model.config.action_dim, device=self.device))
        traj = imagine(self.model, self.actor, start, steps, explore=False)
        return float((traj.rewards * traj.valid).sum())
