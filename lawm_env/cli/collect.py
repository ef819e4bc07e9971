"""Collect pixel episodes into compressed shards: the synthetic physics suite or a dm-control task.

Examples: ``lawm collect --source synthetic:pendulum --episodes 100 --steps 100 --out data/pendulum`` and
``lawm collect --source dmc:cartpole-swingup --episodes 20 --steps 100 --out data/cartpole --num-workers 2``.
Running the same command again resumes an interrupted collection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Config:
    out: Path
    """Directory for the shards and manifest.json (created; an existing collection there is resumed)."""
    source: str = "synthetic:pendulum"
    """``synthetic:<system>`` (uniform, acceleration, parabolic, slope, circular, pendulum, damped_pendulum, spring,
    orbit) or ``dmc:<task>`` (cartpole-swingup, pendulum-swingup, reacher-easy, cheetah-run, walker-walk, ...)."""
    episodes: int = 100
    """Number of episodes."""
    steps: int = 100
    """Agent steps per episode (frames = steps + 1); dm-control episodes end earlier at the task's time limit."""
    seed: int = 0
    """Collection seed; episode i is seeded from (seed, i)."""
    image_size: int = 64
    """Frame height and width in pixels."""
    num_workers: int = 1
    """Processes for dm-control collection (gymnasium AsyncVectorEnv); synthetic episodes use one process."""
    episodes_per_shard: int = 16
    """Episodes per shard file (the unit of atomic writes and of resumption)."""
    coast: float = 0.0
    """dm-control: probability that an episode coasts, taking zero actions after a random number (0 to steps / 2)
    of random steps. Coasting episodes show the unforced motion and the rest that a model should keep
    under zero actions."""
    beta: float = 0.0
    """dm-control: 0 draws uniform random actions at every step; β > 0 draws colored Gaussian noise whose power
    falls as 1/f^β over the episode (1: pink), clipped to [-1, 1]. Pink noise holds its sign for several steps
    and swings a pole much higher than uniform draws (``examples/exploration_coverage.py``)."""
    center: tuple[float, float] = (0.0, 0.0)
    """dm-control tasks with a slider (cartpole): gains (k_x, k_v) of a pull −(k_x·x + k_v·ẋ) on the cart, read
    from the simulator state and added to each random action, which keeps the cart in the camera's view
    (``1 0.3`` with ``--beta 1``: always in view). (0, 0): none."""
    progress: bool = True
    """Show a progress bar."""


def run(config: Config) -> None:
    """Collect (or resume) and print a summary."""
    from lawm_env.data.collection import collect
    from lawm_env.data.exploration import RandomActions
    from lawm_env.data.sources import make_source
    from lawm_env.data.storage import ShardError
    from lawm_env.errors import UserError

    try:
        source = make_source(config.source, config.image_size, config.num_workers, RandomActions(config.coast, config.beta, config.center))
        summary = collect(source, config.out, config.episodes, config.steps, config.seed, config.episodes_per_shard, config.progress)
    except (ValueError, ShardError) as exc:
        raise UserError(str(exc)) from None
    print(summary)
