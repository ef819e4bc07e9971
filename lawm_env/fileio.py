"""Crash-safe file writing shared by data shards, checkpoints and logs: atomic file writes, and directories
written beside their target and swapped in place."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_dir(directory: Path) -> None:
    """fsync a directory so that a rename inside it is durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms cannot open directories
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_file_mode(path: Path) -> int:
    """Permissions of the file ``path`` is about to be: its current ones, else what ``open`` would create
    (0o666 less the umask), not the owner-only 0o600 of a temporary file."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, then rename it over ``path``
    (which keeps its permissions; a new file gets those ``open`` would give it)."""
    path = Path(path)
    mode = _new_file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_synced(path: Path, data: bytes) -> str:
    """Write ``data`` to ``path``, fsync it, and return its hex SHA-256."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return hashlib.sha256(data).hexdigest()


def hidden_sibling(target: Path, kind: str) -> Path:
    """A fresh hidden name beside ``target``: ``.<name>.<random>.<kind>``."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.{kind}")


def swap_directory(tmp: Path, target: Path) -> None:
    """Put directory ``tmp`` at ``target``; an old ``target`` is renamed aside first and deleted last."""
    if not target.exists():
        os.rename(tmp, target)
        fsync_dir(target.parent)
        return
    old = hidden_sibling(target, "old")
    os.rename(target, old)
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(old, target)
        raise
    fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)
