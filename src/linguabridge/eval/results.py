"""``results.json``: our rows (one per task x language x metric, with its protocol) and their reader.

Written as ``{"format": 2, "model", "checkpoint", "packages", "rows": [row, ...]}``; a run's combined file
has ``"checkpoints": {label: model}`` instead of one checkpoint. Files written before format 2 reused
lm-eval's key names with other shapes (``results`` a list of rows, ``versions`` package versions), which
lm-eval's own tools crash on: they are still read (old run directories keep working) but never written.
lm-eval's own format is written beside it by ``eval/lmeval_results.py``.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

from linguabridge.errors import LinguabridgeError
from linguabridge.provenance import package_versions

RESULTS_FORMAT = 2
_FIX = "give a results.json written by `linguabridge eval` (results_lm_eval.json is lm-eval's format)"


def packages() -> dict:
    names = ("linguabridge", "torch", "transformers", "lm-eval", "sacrebleu", "datasets", "vllm")
    return {"python": platform.python_version()} | package_versions(names)


def results_doc(model: str, rows: list[dict], checkpoint: str | None = None, **extra) -> dict:
    """A results.json document; ``model`` names what was evaluated (a path or hub name)."""
    doc = {"format": RESULTS_FORMAT, "model": model}
    if checkpoint is not None:
        doc["checkpoint"] = checkpoint
    return doc | extra | {"packages": packages(), "rows": rows}


def upgrade(data: dict) -> dict | None:
    """``data`` in the current shape (format 1 is converted), or None when it is not a results document."""
    if isinstance(data.get("rows"), list):
        return data
    if isinstance(data.get("results"), list):  # format 1
        old = {k: v for k, v in data.items() if k not in ("results", "versions")}
        return old | {"format": 1, "packages": data.get("versions") or {}, "rows": data["results"]}
    return None


def load_results(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LinguabridgeError(f"cannot read results {path}: {exc}", _FIX) from None
    doc = upgrade(data) if isinstance(data, dict) else None
    if doc is None:
        raise LinguabridgeError(f"{path}: not a results.json (no 'rows' list)", _FIX)
    return doc
