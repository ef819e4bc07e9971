"""Shared fixtures: devices to parametrize over, and RNG state restored after every test."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


def _split(options: dict, cls) -> dict:
    """The entries of ``options`` that are fields of the dataclass ``cls``, removed from ``options``."""
    from dataclasses import fields

    names = {f.name for f in fields(cls)}
    return {k: options.pop(k) for k in list(options) if k in names}


def train_config(**options):
    """A ``TrainConfig`` from flat keyword options: world-model options (``latent_dim``, ``transition``, ...) go into
    its ``model``."""
    from lawm_env.model import WorldModelConfig
    from lawm_env.training.trainer import TrainConfig

    model = _split(options, WorldModelConfig)
    return TrainConfig(model=WorldModelConfig(**model), **options)


def train_run(**options):
    """A ``TrainRun`` (the options of ``lawm train``) from flat keyword options (see ``train_config``)."""
    from lawm_env.training.trainer import TrainRun

    run = _split(options, TrainRun)
    return TrainRun(train=train_config(**options), **run)


def online_config(**options):
    """An ``OnlineConfig`` from flat keyword options: the loop's own, the rest for its ``train`` (see
    ``train_config``)."""
    from lawm_env.training.online import OnlineConfig

    loop = _split(options, OnlineConfig)
    return OnlineConfig(train=train_config(**options), **loop)


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


def make_tiny_checkpoint(directory, image_size: int = 32, transition: str = "lawm", episode_steps: int = 10, seed: int = 0,
                         angles: int = 0):
    """An untrained tiny world model saved as a checkpoint with stored initial states (for env tests)."""
    from lawm_env.checkpoint import save_checkpoint
    from lawm_env.envs.initial_states import STATES_FILE, LatentPairs, save_states
    from lawm_env.model import WorldModel, WorldModelConfig

    torch.manual_seed(seed)
    model = WorldModel(WorldModelConfig(action_dim=1, latent_dim=4, image_size=image_size, hidden=32, channels=8, transition=transition,
                                        angles=angles))
    save_checkpoint(directory, modules={"model": model}, config={"model": model.config.to_dict()},
                    metadata={"data_source": "dmc:cartpole-swingup", "episode_steps": episode_steps}, save_global_rng=False)
    g = torch.Generator().manual_seed(seed + 1)
    q_prev = torch.randn(16, 4, generator=g) * 0.1
    save_states(directory / STATES_FILE, LatentPairs(q_prev, q_prev + 0.01 * torch.randn(16, 4, generator=g), torch.zeros(16, 1)))
    return directory


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def tiny_checkpoint64(tmp_path_factory):
    """Like ``tiny_checkpoint`` at the real 64x64 frame size (what SB3's CnnPolicy and dm-control use)."""
    return make_tiny_checkpoint(tmp_path_factory.mktemp("models") / "tiny64", image_size=64)


@pytest.fixture(scope="session")
def tiny_angle_checkpoint64(tmp_path_factory):
    """Like ``tiny_checkpoint64`` with one angular coordinate."""
    return make_tiny_checkpoint(tmp_path_factory.mktemp("models") / "tiny64-angle", image_size=64, angles=1)

