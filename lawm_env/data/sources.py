"""Episode sources named ``synthetic:<system>`` or ``dmc:<task>``, behind one small interface."""

from __future__ import annotations

from typing import Any, Iterator, Protocol, Sequence

from lawm_env.data.episode import Episode
from lawm_env.data.exploration import RandomActions
from lawm_env.errors import BadValueError


class Source(Protocol):
    """Makes episodes by index; episode ``i`` of a collection seeded with ``seed`` is always the same."""

    name: str
    image_size: int

    def describe(self) -> dict[str, Any]:
        """JSON-ready description: spaces, state names and whatever fixes the episodes' content."""
        ...

    def generate(self, indices: Sequence[int], seed: int, steps: int) -> Iterator[Episode]:
        """Episodes ``indices`` in order."""
        ...


class SyntheticSource:
    """Episodes of one system of the synthetic physics suite."""

    def __init__(self, system: str, image_size: int = 64):
        from lawm_env.data.synthetic import make_system

        self.system = make_system(system)
        self.name = f"synthetic:{system}"
        self.image_size = image_size

    def describe(self) -> dict[str, Any]:
        s = self.system
        return {
            "observation": {"shape": [self.image_size, self.image_size, 3], "dtype": "uint8"},
            "action": {"shape": [0], "dtype": "float32", "low": -1.0, "high": 1.0},
            "state_names": list(s.state_names),
            "param_names": list(s.param_names),
            "energy": True,
            "conservative": s.conservative,
            "frame_dt": s.dt,
            "substeps": s.substeps,
        }

    def generate(self, indices: Sequence[int], seed: int, steps: int) -> Iterator[Episode]:
        from lawm_env.data.synthetic import generate_episodes

        for i in indices:
            yield from generate_episodes(self.system, seed, [i], steps, self.image_size)


class DmcSource:
    """Pixel episodes of a dm-control task with random actions (uniform by default; see
    ``lawm_env.data.exploration.RandomActions``), over ``num_workers`` processes."""

    def __init__(self, task: str, image_size: int = 64, num_workers: int = 1, random_actions: RandomActions = RandomActions()):
        from lawm_env.data.dmc import check_random_actions

        check_random_actions(task, random_actions)  # also validates the name
        self.task, self.num_workers, self.random_actions = task, num_workers, random_actions
        self.name = f"dmc:{task}"
        self.image_size = image_size
        self._info: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        from lawm_env.data.dmc import task_info

        if self._info is None:
            info = task_info(self.task, self.image_size)
            self._info = {
                "observation": {"shape": [self.image_size, self.image_size, 3], "dtype": "uint8"},
                "action": {"shape": [info.pop("action_dim")], "dtype": "float32", "low": -1.0, "high": 1.0},
                "energy": False,
                "policy": self.random_actions.describe(),
                **info,
            }
        return self._info

    def generate(self, indices: Sequence[int], seed: int, steps: int) -> Iterator[Episode]:
        from lawm_env.data.dmc import collect_episodes

        yield from collect_episodes(self.task, indices, seed, steps, self.image_size, self.num_workers, random_actions=self.random_actions)


def dmc_task(source: str) -> str | None:
    """The dm-control task that a source name ``dmc:<task>`` (as recorded in collections and models) names; None
    for any other source."""
    kind, sep, name = source.partition(":")
    return name if sep and kind == "dmc" and name else None


def make_source(spec: str, image_size: int = 64, num_workers: int = 1, random_actions: RandomActions = RandomActions()) -> Source:
    """Parse ``"synthetic:<system>"`` or ``"dmc:<task>"``; a bad spec raises ``ValueError`` listing the valid names.
    ``random_actions`` (dm-control only) is how random episodes draw their actions (``DmcSource``)."""
    kind, sep, name = spec.partition(":")
    if image_size < 16:
        raise ValueError(f"image size must be at least 16 pixels, got {image_size}")
    if sep and kind == "synthetic":
        if random_actions != RandomActions():
            raise ValueError(f"{random_actions.describe()} actions apply to dm-control sources; synthetic episodes have no actions")
        return SyntheticSource(name, image_size)
    if sep and kind == "dmc":
        return DmcSource(name, image_size, num_workers, random_actions)
    from lawm_env.data.dmc import DMC_TASKS
    from lawm_env.data.synthetic import SYSTEMS

    valid = [f"synthetic:{n}" for n in SYSTEMS] + [f"dmc:{n}" for n in DMC_TASKS]
    raise BadValueError(f"unknown source {spec!r}; choose one of: {', '.join(valid)}")
