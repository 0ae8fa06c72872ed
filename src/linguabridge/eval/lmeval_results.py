"""Each checkpoint's results in lm-eval's own format (``results_lm_eval.json``), for its tools and leaderboards.

lm-eval's output dict (what ``lm_eval --output_path`` saves, without the per-item samples) is kept as it
is; our own metrics (held-out loss and bits per byte) join it in the same shape: ``results[task]`` with
``"<metric>,none"`` and ``"<metric>_stderr,none"``, plus ``configs``, ``versions``, ``n-shot``,
``higher_is_better`` and ``n-samples``. Subject-level tasks (MMLU, C-Eval, AGIEval) also get their group,
micro-averaged as our rows report them. ``config.model`` and ``model_name`` name the checkpoint (a path or
hub name), ``config.checkpoint`` its stage. ``lm_eval.utils.make_table`` reads the file.
"""

from __future__ import annotations

import json
import re

LM_EVAL_FILE = "results_lm_eval.json"
FILTER = "none"  # lm-eval's filter name when a task defines no filter
SECTIONS = ("results", "group_subtasks", "configs", "versions", "n-shot", "higher_is_better", "n-samples")
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")  # repr() of the functions in lm-eval's configs: differs per run


def task_name(row: dict) -> str:
    """The lm-eval task name of a row (spec names: ``<benchmark>_<language>`` or ``..._<src>-<tgt>``)."""
    lang = row.get("direction") or row["language"]
    return f"{row['task']}_{lang}"


def _json_safe(out: dict) -> dict:
    from lm_eval.utils import handle_non_serializable

    text = json.dumps(out, default=handle_non_serializable, ensure_ascii=False)
    return json.loads(_ADDRESS.sub("", text))


def _add_own_task(doc: dict, name: str, rows: list[dict]) -> None:
    first = rows[0]
    entry = {"alias": name}
    for r in rows:
        entry[f"{r['metric']},{FILTER}"] = r["value"]
        entry[f"{r['metric']}_stderr,{FILTER}"] = r.get("stderr", "N/A")
    doc["results"][name] = entry
    doc["configs"][name] = {
        "task": name,
        "output_type": "loglikelihood_rolling",
        "test_split": first.get("split"),
        "num_fewshot": first.get("shots", 0),
        "metric_list": [
            {"metric": r["metric"], "aggregation": "mean", "higher_is_better": False} for r in rows
        ],
        "metadata": {"version": 1.0, "harness": first.get("harness")},
    }
    doc["versions"][name] = 1.0
    doc["n-shot"][name] = first.get("shots", 0)
    doc["higher_is_better"][name] = {r["metric"]: False for r in rows}  # loss, bits per byte
    doc["n-samples"][name] = {"original": first.get("n"), "effective": first.get("n")}


def _add_group(doc: dict, name: str, subtasks: list[str], rows: list[dict]) -> None:
    entry = {"alias": name}
    for r in rows:
        entry[f"{r['metric']},{FILTER}"] = r["value"]
        entry[f"{r['metric']}_stderr,{FILTER}"] = "N/A"
    doc["results"][name] = entry
    doc.setdefault("groups", {})[name] = entry
    doc["group_subtasks"][name] = subtasks
    doc["n-shot"][name] = rows[0].get("shots", 0)
    doc["higher_is_better"][name] = {r["metric"]: True for r in rows}


def lm_eval_doc(
    lm_out: dict | None, rows: list[dict], groups: dict[str, list[str]], model: str, checkpoint: str
) -> dict:
    """lm-eval's results document of one checkpoint.

    ``lm_out``: lm-eval's output (None when no lm-eval task ran); ``rows``: our results rows of this
    checkpoint (ours are added, lm-eval's fill in stderrs lm-eval left "N/A", e.g. the BLEU bootstrap);
    ``groups``: group name -> its lm-eval subtasks.
    """
    doc = _json_safe({k: v for k, v in lm_out.items() if k != "samples"}) if lm_out else {}
    for key in SECTIONS:
        doc.setdefault(key, {})
    own: dict[str, list[dict]] = {}
    merged: dict[str, list[dict]] = {}
    for r in rows:
        name = task_name(r)
        if "subsets" in r:
            merged.setdefault(name, []).append(r)
        elif name in doc["results"]:
            stderr_key = f"{r['metric']}_stderr,{FILTER}"
            if "stderr" in r and not isinstance(doc["results"][name].get(stderr_key), (int, float)):
                doc["results"][name][stderr_key] = r["stderr"]
        else:
            own.setdefault(name, []).append(r)
    for name, task_rows in own.items():
        _add_own_task(doc, name, task_rows)
    for name, group_rows in merged.items():
        _add_group(doc, name, groups.get(name, []), group_rows)
    doc["config"] = doc.get("config") or {}
    doc["config"] |= {"model": model, "checkpoint": checkpoint}
    from lm_eval.utils import sanitize_model_name

    doc |= {"model_name": model, "model_name_sanitized": sanitize_model_name(model)}
    return doc
