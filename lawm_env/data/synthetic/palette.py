"""Colours shared by the synthetic scenes (RGB in [0, 1])."""

RED = (0.90, 0.22, 0.16)
YELLOW = (0.96, 0.80, 0.22)
BLUE = (0.25, 0.55, 0.95)
LIGHT = (0.88, 0.88, 0.84)
DARK = (0.10, 0.10, 0.12)
