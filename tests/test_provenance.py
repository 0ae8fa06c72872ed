"""linguabridge.provenance: the one fingerprint and the one package-version collector."""

from __future__ import annotations

from pathlib import Path

from linguabridge.provenance import fingerprint, package_versions


def test_fingerprint_ignores_key_order_and_sees_every_value():
    facts = {"plan": {"a": 1, "b": [1, 2]}, "seed": 0}
    assert fingerprint(facts) == fingerprint({"seed": 0, "plan": {"b": [1, 2], "a": 1}})
    assert fingerprint(facts) != fingerprint({"plan": {"a": 1, "b": [2, 1]}, "seed": 0})
    assert fingerprint(facts) != fingerprint(facts | {"seed": 1})
    assert len(fingerprint(facts)) == 16


def test_fingerprint_hashes_other_values_as_text():
    assert fingerprint({"path": Path("a/b")}) == fingerprint({"path": "a/b"})


def test_package_versions_keeps_order_and_skips_missing():
    got = package_versions(["pytest", "no-such-package-linguabridge", "numpy"])
    assert list(got) == ["pytest", "numpy"]
    import numpy

    assert got["numpy"] == numpy.__version__
