"""Actor and critic on the latent state (φ(q_k), (q_k - q_{k-1})/h), the same vector as LaWM-v0's latent
observation (φ: angular coordinates as cos θ, sin θ)."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lawm_env.mechanics.angles import pair_features
from lawm_env.model import TransitionState
from lawm_env.networks import mlp


def state_features(state: TransitionState, dt: float, angles: int = 0) -> Tensor:
    """Positions and velocities of the pair (q_{k-1}, q_k): (batch, 2d + angles), the first ``angles``
    coordinates as (cos θ, sin θ) (``lawm_env.mechanics.angles.pair_features``)."""
    return pair_features(state.q_prev, state.q, angles, dt)


class ActionSample(NamedTuple):
    """Actions drawn by the actor with what the losses need."""

    action: Tensor
    """tanh-squashed sample in (-1, 1): (batch, action_dim); reparameterized, so differentiable."""
    log_prob: Tensor
    """log π(a|s) of the squashed sample, tanh's change of variables included: (batch,)."""


class Actor(nn.Module):
    """π(a|s) = tanh(N(μ(s), σ(s)²)) with σ in [min_std, max_std] and μ = m·tanh(μ_raw/m) within ±``mean_limit`` m.

    The bound keeps the pre-tanh mean finite: tanh's change of variables adds about 2|z| to log π for a
    saturated sample z, so an unbounded mean lets a score-function gradient raise log π without limit by
    pushing μ outwards. At m = 5, tanh(μ) reaches 1 - 1e-4, so every action in (-1, 1) stays reachable;
    m = ``math.inf`` leaves μ unbounded."""

    def __init__(self, feature_dim: int, action_dim: int, hidden: int = 128, depth: int = 2,
                 min_std: float = 0.1, max_std: float = 1.0, mean_limit: float = 5.0) -> None:
        super().__init__()
        if not 0.0 < min_std <= max_std or not mean_limit > 0.0:  # also rejects NaN
            raise ValueError(f"need 0 < min_std <= max_std and mean_limit > 0, got {min_std}, {max_std}, {mean_limit}")
        self.net = mlp(feature_dim, 2 * action_dim, hidden, depth)
        self.min_std, self.max_std, self.mean_limit = min_std, max_std, mean_limit

    def distribution(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """Mean (within ±mean_limit) and standard deviation of the Gaussian before the tanh."""
        raw_mean, raw_std = self.net(features).chunk(2, -1)
        mean = raw_mean if math.isinf(self.mean_limit) else self.mean_limit * torch.tanh(raw_mean / self.mean_limit)
        return mean, self.min_std + (self.max_std - self.min_std) * torch.sigmoid(raw_std + 2.0)

    def sample(self, features: Tensor, generator: torch.Generator | None = None) -> ActionSample:
        """A reparameterized sample (noise from ``generator``, or torch's global generator)."""
        mean, std = self.distribution(features)
        z = mean + std * torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        log_prob = (-0.5 * ((z - mean) / std).square() - std.log() - 0.5 * math.log(2 * math.pi)).sum(-1)
        # log |d tanh(z)/dz| = 2 (log 2 - z - softplus(-2z)), stable for large |z|
        log_prob = log_prob - (2.0 * (math.log(2.0) - z - F.softplus(-2.0 * z))).sum(-1)
        return ActionSample(torch.tanh(z), log_prob)

    def mode(self, features: Tensor) -> Tensor:
        """The deterministic action tanh(μ(s))."""
        return torch.tanh(self.distribution(features)[0])


def symlog(x: Tensor) -> Tensor:
    """sign(x)·log(1 + |x|): the identity near 0, logarithmic for large |x|."""
    return torch.sign(x) * torch.log1p(x.abs())


def symexp(y: Tensor) -> Tensor:
    """The inverse of ``symlog``: sign(y)·(exp|y| - 1)."""
    return torch.sign(y) * torch.expm1(y.abs())


class Critic(nn.Module):
    """V(s): a scalar per latent state.

    With ``norm``, LayerNorm in the hidden layers bounds the network's output over all inputs by its weights:
    imagined states far outside the data, where a plain MLP extrapolates linearly, cannot then pass ever
    larger values back through the bootstrap. With ``symlog`` the network predicts symlog(V) and regresses
    symlog of the targets, so returns of any size are a target of order 1 (which the bounded network reaches
    without large weights) and V = symexp(output)."""

    def __init__(self, feature_dim: int, hidden: int = 128, depth: int = 2, norm: bool = True, symlog: bool = True) -> None:
        super().__init__()
        self.net = mlp(feature_dim, 1, hidden, depth, norm=norm)
        self.symlog = symlog

    def forward(self, features: Tensor) -> Tensor:
        out = self.net(features).squeeze(-1)
        return symexp(out) if self.symlog else out

    def loss(self, features: Tensor, targets: Tensor) -> Tensor:
        """½(output - target)² per state, in symlog space with ``symlog``; ``targets`` are not differentiated."""
        targets = targets.detach()
        return 0.5 * (self.net(features).squeeze(-1) - (symlog(targets) if self.symlog else targets)).square()


@torch.no_grad()
def ema_update(target: nn.Module, source: nn.Module, rate: float) -> None:
    """target ← (1 - rate)·target + rate·source, parameter by parameter."""
    for t, s in zip(target.parameters(), source.parameters()):
        t.lerp_(s, rate)
