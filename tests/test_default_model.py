"""The embedded default model ships inside the package, loads without pickle and runs."""

from __future__ import annotations

import torch

from lawm_env.checkpoint import read_checkpoint
from lawm_env.model.io import DEFAULT_MODEL_DIR, DEFAULT_TASK, load_world_model


def test_default_model_loads_and_imagines():
    model = load_world_model()
    info = read_checkpoint(DEFAULT_MODEL_DIR)
    assert info.metadata["data_source"] == f"dmc:{DEFAULT_TASK}"
    assert model.config.transition == "lawm"
    frames = torch.randint(0, 256, (3, 2, 64, 64, 3), dtype=torch.uint8)
    with torch.no_grad():
        q = model.encode(frames)
        state = model.start(q[:, 0], q[:, 1], torch.zeros(3, model.config.action_dim))
        _, imagined = model.rollout(state, torch.zeros(3, 10, model.config.action_dim))
        video = model.decode(imagined.positions)
    assert video.shape == (3, 10, 64, 64, 3) and torch.isfinite(video).all()


def test_default_model_is_small():
    size = sum(f.stat().st_size for f in DEFAULT_MODEL_DIR.iterdir())
    assert size < 8 * 2**20
    assert not (DEFAULT_MODEL_DIR / "optimizer.safetensors").exists()
