"""Replay a function of tensors from a captured CUDA graph: one launch instead of thousands of small kernels.

A DEL step is hundreds of small kernels (a fixed number of quasi-Newton iterations, each a residual evaluation
and its bookkeeping) and a rollout is H of them. On a GPU, launching them one by one costs far more than running
them. The solver's hot path is static (same kernels for every input of a shape, no value read on the host), so
it can be captured once per input signature into a ``torch.cuda.CUDAGraph`` and replayed.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from typing import Any, Callable, Iterator

import torch
from torch import Tensor, nn
from torch.utils._pytree import tree_flatten, tree_map, tree_unflatten

MAX_GRAPHS = 8
"""Captured graphs kept per function (one per input signature); the oldest is dropped beyond that."""

_state = threading.local()


@contextlib.contextmanager
def eager() -> Iterator[None]:
    """Inside the block every ``GraphedFunction`` runs eagerly (for work on varying shapes, such as repairing a
    few rows after a replay, which would otherwise capture a graph per shape)."""
    previous = getattr(_state, "eager", False)
    _state.eager = True
    try:
        yield
    finally:
        _state.eager = previous


class GraphedFunction:
    """``fn(*args)``, replayed from a CUDA graph where that is possible, run eagerly elsewhere.

    ``args`` may be tensors, nested tuples and NamedTuples of tensors, None and Python scalars. When grad mode is
    off and the tensors are on CUDA, the first call with a signature (structure, shapes, dtypes, devices, scalar
    values, and the storage of the ``modules``' parameters) runs ``fn`` on a side stream to warm it up, then
    captures it; every later call copies the inputs into the graph's buffers and replays it. Outputs are
    cloned, so they outlive the next replay. On the CPU, in grad mode, or with ``enabled`` False, ``fn`` runs
    eagerly: results are the same either way.

    ``fn`` must launch the same kernels for every input of one signature and read nothing on the host (the
    static DEL solve does not); randomness must come from its inputs. Moving the modules to another device
    re-captures (its parameters' storage is part of the signature); updating its parameters in place (an
    optimizer step, ``load_state_dict``) is seen by the graphs. ``repair(args, outputs)``, when given, sees
    every replay's outputs and returns them, amended where the static computation needs eager help.
    """

    def __init__(self, fn: Callable[..., Any], *modules: nn.Module, enabled: bool = True,
                 repair: Callable[[tuple, Any], Any] | None = None) -> None:
        self.fn, self.modules, self.enabled, self.repair = fn, modules, enabled, repair
        self._graphs: dict[tuple, _Captured] = {}

    def __call__(self, *args: Any) -> Any:
        leaves, spec = tree_flatten(args)
        tensors = [x for x in leaves if isinstance(x, Tensor)]
        if (not self.enabled or getattr(_state, "eager", False) or torch.is_grad_enabled() or not tensors
                or not all(t.is_cuda for t in tensors)
                or torch.cuda.is_current_stream_capturing()):  # inside another capture: becomes part of that graph
            return self.fn(*args)
        key = (spec, tuple(_signature(x) for x in leaves), self._parameter_storage())
        captured = self._graphs.get(key)
        if captured is None:
            captured = self._graphs[key] = _Captured(self.fn, leaves, spec)
            while len(self._graphs) > MAX_GRAPHS:
                self._graphs.pop(next(iter(self._graphs)))
        outputs = captured.replay(tensors)
        return outputs if self.repair is None else self.repair(args, outputs)

    def _parameter_storage(self) -> tuple[int, ...]:
        return tuple(p.data_ptr() for module in self.modules for p in module.parameters())

    def __len__(self) -> int:
        """Captured graphs held."""
        return len(self._graphs)

    def __deepcopy__(self, memo: dict) -> "GraphedFunction":
        """A copy for the copied module, without graphs (they belong to the original's parameters)."""
        return GraphedFunction(copy.deepcopy(self.fn, memo), *copy.deepcopy(self.modules, memo), enabled=self.enabled,
                               repair=copy.deepcopy(self.repair, memo))

    def __getstate__(self) -> dict:
        return {"fn": self.fn, "modules": self.modules, "enabled": self.enabled, "repair": self.repair, "_graphs": {}}


def _signature(x: Any) -> Any:
    if isinstance(x, Tensor):
        return ("tensor", tuple(x.shape), x.dtype, x.device)
    return ("value", type(x), x)


class _Captured:
    """One captured graph: static input buffers, the graph, and its static outputs."""

    def __init__(self, fn: Callable[..., Any], leaves: list[Any], spec) -> None:
        self.inputs = [x.clone() if isinstance(x, Tensor) else x for x in leaves]
        args = tree_unflatten(self.inputs, spec)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):  # warm-up: lazy initializations and allocator growth happen outside the capture
                fn(*args)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.outputs = fn(*args)
        self.buffers = [x for x in self.inputs if isinstance(x, Tensor)]

    def replay(self, tensors: list[Tensor]) -> Any:
        for buffer, x in zip(self.buffers, tensors):
            buffer.copy_(x)
        self.graph.replay()
        return tree_map(lambda t: t.clone() if isinstance(t, Tensor) else t, self.outputs)

