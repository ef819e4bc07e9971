"""Open-loop prediction videos: true frames beside the model's prediction, written with imageio; captioned panels
drawn with a built-in 5-pixel-high bitmap font."""

from __future__ import annotations

import os
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import torch

from lawm_env.model import WorldModel, to_uint8

# 5-row glyphs, '#' lit; letters are drawn as capitals (legible at this size), lowercase and capitals alike.
GLYPHS: dict[str, tuple[str, ...]] = {
    "a": (".#.", "#.#", "###", "#.#", "#.#"),
    "b": ("##.", "#.#", "##.", "#.#", "##."),
    "c": (".##", "#..", "#..", "#..", ".##"),
    "d": ("##.", "#.#", "#.#", "#.#", "##."),
    "e": ("###", "#..", "##.", "#..", "###"),
    "f": ("###", "#..", "##.", "#..", "#.."),
    "g": (".##", "#..", "#.#", "#.#", ".##"),
    "h": ("#.#", "#.#", "###", "#.#", "#.#"),
    "i": ("###", ".#.", ".#.", ".#.", "###"),
    "j": ("..#", "..#", "..#", "#.#", ".#."),
    "k": ("#.#", "#.#", "##.", "#.#", "#.#"),
    "l": ("#..", "#..", "#..", "#..", "###"),
    "m": ("#...#", "##.##", "#.#.#", "#...#", "#...#"),
    "n": ("#..#", "##.#", "#.##", "#..#", "#..#"),
    "o": (".#.", "#.#", "#.#", "#.#", ".#."),
    "p": ("##.", "#.#", "##.", "#..", "#.."),
    "q": (".#.", "#.#", "#.#", "##.", ".##"),
    "r": ("##.", "#.#", "##.", "#.#", "#.#"),
    "s": (".##", "#..", ".#.", "..#", "##."),
    "t": ("###", ".#.", ".#.", ".#.", ".#."),
    "u": ("#.#", "#.#", "#.#", "#.#", "###"),
    "v": ("#.#", "#.#", "#.#", "#.#", ".#."),
    "w": ("#...#", "#...#", "#.#.#", "##.##", "#...#"),
    "x": ("#.#", "#.#", ".#.", "#.#", "#.#"),
    "y": ("#.#", "#.#", ".#.", ".#.", ".#."),
    "z": ("###", "..#", ".#.", "#..", "###"),
    "0": ("###", "#.#", "#.#", "#.#", "###"),
    "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("##.", "..#", ".#.", "#..", "###"),
    "3": ("##.", "..#", ".#.", "..#", "##."),
    "4": ("#.#", "#.#", "###", "..#", "..#"),
    "5": ("###", "#..", "##.", "..#", "##."),
    "6": (".##", "#..", "###", "#.#", "###"),
    "7": ("###", "..#", ".#.", ".#.", ".#."),
    "8": ("###", "#.#", "###", "#.#", "###"),
    "9": ("###", "#.#", "###", "..#", "##."),
    " ": ("..", "..", "..", "..", ".."),
    "+": ("...", ".#.", "###", ".#.", "..."),
    "-": ("...", "...", "###", "...", "..."),
    "=": ("...", "###", "...", "###", "..."),
    ".": (".", ".", ".", ".", "#"),
    ":": (".", "#", ".", "#", "."),
    "/": ("..#", "..#", ".#.", "#..", "#.."),
}
GLYPH_ROWS = 5
"""Height of every glyph in font pixels."""
CAPTION_ROWS = GLYPH_ROWS + 2
"""Height of a caption strip in font pixels: the glyphs with one row of margin above and below."""


def text_mask(text: str, scale: int = 1) -> np.ndarray:
    """Boolean (5 * scale, width) image of ``text`` in the built-in font, glyphs one font pixel apart, each font
    pixel a ``scale`` x ``scale`` block; letters of either case, digits, space and ``+ - = . : /``."""
    unknown = sorted({c for c in text.lower() if c not in GLYPHS})
    if unknown:
        raise ValueError(f"no glyph for {''.join(unknown)!r} in {text!r}; the font has {''.join(GLYPHS)!r}")
    columns: list[np.ndarray] = []
    for i, char in enumerate(text.lower()):
        if i:
            columns.append(np.zeros((GLYPH_ROWS, 1), dtype=bool))
        columns.append(np.array([[c == "#" for c in row] for row in GLYPHS[char]], dtype=bool))
    mask = np.concatenate(columns, axis=1) if columns else np.zeros((GLYPH_ROWS, 0), dtype=bool)
    return mask.repeat(scale, axis=0).repeat(scale, axis=1)


def label(frame: np.ndarray, text: str, scale: int = 1) -> np.ndarray:
    """A new uint8 (H + 7 * scale, W, 3) image: a black caption strip holding ``text`` in white, centred (cut at
    the right edge when wider than the frame), above a copy of the uint8 (H, W, 3) ``frame``."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected a uint8 (H, W, 3) frame, got {frame.dtype} {frame.shape}")
    mask = text_mask(text, scale)[:, : frame.shape[1]]
    strip = np.zeros((CAPTION_ROWS * scale, frame.shape[1], 3), dtype=np.uint8)
    left = (frame.shape[1] - mask.shape[1]) // 2
    strip[scale : scale + mask.shape[0], left : left + mask.shape[1]][mask] = 255
    return np.concatenate([strip, frame], axis=0)


def side_by_side(panels: list[np.ndarray], labels: list[str], scale: int = 1) -> np.ndarray:
    """The uint8 (H, W, 3) ``panels``, each captioned with its label by ``label``, joined left to right into one
    (H + 7 * scale, sum of widths, 3) image."""
    if len(panels) != len(labels) or not panels:
        raise ValueError(f"need one label per panel and at least one panel, got {len(panels)} panels and {len(labels)} labels")
    return np.concatenate([label(panel, text, scale) for panel, text in zip(panels, labels)], axis=1)


def predict_window(model: WorldModel, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Frames (L+1, H, W, 3) uint8 predicted open loop from the first two encoded frames with the true actions;
    frames 0 and 1 are the reconstructions they start from."""
    q = model.encode(obs[None])
    state = model.start(q[:, 0], q[:, 1], actions[None, 0])
    _, imagined = model.rollout(state, actions[None, 1:])
    latents = torch.cat([q[:, :2], imagined.positions], 1)
    return to_uint8(model.decode(latents))[0]


def write_prediction_video(model: WorldModel, window: dict[str, torch.Tensor], path: str | Path, device: torch.device, fps: int = 10) -> Path:
    """Write ``path`` (.mp4 or .gif): each frame is [true | predicted] for one time step of ``window``."""
    obs, actions = window["obs"].to(device), window["actions"].to(device)
    predicted = predict_window(model, obs, actions)
    frames = np.concatenate([obs.cpu().numpy(), predicted.cpu().numpy()], axis=2)
    return write_video(list(frames), path, fps)


def write_video(frames: list[np.ndarray], path: str | Path, fps: int = 10) -> Path:
    """Write uint8 (H, W, 3) frames to ``path`` (.mp4 or .gif) atomically (a temporary file, then a rename)."""
    path = Path(path)
    if path.suffix not in (".mp4", ".gif"):
        raise ValueError(f"video path must end in .mp4 or .gif, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    if path.suffix == ".mp4":
        imageio.mimwrite(tmp, frames, fps=fps)
    else:
        imageio.mimwrite(tmp, frames, duration=1000 / fps, loop=0)
    os.replace(tmp, path)
    return path
