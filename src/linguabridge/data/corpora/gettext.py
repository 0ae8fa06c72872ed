"""Sentence pairs from gettext catalogues: the compiled ``.mo`` files Debian packages ship.

A package unpacked into a folder holds ``usr/share/locale/<locale>/LC_MESSAGES/<domain>.mo``: one catalogue per
program and language, whose keys are the program's English strings (``msgid``). Each translated entry is an
English -> X pair written by that project's translators. ``.mo`` files are parsed with Babel
(``babel.messages.mofile``).

What is kept as the translators wrote it: printf/brace placeholders, option names, quotes, markup. That is
real noise, for ``bitext filter`` to judge. What is changed or left out, every case counted by reason:

- ``plural``: entries with ``msgid_plural``; which ``msgstr[i]`` matches the English singular depends on the
  language's plural rule, so neither form is a safe pair.
- ``context_ambiguous``: a ``msgid`` the catalogue translates differently under different ``msgctxt``
  (``"Open"`` the verb and the adjective): the English side alone cannot say which translation it is.
- ``untranslated``: an empty ``msgstr``, or one equal to the ``msgid`` (the program shows English).
- ``no_text``: a ``msgid`` without a letter outside its placeholders (``"%d%%"``, ``"---"``).
- ``duplicate``: a pair already written for this language (the same string in several programs).
- GTK mnemonics (``_Open``, ``打开(_O)``) are removed in GTK/GLib domains: toolkit markup that the user
  never sees and that differs between languages by design.
- multi-line messages (``--help`` texts) become one pair per paragraph and option entry when both sides
  have as many units, otherwise one pair for the whole message.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from linguabridge.data.corpora.debian import Package, locale_language, locale_rank
from linguabridge.data.records import stable_id
from linguabridge.io import JsonlWriter, write_json

LOCALE_ROOT = Path("usr/share/locale")
ENGLISH = "eng_Latn"
SOURCE = "gettext"
MNEMONIC_DOMAINS = ("gtk30", "gtk30-properties", "gtk40", "gtk40-properties", "glib20")
_CJK_MNEMONIC = re.compile(r"\s*[(（]_[^\W_][)）]")  # "打开(_O)", "開く(_O)"
_MNEMONIC = re.compile(r"(?<![\w_])_(?=[^\W_])|(?<=[^\W_])_(?=[^\W_])")
_OPTION_LINE = re.compile(r"^\s*-")
_SPACE = re.compile(r"\s+")
_LETTER = re.compile(r"[^\W\d_]")
# printf (%s, %3$d, %'.2f, %(name)s), brace ({0}, {name}) and GLib (%" G_GINT64_FORMAT) placeholders
_PLACEHOLDER = re.compile(r"%(?:\(\w+\)|\d+\$)?[-#0 +'I]*\d*(?:\.\d+)?(?:hh|ll|[hlLqjzt])?[a-zA-Z%]|\{[^{}]*\}")


@dataclass(frozen=True)
class Catalogue:
    """One ``.mo`` file: the domain (program), its language and where it came from."""

    domain: str
    language: str  # FLORES code
    locale: str
    path: Path
    package: str
    version: str


@dataclass
class CatalogueRead:
    """The usable entries of one catalogue, ``{(context, msgid): msgstr}``, and what was left out."""

    entries: dict[tuple[str | None, str], str]
    skipped: Counter


def find_catalogues(packages: Iterable[tuple[Package | None, Path]]) -> tuple[list[Catalogue], Counter]:
    """One catalogue per (domain, language) under the unpacked ``packages``, and the count of ``.mo`` files
    not used (``unknown_language`` for ``sr@latin`` and names the registry lacks, ``overlay`` for a regional
    folder such as ``de_CH`` when the plain one exists, ``duplicate`` for a second package with the domain).
    """
    best: dict[tuple[str, str], tuple[tuple[int, str], Catalogue]] = {}
    skipped: Counter = Counter()
    for package, root in packages:
        name, version = (package.name, package.version) if package else (Path(root).name, "")
        for mo in sorted((Path(root) / LOCALE_ROOT).glob("*/LC_MESSAGES/*.mo")):
            locale = mo.parent.parent.name
            lang = locale_language(locale)
            if lang is None:
                skipped["unknown_language"] += 1
                continue
            slot, rank = (mo.stem, lang), locale_rank(locale)
            cat = Catalogue(mo.stem, lang, locale, mo, name, version)
            if slot not in best:
                best[slot] = (rank, cat)
            elif best[slot][1].package != name:
                skipped["duplicate"] += 1
            elif rank < best[slot][0]:
                best[slot] = (rank, cat)
                skipped["overlay"] += 1
            else:
                skipped["overlay"] += 1
    return [best[s][1] for s in sorted(best)], skipped


def read_catalogue(path: str | Path) -> CatalogueRead:
    """The singular, translated entries of one ``.mo`` file, with counted reasons for the rest.

    Raises ``ValueError`` for a file that is not a readable UTF-8 catalogue.
    """
    from babel.messages.mofile import read_mo

    with open(path, "rb") as fh:
        try:
            catalog = read_mo(fh)
        except (OSError, UnicodeDecodeError, IndexError) as exc:  # bad magic / truncation / legacy charset
            raise ValueError(f"{path}: not a readable UTF-8 .mo catalogue ({exc})") from None
    skipped: Counter = Counter()
    raw: dict[tuple[str | None, str], str] = {}
    for msg in catalog:
        if not msg.id:
            continue  # the header entry (metadata, not a message)
        if isinstance(msg.id, (tuple, list)):
            skipped["plural"] += 1
            continue
        string = msg.string if isinstance(msg.string, str) else ""
        if not string or string == msg.id:
            skipped["untranslated"] += 1
            continue
        if not _LETTER.search(_PLACEHOLDER.sub("", msg.id)):
            skipped["no_text"] += 1
            continue
        raw[(msg.context, msg.id)] = string
    by_msgid: dict[str, set[str]] = defaultdict(set)
    for (_, msgid), string in raw.items():
        by_msgid[msgid].add(string)
    entries = {}
    for key, string in raw.items():
        if len(by_msgid[key[1]]) > 1:
            skipped["context_ambiguous"] += 1
        else:
            entries[key] = string
    return CatalogueRead(entries, skipped)


def _mnemonic_token(text: str) -> str | None:
    """The word holding the single mnemonic underscore of ``text`` (``__`` is a literal one), or None."""
    if text.replace("__", "").count("_") != 1:
        return None
    return next(tok for tok in text.split() if "_" in tok.replace("__", ""))


def _drop_mnemonic(text: str) -> str:
    text = _CJK_MNEMONIC.sub("", text, count=1)
    if text.replace("__", "").count("_") == 1:
        text = _MNEMONIC.sub("", text, count=1)
    return text.replace("__", "_")


def strip_mnemonics(msgid: str, msgstr: str, domain: str) -> tuple[str, str]:
    """The labels as GTK shows them: ``_Open`` -> ``Open``, ``Ö_ffnen`` -> ``Öffnen``, ``打开(_O)`` -> ``打开``.

    Only in GTK/GLib domains, and only when the English word carrying the underscore is not also in the
    translation: an identifier (``g_free``, ``G_FILE``) is copied as is, a mnemonic moves with the language.
    """
    if domain not in MNEMONIC_DOMAINS:
        return msgid, msgstr
    token = _mnemonic_token(msgid)
    if token is None or token in msgstr.split():
        return msgid, msgstr
    return _drop_mnemonic(msgid), _drop_mnemonic(msgstr)


def _units(text: str) -> list[str]:
    """Paragraphs, and option entries inside them, each with its wrapped lines joined."""
    units: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        current: list[str] = []
        for line in para.split("\n"):
            if _OPTION_LINE.match(line) and current:
                units.append(" ".join(current))
                current = []
            if line.strip():
                current.append(line.strip())
        if current:
            units.append(" ".join(current))
    return [_SPACE.sub(" ", u).strip() for u in units if u.strip()]


def segment(msgid: str, msgstr: str) -> list[tuple[str, str]]:
    """(English, translation) units of one message: per unit when both sides have as many, else whole."""
    a, b = _units(msgid), _units(msgstr)
    if len(a) == len(b) and a:
        return list(zip(a, b, strict=True))
    whole = (_SPACE.sub(" ", msgid).strip(), _SPACE.sub(" ", msgstr).strip())
    return [whole] if all(whole) else []


def iter_pairs(catalogue: Catalogue, read: CatalogueRead) -> Iterator[dict]:
    """Bitext records (the ``bitext filter`` JSONL shape) of one catalogue, in a stable order."""
    for (context, msgid), msgstr in sorted(read.entries.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        src, tgt = strip_mnemonics(msgid, msgstr, catalogue.domain)
        for i, (a, b) in enumerate(segment(src, tgt)):
            yield {
                "id": stable_id(SOURCE, catalogue.domain, catalogue.language, context or "", msgid, str(i)),
                "src_lang": ENGLISH,
                "tgt_lang": catalogue.language,
                "src": a,
                "tgt": b,
                "metadata": {
                    "source": SOURCE,
                    "domain": catalogue.domain,
                    "context": context,
                    "package": catalogue.package,
                    "package_version": catalogue.version,
                },
            }


def build_pairs(
    packages: Iterable[tuple[Package | None, Path]],
    out_dir: str | Path,
    languages: Iterable[str] | None = None,
) -> dict:
    """English -> X pairs from every catalogue of ``packages`` into ``out_dir/eng_Latn-<X>.jsonl.gz``, with
    ``stats.json`` (pairs per language and domain, skipped entries and files by reason)."""
    out_dir = Path(out_dir)
    wanted = set(languages) if languages is not None else None
    catalogues, file_skips = find_catalogues(packages)
    by_lang: dict[str, list[Catalogue]] = defaultdict(list)
    for cat in catalogues:
        if cat.language == ENGLISH:
            file_skips["english_catalogue"] += 1  # en_GB and friends: English to English
        elif wanted is None or cat.language in wanted:
            by_lang[cat.language].append(cat)
        else:
            file_skips["not_requested"] += 1
    stats: dict = {"languages": {}, "skipped_entries": {}, "skipped_files": {}}
    entry_skips: Counter = Counter()
    for lang in sorted(by_lang):
        seen: set[tuple[str, str]] = set()
        row: dict = {"pairs": 0, "source_characters": 0, "target_characters": 0, "domains": {}}
        with JsonlWriter(out_dir / f"{ENGLISH}-{lang}.jsonl.gz") as w:
            for cat in by_lang[lang]:
                try:
                    read = read_catalogue(cat.path)
                except ValueError:
                    file_skips["unreadable"] += 1
                    continue
                entry_skips.update(read.skipped)
                n = 0
                for rec in iter_pairs(cat, read):
                    if (rec["src"], rec["tgt"]) in seen:
                        entry_skips["duplicate"] += 1
                        continue
                    seen.add((rec["src"], rec["tgt"]))
                    w.write(rec)
                    n += 1
                    row["source_characters"] += len(rec["src"])
                    row["target_characters"] += len(rec["tgt"])
                row["pairs"] += n
                if n:
                    row["domains"][cat.domain] = n
        stats["languages"][lang] = row
    stats["skipped_entries"] = dict(sorted(entry_skips.items()))
    stats["skipped_files"] = dict(sorted(file_skips.items()))
    write_json(out_dir / "stats.json", stats)
    return stats


__all__ = [
    "Catalogue",
    "CatalogueRead",
    "build_pairs",
    "find_catalogues",
    "iter_pairs",
    "read_catalogue",
    "segment",
    "strip_mnemonics",
]
