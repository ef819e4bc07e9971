"""The planning objective of a world model: imagined returns of batched latent rollouts from the current state."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from lawm_env.model import WorldModel
from lawm_env.model.transitions import TransitionState

TerminalValue = Callable[[TransitionState], Tensor]
"""The value of the rollouts' final states, (population,); a critic from the agents package, for example."""


class ImaginedReturn:
    """``objective(actions[pop, H, m]) -> returns[pop]``: the discounted imagined rewards of each action sequence
    from the latent pair set by ``set_start``, plus discount^H times ``terminal_value`` of the final state.

    Every sequence is imagined in one batch through ``model.step`` (the forced DEL solve for LaWM). From the
    first step whose DEL solve did not converge, a rollout's rewards and terminal value are not counted: the
    model cannot vouch for them, so unreliable plans score low instead of high.
    """

    def __init__(self, model: WorldModel, discount: float = 1.0, terminal_value: TerminalValue | None = None) -> None:
        if not 0 < discount <= 1:
            raise ValueError(f"discount must be in (0, 1], got {discount}")
        self.model, self.discount, self.terminal_value = model, discount, terminal_value
        self.start: tuple[Tensor, Tensor, Tensor] | None = None
        self.imagined_steps = 0
        self._converged_steps: Tensor | None = None  # summed on the model's device: counting reads nothing back

    def set_start(self, q_prev: Tensor, q: Tensor, u_prev: Tensor) -> None:
        """The current latent pair (q_{k-1}, q_k) reached under u_{k-1}; each of shape (d,) or (m,)."""
        d, m = self.model.config.latent_dim, self.model.config.action_dim
        if q_prev.shape != (d,) or q.shape != (d,) or u_prev.shape != (m,):
            raise ValueError(f"start must be q_prev ({d},), q ({d},), u_prev ({m},); got {tuple(q_prev.shape)}, {tuple(q.shape)}, {tuple(u_prev.shape)}")
        self.start = (q_prev, q, u_prev)

    @torch.no_grad()
    def __call__(self, actions: Tensor) -> Tensor:
        positions, returns, converged = self._rollout(actions)
        self.imagined_steps += positions.shape[0] * positions.shape[1]
        count = converged.sum()
        self._converged_steps = count if self._converged_steps is None else self._converged_steps + count
        return returns

    @property
    def converged_steps(self) -> int:
        """How many of the imagined steps counted in ``imagined_steps`` had a converged DEL solve (reads it from
        the device)."""
        return 0 if self._converged_steps is None else int(self._converged_steps)

    @property
    def converged_fraction(self) -> float:
        """Share of the imagined steps counted in ``imagined_steps`` whose DEL solve converged (1.0 before any)."""
        return self.converged_steps / self.imagined_steps if self.imagined_steps else 1.0

    @torch.no_grad()
    def imagine(self, actions: Tensor) -> Tensor:
        """Latent positions q_{k+1} … q_{k+H} of one plan (H, m) from the start: (H, d). Not counted in
        ``imagined_steps``, which measures the planner's work."""
        return self._rollout(actions[None])[0][0]

    def _rollout(self, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Imagined positions (pop, H, d), returns (pop,) and convergence (pop, H) of (pop, H, m) actions from the
        start."""
        if self.start is None:
            raise RuntimeError("call set_start() before evaluating the objective")
        population, horizon, _ = actions.shape
        q_prev, q, u_prev = (x.expand(population, -1) for x in self.start)
        state = self.model.start(q_prev, q, u_prev)
        final, imagined = self.model.rollout(state, actions.to(q.dtype))
        valid = imagined.converged.long().cumprod(1).to(q.dtype)
        weights = self.discount ** torch.arange(horizon, device=q.device, dtype=q.dtype)
        returns = (imagined.rewards * valid * weights).sum(1)
        if self.terminal_value is not None:
            returns = returns + self.discount**horizon * valid[:, -1] * self.terminal_value(final)
        return imagined.positions, returns, imagined.converged
