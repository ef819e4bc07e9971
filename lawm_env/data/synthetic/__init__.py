"""Physics-clean synthetic suite: accurate simulators, pure-numpy rendering, per-frame ground truth."""

from lawm_env.data.synthetic.base import System, Trajectory
from lawm_env.data.synthetic.episodes import generate_episode, generate_episodes
from lawm_env.data.synthetic.registry import SYSTEMS, make_system

__all__ = ["SYSTEMS", "System", "Trajectory", "generate_episode", "generate_episodes", "make_system"]
