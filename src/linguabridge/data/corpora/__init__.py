"""Real text from Debian packages: man pages (documents per language) and gettext catalogues (sentence pairs).

``debian`` fetches and unpacks packages into a cache with a manifest; ``manpages`` turns roff pages into
documents with a held-out split by page name; ``gettext`` pairs ``.mo`` messages with their English ``msgid``.
Outputs use the project's JSONL formats, so ``linguabridge data clean`` and ``bitext filter`` read them.
"""
