"""The JSON form of state dicts with tensor leaves (optimizer states): tensors are stored apart, under their dotted
path, and leave a tag; tuples and dicts with non-string keys (optimizer state indexed by int) are tagged so that
decoding restores them exactly. Floats round-trip exactly through JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from lawm_env.errors import CheckpointError

# A dict whose only key is one of these tags stands for a tensor, a tuple or a dict with non-string keys.
_TENSOR, _TUPLE, _ITEMS = "__tensor__", "__tuple__", "__items__"
_TAGS = (_TENSOR, _TUPLE, _ITEMS)


def cpu_copy(tensor: torch.Tensor) -> torch.Tensor:
    """A contiguous CPU copy sharing memory with nothing (safetensors rejects shared storage)."""
    return tensor.detach().to("cpu", copy=True, memory_format=torch.contiguous_format)


def encode_state(obj: Any, path: str, tensors: dict[str, torch.Tensor], target: Path) -> Any:
    """JSON form of a state dict; tensors go into ``tensors`` under their dotted path and leave a tag.

    Tuples and dicts with non-string keys (such as optimizer state indexed by int) are tagged so that
    ``decode_state`` restores them exactly; floats round-trip exactly through JSON.
    """
    if isinstance(obj, torch.Tensor):
        key = path
        while key in tensors:  # only if two paths render alike, e.g. int 0 and str "0"
            key += "'"
        tensors[key] = cpu_copy(obj)
        return {_TENSOR: key}
    if isinstance(obj, (bool, int, float, str)) or obj is None:
        return obj
    if isinstance(obj, (list, tuple)):
        items = [encode_state(v, f"{path}.{i}", tensors, target) for i, v in enumerate(obj)]
        return {_TUPLE: items} if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        plain = all(isinstance(k, str) for k in obj) and not (len(obj) == 1 and next(iter(obj)) in _TAGS)
        if plain:
            return {k: encode_state(v, f"{path}.{k}", tensors, target) for k, v in obj.items()}
        return {_ITEMS: [[encode_state(k, path, tensors, target), encode_state(v, f"{path}.{k}", tensors, target)]
                         for k, v in obj.items()]}
    raise CheckpointError(f"cannot save checkpoint {target}: {path} holds a {type(obj).__name__}, not storable")


def decode_state(obj: Any, tensors: dict[str, torch.Tensor], source: Path) -> Any:
    """Inverse of ``encode_state``; ``source`` names the tensor file in errors."""
    if isinstance(obj, list):
        return [decode_state(v, tensors, source) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if len(obj) == 1:
        tag, value = next(iter(obj.items()))
        if tag == _TENSOR:
            if value not in tensors:
                raise CheckpointError(f"{source} is damaged: tensor {value!r} is missing")
            return tensors[value]
        if tag == _TUPLE:
            return tuple(decode_state(v, tensors, source) for v in value)
        if tag == _ITEMS:
            return {decode_state(k, tensors, source): decode_state(v, tensors, source) for k, v in value}
    return {k: decode_state(v, tensors, source) for k, v in obj.items()}
