"""Autograd helpers that work both inside and outside ``torch.no_grad``."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor


def grad_enabled_input(x: Tensor) -> Tensor:
    """Return ``x`` itself when it already tracks gradients, else a detached leaf that does."""
    return x if x.requires_grad else x.detach().requires_grad_(True)


def input_gradients(value: Tensor, inputs: tuple[Tensor, ...], create_graph: bool) -> tuple[Tensor, ...]:
    """Gradients of ``value.sum()`` with respect to ``inputs``; zeros for inputs it does not depend on.

    Samples of a batch are independent, so the gradient of the sum is the per-sample gradient.
    """
    if not value.requires_grad:  # e.g. a potential that is identically zero
        return tuple(torch.zeros_like(x) for x in inputs)
    grads = torch.autograd.grad(value.sum(), inputs, create_graph=create_graph, allow_unused=True)
    return tuple(torch.zeros_like(x) if g is None else g for g, x in zip(grads, inputs))


def value_and_batch_jacobian(fn: Callable[[Tensor], tuple[Tensor, ...]], x: Tensor) -> tuple[tuple[Tensor, ...], Tensor]:
    """``fn(x)`` (detached) and the exact per-sample Jacobian of its first output, shape (batch, out, in).

    ``fn`` must be batch-independent (sample b of the output depends on sample b of x only). One
    vector-Jacobian product per output coordinate: a loop over the small state dimension, never over the
    batch. Works when ``fn`` itself differentiates (it is evaluated with grad enabled).
    """
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        outputs = fn(xg)
        y = outputs[0]
        rows = []
        for i in range(y.shape[-1]):
            (g,) = torch.autograd.grad(y[:, i].sum(), xg, retain_graph=i + 1 < y.shape[-1], allow_unused=True)
            rows.append(torch.zeros_like(xg) if g is None else g)
    return tuple(o.detach() for o in outputs), torch.stack(rows, dim=1).detach()
