"""Metrics on hand-made cases with known answers."""

from __future__ import annotations

import pytest
import torch

from lawm_env.evaluation.background import background_consistency, dilate, estimate_background, object_mask, object_weights
from lawm_env.evaluation.geometry import apply_affine, body_centroids, fit_affine, mask_centroid, position_error
from lawm_env.evaluation.metrics import masked_psnr, psnr, ssim
from lawm_env.evaluation.physics import drift_slope, invariance_score, relative_drift
from lawm_env.evaluation.probe import fit_probe, probe_features, state_error
from lawm_env.evaluation.smoothness import interpolation_error, jerk, translate
from lawm_env.evaluation.solver_health import solver_health


def test_psnr_known_values():
    frames = torch.rand(3, 8, 8, 3)
    assert (psnr(frames, frames) > 90).all()  # a perfect prediction scores (near) perfectly
    shifted = (frames * 0.5 + 0.1)
    target = frames * 0.5
    assert torch.allclose(psnr(shifted, target), torch.full((3,), 20.0), atol=1e-4)  # MSE 0.01 -> 20 dB
    assert psnr(torch.zeros(4, 2, 2, 3), torch.ones(4, 2, 2, 3)).abs().max() < 1e-6  # MSE 1 -> 0 dB


def test_masked_psnr_scores_only_the_masked_pixels():
    target = torch.zeros(2, 4, 4, 3)
    predicted = target.clone()
    predicted[:, :2] = 0.1  # an error of 0.1 on the top half only
    mask = torch.zeros(2, 4, 4, 1)
    mask[0, :2] = 1  # frame 0: the top half; frame 1: nothing
    scores = masked_psnr(predicted, target, mask)
    assert abs(float(scores[0]) - 20.0) < 1e-4 and torch.isnan(scores[1])  # MSE 0.01 where it counts
    assert abs(float(psnr(predicted, target)[0]) - 23.0103) < 1e-3  # diluted by the unmasked half
    assert float(masked_psnr(predicted, target, 1 - mask)[0]) > 90  # the error lies outside the complement
    with pytest.raises(ValueError, match="mask"):
        masked_psnr(predicted, target, mask[..., 0])


def test_psnr_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(torch.zeros(2, 4, 4, 3), torch.zeros(2, 4, 5, 3))


# ---------------------------------------------------------------------------------------------- SSIM

def test_ssim_identical_is_one_and_constant_images_follow_the_formula():
    frames = torch.rand(2, 3, 16, 16, 3)
    assert torch.allclose(ssim(frames, frames), torch.ones(2, 3), atol=1e-5)
    a, b = 0.2, 0.6  # constant images: no variance, only the luminance term (2ab + C1) / (a² + b² + C1)
    c1 = 0.01**2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    got = ssim(torch.full((1, 16, 16, 3), a), torch.full((1, 16, 16, 3), b))
    assert torch.allclose(got, torch.tensor([expected]), atol=1e-4)  # float32 moment differences: 7.5e-5 here


def test_ssim_drops_with_noise_and_rejects_mismatched_shapes():
    frames = torch.rand(1, 32, 32, 3)
    noisy = (frames + 0.2 * torch.randn_like(frames)).clamp(0, 1)
    assert ssim(noisy, frames).item() < 0.9
    with pytest.raises(ValueError, match="differ in shape"):
        ssim(torch.zeros(1, 8, 8, 3), torch.zeros(1, 8, 9, 3))


# ---------------------------------------------------------------------------------------------- invariants

def test_drift_of_a_conserved_quantity_is_zero_and_of_a_linear_one_is_its_slope():
    constant = torch.full((2, 50), -3.0)
    assert relative_drift(constant).abs().max() == 0 and drift_slope(constant).abs().max() == 0
    k = torch.arange(50.0)
    linear = 2.0 * (1 + 0.01 * k)
    assert torch.allclose(relative_drift(linear)[-1], torch.tensor(0.49), atol=1e-6)  # |E_49 - E_0| / |E_0|
    assert torch.allclose(drift_slope(linear, dt=0.5), torch.tensor(0.02), atol=1e-6)  # 0.01 per step of 0.5
    bounded = 1 + 0.1 * torch.cos(2 * torch.pi * torch.arange(201.0) / 200)  # oscillates, no secular drift
    assert drift_slope(bounded).abs() < 1e-6
    # over a given scale (a number or one per series) instead of |E_0|: a potential's zero no longer matters
    assert torch.allclose(relative_drift(torch.tensor([2.0, 3.0, 1.0]), 4.0), torch.tensor([0.0, 0.25, 0.25]))
    shifted = torch.stack([linear, linear - 2.0])  # the second has E_0 = 0
    assert torch.allclose(relative_drift(shifted, torch.tensor([4.0, 4.0]))[:, -1], torch.tensor([0.245, 0.245]))
    assert torch.allclose(drift_slope(shifted, dt=0.5, scale=torch.tensor([2.0, 2.0])), torch.tensor([0.02, 0.02]), atol=1e-6)


