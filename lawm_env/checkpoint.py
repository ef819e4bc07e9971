"""Checkpoints: module weights, optimizer state, RNG states, config and provenance in one directory.

Layout of a checkpoint directory:

- ``weights.safetensors``: every module's ``state_dict()`` tensors, keyed ``"<module>.<key>"``.
- ``optimizer.safetensors`` (only when optimizers are saved): the tensor leaves of each optimizer state dict.
- ``rng.safetensors`` (only when RNG states are saved): torch CPU/CUDA and explicit generator states.
- ``checkpoint.json``: format version, step, config, metadata, the non-tensor rest of the optimizer state
  dicts, numpy and python RNG states, the SHA-256 of every ``.safetensors`` file and library versions.

A save writes a temporary sibling directory, fsyncs it, then swaps it in place of the target, so an
interrupted save leaves the previous checkpoint intact. Loading verifies checksums before parsing; tensors
are read only by safetensors and everything else only by the JSON parser, so no code is ever deserialized.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import safetensors
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from lawm_env import rng_state
from lawm_env.errors import CheckpointError
from lawm_env.fileio import fsync_dir, hidden_sibling, swap_directory, write_synced
from lawm_env.state_codec import cpu_copy, decode_state, encode_state

FORMAT = "lawm-checkpoint"
VERSION = 1
META = "checkpoint.json"
WEIGHTS = "weights.safetensors"
OPTIMIZER = "optimizer.safetensors"
RNG = "rng.safetensors"



@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint records besides tensors."""

    directory: Path
    """The checkpoint directory."""
    config: dict
    """The configuration saved with it (as read back from JSON: tuples become lists)."""
    step: int
    """The training step it was saved at."""
    metadata: dict
    """Provenance saved with it: data source, metrics, timings..."""


# ----------------------------------------------------------------------------------------------- saving


