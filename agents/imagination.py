"""Imagined rollouts of the actor through a world model's latent transition (the DEL step for LaWM), from the
latent states of replayed real sequences."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, NamedTuple, Protocol

import torch
from torch import Tensor, nn

from agents.actor_critic_networks import ActionSample, Actor, state_features
from lawm_env.mechanics import DELInfo
from lawm_env.model import TransitionState


class LatentModel(Protocol):
    """What imagination needs from a world model (``lawm_env.model.WorldModel`` has it)."""

    config: object  # with ``dt`` (and ``angles``, 0 when absent)

    def encode(self, frames: Tensor) -> Tensor: ...

    def start(self, q_prev: Tensor, q: Tensor, u_prev: Tensor) -> TransitionState: ...

    def step(self, state: TransitionState, u: Tensor, active: Tensor | None = None) -> tuple[TransitionState, DELInfo]: ...

    def reward(self, q: Tensor, q_next: Tensor, u: Tensor) -> Tensor: ...


class Trajectory(NamedTuple):
    """An imagined batch of trajectories s_0 … s_H."""

    features: Tensor
    """Latent features of s_0 … s_H: (batch, H + 1, 2d)."""
    actions: Tensor
    """a_0 … a_{H-1}: (batch, H, action_dim)."""
    log_probs: Tensor
    """log π(a_t|s_t): (batch, H)."""
    rewards: Tensor
    """Model rewards of the steps s_t → s_{t+1}: (batch, H)."""
    valid: Tensor
    """1 where steps 0 … t all converged (and are finite), else 0: (batch, H). Nothing at or after a failed
    DEL solve has a valid implicit gradient."""


@contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Parameters of ``modules`` do not require gradients inside the block (gradients still flow through the
    modules to their inputs); their previous flags are restored afterwards."""
    params = [p for m in modules for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


@torch.no_grad()
def start_states(model: LatentModel, obs: Tensor, actions: Tensor, limit: int | None = None,
                 generator: torch.Generator | None = None) -> TransitionState:
    """Transition states of every consecutive pair (q_k, q_{k+1}) of encoded real windows, reached under a_k.

    ``obs`` (B, L+1, H, W, 3) frames and ``actions`` (B, L, m) give B·L states; at most ``limit`` of them,
    drawn without replacement with ``generator``, are kept.
    """
    q = model.encode(obs.to(_device(model)))
    q_prev, q_next, u_prev = q[:, :-1].flatten(0, 1), q[:, 1:].flatten(0, 1), actions.to(q.device, q.dtype).flatten(0, 1)
    if limit is not None and q_prev.shape[0] > limit:
        keep = torch.randperm(q_prev.shape[0], generator=generator)[:limit].to(q.device)
        q_prev, q_next, u_prev = q_prev[keep], q_next[keep], u_prev[keep]
    return model.start(q_prev, q_next, u_prev)


def imagine(model: LatentModel, actor: Actor, start: TransitionState, horizon: int, *, explore: bool = True,
            dynamics_gradient: bool = True, generator: torch.Generator | None = None) -> Trajectory:
    """Roll the actor out for ``horizon`` steps through ``model.step`` from ``start``: sampled actions when
    ``explore`` (noise from ``generator``), else the actor's mean actions (with log-probabilities 0).

    With ``dynamics_gradient`` the sampled actions enter the transition with their graph, so gradients of
    rewards and values reach the actor through the dynamics (through the implicit DEL gradients for LaWM);
    without it the transition sees detached actions. Freeze the model's parameters (``frozen``) to keep
    its gradients out. A trajectory's steps after its first failed one are not solved (``model.step``'s
    ``active``): they are not valid, so nothing reads them.
    """
    dt, angles = float(model.config.dt), getattr(model.config, "angles", 0)
    # Without a gradient to carry (detached actions, frozen model) the steps run without grad: no implicit-gradient
    # graph is built, and on CUDA each step replays a captured CUDA graph.
    step_grad = dynamics_gradient or any(p.requires_grad for p in model.parameters())  # type: ignore[attr-defined]
    state = start
    features, actions, log_probs, rewards, ok = [state_features(state, dt, angles)], [], [], [], []
    for _ in range(horizon):
        sample = actor.sample(features[-1], generator) if explore else ActionSample(actor.mode(features[-1]), start.q.new_zeros(start.q.shape[0]))
        u = sample.action if dynamics_gradient else sample.action.detach()
        q = state.q
        alive = ok[-1] if ok else None
        with torch.set_grad_enabled(step_grad and torch.is_grad_enabled()):
            state, info = model.step(state, u, alive)
        rewards.append(model.reward(q, state.q, u))
        features.append(state_features(state, dt, angles))
        actions.append(sample.action)
        log_probs.append(sample.log_prob)
        step_ok = info.converged & torch.isfinite(features[-1]).all(-1) & torch.isfinite(rewards[-1])
        ok.append(step_ok if alive is None else alive & step_ok)
    valid = torch.stack(ok, 1).long().cumprod(1).to(features[0].dtype)
    return Trajectory(torch.stack(features, 1), torch.stack(actions, 1), torch.stack(log_probs, 1), torch.stack(rewards, 1), valid)


def _device(model: LatentModel) -> torch.device:
    return next(model.parameters()).device  # type: ignore[attr-defined]
