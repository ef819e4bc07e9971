"""Return estimates of imagined trajectories: λ-returns and the percentile return scale (DreamerV3)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def lambda_returns(rewards: Tensor, values: Tensor, *, discount: float = 0.99, lam: float | Tensor = 0.95,
                   continues: Tensor | None = None) -> Tensor:
    """TD(λ) returns of a batch of trajectories, computed backwards from the bootstrap value.

        R_H = V_H,   R_t = r_t + γ c_t [(1 - λ_t) V_{t+1} + λ_t R_{t+1}]

    Args:
        rewards: r_0 … r_{H-1}, shape (batch, H).
        values: V_0 … V_H, shape (batch, H + 1); V_H is the bootstrap (V_0 is not used).
        discount: γ.
        lam: λ, a float or a tensor (batch, H) of per-step weights; λ_t = 0 makes R_t bootstrap from V_{t+1}
            alone, which cuts a trajectory after step t (whatever R_{t+1} holds, even NaN, is not used).
        continues: c_t, the probability that s_{t+1} is not terminal, shape (batch, H); default 1.
    Returns:
        R_0 … R_{H-1}, shape (batch, H).
    """
    horizon = rewards.shape[1]
    if values.shape[:1] != rewards.shape[:1] or values.shape[1] != horizon + 1:
        raise ValueError(f"values must have shape (batch, H + 1) = {(rewards.shape[0], horizon + 1)}, got {tuple(values.shape)}")
    lam_t = torch.as_tensor(lam, dtype=rewards.dtype, device=rewards.device).expand_as(rewards)
    cont = torch.ones_like(rewards) if continues is None else continues.to(rewards.dtype)
    returns = []
    last = values[:, -1]
    for t in reversed(range(horizon)):
        mixed = (1.0 - lam_t[:, t]) * values[:, t + 1] + torch.where(lam_t[:, t] > 0, lam_t[:, t] * last, torch.zeros_like(last))
        last = rewards[:, t] + discount * cont[:, t] * mixed
        returns.append(last)
    return torch.stack(returns[::-1], 1)


class ReturnNormalizer(nn.Module):
    """Scale of returns: S = max(limit, P95 - P5), with the percentiles tracked by an exponential moving
    average over batches (DreamerV3). The first batch sets the estimate; dividing by S leaves small returns
    unscaled and brings large ones to a unit range. A module without parameters, like a running-statistics
    norm layer: the estimate is a buffer, so it travels with ``state_dict``."""

    def __init__(self, decay: float = 0.99, low: float = 0.05, high: float = 0.95, limit: float = 1.0) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0 or not 0.0 <= low < high <= 1.0:
            raise ValueError(f"need 0 <= decay < 1 and 0 <= low < high <= 1, got decay={decay}, low={low}, high={high}")
        self.decay, self.low, self.high, self.limit = decay, low, high, limit
        self.register_buffer("range", torch.full((2,), float("nan"), dtype=torch.float64))

    @torch.no_grad()
    def update(self, returns: Tensor) -> float:
        """Fold the percentiles of ``returns`` (any shape, finite entries only) into the estimate; returns S."""
        x = returns.detach().flatten().to(torch.float64)
        x = x[torch.isfinite(x)]
        if x.numel():
            batch = torch.quantile(x, torch.tensor([self.low, self.high], dtype=x.dtype, device=x.device)).to(self.range.device)
            fresh = torch.isnan(self.range).any()
            self.range.copy_(batch if fresh else self.decay * self.range + (1 - self.decay) * batch)
        return self.scale

    @property
    def scale(self) -> float:
        """S = max(limit, high percentile - low percentile); ``limit`` before any update."""
        width = float(self.range[1] - self.range[0])
        return self.limit if math.isnan(width) else max(self.limit, width)
