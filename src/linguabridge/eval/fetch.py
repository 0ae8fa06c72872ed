"""``linguabridge eval fetch``: download official benchmark data from the Hugging Face Hub (for online users).

Writes the layout ``eval --data-dir`` reads: ``OUT/<task>/<language key>/<split>.jsonl`` (one JSON object
per line, the Hub's fields, plus ``subject`` for per-subject benchmarks). Gated datasets (FLORES+) need an
``HF_TOKEN`` in the environment; it is read by ``huggingface_hub`` and never printed.
"""

from __future__ import annotations

import json
from pathlib import Path

from linguabridge.errors import LinguabridgeError, require
from linguabridge.eval.tasks import Benchmark, get_benchmark
from linguabridge.eval.tasks.choice import AGIEVAL_EN, AGIEVAL_ZH
from linguabridge.eval.tasks.tydiqa import TYDIQA_KEYS
from linguabridge.languages import canonical

# Per-subject benchmarks whose Hub data is one dataset (or config) per subject.
HUB_SUBJECTS = {"agieval": {"en": AGIEVAL_EN, "zh": AGIEVAL_ZH}}


def _keep(bench: Benchmark, record: dict, key: str) -> bool:
    if bench.name == "tydiqa":  # one Hub config holds every language; ids start with the language name
        return str(record["id"]).startswith(TYDIQA_KEYS[key] + "-")
    return True


def _subjects(bench: Benchmark, key: str, datasets) -> list[str | None]:
    if bench.name in HUB_SUBJECTS:
        return list(HUB_SUBJECTS[bench.name][key])
    if bench.hub and bench.hub.config == "*":
        return list(datasets.get_dataset_config_names(bench.hub.repo))
    return [None]


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text(
        "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records), encoding="utf-8"
    )
    tmp.replace(path)


def fetch(task: str, out_dir: Path, languages: list[str] | None = None, load_dataset=None) -> list[Path]:
    """Download ``task``'s splits for ``languages`` (default: all it defines) into ``out_dir/<task>/``."""
    bench = get_benchmark(task)
    if bench.hub is None:
        raise LinguabridgeError(f"{task} has no Hub source", "demo_* tasks are bundled with the package")
    datasets = require("datasets", "train")
    load = load_dataset or datasets.load_dataset
    codes = [canonical(c) for c in languages] if languages else list(bench.languages)
    if not codes:
        raise LinguabridgeError(
            f"{task} covers any language: name them", "e.g. --languages eng_Latn,zho_Hans,tha_Thai"
        )
    written = []
    for code in codes:
        key = bench.languages.get(code, code)
        for split, hub_split in bench.hub.splits.items():
            records: list[dict] = []
            for subject in _subjects(bench, key, datasets):
                repo = bench.hub.repo.format(subject=subject, key=key)
                config = (
                    subject if bench.hub.config == "*" else (bench.hub.config or "").format(key=key) or None
                )
                try:
                    ds = load(repo, config, split=hub_split)
                except Exception as exc:  # the Hub raises many types; name the dataset and go on loudly
                    raise LinguabridgeError(
                        f"cannot download {repo} ({config}, {hub_split}): {str(exc).splitlines()[0]}",
                        "check the network, and HF_TOKEN for gated datasets",
                    ) from None
                for rec in ds:
                    if _keep(bench, rec, key):
                        records.append(dict(rec) | ({"subject": subject} if subject else {}))
            path = out_dir / bench.name / key / f"{split}.jsonl"
            _write_jsonl(path, records)
            written.append(path)
    return written
