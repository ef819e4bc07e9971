"""Model-predictive control from pixels: encode the real frame, plan through the world model, act, repeat."""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import Tensor

from agents.imagined_return import ImaginedReturn, TerminalValue
from lawm_env.model import WorldModel
from lawm_env.noise import ActionNoise
from planners.base import PlanResult, SamplingPlanner


class MPCAgent:
    """A closed-loop controller: at every real step it encodes the frame to q_k, plans from (q_{k-1}, q_k, u_{k-1})
    and executes the first action of the plan (receding horizon with the planner's shifted warm start).

    ``act(frame, explore=True)`` adds Gaussian exploration noise of std ``exploration_noise`` (clipped to the
    bounds) for data collection: white, or colored over the episode with ``exploration_beta`` > 0 (see
    ``lawm_env.noise.ActionNoise``). ``plan_seconds`` lists the planning time of every action.
    """

    def __init__(self, model: WorldModel, planner: SamplingPlanner, *, discount: float = 1.0,
                 terminal_value: TerminalValue | None = None, exploration_noise: float = 0.3, seed: int = 0,
                 exploration_beta: float = 0.0) -> None:
        if planner.action_dim != model.config.action_dim:
            raise ValueError(f"planner plans {planner.action_dim}-d actions, the model takes {model.config.action_dim}-d")
        self.model, self.planner = model, planner
        self.objective = ImaginedReturn(model, discount, terminal_value)
        self.noise = ActionNoise(exploration_noise, exploration_beta, seed)
        self.device = next(model.parameters()).device
        self.plan_seconds: list[float] = []
        self.last_plan: PlanResult | None = None
        self._q_prev: Tensor | None = None
        self._u_prev: Tensor | None = None

    def reset(self, seed: int | None = None) -> None:
        """Start a new episode: forget the latent history and the planner's warm start; ``seed`` reseeds the
        planner and the exploration noise."""
        self._q_prev = self._u_prev = None
        self.planner.reset(seed)
        if seed is not None:
            self.noise.reset(seed)
        self.last_plan = None

    def act(self, frame: np.ndarray, explore: bool = False) -> np.ndarray:
        """The action (float32, within the planner's bounds) for the current real frame."""
        q = self.model.encode_frame(frame)
        if self._q_prev is None:  # first frame of an episode: at rest, no previous action
            self._q_prev, self._u_prev = q, torch.zeros(self.model.config.action_dim, device=self.device)
        self.objective.set_start(self._q_prev, q, self._u_prev)
        start = time.perf_counter()
        self.last_plan = self.planner.plan(self.objective)
        self.plan_seconds.append(time.perf_counter() - start)
        action = self.last_plan.actions[0]
        if explore and self.noise.std > 0:
            noise = torch.as_tensor(self.noise.sample(action.numel()), dtype=action.dtype, device=action.device)
            action = self.planner.clip(action + noise)
        action = action.to(self.device)
        self._q_prev, self._u_prev = q, action
        return action.float().cpu().numpy()

    @torch.no_grad()
    def imagined_plan(self) -> Tensor:
        """The last plan's imagined frames (H, image, image, 3) in [0, 1], decoded from its latent rollout."""
        if self.last_plan is None:
            raise RuntimeError("no plan yet: call act() first")
        return self.model.decode(self.objective.imagine(self.last_plan.actions.to(self.device)))

    def update(self, model: WorldModel, batch: dict[str, Tensor]) -> dict[str, float]:
        """Nothing to learn: MPC plans through whatever the model is now."""
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        return None
