"""Small network builders shared by the mechanics and the world model."""

from __future__ import annotations

from torch import nn


def mlp(in_dim: int, out_dim: int, hidden: int = 128, depth: int = 2, activation: type[nn.Module] = nn.SiLU) -> nn.Sequential:
    """A multilayer perceptron with ``depth`` hidden layers of width ``hidden`` and a linear output.

    The default activation (SiLU) is smooth, so Lagrangians built from it have the second derivatives
    that Newton's method and the implicit gradients need.
    """
    if depth < 0 or hidden < 1 or in_dim < 1 or out_dim < 1:
        raise ValueError(f"mlp needs positive sizes and depth >= 0, got in={in_dim} out={out_dim} hidden={hidden} depth={depth}")
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), activation()]
        width = hidden
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)
