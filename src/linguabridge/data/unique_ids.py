"""Pass 2a of ``data clean``: documents that share an id with an earlier one (input order) are renamed ``ID#2``,
``ID#3``..., so ids are unique in the output and dedup's ``duplicate_of`` never names two documents.

Renaming rather than quarantining: two records with one id are often two real documents (a crawl's counter reset,
two dumps merged), and the first occurrence keeps the id whatever the shard order of workers.
"""

from __future__ import annotations

import json
from pathlib import Path

from linguabridge.io import write_json


def renamed(obj: dict, new_id: str | None) -> dict:
    if new_id is not None:
        obj["metadata"]["original_id"] = obj["id"]
        obj["id"] = new_id
    return obj


def unique_ids(work: Path, n: int) -> int:
    """Pass 2a: rename every document whose id an earlier one has (input order) to ``ID#k``, the first free k
    from 2. Writes ``ids/shard-N.json`` ({"r"|"c": {position: new id}}) and the renamed candidate ids into each
    shard's signatures (so dedup's ``duplicate_of`` names them). Returns how many were renamed."""
    shard_ids = [json.loads((work / f"shard-{i:05d}" / "ids.json").read_text("utf-8")) for i in range(n)]
    taken = {doc_id for ids in shard_ids for _, doc_id in ids}
    seen: set[str] = set()
    renamed = 0
    for i, ids in enumerate(shard_ids):
        renames: dict[str, dict[str, str]] = {"r": {}, "c": {}}
        position = {"r": 0, "c": 0}
        candidates: list[str] = []
        for stream, doc_id in ids:
            new_id = doc_id
            if doc_id in seen:
                k = 2
                while f"{doc_id}#{k}" in taken:
                    k += 1
                new_id = f"{doc_id}#{k}"
                taken.add(new_id)
                renames[stream][str(position[stream])] = new_id
                renamed += 1
            seen.add(new_id)
            position[stream] += 1
            if stream == "c":
                candidates.append(new_id)
        write_json(work / "ids" / f"shard-{i:05d}.json", renames)
        write_json(work / f"shard-{i:05d}" / "signatures" / "ids.json", candidates)
    return renamed
