"""What identifies a result: fingerprints of the facts it was made from, and the package versions it ran with.

The bottom layer (no linguabridge imports), so every stage hashes and records the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata as md
import json
from collections.abc import Iterable
from typing import Any


def fingerprint(facts: Any) -> str:
    """A short, stable hash of JSON-able ``facts`` (key order does not matter; other values hash as ``str``).

    Used to decide whether a stored result is still valid (stage markers, checkpoints, resumable shards).
    """
    blob = json.dumps(facts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def package_versions(packages: Iterable[str]) -> dict[str, str]:
    """``{package: version}`` for the installed ones among ``packages``, in the order given."""
    out: dict[str, str] = {}
    for pkg in packages:
        with contextlib.suppress(md.PackageNotFoundError):
            out[pkg] = md.version(pkg)
    return out
