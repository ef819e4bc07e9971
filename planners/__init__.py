"""Sampling-based planners over batched objectives (CEM, MPPI, iCEM): optimizers of action sequences that see only
an objective, and their config."""

from planners.base import Objective, PlanResult, SamplingPlanner
from planners.cem import CEM
from planners.icem import ICEM
from planners.mppi import MPPI

PLANNERS = {"cem": CEM, "mppi": MPPI, "icem": ICEM}

__all__ = ["CEM", "ICEM", "MPPI", "PLANNERS", "Objective", "PlanResult", "SamplingPlanner"]