def test_invariance_score_known_values():
    assert invariance_score(torch.full((7,), 4.0)) == 1.0
    assert torch.allclose(invariance_score(torch.tensor([1.0, 3.0])), torch.tensor(2 / 3))  # std 1, mean 2


# ---------------------------------------------------------------------------------------------- geometry

def _square(size: int, col: int, row: int, half: int = 2) -> torch.Tensor:
    mask = torch.zeros(size, size, dtype=torch.bool)
    mask[row - half : row + half, col - half : col + half] = True
    return mask


def test_centroid_of_a_square_and_a_known_shift():
    a, b = _square(32, 10, 12), _square(32, 13, 16)  # moved 3 columns right and 4 rows down
    ca, cb = mask_centroid(torch.stack([a, b]))
    assert torch.allclose(ca, torch.tensor([10.0, 12.0]))
    assert torch.allclose(position_error(cb[None], ca[None]), torch.tensor([5.0]))  # a 3-4-5 shift
    assert mask_centroid(torch.zeros(8, 8, dtype=torch.bool)).isnan().all()


def test_weighted_centroid_follows_anti_aliased_coverage_below_a_pixel():
    # a 4-pixel square spanning columns 10.3 … 14.3 (centre 12.3): edge pixels covered 0.7 and 0.3
    coverage = torch.zeros(8, 32)
    coverage[2:6, 10], coverage[2:6, 11:14], coverage[2:6, 14] = 0.7, 1.0, 0.3
    background = torch.full((8, 32, 3), 0.2)
    frame = background + coverage[..., None] * (torch.tensor([0.9, 0.1, 0.1]) - background)
    masks = object_mask(frame[None], background)
    weights = object_weights(frame[None], background, masks)
    assert body_centroids(frame[None], weights)[0, 0] == pytest.approx(12.3, abs=1e-5)
    assert mask_centroid(masks)[0, 0] == pytest.approx(12.5)  # the binary mask snaps to the pixel grid
    blue = body_centroids(frame[None], weights, colors=[(0.0, 0.0, 1.0), (0.9, 0.1, 0.1)])
    assert blue[0, 0].isnan() and blue[0, 2] == pytest.approx(12.3, abs=1e-5)


def test_affine_calibration_recovers_a_known_map():
    pixels = torch.rand(20, 2) * 64
    transform = torch.tensor([[0.05, 0.0], [0.0, -0.05], [-1.6, 1.6]])  # scale, flipped rows, offset
    world = apply_affine(pixels, transform)
    fitted = fit_affine(pixels.double(), world.double())
    assert torch.allclose(fitted.float(), transform, atol=1e-4)
    assert position_error(apply_affine(pixels.double(), fitted), world.double()).max() < 1e-5


def test_bodies_are_told_apart_by_colour():
    frame = torch.zeros(16, 16, 3)
    frame[2:4, 2:4] = torch.tensor([1.0, 1.0, 0.0])
    frame[10:12, 12:14] = torch.tensor([0.0, 0.0, 1.0])
    centroids = body_centroids(frame, frame.sum(-1) > 0, colors=[(1.0, 1.0, 0.0), (0.0, 0.0, 1.0)])
    assert torch.allclose(centroids, torch.tensor([3.0, 3.0, 13.0, 11.0]))
    frame[2:4, 6:12] = 0.9  # a light coil beside the yellow body: nobody's when its colour is among the others
    masks = frame.sum(-1) > 0
    assert torch.allclose(body_centroids(frame, masks, [(1.0, 1.0, 0.0)], others=[(0.9, 0.9, 0.9)]), torch.tensor([3.0, 3.0]))
    assert body_centroids(frame, masks, [(1.0, 1.0, 0.0)])[0] > 5  # without, the coil counts for the body


# ---------------------------------------------------------------------------------------------- background

