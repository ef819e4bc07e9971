"""Drawable primitives in world coordinates, one value per frame.

Positions are in world units (metres, y pointing up); sizes and offsets are in pixels of a 64-pixel image
and scale with the rendered image size, so objects keep their look whatever the camera framing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Color = tuple[float, float, float]


@dataclass(frozen=True)
class Disc:
    """A filled disc centred at ``center`` (frames, 2)."""

    center: np.ndarray
    radius: float
    color: Color
    offset: tuple[float, float] = (0.0, 0.0)

    def anchors(self) -> np.ndarray:
        """World points the camera must keep in view, shape (frames, k, 2)."""
        return self.center[:, None, :]


@dataclass(frozen=True)
class Segment:
    """A capsule (thick line with round caps) from ``a`` to ``b`` (frames, 2 each)."""

    a: np.ndarray
    b: np.ndarray
    half_width: float
    color: Color
    offset: tuple[float, float] = (0.0, 0.0)

    def anchors(self) -> np.ndarray:
        """World points the camera must keep in view, shape (frames, k, 2)."""
        return np.stack([self.a, self.b], axis=1)


@dataclass(frozen=True)
class Box:
    """A filled square of half side ``half`` centred at ``center`` (frames, 2), rotated by ``angle`` (frames,)."""

    center: np.ndarray
    angle: np.ndarray
    half: float
    color: Color
    offset: tuple[float, float] = (0.0, 0.0)

    def anchors(self) -> np.ndarray:
        """World points the camera must keep in view, shape (frames, k, 2)."""
        return self.center[:, None, :]


Shape = Disc | Segment | Box


@dataclass(frozen=True)
class Scene:
    """What a system draws: moving shapes (one entry per frame), static shapes (one frame), and extra world
    points (k, 2) the camera must keep in view although nothing is drawn there."""

    moving: list[Shape]
    static: list[Shape] = field(default_factory=list)
    extent: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))


def pixel_offset(direction: np.ndarray | tuple[float, float], distance: float) -> tuple[float, float]:
    """Offset of ``distance`` pixels along a world ``direction`` (y up), as a pixel-space (x, y-up) pair."""
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    return (float(d[0] * distance), float(d[1] * distance))
