"""What became of each input file: an unreadable file is quarantined with its path and reason, and a file that is
mostly quarantined is reported loudly (stderr and stats), so no input disappears without a word.

A file that fails part-way (a truncated ``.gz``, a cut WARC record) keeps the records read before the damage:
they go on as ordinary records (kept or rejected on their merits) and the file gets one entry in
``quarantine.jsonl`` with ``"scope": "file"``, line 0 and the reason, which says how many records came before
(a *partial* file). That entry counts as one quarantined input, so ``input = kept + rejected + quarantined``.
"""

from __future__ import annotations

import lzma
import sys
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from linguabridge.errors import LinguabridgeError
from linguabridge.io import Quarantined, UnreadableFile

T = TypeVar("T")
# What reading a damaged file raises: our own checks, gzip (OSError, EOFError), zlib, lzma, a decoder.
READ_ERRORS = (UnreadableFile, OSError, EOFError, zlib.error, lzma.LZMAError, UnicodeError)
MOSTLY = 0.5  # a file with more than this share of its records quarantined gets a warning


def guarded(path: str, items: Iterable[T]) -> Iterator[T | Quarantined]:
    """``items`` as they come; if reading fails, one file-level :class:`Quarantined` instead of an exception."""
    n = 0
    try:
        for item in items:
            n += 1
            yield item
    except READ_ERRORS as exc:
        yield file_failure(path, exc, n)


def file_failure(path: str, exc: BaseException, records_before: int) -> Quarantined:
    what = exc.message if isinstance(exc, LinguabridgeError) else f"{type(exc).__name__}: {exc}"
    what = what.removeprefix(f"{path}: ")
    rest = (
        f"the {records_before} records before the damage are kept (partial file)"
        if records_before
        else "no record could be read"
    )
    return Quarantined(str(path), 0, f"unreadable file: {what}; {rest}", "", scope="file")


@dataclass
class FileTally:
    """Records and quarantined records of one input file, and its failure if it had one."""

    path: str
    records: int = 0
    quarantined: int = 0
    reasons: Counter = field(default_factory=Counter)
    failure: str | None = None

    def add(self, item) -> None:
        if isinstance(item, Quarantined) and item.scope == "file":
            self.failure = item.reason
            return
        self.records += 1
        if isinstance(item, Quarantined):
            self.quarantined += 1
            self.reasons[item.reason.split(":")[0]] += 1

    def report(self) -> dict:
        """``{"failed": [...], "mostly_quarantined": [...]}`` entries for this file (empty lists when fine)."""
        out: dict[str, list] = {"failed": [], "mostly_quarantined": []}
        if self.failure:
            out["failed"].append({"path": self.path, "reason": self.failure, "records_before": self.records})
        if self.records and self.quarantined > MOSTLY * self.records:
            reason = self.reasons.most_common(1)[0][0]
            out["mostly_quarantined"].append(
                {
                    "path": self.path,
                    "records": self.records,
                    "quarantined": self.quarantined,
                    "reason": reason,
                }
            )
        return out


def merge_reports(reports: Iterable[dict]) -> dict:
    merged: dict[str, list] = {"failed": [], "mostly_quarantined": []}
    for r in reports:
        for key in merged:
            merged[key].extend(r.get(key, []))
    return merged


def warn(files: dict, quarantine_file: str) -> None:
    """Say on stderr what :class:`FileTally` reports found (the same is in the stats)."""
    for f in files["failed"]:
        print(f"warning: {f['path']}: {f['reason']} (see {quarantine_file})", file=sys.stderr)
    for f in files["mostly_quarantined"]:
        print(
            f"warning: {f['path']}: {f['quarantined']} of {f['records']} records quarantined, most for "
            f"'{f['reason']}' (see {quarantine_file}); {_hint(f['reason'])}",
            file=sys.stderr,
        )


def _hint(reason: str) -> str:
    if reason.startswith("no string field"):
        return "if the text or id is under other field names, set --text-key/--id-key (data.text_key, data.id_key)"
    if "UTF-8" in reason:
        return "convert the file to UTF-8 (e.g. iconv -f LATIN1 -t UTF-8)"
    if "language" in reason:
        return "check --src-lang/--tgt-lang or the languages the file names"
    return "check the file's format"
