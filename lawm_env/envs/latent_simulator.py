"""The batched latent simulator behind LaWM-v0 and its vector env: N latent pairs stepped as one tensor op."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import Tensor

from lawm_env.envs.initial_states import InitialStates, LatentPairs
from lawm_env.model import WorldModel, to_uint8
from lawm_env.model.transitions import TransitionState, merge_states

ObsType = Literal["pixels", "latent"]


class LatentSimulator:
    """Holds N latent states (q_{k-1}, q_k), steps them with the world model, observes pixels or latents.

    With ``end_on_divergence`` (the default) a step whose DEL solve did not converge earns no reward and
    truncates its episode, so agents trained inside the model cannot harvest rewards from diverged latents.

    Latent observations are ``WorldModel.latent_observation``: (φ(q_k), (q_k - q_{k-1})/h), positions and
    velocities, the Markov state of a second-order system, with each angular coordinate as (cos θ, sin θ) (φ = q
    without angles), so they have 2d + angles entries. Pixel observations are the decoded frames of q_k.
    """

    def __init__(self, model: WorldModel, num_envs: int, obs_type: ObsType, initial_states: InitialStates,
                 max_episode_steps: int, end_on_divergence: bool = True) -> None:
        if obs_type not in ("pixels", "latent"):
            raise ValueError(f"obs_type must be 'pixels' or 'latent', got {obs_type!r}")
        if num_envs < 1 or max_episode_steps < 1:
            raise ValueError(f"need num_envs >= 1 and max_episode_steps >= 1, got {num_envs}, {max_episode_steps}")
        self.model, self.num_envs, self.obs_type = model, num_envs, obs_type
        self.initial_states, self.max_episode_steps = initial_states, max_episode_steps
        self.end_on_divergence = end_on_divergence
        self.device = next(model.parameters()).device
        self.action_dim, self.latent_dim = model.config.action_dim, model.config.latent_dim
        self.state: TransitionState | None = None
        self.steps = torch.zeros(num_envs, dtype=torch.long)

    @torch.no_grad()
    def reset(self, mask: Tensor, generator: torch.Generator | None = None, pairs: LatentPairs | None = None) -> None:
        """Start new episodes in the rows ``mask`` (bool, (N,)) from ``pairs``, or from initial states sampled
        with ``generator`` when no pairs are given."""
        count = int(mask.sum())
        if count == 0:
            return
        if pairs is None:
            if generator is None:
                raise ValueError("reset needs initial pairs or a generator to sample them")
            pairs = self.initial_states.sample(count, generator)
        rows = mask.to(self.device)
        if self.state is None:
            if count != self.num_envs:
                raise RuntimeError("the first reset must start every environment")
            full = pairs
        else:
            u_prev = self.state.u_prev if self.state.u_prev is not None else torch.zeros(self.num_envs, self.action_dim, device=self.device)
            full = LatentPairs(self.state.q_prev.clone(), self.state.q.clone(), u_prev.clone())
            for current, fresh in zip(full, pairs):
                current[rows] = fresh.to(current.dtype)
        started = self.model.start(full.q_prev, full.q, full.u_prev)
        self.state = started if self.state is None else merge_states(rows, started, self.state)
        self.steps[mask] = 0

    @torch.no_grad()
    def step(self, actions: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """Advance every row one forced DEL step; returns rewards, truncations and solver/energy info."""
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        q = self.state.q
        state, info = self.model.step(self.state, actions)
        rewards = self.model.reward(q, state.q, actions)
        self.state = state
        self.steps += 1
        truncated = self.steps >= self.max_episode_steps
        if self.end_on_divergence:  # past a failed DEL solve the model vouches for nothing: no reward, episode over
            diverged = ~info.converged
            rewards = torch.where(diverged, torch.zeros_like(rewards), rewards)
            truncated = truncated | diverged.cpu()
        latent_energy = self.model.energy(state)
        extras = {"del_residual": info.residual, "newton_iterations": info.iterations, "converged": info.converged,
                  "latent_energy": latent_energy}
        return rewards, truncated, extras

    @torch.no_grad()
    def observe(self) -> Tensor:
        """Observations of all rows: uint8 (N, H, W, 3) frames or float32 (N, 2d + angles) latents."""
        if self.obs_type == "pixels":
            return self.render()
        return self.model.latent_observation(self.state.q_prev, self.state.q)

    @torch.no_grad()
    def render(self) -> Tensor:
        return to_uint8(self.model.decode(self.state.q))


def to_numpy(x: Tensor) -> np.ndarray:
    return x.detach().cpu().numpy()
