"""Pure-numpy anti-aliased rasterizer for the synthetic suite.

Each shape is drawn from its signed distance field: pixel coverage is ``clip(0.5 - d, 0, 1)`` with ``d`` in
pixels, which gives one-pixel anti-aliased edges and exact zeros away from the shape, so pixels outside an
object's mask never change between frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lawm_env.data.synthetic.shapes import Box, Disc, Scene, Segment, Shape

BASE_SIZE = 64  # shape sizes are given in pixels of a BASE_SIZE image


@dataclass(frozen=True)
class Camera:
    """World-to-pixel map: ``px = (x - x0) * scale + cx``, ``py = cy - (y - y0) * scale`` (rows point down)."""

    x0: float
    y0: float
    scale: float
    size: int

    def to_pixels(self, points: np.ndarray) -> np.ndarray:
        """Map world points (..., 2) to pixel coordinates (..., 2) as (column, row)."""
        c = self.size / 2.0
        px = (points[..., 0] - self.x0) * self.scale + c
        py = c - (points[..., 1] - self.y0) * self.scale
        return np.stack([px, py], axis=-1)

    def as_array(self) -> np.ndarray:
        """(x0, y0, scale, size) as float64, stored with each episode."""
        return np.array([self.x0, self.y0, self.scale, self.size], dtype=np.float64)


def fit_camera(scene: Scene, size: int, min_span: float, margin_px: float = 8.0) -> Camera:
    """Fixed camera that keeps every anchor point of every frame at least ``margin_px`` (at 64 px) inside."""
    anchors = [s.anchors().reshape(-1, 2) for s in scene.moving + scene.static]
    points = np.concatenate(anchors + [scene.extent.reshape(-1, 2)], axis=0)
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = float(max((hi - lo).max(), min_span))
    usable = size * (1.0 - 2.0 * margin_px / BASE_SIZE)
    center = (lo + hi) / 2.0
    return Camera(x0=float(center[0]), y0=float(center[1]), scale=usable / span, size=size)


def texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """A static textured background (size, size, 3) float32 in [0, 1]: smooth waves, a faint grid, grain."""
    u = (np.arange(size, dtype=np.float64) + 0.5) / size
    yy, xx = np.meshgrid(u, u, indexing="ij")
    base = rng.uniform(0.25, 0.45, size=3)
    tint = rng.uniform(-0.08, 0.08, size=3)
    waves = np.zeros((size, size))
    for _ in range(3):
        fx, fy = rng.uniform(0.5, 3.0, size=2)
        phase = rng.uniform(0.0, 2.0 * np.pi)
        waves += np.sin(2.0 * np.pi * (fx * xx + fy * yy) + phase) / 3.0
    cell = max(size // 8, 2)
    grid = ((np.arange(size)[:, None] % cell == 0) | (np.arange(size)[None, :] % cell == 0)).astype(np.float64)
    grain = rng.uniform(-0.03, 0.03, size=(size, size))
    img = base[None, None, :] + waves[..., None] * tint[None, None, :] + (0.06 * grid + grain)[..., None]
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def _pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    c = np.arange(size, dtype=np.float32) + 0.5
    return c[None, None, :], c[None, :, None]  # x (1,1,W), y (1,H,1)


def _offset_pixels(shape: Shape, size: int) -> np.ndarray:
    k = size / BASE_SIZE
    return np.array([shape.offset[0] * k, -shape.offset[1] * k], dtype=np.float64)


def signed_distance(shape: Shape, camera: Camera) -> np.ndarray:
    """Signed distance in pixels (frames, H, W) from every pixel centre to the shape's boundary."""
    size = camera.size
    k = size / BASE_SIZE
    off = _offset_pixels(shape, size)
    gx, gy = _pixel_grid(size)
    if isinstance(shape, Disc):
        c = (camera.to_pixels(shape.center) + off).astype(np.float32)
        return np.hypot(gx - c[:, 0, None, None], gy - c[:, 1, None, None]) - np.float32(shape.radius * k)
    if isinstance(shape, Segment):
        a = (camera.to_pixels(shape.a) + off).astype(np.float32)
        b = (camera.to_pixels(shape.b) + off).astype(np.float32)
        ax, ay = a[:, 0, None, None], a[:, 1, None, None]
        dx, dy = (b[:, 0] - a[:, 0])[:, None, None], (b[:, 1] - a[:, 1])[:, None, None]
        px, py = gx - ax, gy - ay
        den = np.maximum(dx * dx + dy * dy, np.float32(1e-12))
        t = np.clip((px * dx + py * dy) / den, 0.0, 1.0)
        return np.hypot(px - t * dx, py - t * dy) - np.float32(shape.half_width * k)
    if isinstance(shape, Box):
        c = (camera.to_pixels(shape.center) + off).astype(np.float32)
        # rows point down, so a counter-clockwise world angle is clockwise in pixels
        cos = np.cos(shape.angle).astype(np.float32)[:, None, None]
        sin = np.sin(shape.angle).astype(np.float32)[:, None, None]
        px, py = gx - c[:, 0, None, None], gy - c[:, 1, None, None]
        lx = px * cos - py * sin
        ly = px * sin + py * cos
        h = np.float32(shape.half * k)
        qx, qy = np.abs(lx) - h, np.abs(ly) - h
        outside = np.hypot(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
        return outside + np.minimum(np.maximum(qx, qy), 0.0)
    raise TypeError(f"cannot draw {type(shape).__name__}")


def coverage(shape: Shape, camera: Camera) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] (frames, H, W); exactly 0 beyond half a pixel from the shape."""
    return np.clip(np.float32(0.5) - signed_distance(shape, camera), 0.0, 1.0)


def composite(image: np.ndarray, shapes: list[Shape], camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``shapes`` in order over ``image`` (H, W, 3) float32; return frames (F, H, W, 3) and union mask (F, H, W)."""
    frames = None
    mask = None
    for shape in shapes:
        alpha = coverage(shape, camera)
        if frames is None:
            frames = np.broadcast_to(image, alpha.shape + (3,)).copy()
            mask = np.zeros(alpha.shape, dtype=bool)
        color = np.asarray(shape.color, dtype=np.float32)
        frames += alpha[..., None] * (color - frames)
        mask |= alpha > 0.0
    if frames is None:
        return image[None].copy(), np.zeros((1,) + image.shape[:2], dtype=bool)
    return frames, mask


def render_scene(scene: Scene, camera: Camera, background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Render a scene: frames (F, H, W, 3) uint8 and object masks (F, H, W) bool."""
    still, _ = composite(background, scene.static, camera) if scene.static else (background[None], None)
    frames, mask = composite(still[0], scene.moving, camera)
    return np.rint(frames * 255.0).astype(np.uint8), mask
