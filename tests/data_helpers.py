"""Synthetic web documents for the data tests: English-like prose with controllable defects (no download)."""

from __future__ import annotations

import json
import random
from pathlib import Path

NOUNS = [
    "people",
    "state",
    "right",
    "law",
    "family",
    "freedom",
    "work",
    "country",
    "court",
    "school",
    "life",
    "person",
    "government",
    "peace",
    "world",
]
NOUNS += [
    "education",
    "society",
    "council",
    "nation",
    "article",
    "duty",
    "property",
    "religion",
    "opinion",
    "assembly",
    "marriage",
    "health",
]
VERBS = [
    "protects",
    "gives",
    "holds",
    "shares",
    "builds",
    "needs",
    "respects",
    "defends",
    "shapes",
    "guides",
    "supports",
    "changes",
]
ADJS = [
    "equal",
    "free",
    "public",
    "private",
    "fair",
    "common",
    "national",
    "social",
    "human",
    "basic",
    "full",
    "open",
]


def sentence(rng: random.Random) -> str:
    s = (
        f"The {rng.choice(ADJS)} {rng.choice(NOUNS)} of the {rng.choice(NOUNS)} {rng.choice(VERBS)} "
        f"the {rng.choice(NOUNS)} and the {rng.choice(ADJS)} {rng.choice(NOUNS)} that we have with "
        f"{rng.choice(NOUNS)}s in every {rng.choice(NOUNS)}"
    )
    return s + rng.choice([".", ".", "!", "?"])


def prose(seed: int, sentences: int = 12, per_line: int = 3) -> str:
    rng = random.Random(seed)
    sents = [sentence(rng) for _ in range(sentences)]
    return "\n".join(" ".join(sents[i : i + per_line]) for i in range(0, len(sents), per_line))


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def read_gz_jsonl(folder: Path) -> list[dict]:
    from linguabridge.io import read_output_shards

    return read_output_shards(folder)
