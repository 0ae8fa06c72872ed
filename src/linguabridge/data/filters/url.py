"""URL block-lists: domains (the domain and its subdomains) and ``/regex/`` patterns on the host name."""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from urllib.parse import urlparse

from linguabridge.data.records import Document
from linguabridge.errors import LinguabridgeError


class UrlFilter:
    name = "url"

    def __init__(self, files: Iterable[str | Path] = ()):
        domains: set[str] = set()
        patterns: list[str] = []
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
                    patterns.append(line[1:-1])
                else:
                    domains.add(line.lower().lstrip("."))
        self.domains = domains
        # One alternation instead of a loop over patterns: one regex pass per URL.
        self.pattern = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE) if patterns else None

    def __call__(self, doc: Document, _a=None, _r=None, scores: dict | None = None) -> str | None:
        url = doc.metadata.get("url")
        if not url or not isinstance(url, str):
            return None
        host = (urlparse(url).hostname or "").lower()
        parts = host.split(".")
        if any(".".join(parts[i:]) in self.domains for i in range(len(parts))):
            return "url_blocklist"
        if self.pattern is not None and self.pattern.search(host):
            return "url_blocklist"
        return None
