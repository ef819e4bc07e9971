"""World-model losses on a batch of windows (obs (B, L+1, H, W, 3) uint8, actions (B, L, m), rewards (B, L)).

Frame and latent errors are summed over each frame (pixels and channels) or latent vector and averaged over
batch and time, as a Gaussian log-likelihood would be (up to constants): that keeps the image terms on the
scale of the reward term instead of 10⁴ times below it."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from lawm_env.mechanics.angles import circular_spread
from lawm_env.model import WorldModel
from lawm_env.model.vision import frames_to_float


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms."""

    reconstruction: float = 1.0
    """Decoded encoder latents against the frames."""
    prediction: float = 1.0
    """Decoded open-loop predictions against the true frames."""
    latent: float = 1.0
    """Open-loop latents against the (stop-gradient) encoder latents (angles by 2(1 - cos Δθ))."""
    reward: float = 1.0
    """Reward head on encoded and on predicted transitions."""
    residual: float = 0.1
    """LaWM: squared DEL residual of the encoded latent triples."""
    mass: float = 0.01
    """LaWM: (log det M / d)², which fixes the scale of the mass matrix."""
    conditioning: float = 0.0
    """LaWM: squared excess of log cond M(q) over log 100, at the encoded configurations, at those imagined under the
    window's actions, and along a longer gradient-free rollout under actions drawn from the batch (where a policy
    may take the model). A nearly singular mass is where DEL solves fail (docs/robustness.md). 0: off."""
    foreground: float = 0.0
    """Extra weight of the pixels that move within a window (differ from its per-pixel temporal median by more
    than 0.1 in some channel) in the frame errors: thin moving parts (a pole) are a tiny share of the pixels
    and vanish under a plain per-pixel error. 0: every pixel counts once."""
    latent_spread: float = 0.0
    """Floor on the spread of the encoded latents: mean over the features of φ(q) of max(0, 1 − std)², the std
    taken over the batch's frames. Without it the encoder can settle on a nearly constant q (a small body that
    travels across the frame: the decoder then draws its mean position, a blur); 0: off."""
    latent_scale: float = 0.0
    """Anchor of the latent scale: (mean φ(q)² − 1)² over the features of the encoded latents (q itself without
    angles). Nothing else fixes the scale of q (the latent term is against stop-gradient encoder latents), and
    its slow growth inflates the latent term; 0: off (the term is then not computed or logged)."""


def frames_as_targets(obs: Tensor) -> Tensor:
    """uint8 frames (..., H, W, 3) as float targets in [0, 1] with the same layout."""
    return frames_to_float(obs).movedim(-3, -1)


def _frame_errors(error: Tensor, pixel_weights: Tensor | None = None) -> Tensor:
    """Squared error summed over each frame (..., H, W, 3), one value per frame; ``pixel_weights`` (..., H, W, 1)
    weigh the pixels."""
    squared = error.square() if pixel_weights is None else error.square() * pixel_weights
    return squared.sum(dim=(-3, -2, -1))


def moving_pixels(targets: Tensor, threshold: float = 0.1) -> Tensor:
    """(B, T, H, W, 1) mask of the pixels of float frames (B, T, H, W, 3) that differ from their window's
    per-pixel temporal median by more than ``threshold`` in some channel."""
    background = targets.median(dim=1, keepdim=True).values
    return ((targets - background).abs().amax(-1, keepdim=True) > threshold).to(targets.dtype)


def masked_mean(values: Tensor, weights: Tensor) -> Tensor:
    """Mean of ``values`` over the entries with weight 1 (zero, with a graph, when there are none). Entries
    with weight 0 are selected away, not multiplied by 0, so a NaN or Inf there (a diverged imagined step)
    cannot reach the loss or its gradient."""
    kept = weights > 0
    return torch.where(kept, values, torch.zeros_like(values)).sum() / kept.sum().clamp(min=1).to(values.dtype)


