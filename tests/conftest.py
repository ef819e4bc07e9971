"""Shared fixtures: devices to parametrize over, and RNG state restored after every test."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


@pytest.fixture(autouse=True)
def restore_rng_state():
    """Tests may seed freely: the global RNG states are restored afterwards."""
    torch_state, py_state, np_state = torch.get_rng_state(), random.getstate(), np.random.get_state()
    yield
    torch.set_rng_state(torch_state)
    random.setstate(py_state)
    np.random.set_state(np_state)


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    return torch.device(request.param)


@pytest.fixture(scope="session")
def tiny_pendulum(tmp_path_factory):
    """A tiny synthetic pendulum collection at 32x32 (4 episodes of 24 steps)."""
    from lawm_env.data.collection import collect
    from lawm_env.data.sources import make_source

    root = tmp_path_factory.mktemp("data") / "pendulum"
    collect(make_source("synthetic:pendulum", image_size=32), root, episodes=4, steps=24, seed=0, progress=False)
    return root
