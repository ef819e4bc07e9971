"""Captioned video panels: the built-in bitmap font, ``label`` and ``side_by_side``."""

from __future__ import annotations

import string

import numpy as np
import pytest

from lawm_env.training.video import (
    CAPTION_ROWS,
    GLYPH_ROWS,
    GLYPHS,
    label,
    side_by_side,
    text_mask,
)


def _frame(seed: int = 0, size: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def test_font_covers_the_characters_of_captions():
    assert set(string.ascii_lowercase + string.digits + " +-") <= set(GLYPHS)
    for char, rows in GLYPHS.items():
        assert len(rows) == GLYPH_ROWS and len({len(r) for r in rows}) == 1 and set("".join(rows)) <= set("#."), char
    masks = [text_mask(c).tobytes() + bytes(text_mask(c).shape) for c in GLYPHS]
    assert len(set(masks)) == len(GLYPHS)  # no two glyphs look alike


def test_caption_changes_pixels_only_in_its_strip():
    frame = _frame()
    before = frame.copy()
    out = label(frame, "imagined +12")
    assert out.dtype == np.uint8 and out.shape == (64 + CAPTION_ROWS, 64, 3)
    assert np.array_equal(out[CAPTION_ROWS:], frame) and np.array_equal(frame, before)
    strip = out[:CAPTION_ROWS]
    assert set(np.unique(strip)) == {0, 255} and (strip == 255).all(axis=2).sum() == text_mask("imagined +12").sum()
    assert not strip[[0, -1]].any()  # a blank row above and below the text


def test_different_texts_give_different_images():
    frame = _frame()
    images = [label(frame, text) for text in ("real", "imagined +1", "imagined +12")]
    assert all(not np.array_equal(a, b) for i, a in enumerate(images) for b in images[i + 1:])
    assert np.array_equal(label(frame, "Real"), images[0])
    assert np.array_equal(label(frame, "real"), images[0])


def test_scale_and_overlong_text():
    frame = _frame(size=32)
    assert label(frame, "real", scale=2).shape == (32 + 2 * CAPTION_ROWS, 32, 3)
    out = label(frame, "a caption much wider than the frame")
    assert out.shape == (32 + CAPTION_ROWS, 32, 3) and out[:CAPTION_ROWS].any()
    assert np.array_equal(label(frame, "")[:CAPTION_ROWS], np.zeros((CAPTION_ROWS, 32, 3), np.uint8))


def test_side_by_side_captions_each_panel():
    panels = [_frame(i) for i in range(3)]
    texts = ["real", "imagined +1", "imagined +12"]
    out = side_by_side(panels, texts)
    assert out.dtype == np.uint8 and out.shape == (64 + CAPTION_ROWS, 3 * 64, 3)
    for i, (panel, text) in enumerate(zip(panels, texts)):
        assert np.array_equal(out[:, 64 * i: 64 * (i + 1)], label(panel, text))


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="no glyph for '#'"):
        label(_frame(), "step #1")
    with pytest.raises(ValueError, match="uint8"):
        label(_frame().astype(np.float32), "real")
    with pytest.raises(ValueError, match="one label per panel"):
        side_by_side([_frame()], ["real", "imagined +1"])
