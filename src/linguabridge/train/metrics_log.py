"""The metrics log every training stage writes: ``<stage>/metrics.jsonl``, one JSON object per line."""

from __future__ import annotations

import json
import os
from pathlib import Path

from linguabridge.train.distributed import is_main_process


class MetricsLog:
    """Append-only JSONL metrics; on resume, rows past the checkpoint's step are dropped (no duplicates).

    Only the main process writes (``enabled`` defaults to rank 0 from the launcher's environment).
    """

    def __init__(self, path: Path, resume_step: int | None, enabled: bool | None = None):
        self.path = path
        self.enabled = is_main_process() if enabled is None else enabled
        if not self.enabled:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = []
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except ValueError:
                    continue  # a line cut by a kill
                if resume_step is not None and row.get("step", 0) <= resume_step:
                    rows.append(row)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        os.replace(tmp, path)

    def write(self, row: dict) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")

    def rows(self) -> list[dict]:
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]
