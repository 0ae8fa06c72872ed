"""User-facing errors: each names the problem and the fix, and the CLI prints it as one line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class LinguabridgeError(Exception):
    """An error the user can fix; ``hint`` says how. The CLI prints ``message (hint)`` without a traceback."""

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else f"{message} -- {hint}")


class ConfigError(LinguabridgeError):
    """A recipe or override is invalid."""


class UnknownLanguageError(LinguabridgeError, ValueError):
    """A language code is not in the registry."""


class MissingDependencyError(LinguabridgeError, ImportError):
    """An optional dependency is not installed; the hint names the pip extra."""


def suggest(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Close matches for ``word`` (typo help in error messages)."""
    return difflib.get_close_matches(word, list(choices), n=n, cutoff=0.6)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = suggest(word, choices)
    return f"did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def require(module: str, extra: str):
    """Import an optional dependency or fail with the pip command that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError(
            f"{module!r} is not installed", f"pip install 'linguabridge[{extra}]'"
        ) from exc


# Import names that differ from their distribution's name (after lower-casing and "-"/"." -> "_").
_MODULE_DISTRIBUTIONS = {"kenlm": "ufal_kenlm", "yaml": "pyyaml"}


def extra_for(module: str) -> str | None:
    """The ``linguabridge[...]`` extra that installs top-level ``module``, read from the package metadata."""
    import re
    from importlib import metadata

    try:
        requirements = metadata.requires("linguabridge") or []
    except metadata.PackageNotFoundError:
        return None
    wanted = _MODULE_DISTRIBUTIONS.get(module, module).lower()
    for req in requirements:
        m = re.match(r"\s*([A-Za-z0-9_.\-]+).*?extra\s*==\s*['\"]([^'\"]+)['\"]", req)
        if m and re.sub(r"[-.]", "_", m.group(1).lower()) == wanted:
            return m.group(2)
    return None
