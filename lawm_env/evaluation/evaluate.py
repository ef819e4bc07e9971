"""Long-horizon open-loop evaluation of one world model on held-out windows: every metric as a series over
the predicted video's frames, plus per-model scalars.

Frame 0 and 1 of each sequence are the decoded encodings of the first two true frames; frames 2 … H+1 are
the model's open-loop predictions under the true actions (prediction step k is frame k + 1). The same
measurements run on the true frames give the "truth" reference: the floor of the measurement itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from lawm_env.data.synthetic import make_system
from lawm_env.evaluation.background import background_consistency, dilate, estimate_background, object_mask, object_weights
from lawm_env.evaluation.geometry import apply_affine, body_centroids, fit_affine, mask_centroid, position_error
from lawm_env.evaluation.heldout import EvalWindows
from lawm_env.evaluation.metrics import psnr, ssim
from lawm_env.evaluation.physics import drift_slope, invariance_score, relative_drift
from lawm_env.evaluation.probe import LinearProbe, probe_features, state_error
from lawm_env.evaluation.smoothness import interpolation_error, jerk
from lawm_env.evaluation.solver_health import solver_health
from lawm_env.evaluation.synthetic import BODY_COLORS, EDGE, OTHER_COLORS, invariants_from_positions, kinetic_energy_scale, position_columns
from lawm_env.model import WorldModel
from lawm_env.training.losses import frames_as_targets

SERIES: dict[str, tuple[str, bool]] = {
    "psnr": ("PSNR (dB, higher is better)", False),
    "ssim": ("SSIM (higher is better)", False),
    "position_error": ("object position error (world units)", False),
    "position_error_scene": ("object position error (fraction of the scene's width)", False),
    "object_missing": ("frames without a visible object (fraction; synthetic: without one of the tracked bodies)", False),
    "energy_drift": ("|E_k - E_0| / mean true kinetic energy, from calibrated positions (conservative systems)", False),
    "energy_error": ("|E_k - E_true,k| / mean true kinetic energy, from calibrated positions", False),
    "background_vs_first": ("background change vs first frame (mean abs)", False),
    "background_vs_previous": ("background change vs previous frame (mean abs)", False),
    "jerk": ("jerk of the object trajectory (world units/s³; pixels/frame³ without calibration), mean up to the step", True),
    "interpolation_error": ("odd-frame motion-compensated interpolation MSE, mean up to the step", True),
    "probe_state_error": ("probe-decoded state error (RMS in data standard deviations)", False),
    "latent_energy_drift": ("relative drift of the learned latent energy", False),
    "del_residual": ("DEL residual", False),
    "newton_iterations": ("Newton iterations", False),
    "not_converged": ("non-converged DEL solves (fraction)", False),
}
"""Metric name -> (description, reported as the running mean up to each step instead of the value at it)."""


@dataclass
class Evaluation:
    """One model's (or the truth's) results: per-frame series (mean over windows) and scalars."""

    label: str
    series: dict[str, np.ndarray] = field(default_factory=dict)
    scalars: dict[str, float] = field(default_factory=dict)

    def at(self, name: str, step: int) -> float:
        """The value of metric ``name`` at prediction step ``step`` (frame step + 1), as the table reports it."""
        values = self.series[name][: step + 2] if SERIES[name][1] else self.series[name][step + 1 : step + 2]
        finite = values[np.isfinite(values)]
        return float(finite.mean()) if finite.size else float("nan")


@dataclass(frozen=True)
class Reference:
    """What the measurements of a batch of windows compare against, computed once from the true frames."""

    truth: Tensor  # (B, F, H, W, 3) float
    background: Tensor  # (B, H, W, 3)
    true_masks: Tensor  # (B, F, H, W)
    calibration: Tensor | None  # (B, 2·bodies + 1, 2·bodies): pixel centroids -> world positions
    positions: Tensor | None  # (B, F, 2·bodies) true world positions
    colors: tuple | None


def make_reference(windows: EvalWindows, frames: int, threshold: float) -> Reference:
    """Background, masks and the per-window calibration of pixel centroids to world positions (synthetic)."""
    truth = frames_as_targets(windows.obs[:, :frames])
    masks = None if windows.masks is None else windows.masks[:, :frames]
    background = estimate_background(truth, masks)
    true_masks = object_mask(truth, background, threshold)
    system = windows.system
    colors = BODY_COLORS.get(system) if system else None
    calibration = positions = None
    if system is not None and windows.states is not None:
        positions = windows.states[:, :frames, position_columns(make_system(system))].double()
        centroids = body_centroids(truth, object_weights(truth, background, true_masks), colors, OTHER_COLORS).double()
        calibration = fit_affine(centroids, positions)
    return Reference(truth, background, true_masks, calibration, positions, colors)


def _pad(series: Tensor, frames: int) -> Tensor:
    """Series over the last ``n`` frames (B, n) padded at the front with NaN to (B, frames)."""
    return torch.cat([series.new_full((series.shape[0], frames - series.shape[1]), float("nan")), series], 1)


def _pad_both(series: Tensor) -> Tensor:
    """A per-frame series of the inner frames (T - 2·EDGE,) padded with NaN to all T frames."""
    nan = series.new_full((EDGE,), float("nan"))
    return torch.cat([nan, series, nan])


def physics_from_positions(world: Tensor, windows: EvalWindows) -> tuple[dict[str, Tensor], dict[str, list[float]]]:
    """Energy series (B, F) from world positions (B, F, 2·bodies) of a synthetic system: the error against the
    true energy and, for conservative systems, the drift from the first step, both over the window's mean true
    kinetic energy (``kinetic_energy_scale``); per-window drift slopes and invariance scores of the conserved
    quantities."""
    system = make_system(windows.system)
    inner = slice(EDGE, world.shape[1] - EDGE)  # frames with finite-difference velocities
    series: dict[str, list[Tensor]] = {"energy_error": []}
    scalars: dict[str, list[float]] = {}
    for b in range(world.shape[0]):
        found = invariants_from_positions(system.name, world[b].numpy(), windows.params[b])
        inv = {k: torch.from_numpy(v[inner]) for k, v in found.items()}
        e_true = windows.energies[b, inner]
        scale = kinetic_energy_scale(system.name, windows.states[b, : world.shape[1]][inner].numpy(), windows.params[b])
        series["energy_error"].append(_pad_both((inv["energy"] - e_true).abs() / max(scale, 1e-12)))
        if system.conservative:
            series.setdefault("energy_drift", []).append(_pad_both(relative_drift(inv["energy"], scale)))
            scalars.setdefault("energy_drift_slope", []).append(float(drift_slope(inv["energy"], system.dt, scale)))
        for name, values in inv.items():
            if name != "energy" or system.conservative:
                scalars.setdefault(f"invariance_score_{name}", []).append(float(invariance_score(values)))
    return {k: torch.stack(v) for k, v in series.items()}, scalars


def measure_frames(frames: Tensor, ref: Reference, windows: EvalWindows, threshold: float) -> tuple[dict[str, Tensor], dict[str, list[float]]]:
    """Frame metrics (B, F) and per-window scalars of a video (B, F, H, W, 3) against ``ref``."""
    masks = object_mask(frames, ref.background, threshold)
    series: dict[str, Tensor] = {"psnr": psnr(frames, ref.truth), "ssim": ssim(frames, ref.truth)}
    series["background_vs_first"], series["background_vs_previous"] = background_consistency(frames, dilate(masks | ref.true_masks))
    weights = object_weights(frames, ref.background, masks)
    union = mask_centroid(weights)
    series["interpolation_error"] = interpolation_error(frames, masks, union, ref.background)
    if ref.calibration is None:
        series["object_missing"] = union.isnan().any(-1).float()  # an empty mask has no centroid
        series["jerk"] = jerk(union)
        return series, {}
    centroids = body_centroids(frames, weights, ref.colors, OTHER_COLORS)
    series["object_missing"] = centroids.isnan().any(-1).float()  # a body not drawn is missing
    world = apply_affine(centroids.double(), ref.calibration)
    series["position_error"] = position_error(world, ref.positions)
    if windows.scene_widths is not None:
        series["position_error_scene"] = series["position_error"] / windows.scene_widths[:, None]
    series["jerk"] = jerk(world, make_system(windows.system).dt)
    physics, scalars = physics_from_positions(world, windows)
    series.update(physics)
    return series, scalars


def latent_energy(model: WorldModel, q: Tensor, actions: Tensor) -> Tensor | None:
    """The LaWM's learned energy along latent sequences q (B, T, d) driven by actions (B, T-1, m), per frame
    1 … T-1 (B, T-1); None for the baseline."""
    if model.config.transition != "lawm":
        return None
    flat = lambda x: x.flatten(0, 1)  # noqa: E731  (batch, time) flattened here: actions may have zero columns
    # the model's own start: it unwraps angles and, with substeps, starts from the fine step
    return model.energy(model.start(flat(q[:, :-1]), flat(q[:, 1:]), flat(actions))).reshape(q.shape[0], -1)


def _pearson(x: Tensor, y: Tensor) -> float:
    x, y = x.double().flatten(), y.double().flatten()
    keep = x.isfinite() & y.isfinite()
    x, y = x[keep] - x[keep].mean(), y[keep] - y[keep].mean()
    return float((x * y).sum() / (x.norm() * y.norm()).clamp(min=1e-300))


def window_steps(horizon: int) -> int:
    """Steps a held-out window needs for ``horizon`` prediction steps: the first pair, the horizon, and
    ``EDGE`` steps beyond it so that velocities (hence energies) exist up to the last reported step."""
    return horizon + 1 + EDGE


@torch.no_grad()
def evaluate_model(model: WorldModel | None, windows: EvalWindows, horizon: int, label: str, batch_size: int = 8,
                   probe: LinearProbe | None = None, probe_scale: Tensor | None = None, threshold: float = 0.1) -> Evaluation:
    """Metrics of ``model``'s open-loop predictions over ``horizon`` steps on ``windows`` of at least
    ``window_steps(horizon)`` steps (the truth itself when ``model`` is None); series cover frames 0 … horizon + 1."""
    frames = window_steps(horizon) + 1
    if windows.obs.shape[1] < frames:
        raise ValueError(f"windows hold {windows.obs.shape[1]} frames; horizon {horizon} needs {frames}")
    device = next(model.parameters()).device if model is not None else torch.device("cpu")
    collected: dict[str, list[Tensor]] = {}
    scalars: dict[str, list[float]] = {}
    latent_pairs: list[tuple[Tensor, Tensor]] = []
    for start in range(0, len(windows), batch_size):
        part = windows.select(slice(start, start + batch_size))
        ref = make_reference(part, frames, threshold)
        extra: dict[str, Tensor] = {}
        if model is None:
            video = ref.truth
        else:
            obs, actions = part.obs[:, :frames].to(device), part.actions[:, : frames - 1].to(device)
            q = model.encode(obs[:, :2])
            _, imagined = model.rollout(model.start(q[:, 0], q[:, 1], actions[:, 0]), actions[:, 1:])
            q_all = torch.cat([q, imagined.positions], 1)
            video = model.decode(q_all).cpu()
            extra.update({k: _pad(v.cpu(), frames) for k, v in solver_health(imagined).items()})
            if probe is not None and part.states is not None:
                predicted = probe(probe_features(q_all, model.config.angles).cpu())
                extra["probe_state_error"] = _pad(state_error(predicted, part.states[:, 1:frames], probe_scale), frames)
            imagined_energy = latent_energy(model, q_all, actions)
            if imagined_energy is not None:
                extra["latent_energy_drift"] = _pad(relative_drift(imagined_energy.cpu()), frames)
                if part.energies is not None:
                    encoded = model.encode(obs)
                    latent_pairs.append((latent_energy(model, encoded, actions).cpu(), part.energies[:, 1:frames]))
        series, batch_scalars = measure_frames(video, ref, part, threshold)
        for name, values in {**series, **extra}.items():
            collected.setdefault(name, []).append(values.double())
        for name, values in batch_scalars.items():
            scalars.setdefault(name, []).extend(values)
    result = Evaluation(label)
    for name, parts in collected.items():
        stacked = torch.cat(parts).numpy()[:, : horizon + 2]  # frames beyond the horizon only served the stencils
        result.series[name] = np.array([np.nanmean(c) if np.isfinite(c).any() else np.nan for c in stacked.T])
    result.scalars = {name: float(np.nanmean(values)) for name, values in scalars.items()}
    if latent_pairs:
        latent, true = (torch.cat(x) for x in zip(*latent_pairs))
        result.scalars["latent_energy_correlation"] = _pearson(latent, true)
        result.scalars["latent_energy_correlation_per_window"] = float(np.nanmean([_pearson(a, b) for a, b in zip(latent, true)]))
    if model is not None:
        result.scalars["parameters"] = float(sum(p.numel() for p in model.parameters()))
    return result
