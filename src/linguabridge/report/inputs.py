"""Read a run directory defensively: a missing file or field is ``None``/empty, never an exception.

Other stages gain fields over time, so the report reads what is there and says what is not. Files that exist
but cannot be parsed are recorded in :attr:`RunData.problems` and listed on the page (never dropped silently).
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

from linguabridge.config import CPT_STAGES, POST_STAGES
from linguabridge.languages import get_language
from linguabridge.metric_keys import METRICS_FILE

# Training stages in pipeline order; the report draws them on one time axis in this order.
TRAIN_STAGES = (*CPT_STAGES, *POST_STAGES)
# Every stage that leaves a completion marker, in pipeline order (stages.py's table).
PIPELINE_STAGES = ("data", "mixture", "tokens", *TRAIN_STAGES, "eval", "report")
TIER_ORDER = {"high": 0, "low": 1, None: 2}
TIER_NAMES = {"high": "high-resource", "low": "low-resource", None: "other"}


def tier_of(code: str) -> str | None:
    """The Marco tier of a language code (``high``/``low``), or None when unknown or outside the 29."""
    try:
        return get_language(code).tier
    except Exception:  # an unknown code ("und", a source name) has no tier; the report still shows it
        return None


def language_name(code: str) -> str:
    try:
        return get_language(code).name
    except Exception:  # not a language (e.g. "parallel"): show the code itself
        return code


def by_tier(codes) -> list[str]:
    """Language codes ordered high-resource first, then low-resource, then others; alphabetical within."""
    return sorted(codes, key=lambda c: (TIER_ORDER.get(tier_of(c), 2), c))


class RunData:
    """Lazy, tolerant access to everything a run directory holds."""

    def __init__(self, run_dir: str | Path):
        self.dir = Path(run_dir)
        self.problems: list[str] = []
        self._metrics: dict[str, list[dict]] = {}

    # ------------------------------------------------------------------ raw readers
    def json(self, rel: str):
        """A JSON file under the run, or None when it is absent or unreadable (the latter is a problem)."""
        path = self.dir / rel
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.problems.append(
                f"{rel}: unreadable ({exc.__class__.__name__}: {exc}); its section is skipped"
            )
            return None

    def jsonl(self, rel: str) -> list[dict]:
        """The object rows of a JSONL file; a bad line is skipped and recorded as a problem."""
        path = self.dir / rel
        if not path.is_file():
            return []
        rows, bad = [], []
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(f"{rel}: unreadable ({exc})")
            return []
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                bad.append(lineno)
                continue
            if isinstance(row, dict):
                rows.append(row)
            else:
                bad.append(lineno)
        if bad:
            self.problems.append(
                f"{rel}: {len(bad)} line(s) not JSON objects (first at line {bad[0]}), left out of the plots"
            )
        return rows

    def dict_at(self, obj, *keys) -> dict:
        """``obj[k1][k2]...`` when every step is a dict, else ``{}``."""
        for k in keys:
            obj = obj.get(k) if isinstance(obj, dict) else None
        return obj if isinstance(obj, dict) else {}

    # ------------------------------------------------------------------ stage outputs
    @cached_property
    def recipe(self) -> dict:
        return self.json("recipe.resolved.json") or {}

    @cached_property
    def facts(self) -> dict:
        return self.json("run_facts.json") or {}

    @cached_property
    def web_stats(self) -> dict | None:
        return self.json("data/web/stats.json")

    @cached_property
    def parallel_stats(self) -> dict | None:
        return self.json("data/parallel/stats.json")

    @cached_property
    def plan(self) -> dict | None:
        return self.json("mixture/plan.json")

    @cached_property
    def inventory(self) -> dict:
        """Tokens per source: ``tokens/inventory.json`` (exact) or ``mixture/inventory.json``."""
        inv = self.json("tokens/inventory.json")
        sources = self.dict_at(inv, "sources")
        if sources:
            return sources
        inv = self.json("mixture/inventory.json")
        sources = self.dict_at(inv, "sources")
        return sources if sources else (inv if isinstance(inv, dict) else {})

    def markers(self) -> dict[str, dict]:
        """``<stage>/_COMPLETE.json`` of every stage that has one, pipeline stages first."""
        found = {}
        names = list(PIPELINE_STAGES) + sorted(
            p.parent.name for p in self.dir.glob("*/_COMPLETE.json") if p.parent.name not in PIPELINE_STAGES
        )
        for name in names:
            m = self.json(f"{name}/_COMPLETE.json")
            if isinstance(m, dict):
                found[name] = m
        return found

    def metrics(self, stage: str) -> list[dict]:
        """``<stage>/metrics.jsonl`` rows (read once); their keys are train/metric_keys.py's."""
        if stage not in self._metrics:
            self._metrics[stage] = self.jsonl(f"{stage}/{METRICS_FILE}")
        return self._metrics[stage]

    def summary(self, stage: str) -> dict:
        s = self.json(f"{stage}/summary.json")
        return s if isinstance(s, dict) else {}

    @cached_property
    def eval_results(self) -> dict | None:
        """eval/results.json; files before format 2 named the rows ``results`` and the packages ``versions``."""
        data = self.json("eval/results.json")
        if not isinstance(data, dict) or isinstance(data.get("rows"), list):
            return data
        old = {k: v for k, v in data.items() if k not in ("results", "versions")}
        return old | {"packages": data.get("versions"), "rows": data.get("results")}

    @cached_property
    def eval_packages(self) -> dict:
        """Package versions the evaluation ran with."""
        return self.dict_at(self.eval_results, "packages")

    @cached_property
    def eval_rows(self) -> list[dict]:
        rows = (self.eval_results or {}).get("rows")
        if not isinstance(rows, list):
            return []
        good = [
            r
            for r in rows
            if isinstance(r, dict) and isinstance(r.get("value"), (int, float)) and r.get("task")
        ]
        if len(good) < len(rows):
            self.problems.append(
                f"eval/results.json: {len(rows) - len(good)} row(s) without a task or numeric value left out"
            )
        return good

    def stage_seed(self, stage: str):
        """The seed a training stage ran with: its own ``seed`` or the recipe's."""
        own = self.dict_at(self.recipe, stage).get("seed")
        return own if own is not None else self.recipe.get("seed")
