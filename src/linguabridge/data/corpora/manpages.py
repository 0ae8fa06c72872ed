"""Man pages -> plain-text documents, one per page per language, with a held-out split by page name.

Debian ships pages as gzipped roff under ``usr/share/man/man<S>/`` (English) and ``usr/share/man/<locale>/
man<S>/`` (translations, ``manpages-de`` and friends). The roff is rendered by GNU groff, the formatter
``man`` itself uses (``-mandoc`` reads both man and mdoc macros, ``-t`` runs tbl): a hand-written roff
stripper would have to reimplement macros, tables, conditionals and escapes, and groff already does all of
them. It renders with a very long line length and no hyphenation, so a paragraph comes out as one line; the
running header and footer, layout indentation and runs of padding spaces are then removed.

What is left out, each with a counted reason (``rejected.jsonl.gz``): links (``ls.1.gz -> other.1.gz``) and
``.so`` redirects (aliases of another page), pages that are not UTF-8, that groff cannot render or that render
empty, and a second copy of a page in one language. The manpages-l10n translator credits (the closing section
linking the GPL-3.0, identical in every translated page of a language) are cut from translations.

Held-out pages are chosen by page key (``name(section)``, e.g. ``ls(1)``), never per language: a page is held
out in every language or in none, so no held-out page was seen in training through a translation.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from linguabridge.data.corpora.debian import Package, locale_language
from linguabridge.data.records import stable_id
from linguabridge.errors import LinguabridgeError
from linguabridge.io import JsonlWriter, write_json

MAN_ROOT = Path("usr/share/man")
ENGLISH = "eng_Latn"
SOURCE = "manpages"
# Line length 20000 ens keeps a paragraph on one line; grotty discards characters past ~32k ens.
GROFF_ARGS = ("-k", "-K", "utf8", "-t", "-mandoc", "-Tutf8", "-P-cbou", "-rLL=20000n", "-rHY=0", "-rcR=1")
_SECTION_DIR = re.compile(r"^man(\w+)$")
_SO_ONLY = re.compile(r"^(?:\.\\\".*\n|\s*\n)*\.so\s+\S+\s*$")  # comments/blank lines, then only ".so FILE"
_PADDING = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")
_TRANSLATOR_MARK = "gnu.org/licenses/gpl-3.0"


@dataclass(frozen=True)
class PageFile:
    """One page file of one unpacked package."""

    language: str  # FLORES code
    locale: str  # the folder it came from ("" for English, "de", "pt_BR")
    name: str
    section: str
    path: Path
    package: str
    version: str

    @property
    def key(self) -> str:
        """The grouping key: the same page in every language (``ls(1)``)."""
        return f"{self.name}({self.section})"


def groff_path() -> str:
    path = shutil.which("groff")
    if path is None:
        raise LinguabridgeError(
            "groff is not installed: man pages cannot be rendered to text",
            "install it (`apt-get install groff-base` on Debian/Ubuntu)",
        )
    return path


def render_roff(source: str, groff: str | None = None, timeout: float = 120.0) -> str:
    """groff's plain-text rendering of one roff page (UTF-8 in, UTF-8 out, no overstrike or colour)."""
    proc = subprocess.run(
        [groff or groff_path(), *GROFF_ARGS],
        input=source.encode("utf-8"),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:  # warnings (tbl boxes, unknown macros) also go to stderr but do not fail
        last = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        raise LinguabridgeError(f"groff failed: {last}", "the page is not valid roff")
    return proc.stdout.decode("utf-8", "replace")


def _sections(lines: list[str]) -> list[list[str]]:
    """Lines grouped by section: a heading is a line at column 0, the body is indented."""
    out: list[list[str]] = [[]]
    for line in lines:
        if line and not line[0].isspace() and out[-1]:
            out.append([])
        out[-1].append(line)
    return [s for s in out if s]


def clean_rendering(rendered: str, translated: bool) -> str:
    """Plain text from groff's output: no header/footer, no layout indentation or padding, one blank line
    between paragraphs; for a translation, without the translator-credits section."""
    lines = [line.rstrip() for line in rendered.replace("\r", "").split("\n")]
    filled = [i for i, line in enumerate(lines) if line.strip()]
    # The running header "LS(1)   User Commands   LS(1)" and footer are the first and last lines, their
    # three parts spread over the full line length.
    for i in (filled[:1] + filled[-1:]) if len(filled) > 1 else []:
        if re.search(r"\S {3,}\S", lines[i]):
            lines[i] = ""
    sections = _sections(lines)
    if translated and sections and any(_TRANSLATOR_MARK in line for line in sections[-1]):
        sections = sections[:-1]
    text_lines = [_PADDING.sub(" ", line.strip()) for s in sections for line in s]
    text = "\n".join(text_lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def iter_page_files(
    root: str | Path, package: Package | None = None
) -> Iterator[PageFile | tuple[Path, str]]:
    """Page files under an unpacked package ``root``, in sorted order; ``(path, reason)`` for files that are
    not pages of a known language (links are listed as such, to be counted)."""
    base = Path(root) / MAN_ROOT
    if not base.is_dir():
        return
    name, version = (package.name, package.version) if package else (Path(root).name, "")
    for folder in sorted(base.iterdir()):
        if _SECTION_DIR.match(folder.name):
            locale, section_dirs = "", [folder]
        elif folder.is_dir():
            locale = folder.name
            section_dirs = sorted(d for d in folder.iterdir() if _SECTION_DIR.match(d.name))
        else:
            continue
        lang = ENGLISH if locale == "" else locale_language(locale)
        for sdir in section_dirs:
            for f in sorted(sdir.iterdir()):
                if lang is None:
                    yield f, "unknown_language"
                elif f.is_symlink():
                    yield f, "link"
                elif f.is_file() and f.name.endswith(".gz") and "." in f.name[:-3]:
                    page, section = f.name[:-3].rsplit(".", 1)
                    yield PageFile(lang, locale, page, section, f, name, version)


def read_page(page: PageFile, groff: str) -> tuple[str | None, str | None]:
    """(text, None) or (None, reason) for one page file."""
    try:
        raw = gzip.decompress(page.path.read_bytes())
    except (OSError, EOFError):
        return None, "bad_gzip"
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not_utf8"
    if _SO_ONLY.match(source):
        return None, "so_redirect"
    try:
        rendered = render_roff(source, groff)
    except (LinguabridgeError, subprocess.TimeoutExpired):
        return None, "render_failed"
    text = clean_rendering(rendered, translated=page.language != ENGLISH)
    return (text, None) if text else (None, "empty")


def heldout_pages(
    keys_by_language: Mapping[str, Iterable[str]], fraction: float, min_per_language: int, seed: int = 0
) -> set[str]:
    """Page keys held out in every language.

    A key is held out when a seeded hash of it falls under ``fraction`` (so adding a language or a package
    never moves an existing page between splits). A language with fewer than ``min_per_language`` held-out
    pages then gets more, in hash order, as long as it keeps at least half of its pages for training; such a
    top-up holds that page out in every other language too.
    """

    def rank(key: str) -> str:
        return hashlib.sha256(f"{seed}\x1f{key}".encode()).hexdigest()

    all_keys = {k for keys in keys_by_language.values() for k in keys}
    held = {k for k in all_keys if int(rank(k)[:12], 16) < fraction * 16**12}
    for lang in sorted(keys_by_language):
        keys = sorted(set(keys_by_language[lang]), key=rank)
        need = min(min_per_language, len(keys) // 2)
        have = sum(k in held for k in keys)
        for k in keys:
            if have >= need:
                break
            if k not in held:
                held.add(k)
                have += 1
    return held


def collect_pages(
    packages: Iterable[tuple[Package | None, Path]], languages: Iterable[str] | None
) -> tuple[list[PageFile], list[dict], Counter]:
    """Pages of the wanted languages (the first package, then the first folder, wins a duplicate key),
    the rejected files as records and the count of pages of languages not asked for."""
    wanted = set(languages) if languages is not None else None
    chosen: dict[tuple[str, str], PageFile] = {}
    rejected: list[dict] = []
    other = Counter()
    for package, root in packages:
        for item in iter_page_files(root, package):
            if isinstance(item, tuple):
                path, reason = item
                rejected.append({"path": str(path.relative_to(root)), "package": root.name, "reason": reason})
                continue
            if wanted is not None and item.language not in wanted:
                other[item.language] += 1
                continue
            slot = (item.language, item.key)
            if slot in chosen:  # folders are visited in sorted order: "de" before its overlay "de_AT"
                rejected.append(_reject(item, "duplicate"))
            else:
                chosen[slot] = item
    return [chosen[s] for s in sorted(chosen)], rejected, other


def _reject(page: PageFile, reason: str) -> dict:
    return {
        "language": page.language,
        "page": page.key,
        "package": page.package,
        "path": str(page.path.name),
        "reason": reason,
    }


def build_manpages(
    packages: Iterable[tuple[Package | None, Path]],
    out_dir: str | Path,
    languages: Iterable[str] | None = None,
    heldout_fraction: float = 0.1,
    min_heldout: int = 2,
    seed: int = 0,
    workers: int = 2,
) -> dict:
    """Render the pages of ``packages`` (``(package, unpacked root)`` pairs) into ``out_dir``:
    ``train/<lang>.jsonl.gz``, ``heldout/<lang>.jsonl.gz``, ``rejected.jsonl.gz`` and ``stats.json``."""
    out_dir = Path(out_dir)
    groff = groff_path()
    pages, rejected, other = collect_pages(packages, languages)
    with ThreadPoolExecutor(max(1, workers)) as pool:  # groff runs as a subprocess: threads suffice
        results = list(pool.map(lambda p: read_page(p, groff), pages))
    docs: dict[str, list[tuple[PageFile, str]]] = defaultdict(list)
    for page, (text, reason) in zip(pages, results, strict=True):
        if text is None:
            rejected.append(_reject(page, reason or "empty"))
        else:
            docs[page.language].append((page, text))
    held = heldout_pages(
        {lang: [p.key for p, _ in items] for lang, items in docs.items()}, heldout_fraction, min_heldout, seed
    )
    stats: dict = {"languages": {}, "rejected": {}, "other_languages": dict(sorted(other.items()))}
    for lang in sorted(docs):
        row = dict.fromkeys(
            ("train_documents", "train_characters", "heldout_documents", "heldout_characters"), 0
        )
        writers = {split: JsonlWriter(out_dir / split / f"{lang}.jsonl.gz") for split in ("train", "heldout")}
        for page, text in docs[lang]:
            split = "heldout" if page.key in held else "train"
            writers[split].write(
                {
                    "id": stable_id(SOURCE, lang, page.key),
                    "text": text,
                    "metadata": {
                        "source": SOURCE,
                        "language": lang,
                        "declared_language": lang,  # data clean overwrites "language" with its own ID
                        "page": page.key,
                        "package": page.package,
                        "package_version": page.version,
                        "split": split,
                    },
                }
            )
            row[f"{split}_documents"] += 1
            row[f"{split}_characters"] += len(text)
        for w in writers.values():
            w.close()
        stats["languages"][lang] = row
    with JsonlWriter(out_dir / "rejected.jsonl.gz") as w:
        for r in rejected:
            w.write(r)
    stats["rejected"] = dict(sorted(Counter(r["reason"] for r in rejected).items()))
    stats["heldout_pages"] = len(held)
    write_json(out_dir / "stats.json", stats)
    return stats


__all__ = [
    "PageFile",
    "build_manpages",
    "clean_rendering",
    "collect_pages",
    "heldout_pages",
    "iter_page_files",
    "read_page",
    "render_roff",
]
