"""The pixel world model: encoder to generalized coordinates, decoder, reward head and a latent transition
(the forced DEL step for LaWM, an unconstrained MLP for the baseline) behind one interface."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, replace
from typing import Annotated, Literal, NamedTuple

import numpy as np
import torch
import tyro
from torch import Tensor, nn

from lawm_env.mechanics import DELInfo
from lawm_env.mechanics.angles import angle_features, pair_features, squared_distance
from lawm_env.model.transitions import (
    DELTransition,
    MLPTransition,
    TransitionState,
    matched_mlp_hidden,
    parameter_count,
)
from lawm_env.graphs import GraphedFunction, eager
from lawm_env.mechanics.rows import put_rows, take_rows
from lawm_env.model.vision import ConvDecoder, ConvEncoder
from lawm_env.networks import mlp


@dataclass(frozen=True)
class WorldModelConfig:
    """Architecture of a world model; stored in every checkpoint."""

    action_dim: Annotated[int, tyro.conf.Suppress] = 1
    """Dimension of the (float32, [-1, 1]) actions (``lawm train`` takes it from the data)."""
    latent_dim: int = 8
    """Dimension d of the generalized coordinates q."""
    transition: Literal["lawm", "mlp"] = "lawm"
    """'lawm': forced DEL step of a learned Lagrangian; 'mlp': the unconstrained baseline."""
    lagrangian: Literal["mechanical", "separable"] = "mechanical"
    """LaWM only: position-dependent mass (implicit) or constant mass (explicit Störmer–Verlet)."""
    dt: float = 0.1
    """Latent time step h of the DEL integrator."""
    hidden: int = 128
    """Hidden width of the Lagrangian networks and heads; the baseline's width is matched in parameters."""
    depth: int = 2
    """Hidden layers of the Lagrangian, baseline and reward networks."""
    channels: int = 16
    """Channels of the first convolution (doubling at each level)."""
    image_size: Annotated[int, tyro.conf.Suppress] = 64
    """Square frame size (4·2^k; ``lawm train`` takes it from the data)."""
    tol: float = 1e-4
    """Absolute Newton tolerance of the DEL solve (learned Lagrangians in float32 have a round-off floor
    near 1e-5, measured; 1e-4 is above it)."""
    rtol: float = 1e-5
    """Relative Newton tolerance (times the momentum norm): learned latents may have any scale."""
    max_iter: int = 10
    """Newton iteration limit of the DEL solve."""
    substeps: int = 1
    """LaWM only: DEL steps of dt/substeps per step of dt, the action held (checkpoints without it have 1)."""
    angles: int = 0
    """How many of the coordinates (the first ones) are angles, on a circle: a joint that can spin (checkpoints
    without it have 0). The encoder gives them as atan2 of an output pair, the networks read (cos θ, sin θ),
    and latent errors are 2(1 - cos Δθ) (see ``lawm_env.mechanics.angles``)."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "WorldModelConfig":
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown world model config keys: {sorted(unknown)}")
        return cls(**data)


class Imagined(NamedTuple):
    """An open-loop rollout in latent space."""

    positions: Tensor
    """q_{k+1} … q_{k+H}: (batch, H, d)."""
    rewards: Tensor
    """Predicted rewards of the H steps: (batch, H)."""
    iterations: Tensor
    """Newton iterations per step (zeros for the baseline): (batch, H)."""
    residual: Tensor
    """DEL residual per step (zeros for the baseline): (batch, H)."""
    converged: Tensor
    """Convergence per step: (batch, H)."""


def build_transition(config: WorldModelConfig) -> nn.Module:
    """The LaWM transition, or the baseline MLP with a parameter count matched to it (within a few %)."""
    lawm = DELTransition(config.latent_dim, config.action_dim, config.dt, lagrangian=config.lagrangian,
                         hidden=config.hidden, depth=config.depth, tol=config.tol, rtol=config.rtol,
                         max_iter=config.max_iter, substeps=config.substeps, angles=config.angles)
    if config.transition == "lawm":
        return lawm
    if config.transition == "mlp":
        inputs = 2 * (config.latent_dim + config.angles) + config.action_dim
        width = matched_mlp_hidden(parameter_count(lawm), inputs, config.latent_dim, config.depth)
        return MLPTransition(config.latent_dim, config.action_dim, hidden=width, depth=config.depth, angles=config.angles)
    raise ValueError(f"transition must be 'lawm' or 'mlp', got {config.transition!r}")


class WorldModel(nn.Module):
    """encode / decode / start / step / reward / rollout over batches, whichever transition is inside."""

    def __init__(self, config: WorldModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = ConvEncoder(config.latent_dim, config.image_size, config.channels, config.angles)
        self.decoder = ConvDecoder(config.latent_dim, config.image_size, config.channels, config.angles)
        features = config.latent_dim + config.angles
        self.reward_head = mlp(2 * features + config.action_dim, 1, config.hidden, config.depth)
        self.transition = build_transition(config)
        # without grad on CUDA, steps and rollouts replay captured CUDA graphs (see lawm_env.graphs); rows whose
        # solve failed in a replay are solved again eagerly, with the transition's rescue
        self._graphed_step = GraphedFunction(self._step, self, repair=self._repair_step)
        self._graphed_rollout = GraphedFunction(self._rollout, self, repair=self._repair_rollout)

    def encode(self, frames: Tensor) -> Tensor:
        """uint8 or [0, 1] float frames (..., H, W, 3) → q (..., d)."""
        return self.encoder(frames)

    @torch.no_grad()
    def encode_frame(self, frame: np.ndarray) -> Tensor:
        """One uint8 (H, W, 3) frame of the model's size, from an env, to q (d,) on the model's device."""
        frame = np.asarray(frame)
        size = self.config.image_size
        if frame.shape != (size, size, 3) or frame.dtype != np.uint8:
            raise ValueError(f"expected a uint8 ({size}, {size}, 3) frame, got {frame.dtype} {frame.shape}")
        device = next(self.parameters()).device
        return self.encode(torch.from_numpy(np.ascontiguousarray(frame))[None].to(device))[0]

    def decode(self, q: Tensor) -> Tensor:
        """q (..., d) → float frames (..., H, W, 3) in [0, 1]."""
        return self.decoder(q)

    def start(self, q_prev: Tensor, q: Tensor, u_prev: Tensor) -> TransitionState:
        """Transition state of the pair (q_{k-1}, q_k) reached under action u_{k-1}."""
        return self.transition.start(q_prev, q, u_prev)

    def step(self, state: TransitionState, u: Tensor, active: Tensor | None = None) -> tuple[TransitionState, DELInfo]:
        """One latent transition under action u_k (for LaWM: one forced DEL solve). Rows of ``active`` (batch,)
        set False are not solved: their next state is a guess, for callers that discard it. Without grad on CUDA
        it replays a captured CUDA graph (the same result)."""
        return self._graphed_step(state, u, active)

    def _step(self, state: TransitionState, u: Tensor, active: Tensor | None) -> tuple[TransitionState, DELInfo]:
        return self.transition.step(state, u, active)

    def _repair_step(self, args: tuple, outputs: tuple[TransitionState, DELInfo]) -> tuple[TransitionState, DELInfo]:
        """After a replayed step, the rows whose solve failed are stepped again eagerly (where the rescue runs)."""
        active = args[2]
        failed = ~outputs[1].converged if active is None else ~outputs[1].converged & active
        return _redo_rows(self._step, args, outputs, failed)

    def _repair_rollout(self, args: tuple, outputs: tuple[TransitionState, "Imagined"]) -> tuple[TransitionState, "Imagined"]:
        """After a replayed rollout, the rows with a failed solve are imagined again eagerly (where the rescue
        runs); rows are independent, so they end as an eager rollout of the whole batch would."""
        return _redo_rows(self._rollout, args, outputs, ~outputs[1].converged.all(1))

    def energy(self, state: TransitionState) -> Tensor:
        """The learned latent energy at the state's current configuration, per sample (LaWM: ½ pᵀM(q)⁻¹p + V(q);
        NaN for the baseline, which has none)."""
        return self.transition.energy(state)

    def mass_condition(self, q: Tensor) -> Tensor:
        """cond M(q) of the learned mass at configurations (batch, d), per sample (NaN for the baseline, which has
        none): where it is large, DEL solves fail (docs/robustness.md)."""
        return self.transition.log_mass_condition(q).exp()

    def regularizers(self, q: Tensor, actions: Tensor, visited: Tensor | None = None) -> tuple[dict[str, Tensor], dict[str, float]]:
        """The transition's own training terms on encoded sequences q (B, T, d) under actions (B, T-1, m), and
        diagnostics (LaWM: the DEL residual of the encoded triples, the mass scale and, at ``visited``
        configurations (N, d), the mass's conditioning; none for the baseline)."""
        return self.transition.regularizers(q, actions, visited)

    def with_max_iter(self, max_iter: int) -> "WorldModel":
        """A copy whose DEL solves stop after ``max_iter`` Newton iterations (an evaluation-time override of
        ``config.max_iter``); a ValueError for the baseline, which solves nothing."""
        if self.transition.max_iter is None:
            raise ValueError("a Newton iteration limit applies to LaWM transitions only")
        limited = copy.deepcopy(self)
        limited.config = replace(self.config, max_iter=max_iter)
        limited.transition.max_iter = max_iter
        return limited

    def reward(self, q: Tensor, q_next: Tensor, u: Tensor) -> Tensor:
        """Reward of the step q_k → q_{k+1} under u_k, shape (...,)."""
        return self.reward_head(torch.cat([self.features(q), self.features(q_next), u], -1)).squeeze(-1)

    def features(self, q: Tensor) -> Tensor:
        """Features (cos θ, sin θ, x) of coordinates (..., d), of size d + angles; q itself without angles."""
        return angle_features(q, self.config.angles)

    def latent_observation(self, q_prev: Tensor, q: Tensor) -> Tensor:
        """The Markov latent observation of a pair, (φ(q_k), (q_k - q_{k-1})/h), float32 of size 2d + angles:
        positions as features, velocities with each angle's change taken in [-π, π)."""
        return pair_features(q_prev, q, self.config.angles, self.config.dt).float()

    def latent_distance(self, a: Tensor, b: Tensor) -> Tensor:
        """Squared distance between coordinates (..., d), periodic in the angles (see ``angles``), shape (...,)."""
        return squared_distance(a, b, self.config.angles)

    def rollout(self, state: TransitionState, actions: Tensor) -> tuple[TransitionState, Imagined]:
        """Imagine H = actions.shape[1] steps from ``state`` with actions (batch, H, action_dim). Without grad on
        CUDA the whole rollout replays one captured CUDA graph (the same result)."""
        if actions.dim() != 3 or actions.shape[0] != state.q.shape[0] or actions.shape[2] != self.config.action_dim:
            raise ValueError(f"actions must have shape ({state.q.shape[0]}, H, {self.config.action_dim}), got {tuple(actions.shape)}")
        return self._graphed_rollout(state, actions)

    def _rollout(self, state: TransitionState, actions: Tensor) -> tuple[TransitionState, Imagined]:
        positions, rewards, infos = [], [], []
        for k in range(actions.shape[1]):
            q = state.q
            state, info = self.transition.step(state, actions[:, k])
            positions.append(state.q)
            rewards.append(self.reward(q, state.q, actions[:, k]))
            infos.append(info)
        stack = lambda name: torch.stack([getattr(i, name) for i in infos], 1)  # noqa: E731
        return state, Imagined(torch.stack(positions, 1), torch.stack(rewards, 1), stack("iterations"), stack("residual"), stack("converged"))


def _redo_rows(fn, args: tuple, outputs: tuple, rows: Tensor) -> tuple:
    """``outputs`` of ``fn(*args)`` with the rows ``rows`` (bool, (batch,)) computed again eagerly (every argument
    has the batch first; one read of ``rows`` on the host)."""
    index = rows.nonzero().squeeze(-1)
    if index.numel() == 0:
        return outputs
    with eager():
        part = fn(*take_rows(args, index))
    return put_rows(outputs, index, part)
