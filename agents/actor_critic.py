"""Actor-critic learning in imagination (Dreamer): λ-returns of imagined rollouts, percentile return
normalization, entropy regularization, a slowly updated critic target, and actor gradients by
backpropagation through the model's dynamics."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from agents.imagination import LatentModel, frozen, imagine
from agents.actor_critic_networks import Actor, Critic, ema_update, state_features
from agents.returns import ReturnNormalizer, lambda_returns
from lawm_env.model import TransitionState
from lawm_env.training.losses import masked_mean


@dataclass(frozen=True)
class ActorCriticConfig:
    """Hyperparameters of the actor-critic."""

    horizon: int = 15
    """Imagination horizon H."""
    discount: float = 0.99
    """Discount γ."""
    lam: float = 0.95
    """λ of the λ-returns."""
    entropy: float = 3e-4
    """Weight η of the entropy bonus -log π(a|s) (returns are divided by the return scale first)."""
    actor_gradient: Literal["dynamics", "reinforce"] = "dynamics"
    """'dynamics': backpropagate returns through the model's transition; 'reinforce': score-function
    gradient with the critic as baseline (the transition sees detached actions)."""
    actor_lr: float = 3e-4
    """Adam learning rate of the actor."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critic."""
    grad_clip: float = 100.0
    """Gradient norm clip of both networks."""
    target_rate: float = 0.02
    """EMA rate of the critic target per update (the target gives the λ-return values)."""
    hidden: int = 128
    """Hidden width of the actor and critic MLPs."""
    depth: int = 2
    """Hidden layers of the actor and critic MLPs."""
    min_std: float = 0.1
    """Smallest standard deviation of the actor's Gaussian (before tanh)."""
    max_std: float = 1.0
    """Largest standard deviation of the actor's Gaussian (before tanh)."""
    mean_limit: float = 5.0
    """Bound on the absolute mean of the actor's Gaussian (before tanh); ``math.inf``: unbounded."""
    critic_norm: bool = True
    """LayerNorm in the critic's hidden layers (see ``agents.actor_critic_networks.Critic``)."""
    critic_symlog: bool = True
    """The critic predicts and regresses symlog of the values (see ``agents.actor_critic_networks.Critic``)."""
    starts: int = 256
    """Imagined trajectories per update (start states drawn from the replayed windows)."""
    return_decay: float = 0.99
    """EMA decay of the 5th and 95th return percentiles."""
    failure: Literal["bootstrap", "terminal"] = "bootstrap"
    """A state from which the next DEL solve fails: 'bootstrap' values it with the critic (the trajectory is
    only cut there); 'terminal' gives it value 0, so the returns, and through them the actor, lose what
    lies beyond a failure (with non-negative rewards, a penalty for steering the model where it fails)."""

    def to_dict(self) -> dict:
        return asdict(self)


class ActorCritic(nn.Module):
    """Actor, critic, critic target and return scale on the latent state of a world model with time step
    ``dt``; ``optimizers()`` holds the actor's and the critic's Adam. ``state_dict`` covers the networks, the
    return-scale estimate and the update count; checkpoint the optimizers beside it."""

    def __init__(self, latent_dim: int, action_dim: int, dt: float, config: ActorCriticConfig = ActorCriticConfig(),
                 angles: int = 0) -> None:
        super().__init__()
        self.config, self.dt, self.angles = config, float(dt), angles
        features = 2 * latent_dim + angles
        self.actor = Actor(features, action_dim, config.hidden, config.depth, config.min_std, config.max_std,
                           config.mean_limit)
        self.critic = Critic(features, config.hidden, config.depth, config.critic_norm, config.critic_symlog)
        self.target = copy.deepcopy(self.critic).requires_grad_(False)
        self.normalizer = ReturnNormalizer(decay=config.return_decay)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        self._optimizers = {"actor": torch.optim.Adam(self.actor.parameters(), lr=config.actor_lr),
                            "critic": torch.optim.Adam(self.critic.parameters(), lr=config.critic_lr)}
        self.skipped_updates = 0

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The actor's and the critic's optimizers (move the module to its device before the first update)."""
        return self._optimizers

    def value(self, state: TransitionState) -> Tensor:
        """V(s) of a batch of transition states: (batch,). Usable as a planner's terminal value."""
        return self.critic(state_features(state, self.dt, self.angles))

    def policy(self, state: TransitionState, explore: bool = False, generator: torch.Generator | None = None) -> Tensor:
        """Actions (batch, action_dim) in (-1, 1): a sample when ``explore``, else tanh of the mean."""
        features = state_features(state, self.dt, self.angles)
        return self.actor.sample(features, generator).action if explore else self.actor.mode(features)

    def learn(self, model: LatentModel, start: TransitionState, generator: torch.Generator | None = None) -> dict[str, float]:
        """One actor and one critic update from imagined rollouts of ``start``; the model is not updated."""
        cfg = self.config
        with frozen(model, self.target):  # type: ignore[arg-type]
            traj = imagine(model, self.actor, start, cfg.horizon, dynamics_gradient=cfg.actor_gradient == "dynamics",
                           generator=generator)
            values = self.target(traj.features)
        valid = traj.valid
        # λ_t = 0 cuts the return after a failed DEL solve: R_t then bootstraps from V_{t+1} alone (or from
        # nothing, with failure="terminal").
        next_valid = torch.cat([valid[:, 1:], torch.ones_like(valid[:, :1])], 1)
        lam = cfg.lam * next_valid
        continues = next_valid if cfg.failure == "terminal" else None
        returns = lambda_returns(traj.rewards, values, discount=cfg.discount, lam=lam, continues=continues)
        scale = self.normalizer.update(returns[valid > 0])
        if cfg.actor_gradient == "dynamics":
            objective = returns / scale
        else:
            advantage = ((returns - values[:, :-1]) / scale).detach()
            objective = traj.log_probs * advantage
        actor_loss = -masked_mean(objective - cfg.entropy * traj.log_probs, valid)
        critic_loss = masked_mean(self.critic.loss(traj.features[:, :-1].detach(), returns), valid)
        actor_norm = self._step(self._optimizers["actor"], self.actor, actor_loss)
        critic_norm = self._step(self._optimizers["critic"], self.critic, critic_loss)
        ema_update(self.target, self.critic, cfg.target_rate)
        self.updates += 1
        return {
            "actor_loss": float(actor_loss.detach()), "critic_loss": float(critic_loss.detach()),
            "imagined_reward": float(masked_mean(traj.rewards.detach(), valid)),
            "imagined_return": float(masked_mean(returns.detach()[:, :1], valid[:, :1])),
            "value": float(masked_mean(values.detach()[:, :-1], valid)),
            "entropy": float(masked_mean(-traj.log_probs.detach(), valid)),
            "return_scale": scale, "valid_steps": float(valid.mean()),
            "actor_grad_norm": actor_norm, "critic_grad_norm": critic_norm, "skipped_updates": float(self.skipped_updates),
        }

    def _step(self, optimizer: torch.optim.Optimizer, module: nn.Module, loss: Tensor) -> float:
        """Backward, clip and step; a non-finite gradient skips the step (and is counted)."""
        optimizer.zero_grad(set_to_none=True)
        loss.backward(inputs=list(module.parameters()))
        norm = torch.nn.utils.clip_grad_norm_(module.parameters(), self.config.grad_clip)
        if torch.isfinite(norm):
            optimizer.step()
        else:
            optimizer.zero_grad(set_to_none=True)
            self.skipped_updates += 1
        return float(norm)
