"""Chat records for SFT and DPO: loading them from JSONL, Parquet or a saved HF dataset, and checking each one.

A record is ``{"id", "language", "messages"}`` (plus ``source``/``metadata`` when given); ``language`` is the
language of the answer, identified from the last assistant turn when the record does not say.
"""

from __future__ import annotations

from pathlib import Path

from linguabridge.errors import LinguabridgeError

ROLES = ("system", "user", "assistant")


def load_conversations(paths: list[str | Path]) -> list[dict]:
    """Chat records ``{"id", "language", "messages"}`` from JSONL(.gz/.zst), Parquet or a saved HF dataset.

    Every record is checked (roles, string contents, an assistant turn last); a bad one stops with its file,
    line and fix, since a silently skipped chat would change the training set without anyone knowing.
    ``language`` may be absent: it is then identified from the last assistant turn (``language_source``).
    """
    out: list[dict] = []
    for _path, where, obj in _iter_chat_records(paths):
        out.append(check_chat(obj, where, len(out)))
    return out


def _iter_chat_records(paths: list[str | Path]):
    from linguabridge.io import Quarantined, expand_inputs, iter_jsonl

    for raw in paths:
        p = Path(raw)
        if p.is_dir() and ((p / "dataset_info.json").is_file() or (p / "state.json").is_file()):
            from datasets import load_from_disk

            for i, obj in enumerate(load_from_disk(str(p))):
                yield p, f"{p}[{i}]", obj
            continue
        for f in expand_inputs([p], ("*.jsonl", "*.jsonl.gz", "*.jsonl.zst", "*.parquet")):
            if f.suffix == ".parquet":
                import pyarrow.parquet as pq

                for i, obj in enumerate(pq.read_table(f).to_pylist()):
                    yield f, f"{f}[row {i}]", obj
                continue
            for lineno, obj in iter_jsonl(f):
                if isinstance(obj, Quarantined):
                    raise LinguabridgeError(f"{f}:{lineno}: {obj.reason}", "fix or remove the line")
                yield f, f"{f}:{lineno}", obj


def check_chat(obj: dict, where: str, index: int) -> dict:
    msgs = obj.get("messages")
    fix = 'each record needs "messages": [{"role": "user", "content": ...}, {"role": "assistant", ...}]'
    if not isinstance(msgs, list) or not msgs:
        raise LinguabridgeError(f"{where}: not a chat record (no 'messages' list)", fix)
    for turn in msgs:
        if (
            not isinstance(turn, dict)
            or turn.get("role") not in ROLES
            or not isinstance(turn.get("content"), str)
        ):
            raise LinguabridgeError(
                f"{where}: bad turn {str(turn)[:80]!r}", f"roles are {', '.join(ROLES)}; content is a string"
            )
    if msgs[-1]["role"] != "assistant":
        raise LinguabridgeError(
            f"{where}: the last turn is not the assistant's", "end each chat with its answer"
        )
    record = {"id": str(obj.get("id") or f"chat-{index:06d}"), "messages": msgs}
    if obj.get("language"):
        from linguabridge.languages import canonical

        record["language"] = canonical(obj["language"])
    else:
        from linguabridge.data.langid import get_identifier

        pred = get_identifier("py3langid").predict(msgs[-1]["content"])
        if pred.language is None:
            raise LinguabridgeError(
                f"{where}: no 'language' and the answer's language is not identifiable",
                'add "language": "tha_Thai"',
            )
        record["language"], record["language_source"] = pred.language, "langid"
    for key in ("source", "metadata"):
        if key in obj:
            record[key] = obj[key]
    return record
