"""RNG states in checkpoints: torch (CPU and CUDA), numpy's and python's global generators and explicit
``torch.Generator``s, captured as tensors plus JSON and restored after a check that each one fits."""

from __future__ import annotations

import random
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from lawm_env.errors import CheckpointError


def capture_rng_states(
    generators: Mapping[str, torch.Generator], save_global: bool
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and JSON describing the requested RNG states."""
    tensors = {f"generator.{name}": gen.get_state() for name, gen in generators.items()}
    meta: dict[str, Any] = {"generators": {name: str(gen.device) for name, gen in generators.items()}}
    if save_global:
        tensors["torch.cpu"] = torch.get_rng_state()
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
        tensors.update({f"torch.cuda.{i}": state for i, state in enumerate(cuda)})
        _, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
        version, internal, gauss_next = random.getstate()
        meta["global"] = {
            "cuda_devices": len(cuda),
            "numpy": {"keys": keys.tolist(), "pos": pos, "has_gauss": has_gauss, "cached_gaussian": cached},
            "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
        }
    return tensors, meta


def check_rng_states(path: Path, meta: dict, generators: Mapping[str, torch.Generator], restore_global: bool) -> None:
    """Raise unless the checkpoint holds every requested RNG state, for a generator of the same device."""
    rng = meta.get("rng") or {}
    if restore_global and "global" not in rng:
        raise CheckpointError(f"checkpoint {path} has no global RNG state (saved with save_global_rng=False)")
    saved = rng.get("generators", {})
    for name, gen in generators.items():
        if name not in saved:
            raise CheckpointError(f"checkpoint {path} has no state for generator {name!r}; it has {sorted(saved)}")
        if torch.device(saved[name]).type != gen.device.type:
            raise CheckpointError(
                f"checkpoint {path}: generator {name!r} was saved from {saved[name]}, restored into {gen.device}"
            )


def restore_global_rng(path: Path, states: dict, tensors: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(tensors["torch.cpu"])
    n_cuda = states["cuda_devices"]
    if n_cuda:
        if torch.cuda.is_available() and torch.cuda.device_count() == n_cuda:
            torch.cuda.set_rng_state_all([tensors[f"torch.cuda.{i}"] for i in range(n_cuda)])
        else:
            warnings.warn(f"checkpoint {path}: CUDA RNG states of {n_cuda} device(s) not restored (no such devices)")
    np_state = states["numpy"]
    np.random.set_state(
        ("MT19937", np.array(np_state["keys"], dtype=np.uint32), np_state["pos"], np_state["has_gauss"],
         np_state["cached_gaussian"])
    )
    py_state = states["python"]
    random.setstate((py_state["version"], tuple(py_state["internal"]), py_state["gauss_next"]))
