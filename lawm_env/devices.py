"""Device selection shared by every entry point."""

from __future__ import annotations

import torch


def get_device(device: str | torch.device = "auto") -> torch.device:
    """Return a torch device; ``"auto"`` means CUDA when available, else CPU."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available on this machine")
    return resolved