def _moving_square_video(frames: int = 9, size: int = 32, speed: int = 2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    background = torch.rand(size, size, 3) * 0.3
    masks = torch.stack([_square(size, 6 + speed * k, 16) for k in range(frames)])
    video = torch.where(masks[..., None], torch.tensor([0.9, 0.2, 0.1]), background)
    return video, masks, background


def test_background_estimate_masks_and_consistency():
    video, masks, background = _moving_square_video()
    assert torch.allclose(estimate_background(video, masks), background)
    assert torch.allclose(estimate_background(video), background)  # the square covers each pixel in < half the frames
    assert torch.equal(object_mask(video, background), masks)
    first, previous = background_consistency(video, masks)
    assert first.abs().max() < 1e-7 and previous.abs().max() < 1e-7  # a static background scores perfectly
    changed = video.clone()
    changed[5:] = torch.where(masks[5:, ..., None], changed[5:], changed[5:] + 0.1)  # background brightened from frame 5
    first, previous = background_consistency(changed, masks)
    assert torch.allclose(first[5:], torch.full((4,), 0.1), atol=1e-6) and first[:5].abs().max() < 1e-7
    assert torch.allclose(previous[5], torch.tensor(0.1), atol=1e-6) and previous[6:].abs().max() < 1e-6


def test_dilate_grows_masks_by_one_pixel():
    mask = torch.zeros(5, 5, dtype=torch.bool)
    mask[2, 2] = True
    assert dilate(mask).sum() == 9 and dilate(mask, 0).sum() == 1


# ---------------------------------------------------------------------------------------------- smoothness

def test_jerk_of_polynomial_trajectories():
    t = torch.arange(12.0)[:, None]
    assert jerk(torch.cat([3 + 2 * t, -t], -1))[2:-1].abs().max() < 1e-5  # constant velocity
    assert jerk(0.5 * 9.81 * t**2 * 0.04 + t)[2:-1].abs().max() < 1e-3  # constant acceleration
    cubic = jerk(t**3, dt=1.0)
    assert torch.allclose(cubic[2:-1], torch.full((9,), 6.0)) and cubic[[0, 1, -1]].isnan().all()


def test_translate_moves_by_whole_pixels_exactly():
    image = torch.zeros(1, 1, 8, 8)
    image[0, 0, 3, 2] = 1.0
    moved = translate(image, torch.tensor([[2.0, 1.0]]))
    assert moved[0, 0, 4, 4] == 1.0 and moved.sum() == 1.0


def test_interpolation_reconstructs_constant_motion_and_flags_a_flicker():
    video, masks, background = _moving_square_video()
    centroids = mask_centroid(masks)
    error = interpolation_error(video, masks, centroids, background)
    odd = error[1:-1:2]
    assert odd.max() < 1e-10 and error[0::2].isnan().all()
    flicker = video.clone()
    flicker[3] = background  # the object vanishes for one odd frame
    assert interpolation_error(flicker, masks, centroids, background)[3] > 1e-3


# ---------------------------------------------------------------------------------------------- probe, solver

def test_probe_recovers_a_linear_state_map():
    q = torch.randn(4, 30, 3)
    features = probe_features(q)
    assert features.shape == (4, 29, 6)
    weight = torch.randn(6, 2)
    states = features @ weight + 1.5
    probe = fit_probe(features.flatten(0, 1), states.flatten(0, 1), ridge=1e-9)
    assert state_error(probe(features), states, torch.ones(2)).max() < 1e-3


def test_solver_health_from_an_imagined_rollout():
    from lawm_env.model.world_model import Imagined

    imagined = Imagined(torch.zeros(2, 3, 4), torch.zeros(2, 3), torch.tensor([[1, 2, 3], [1, 1, 1]]),
                        torch.full((2, 3), 1e-6), torch.tensor([[True, True, False], [True, True, True]]))
    health = solver_health(imagined)
    assert health["newton_iterations"].mean() == 1.5 and health["not_converged"].sum() == 1
    assert torch.allclose(health["del_residual"], torch.full((2, 3), 1e-6))


def test_ssim_in_float32_agrees_with_float64_to_its_reported_precision():
    from torchmetrics.functional.image import structural_similarity_index_measure

    torch.manual_seed(0)
    target = torch.rand(4, 32, 32, 3)
    predicted = (0.8 * target.roll(1, dims=1) + 0.2 * torch.rand_like(target)).clamp(0, 1)
    reference = structural_similarity_index_measure(predicted.double().movedim(-1, 1), target.double().movedim(-1, 1),
                                                    gaussian_kernel=True, sigma=1.5, kernel_size=11, reduction="none",
                                                    data_range=1.0)
    got = ssim(predicted, target)
    assert got.dtype == torch.float32 and torch.allclose(got.double(), reference, atol=1e-4)
