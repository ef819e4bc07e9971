"""Scalar training logs: a CSV file and TensorBoard, both consistent across resumes."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from lawm_env.fileio import atomic_write


class MetricsLog:
    """Appends rows ``step, metric...`` to ``<run>/metrics.csv`` and scalars to ``<run>/tensorboard``.

    Resuming at ``resume_step`` first drops the rows logged after it (they were computed by steps that the
    checkpoint does not contain and will be recomputed), so the CSV never holds a step twice.
    """

    def __init__(self, run_dir: str | Path, resume_step: int = 0) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.path = Path(run_dir) / "metrics.csv"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fields: list[str] | None = None
        if self.path.exists():
            with self.path.open(newline="") as f:
                reader = csv.DictReader(f)
                self.fields = reader.fieldnames
                kept = [row for row in reader if int(row["step"]) <= resume_step]
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=self.fields)
            writer.writeheader()
            writer.writerows(kept)
            atomic_write(self.path, lambda f: f.write(text.getvalue().encode()))
        self.tensorboard = SummaryWriter(str(Path(run_dir) / "tensorboard"), purge_step=resume_step + 1 if resume_step else None)

    def write(self, step: int, metrics: dict[str, float]) -> None:
        row = {"step": step, **metrics}
        if self.fields is None:
            self.fields = list(row)
            with self.path.open("w", newline="") as f:
                csv.DictWriter(f, fieldnames=self.fields).writeheader()
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.fields, extrasaction="ignore").writerow(row)
        for name, value in metrics.items():
            self.tensorboard.add_scalar(name, value, step)

    def close(self) -> None:
        self.tensorboard.close()
