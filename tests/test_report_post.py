"""The report flags a post-training stage whose loss rose instead of fell."""

from __future__ import annotations

import json

from linguabridge.report.blocks import Para
from linguabridge.report.inputs import RunData
from linguabridge.report.sections.training import _post


def _run(tmp_path, losses):
    (tmp_path / "dpo").mkdir(parents=True, exist_ok=True)
    rows = [{"step": i + 1, "loss": v, "rewards/margins": 0.0} for i, v in enumerate(losses)]
    (tmp_path / "dpo" / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return [b.text for b in _post(RunData(tmp_path)).blocks if isinstance(b, Para)]


def test_a_rising_dpo_loss_is_flagged(tmp_path):
    (warning,) = _run(tmp_path, [0.693, 0.698, 0.658, 0.699, 0.512, 0.627, 0.554, 0.671, 0.934, 0.79])
    assert warning.startswith("Warning: dpo loss rose, 0.693 -> 0.79 (mean of the last quarter 0.862)")
    assert "dpo.optim.lr" in warning


def test_a_falling_loss_is_not(tmp_path):
    assert _run(tmp_path, [0.693, 0.6, 0.5, 0.45]) == []
