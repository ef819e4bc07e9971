"""Where imagined episodes start: latent pairs (q_prev, q, u_prev) encoded from real frames.

- ``StoredStates``: pairs saved beside a model (``initial_states.safetensors``; the embedded default ships them,
  encoded from held-out real episodes), sampled uniformly.
- ``DatasetStates``: consecutive frames (o_t, o_{t+1}) and a_t drawn from a collection made by ``lawm collect``.
- ``RealTaskStates``: the real dm-control pixel task is reset (seeded) and stepped once with a zero action.
Frames given to ``reset(options={"frames": ..., "action": ...})`` are encoded directly (``encode_pair``).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np
import torch
from safetensors.torch import load_file, save
from torch import Tensor

from lawm_env.fileio import atomic_write
from lawm_env.model import WorldModel

STATES_FILE = "initial_states.safetensors"


class LatentPairs(NamedTuple):
    q_prev: Tensor
    q: Tensor
    u_prev: Tensor


class InitialStates(Protocol):
    def sample(self, n: int, generator: torch.Generator) -> LatentPairs: ...


@torch.no_grad()
def encode_pair(model: WorldModel, frames: Tensor, actions: Tensor) -> LatentPairs:
    """Encode frames (n, 2, H, W, 3) (uint8) reached with actions (n, m) between them."""
    device = next(model.parameters()).device
    q = model.encode(frames.to(device))
    return LatentPairs(q[:, 0], q[:, 1], actions.to(device, torch.float32))


class StoredStates:
    """Latent pairs stored in a safetensors file."""

    def __init__(self, path: str | Path, device: torch.device) -> None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no initial states at {path}")
        tensors = load_file(str(path), device=str(device))
        self.pairs = LatentPairs(tensors["q_prev"], tensors["q"], tensors["u_prev"])

    def sample(self, n: int, generator: torch.Generator) -> LatentPairs:
        index = torch.randint(self.pairs.q.shape[0], (n,), generator=generator).to(self.pairs.q.device)
        return LatentPairs(*(t[index] for t in self.pairs))


def save_states(path: str | Path, pairs: LatentPairs) -> None:
    """Write ``pairs`` as safetensors, atomically."""
    data = save({name: t.detach().cpu().contiguous() for name, t in pairs._asdict().items()})
    atomic_write(Path(path), lambda f: f.write(data))


class DatasetStates:
    """Encoded (o_t, o_{t+1}), a_t from random positions of a collection's episodes."""

    def __init__(self, model: WorldModel, data: str | Path) -> None:
        from lawm_env.data.dataset import WindowDataset

        self.model, self.dataset = model, WindowDataset(data, window=1, with_states=False)

    def sample(self, n: int, generator: torch.Generator) -> LatentPairs:
        index = torch.randint(len(self.dataset), (n,), generator=generator)
        items = [self.dataset[int(i)] for i in index]
        return encode_pair(self.model, torch.stack([it["obs"] for it in items]), torch.stack([it["actions"][0] for it in items]))


class RealTaskStates:
    """Reset the real pixel task with a seed from the generator, step once with a zero action, encode."""

    def __init__(self, model: WorldModel, task: str) -> None:
        from lawm_env.data.dmc import make_pixel_env

        self.model, self.env = model, make_pixel_env(task, model.config.image_size)

    def sample(self, n: int, generator: torch.Generator) -> LatentPairs:
        frames, actions = [], []
        for _ in range(n):
            seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
            first, _ = self.env.reset(seed=seed)
            action = np.zeros(self.env.action_space.shape, dtype=np.float32)
            second, *_ = self.env.step(action)
            frames.append(np.stack([first, second]))
            actions.append(action)
        return encode_pair(self.model, torch.from_numpy(np.stack(frames)), torch.from_numpy(np.stack(actions)))

    def close(self) -> None:
        self.env.close()
