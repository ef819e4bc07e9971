"""The embedded default world model, shipped inside the package (see lawm_env/assets/MODEL_CARD.md)."""

from __future__ import annotations

from pathlib import Path

import torch

from lawm_env.model import WorldModel

DEFAULT_MODEL_DIR = Path(__file__).parent / "assets" / "cartpole_swingup_lawm"
"""LaWM trained on dm-control cartpole-swingup pixels with the project's own commands."""
DEFAULT_TASK = "cartpole-swingup"


def default_model_path() -> Path:
    return DEFAULT_MODEL_DIR


def load_default_model(device: str | torch.device = "cpu") -> WorldModel:
    """The embedded default LaWM; a clear error if the package was installed without it."""
    from lawm_env.training.trainer import load_world_model

    if not (DEFAULT_MODEL_DIR / "checkpoint.json").is_file():
        raise FileNotFoundError(
            f"the embedded default model is missing from {DEFAULT_MODEL_DIR}; reinstall the package, or train one with "
            "`lawm collect --source dmc:cartpole-swingup ...` and `lawm train ...` (see lawm_env/assets/MODEL_CARD.md)"
        )
    return load_world_model(DEFAULT_MODEL_DIR, device)
