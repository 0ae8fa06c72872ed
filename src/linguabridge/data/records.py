"""Documents: the ``{"id", "text", "metadata"}`` records of the data stage, and reading them from JSONL.

The file formats themselves (JSONL shards, atomic writes, input expansion) are in :mod:`linguabridge.io`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linguabridge.io import Quarantined, expand_inputs, iter_jsonl


@dataclass
class Document:
    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"id": self.id, "text": self.text, "metadata": self.metadata}


def stable_id(*parts: str) -> str:
    """A short id that is the same on every run for the same inputs."""
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def to_document(obj: dict, path: str, lineno: int) -> Document | Quarantined:
    """A JSONL object -> Document. Needs ``text``; ``id`` is generated from file and line when absent."""
    text = obj.get("text")
    if not isinstance(text, str):
        return Quarantined(path, lineno, "no string field 'text'", json.dumps(obj, ensure_ascii=False))
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    meta = dict(meta)
    for key, value in obj.items():  # flat inputs (url, source at top level) keep their fields
        if key not in ("id", "text", "metadata"):
            meta.setdefault(key, value)
    doc_id = str(obj["id"]) if obj.get("id") is not None else stable_id(path, str(lineno))
    return Document(doc_id, text, meta)


def read_documents(paths: Iterable[str | Path]) -> Iterator[Document | Quarantined]:
    """Documents from JSONL files or folders of them (sorted, so order is deterministic)."""
    for path in expand_inputs(paths):
        for lineno, item in iter_jsonl(path):
            yield item if isinstance(item, Quarantined) else to_document(item, str(path), lineno)
