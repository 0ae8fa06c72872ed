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


def to_document(
    obj: dict, path: str, lineno: int, text_key: str = "text", id_key: str = "id"
) -> Document | Quarantined:
    """A JSONL object -> Document. Needs a string ``text_key``; the id (``id_key``) is generated from file and line
    when absent."""
    text = obj.get(text_key)
    if not isinstance(text, str):
        fields = ", ".join(map(str, list(obj)[:8]))
        hint = "" if text_key in obj else f" (fields: {fields}; name the text's with --text-key)"
        return Quarantined(
            path, lineno, f"no string field {text_key!r}{hint}", json.dumps(obj, ensure_ascii=False)
        )
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    meta = dict(meta)
    for key, value in obj.items():  # flat inputs (url, source at top level) keep their fields
        if key not in (id_key, text_key, "metadata"):
            meta.setdefault(key, value)
    doc_id = str(obj[id_key]) if obj.get(id_key) is not None else stable_id(path, str(lineno))
    return Document(doc_id, text, meta)


def read_documents(paths: Iterable[str | Path]) -> Iterator[Document | Quarantined]:
    """Documents from JSONL files or folders of them (sorted, so order is deterministic)."""
    for path in expand_inputs(paths):
        for lineno, item in iter_jsonl(path):
            yield item if isinstance(item, Quarantined) else to_document(item, str(path), lineno)
