"""Metrics on hand-made cases with known answers."""

from __future__ import annotations

import pytest
import torch

from lawm_env.evaluation.metrics import psnr


def test_psnr_known_values():
    frames = torch.rand(3, 8, 8, 3)
    assert (psnr(frames, frames) > 90).all()  # a perfect prediction scores (near) perfectly
    shifted = (frames * 0.5 + 0.1)
    target = frames * 0.5
    assert torch.allclose(psnr(shifted, target), torch.full((3,), 20.0), atol=1e-4)  # MSE 0.01 -> 20 dB
    assert psnr(torch.zeros(4, 2, 2, 3), torch.ones(4, 2, 2, 3)).abs().max() < 1e-6  # MSE 1 -> 0 dB


def test_psnr_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(torch.zeros(2, 4, 4, 3), torch.zeros(2, 4, 5, 3))
