"""Small network builders shared by the mechanics and the world model."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def mlp(in_dim: int, out_dim: int, hidden: int = 128, depth: int = 2, activation: type[nn.Module] = nn.SiLU,
        norm: bool = False) -> nn.Sequential:
    """A multilayer perceptron with ``depth`` hidden layers of width ``hidden`` and a linear output.

    The default activation (SiLU) is smooth, so Lagrangians built from it have the second derivatives
    that Newton's method and the implicit gradients need. ``norm`` puts a LayerNorm before each activation:
    with ``depth`` ≥ 1 the output is then bounded by the last layers' weights alone, whatever the input, so the
    network cannot grow without bound away from its data.
    """
    if depth < 0 or hidden < 1 or in_dim < 1 or out_dim < 1:
        raise ValueError(f"mlp needs positive sizes and depth >= 0, got in={in_dim} out={out_dim} hidden={hidden} depth={depth}")
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), *([nn.LayerNorm(hidden)] if norm else []), activation()]
        width = hidden
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


def is_silu_mlp(net: nn.Module) -> bool:
    """True for an ``nn.Sequential`` of Linear layers with SiLU between them, ending in a Linear."""
    if not isinstance(net, nn.Sequential) or len(net) == 0 or not isinstance(net[-1], nn.Linear):
        return False
    return all(isinstance(m, nn.Linear) if i % 2 == 0 else isinstance(m, nn.SiLU) for i, m in enumerate(net))


def silu_mlp_hidden(net: nn.Sequential, x: Tensor) -> tuple[Tensor, list[Tensor]]:
    """The last hidden activation of a SiLU MLP (input to its final Linear) and the pre-activations."""
    pre_activations = []
    for layer in list(net)[:-1:2]:
        z = F.linear(x, layer.weight, layer.bias)
        pre_activations.append(z)
        x = F.silu(z)
    return x, pre_activations


def silu_mlp_input_gradient(net: nn.Sequential, pre_activations: list[Tensor], grad_hidden: Tensor) -> Tensor:
    """Back-propagate a cotangent on the last hidden activation to the input, by hand (no autograd)."""
    for layer, z in zip(reversed(list(net)[:-1:2]), reversed(pre_activations)):
        grad_hidden = torch.ops.aten.silu_backward(grad_hidden, z) @ layer.weight
    return grad_hidden
