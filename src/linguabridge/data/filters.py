"""Document filters. Each answers ``(keep, reason)`` and may record scores in the document's metadata."""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from urllib.parse import urlparse

from linguabridge.config import DataConfig
from linguabridge.data.records import Document
from linguabridge.data.text import Analysis
from linguabridge.errors import LinguabridgeError

Verdict = tuple[bool, str | None]


class UrlFilter:
    """Block-lists of domains (the domain and its subdomains) and ``/regex/`` patterns on the host name."""

    name = "url"

    def __init__(self, files: Iterable[str | Path] = ()):
        domains: set[str] = set()
        patterns: list[re.Pattern] = []
        texts = [resources.files("linguabridge").joinpath("assets/url_blocklist.txt").read_text("utf-8")]
        for f in files:
            try:
                texts.append(Path(f).read_text("utf-8"))
            except OSError as exc:
                raise LinguabridgeError(
                    f"URL block-list {f}: {exc.strerror}", "fix data.url_blocklist"
                ) from None
        for text in texts:
            for line in text.splitlines():
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if line.startswith("/") and line.endswith("/") and len(line) > 2:
                    patterns.append(re.compile(line[1:-1], re.IGNORECASE))
                else:
                    domains.add(line.lower().lstrip("."))
        self.domains, self.patterns = domains, patterns

    def __call__(self, doc: Document, _a: Analysis) -> Verdict:
        url = doc.metadata.get("url")
        if not url:
            return True, None
        host = (urlparse(url).hostname or "").lower()
        parts = host.split(".")
        if any(".".join(parts[i:]) in self.domains for i in range(len(parts))):
            return False, "url_blocklist"
        if any(p.search(host) for p in self.patterns):
            return False, "url_blocklist"
        return True, None


class QualityFilter:
    """Gopher/FineWeb-style heuristics with script-aware word counts (thresholds from the recipe)."""

    name = "quality"

    def __init__(self, cfg: DataConfig):
        self.cfg = cfg

    def __call__(self, doc: Document, a: Analysis) -> Verdict:
        n_words = len(a.words)
        doc.metadata["n_words"] = n_words
        if n_words < self.cfg.min_words:
            return False, "too_few_words"
        if a.symbol_ratio > self.cfg.max_symbol_ratio:
            return False, "symbol_ratio"
        if a.duplicate_line_fraction > self.cfg.max_duplicate_line_fraction:
            return False, "duplicate_lines"
        # Top word-unit repetition: a page that is one phrase repeated is not language.
        if n_words >= 10:
            distinct = len(set(a.words)) / n_words
            doc.metadata["distinct_word_ratio"] = round(distinct, 4)
            if distinct < 0.1:
                return False, "repetition"
        return True, None
