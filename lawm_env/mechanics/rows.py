"""Rows of a batch across a pytree (tensors, tuples, NamedTuples, None) whose tensors have the batch first: the
solver's compaction, its rescue and the world model's repair of replayed rows all pick and put back rows."""

from __future__ import annotations

from typing import Any

from torch import Tensor
from torch.utils._pytree import tree_flatten, tree_map, tree_unflatten


def take_rows(tree: Any, rows: Tensor) -> Any:
    """The rows ``rows`` (indices or a bool mask) of every tensor of ``tree``; other leaves stay as they are."""
    return tree_map(lambda t: t[rows] if isinstance(t, Tensor) else t, tree)


def put_rows(tree: Any, rows: Tensor, part: Any) -> Any:
    """``tree`` with the rows ``rows`` of its tensors replaced by those of ``part`` (same structure); the tensors
    of ``tree`` are not modified."""
    leaves, spec = tree_flatten(tree)
    out = []
    for whole, piece in zip(leaves, tree_flatten(part)[0]):
        if isinstance(whole, Tensor):
            whole = whole.clone()
            whole[rows] = piece
        out.append(whole)
    return tree_unflatten(out, spec)
