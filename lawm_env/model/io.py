"""Loading, exporting and locating trained world models: the one place that turns a model directory into a
``WorldModel`` (the env, the CLI, training, benchmarks and agents all load through here).

A model directory is a checkpoint directory (``<run>/checkpoint`` written by ``lawm train``, or one written by
``lawm export``) holding the model's config and weights. ``None`` or ``"default"`` names the embedded default
model shipped inside the package (see ``lawm_env/assets/MODEL_CARD.md``).
"""

from __future__ import annotations

from pathlib import Path

import torch

from lawm_env.checkpoint import META, load_checkpoint, read_checkpoint, save_checkpoint
from lawm_env.devices import get_device
from lawm_env.model.world_model import WorldModel, WorldModelConfig

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "assets" / "cartpole_swingup_lawm"
"""LaWM trained on dm-control cartpole-swingup pixels with the project's own commands."""
DEFAULT_TASK = "cartpole-swingup"
"""The dm-control task of the default model."""

ModelPath = str | Path | None


def model_dir(path: ModelPath = None) -> Path:
    """The model directory ``path`` names (None or "default": the embedded default); a clear error when there is
    no model there."""
    default = path is None or str(path) == "default"
    directory = DEFAULT_MODEL_DIR if default else Path(path)
    if not (directory / META).is_file():
        if default:
            raise FileNotFoundError(f"the embedded default model is missing from {DEFAULT_MODEL_DIR}; reinstall the package, or "
                            "train one with `lawm collect --source dmc:cartpole-swingup ...` and `lawm train ...`")
        raise FileNotFoundError(f"no world model at {directory}: pass the checkpoint directory of a run (<run>/checkpoint, "
                        "written by `lawm train --out <run>`) or of `lawm export`, or leave it out for the embedded default")
    return directory


def load_world_model(path: ModelPath = None, device: str | torch.device = "cpu", into: WorldModel | None = None) -> WorldModel:
    """The trained world model at ``path`` (see ``model_dir``) on ``device``, in evaluation mode. With ``into``, its
    weights are loaded in place into that model (same config), so that whoever holds it sees them."""
    directory = model_dir(path)
    if into is None:
        into = WorldModel(WorldModelConfig.from_dict(read_checkpoint(directory).config["model"])).to(get_device(device))
    load_checkpoint(directory, modules={"model": into}, map_location=next(into.parameters()).device)
    return into.eval()


def model_metadata(path: ModelPath = None) -> dict:
    """The provenance stored with the model at ``path``: its data source, training options, versions."""
    return read_checkpoint(model_dir(path)).metadata


def export_world_model(checkpoint: ModelPath, destination: str | Path, metadata: dict | None = None) -> Path:
    """Copy a trained model's weights, config and provenance (no optimizer or RNG state) to ``destination``."""
    info = read_checkpoint(model_dir(checkpoint))
    return save_checkpoint(destination, modules={"model": load_world_model(checkpoint)}, config={"model": info.config["model"]},
                           step=info.step, metadata={**info.metadata, **(metadata or {})}, save_global_rng=False)