def save_checkpoint(
    directory: str | os.PathLike,
    *,
    modules: Mapping[str, torch.nn.Module],
    config: dict,
    step: int = 0,
    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
    metadata: dict | None = None,
    generators: Mapping[str, torch.Generator] | None = None,
    save_global_rng: bool = True,
) -> Path:
    """Write a checkpoint to ``directory`` atomically, replacing any checkpoint already there.

    ``modules`` and ``optimizers`` are stored through their ``state_dict()``; ``generators`` by their state;
    ``save_global_rng`` adds the torch CPU (and CUDA, when available), numpy global and python ``random``
    states. ``config`` and ``metadata`` must be JSON-serializable. Returns the checkpoint directory.
    """
    target = Path(directory)
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise CheckpointError(f"cannot save checkpoint {target}: step must be a non-negative int, got {step!r}")
    _check_replaceable(target)

    weights, module_keys = _module_tensors(target, modules)
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "step": step,
        "config": config,
        "metadata": {} if metadata is None else metadata,
        "modules": module_keys,
    }
    files = {WEIGHTS: weights}
    if optimizers is not None:
        opt_tensors: dict[str, torch.Tensor] = {}
        meta["optimizers"] = {
            name: encode_state(opt.state_dict(), name, opt_tensors, target) for name, opt in optimizers.items()
        }
        files[OPTIMIZER] = opt_tensors
    if save_global_rng or generators:
        rng_tensors, meta["rng"] = rng_state.capture_rng_states(generators or {}, save_global_rng)
        files[RNG] = rng_tensors
    meta["versions"] = _versions()
    for part in ("config", "metadata", "optimizers"):  # fail before touching the disk, naming the part
        try:
            json.dumps(meta.get(part))
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"cannot save checkpoint {target}: {part} is not JSON-serializable: {err}")
    if not isinstance(config, dict) or not isinstance(meta["metadata"], dict):
        raise CheckpointError(f"cannot save checkpoint {target}: config and metadata must be dicts")

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = hidden_sibling(target, "tmp")
    tmp.mkdir()
    try:
        meta["files"] = {
            name: write_synced(tmp / name, save_safetensors(tensors, metadata={"format": "pt"}))
            for name, tensors in files.items()
        }
        meta["rng"] = meta.pop("rng", None)  # the long RNG state lists go last in the file
        write_synced(tmp / META, (json.dumps(meta, indent=1) + "\n").encode())
        fsync_dir(tmp)
        swap_directory(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _check_replaceable(target: Path) -> None:
    """Refuse to replace anything but a checkpoint or an empty directory."""
    if not target.exists():
        return
    if not target.is_dir():
        raise CheckpointError(f"cannot save checkpoint {target}: it exists and is not a directory")
    if not (target / META).is_file() and any(target.iterdir()):
        raise CheckpointError(f"cannot save checkpoint {target}: it is a non-empty directory without {META}")


def _module_tensors(
    target: Path, modules: Mapping[str, torch.nn.Module]
) -> tuple[dict[str, torch.Tensor], dict[str, list[str]]]:
    """CPU contiguous copies of all module state tensors, and each module's state_dict keys."""
    tensors: dict[str, torch.Tensor] = {}
    keys: dict[str, list[str]] = {}
    for name, module in modules.items():
        if not name or "." in name:
            raise CheckpointError(f"cannot save checkpoint {target}: module name {name!r} is empty or has a '.'")
        keys[name] = []
        for key, value in module.state_dict().items():
            if not isinstance(value, torch.Tensor):
                raise CheckpointError(
                    f"cannot save checkpoint {target}: state of module {name!r} has a non-tensor entry {key!r}"
                )
            tensors[f"{name}.{key}"] = cpu_copy(value)
            keys[name].append(key)
    return tensors, keys


def _versions() -> dict[str, str]:
    import lawm_env  # here, not at import time: lawm_env may import this module

    return {
        "lawm": lawm_env.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "safetensors": safetensors.__version__,
        "python": sys.version.split()[0],
    }


# ----------------------------------------------------------------------------------------------- loading


def read_checkpoint(directory: str | os.PathLike) -> Checkpoint:
    """Config, step and metadata of a checkpoint, after checking that its files exist and are intact."""
    path, meta = _read_meta(Path(directory))
    for name in meta["files"]:
        _read_tensors(path, meta, name)
    return _summary(path, meta)


def load_checkpoint(
    directory: str | os.PathLike,
    *,
    modules: Mapping[str, torch.nn.Module] | None = None,
    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
    generators: Mapping[str, torch.Generator] | None = None,
    restore_global_rng: bool = False,
    expected_config: dict | None = None,
    map_location: str | torch.device = "cpu",
) -> Checkpoint:
    """Check a checkpoint and restore the given modules, optimizers, generators and global RNG from it.

    Weights are materialized on ``map_location`` and copied into each module (strictly: every key, every
    shape) on the module's own device and dtype. Optimizer state goes through ``load_state_dict``, which
    places it by the optimizer's rules. Modules or optimizers saved but not asked for are ignored. All
    checks (config, files, keys, shapes) run before any module is modified.
    """
    path, meta = _read_meta(Path(directory))
    if expected_config is not None:
        _check_config(path, meta["config"], expected_config)

    module_states = {}
    if modules:
        saved = _read_tensors(path, meta, WEIGHTS, map_location)
        for name, module in modules.items():
            module_states[name] = _module_state(path, meta, saved, name, module)
    opt_states = {}
    if optimizers:
        if "optimizers" not in meta:
            raise CheckpointError(f"checkpoint {path} has no optimizer state ({OPTIMIZER} was not saved)")
        saved = _read_tensors(path, meta, OPTIMIZER)  # on CPU: load_state_dict moves state to the params
        for name in optimizers:
            if name not in meta["optimizers"]:
                raise CheckpointError(
                    f"checkpoint {path} has no optimizer {name!r}; it has {sorted(meta['optimizers'])}"
                )
            opt_states[name] = decode_state(meta["optimizers"][name], saved, path / OPTIMIZER)
            _check_optimizer(path, name, optimizers[name], opt_states[name])
    rng_state.check_rng_states(path, meta, generators or {}, restore_global_rng)
    rng = _read_tensors(path, meta, RNG) if (generators or restore_global_rng) else {}

    for name, module in (modules or {}).items():
        try:
            module.load_state_dict(module_states[name], strict=True)
        except RuntimeError as err:  # what the key/shape checks above cannot foresee
            raise CheckpointError(f"checkpoint {path / WEIGHTS} does not fit module {name!r}: {err}") from None
    for name, optimizer in (optimizers or {}).items():
        try:
            optimizer.load_state_dict(opt_states[name])
        except (ValueError, KeyError, RuntimeError) as err:
            raise CheckpointError(f"checkpoint {path}: optimizer {name!r} does not fit its saved state: {err}")
    for name, gen in (generators or {}).items():
        gen.set_state(rng[f"generator.{name}"])
    if restore_global_rng:
        rng_state.restore_global_rng(path, meta["rng"]["global"], rng)
    return _summary(path, meta)


def _summary(path: Path, meta: dict) -> Checkpoint:
    return Checkpoint(directory=path, config=meta["config"], step=meta["step"], metadata=meta["metadata"])


def _read_meta(path: Path) -> tuple[Path, dict]:
    """The parsed and checked ``checkpoint.json`` of checkpoint directory ``path``."""
    if not path.exists():
        hint = sorted(path.parent.glob(f".{path.name}.*.old")) if path.parent.is_dir() else []
        extra = f" (a save was interrupted; the previous checkpoint is at {hint[0]})" if hint else ""
        raise CheckpointError(f"checkpoint directory {path} does not exist{extra}")
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {path} is not a directory")
    file = path / META
    try:
        meta = json.loads(file.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{file} is missing: {path} is not a complete checkpoint") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{file} is damaged: not valid JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{file} is not a LaWM checkpoint file (format is not {FORMAT!r})")
    if meta.get("version") != VERSION:
        raise CheckpointError(
            f"{file} has checkpoint format version {meta.get('version')!r}; this code reads version {VERSION}"
        )
    required = {"step": int, "config": dict, "metadata": dict, "modules": dict, "files": dict}
    for field, kind in required.items():
        if not isinstance(meta.get(field), kind):
            raise CheckpointError(f"{file} is damaged: field {field!r} is missing or not a {kind.__name__}")
    return path, meta


def _read_tensors(
    path: Path, meta: dict, name: str, map_location: str | torch.device = "cpu"
) -> dict[str, torch.Tensor]:
    """Tensors of ``path/name`` after checking its SHA-256 against ``checkpoint.json``."""
    file = path / name
    expected = meta["files"].get(name)
    if expected is None:
        raise CheckpointError(f"{path / META} lists no {name}: the checkpoint was saved without it")
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{file} is missing") from None
    if hashlib.sha256(data).hexdigest() != expected:
        raise CheckpointError(f"{file} is damaged: its SHA-256 does not match the one in {META}")
    try:
        tensors = load_safetensors(data)
    except Exception as err:  # safetensors raises its own error type (not exported in every version)
        raise CheckpointError(f"{file} is damaged: safetensors cannot parse it ({err})") from None
    device = torch.device(map_location)
    if device.type != "cpu":
        tensors = {k: v.to(device) for k, v in tensors.items()}
    if name == WEIGHTS:
        listed = {f"{m}.{k}" for m, keys in meta["modules"].items() for k in keys}
        if listed != set(tensors):
            raise CheckpointError(f"{file} is damaged: its tensor keys differ from the module keys in {META}")
    return tensors


def _module_state(
    path: Path, meta: dict, saved: dict[str, torch.Tensor], name: str, module: torch.nn.Module
) -> dict[str, torch.Tensor]:
    """The saved state of module ``name``, checked against ``module``'s keys and shapes."""
    if name not in meta["modules"]:
        raise CheckpointError(f"checkpoint {path} has no module {name!r}; it has {sorted(meta['modules'])}")
    state = {key: saved[f"{name}.{key}"] for key in meta["modules"][name]}
    own = module.state_dict()
    problems = [f"missing key {k!r}" for k in own if k not in state]
    problems += [f"unexpected key {k!r}" for k in state if k not in own]
    problems += [
        f"shape mismatch for {k!r}: checkpoint {tuple(state[k].shape)}, module {tuple(v.shape)}"
        for k, v in own.items()
        if k in state and isinstance(v, torch.Tensor) and v.shape != state[k].shape
    ]
    if problems:
        raise CheckpointError(
            f"checkpoint {path / WEIGHTS} does not fit module {name!r} ({type(module).__name__}):\n  "
            + "\n  ".join(problems)
        )
    return state


def _check_optimizer(path: Path, name: str, optimizer: torch.optim.Optimizer, state: Any) -> None:
    """Raise unless ``state`` has as many parameter groups, each as large, as ``optimizer``."""
    try:
        saved = [len(group["params"]) for group in state["param_groups"]]
    except (TypeError, KeyError):
        raise CheckpointError(f"{path / META} is damaged: optimizer {name!r} has no valid param_groups") from None
    own = [len(group["params"]) for group in optimizer.param_groups]
    if saved != own:
        raise CheckpointError(
            f"checkpoint {path}: optimizer {name!r} was saved with parameter groups of sizes {saved}, "
            f"the optimizer given has {own}"
        )


def _check_config(path: Path, saved: dict, expected: dict) -> None:
    """Raise listing every dotted key whose value differs between the saved and the expected config."""
    expected = json.loads(json.dumps(expected))  # compare as stored: tuples become lists, keys strings
    diffs: list[str] = []
    _diff(saved, expected, "", diffs)
    if diffs:
        raise CheckpointError(
            f"config of checkpoint {path} differs from the expected config:\n  " + "\n  ".join(diffs)
        )


_MISSING = object()


def _diff(saved: Any, expected: Any, prefix: str, out: list[str]) -> None:
    if isinstance(saved, dict) and isinstance(expected, dict):
        for key in list(saved) + [k for k in expected if k not in saved]:
            _diff(saved.get(key, _MISSING), expected.get(key, _MISSING), f"{prefix}{key}.", out)
    elif isinstance(saved, list) and isinstance(expected, list) and len(saved) == len(expected):
        for i, (a, b) in enumerate(zip(saved, expected)):
            _diff(a, b, f"{prefix}{i}.", out)
    elif not _same(saved, expected):
        show = lambda v: "<absent>" if v is _MISSING else json.dumps(v)  # noqa: E731
        out.append(f"{prefix[:-1] or '<root>'}: checkpoint {show(saved)}, expected {show(expected)}")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b