def world_model_losses(model: WorldModel, obs: Tensor, actions: Tensor, rewards: Tensor, horizon: int,
                       weights: LossWeights = LossWeights()) -> tuple[Tensor, dict[str, float]]:
    """Total loss and its terms. The open-loop rollout starts from the encoded pair (q_0, q_1) reached under
    a_0 and applies the true actions a_1 … a_H; it is compared with frames and latents 2 … H+1. Imagined
    steps from the first non-converged DEL solve on are left out of the open-loop terms."""
    length = actions.shape[1]
    horizon = max(1, min(horizon, length - 1))
    targets = frames_as_targets(obs)
    q = model.encode(obs)
    pixel_weights = 1.0 + weights.foreground * moving_pixels(targets) if weights.foreground else None
    terms: dict[str, Tensor] = {"reconstruction": _frame_errors(model.decode(q) - targets, pixel_weights).mean()}
    state = model.start(q[:, 0], q[:, 1], actions[:, 0])
    _, imagined = model.rollout(state, actions[:, 1 : 1 + horizon])
    # A step whose DEL solve did not converge has no valid implicit gradient, nor do the steps after it.
    valid = imagined.converged.long().cumprod(1).to(q.dtype)
    future_weights = None if pixel_weights is None else pixel_weights[:, 2 : 2 + horizon]
    frame_errors = _frame_errors(model.decode(imagined.positions) - targets[:, 2 : 2 + horizon], future_weights)
    terms["prediction"] = masked_mean(frame_errors, valid)
    terms["latent"] = masked_mean(model.latent_distance(imagined.positions, q[:, 2 : 2 + horizon].detach()), valid)
    encoded_rewards = model.reward(q[:, :-1], q[:, 1:], actions)
    imagined_rewards = masked_mean((imagined.rewards - rewards[:, 1 : 1 + horizon]).square(), valid)
    terms["reward"] = (encoded_rewards - rewards).square().mean() + imagined_rewards
    visited = _visited_configurations(model, q, imagined.positions, valid, actions) if weights.conditioning else None
    physics, diagnostics = model.regularizers(q, actions, visited)
    terms.update(physics)
    if weights.latent_spread:
        spread = model.features(q).flatten(0, -2).std(0)
        terms["latent_spread"] = (1.0 - spread).clamp(min=0.0).square().mean()
    if weights.latent_scale:
        terms["latent_scale"] = (model.features(q).square().mean() - 1.0).square()
    total = sum(getattr(weights, name) * value for name, value in terms.items())
    report = {name: float(value.detach()) for name, value in terms.items()}
    report["total"] = float(total.detach())
    report["horizon"] = horizon
    report["newton_iterations"] = float(imagined.iterations.float().mean())
    report["not_converged"] = float((~imagined.converged).float().mean())
    report["masked_steps"] = float(1.0 - valid.mean())
    # drift diagnostics: the encoder's latent scale, and (LaWM) the mass scale that compensates for it
    report["latent_rms"] = float(model.features(q.detach()).square().mean().sqrt())
    report.update(diagnostics)
    if model.config.angles:  # an angle the encoder leaves unused has a spread near 0
        report["angle_spread"] = float(circular_spread(q.detach()[..., : model.config.angles]).min())
    return total, report


WANDER_HORIZONS = 4
"""The gradient-free rollout of the conditioning regularizer runs this many open-loop horizons."""


def _visited_configurations(model: WorldModel, q: Tensor, imagined: Tensor, valid: Tensor, actions: Tensor) -> Tensor:
    """Detached configurations (N, d) where the model's mass is regularized: the encoded ones q (B, T, d), the
    imagined ones (B, H, d), and those of a gradient-free rollout of ``WANDER_HORIZONS`` · H steps from the same
    starts under actions drawn from the window's (B, T-1, m) across batch and time, which keeps the data's action
    distribution without knowing the action bounds. Steps after a failed solve are replaced by the encoded
    configuration of the frame (imagined) or the start (rollout), so shapes stay static."""
    q, imagined = q.detach(), imagined.detach()
    batch, horizon = imagined.shape[:2]
    kept = torch.where(valid.unsqueeze(-1) > 0, imagined, q[:, 2 : 2 + horizon])
    flat_actions = actions.flatten(0, 1)
    drawn = flat_actions[torch.randint(flat_actions.shape[0], (batch, WANDER_HORIZONS * horizon), device=actions.device)]
    with torch.no_grad():
        _, wandered = model.rollout(model.start(q[:, 0], q[:, 1], actions[:, 0]), drawn)
    wander_valid = (wandered.converged.long().cumprod(1).unsqueeze(-1) > 0) & wandered.positions.isfinite()
    wander_kept = torch.where(wander_valid, wandered.positions, q[:, 1:2])
    return torch.cat([q.flatten(0, 1), kept.flatten(0, 1), wander_kept.flatten(0, 1)])
