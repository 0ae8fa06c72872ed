"""The real corpus in one call: fetch the Debian packages, render the man pages, pair the gettext messages.

Layout of ``out_dir``::

    manifest.json              packages (name, version, sha256), tools, options, languages
    manpages/train/<lang>.jsonl.gz, manpages/heldout/<lang>.jsonl.gz, rejected.jsonl.gz, stats.json
    gettext/eng_Latn-<lang>.jsonl.gz, stats.json
    _COMPLETE.json             the fingerprint of what was built; a second call with the same inputs returns
                               the saved summary without doing anything
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from importlib.metadata import version as package_version
from pathlib import Path

from linguabridge.data.corpora.debian import Package, fetch_packages
from linguabridge.data.corpora.gettext import build_pairs
from linguabridge.data.corpora.manpages import ENGLISH, build_manpages, groff_path
from linguabridge.errors import LinguabridgeError
from linguabridge.io import write_json
from linguabridge.languages import get_language

# Marco's low-resource languages that Debian translates man pages into, plus two high-resource ones to replay.
DEFAULT_LANGUAGES = (
    "eng_Latn",
    "ind_Latn",
    "vie_Latn",
    "tur_Latn",
    "ukr_Cyrl",
    "pol_Latn",
    "ces_Latn",
    "ron_Latn",
    "ell_Grek",
    "hun_Latn",
    "fra_Latn",
    "deu_Latn",
)
# The English originals of the pages manpages-l10n translates most (ls(1), grep(1), ...), beside `manpages`
# (the Linux man-pages project); dpkg and apt also ship their own translated pages and catalogues.
ENGLISH_MAN_PACKAGES = ("manpages", "coreutils", "util-linux", "findutils", "grep", "sed", "procps", "man-db")
GETTEXT_PACKAGES = ("coreutils", "libglib2.0-data", "libgtk-3-common", "iso-codes", "apt", "dpkg")
# Debian's package suffix where it is not the ISO 639-1 code.
_MANPAGES_SUFFIX = {"por_Latn": "pt-br", "zho_Hans": "zh", "nob_Latn": "nb"}
COMPLETE = "_COMPLETE.json"


def manpages_package(language: str) -> str | None:
    """``manpages-<xx>`` for a language (None for English, whose pages are in ``manpages``)."""
    lang = get_language(language)
    if lang.code == ENGLISH:
        return None
    suffix = _MANPAGES_SUFFIX.get(lang.code, lang.iso639_1)
    return f"manpages-{suffix}" if suffix else None


def _groff_version() -> str:
    out = subprocess.run([groff_path(), "--version"], capture_output=True, text=True, check=False).stdout
    return (out.splitlines() or ["unknown"])[0]


def build_real_corpus(
    out_dir: str | Path,
    cache_dir: str | Path,
    languages: Iterable[str] = DEFAULT_LANGUAGES,
    heldout_fraction: float = 0.1,
    min_heldout: int = 2,
    seed: int = 0,
    workers: int = 2,
    versions: Mapping[str, str] | None = None,
    log=print,
) -> dict:
    """Build (or find built) the man-page documents and gettext pairs of ``languages`` in ``out_dir``.

    A language whose ``manpages-xx`` package the archive lacks is reported in ``missing_packages`` and still
    gets its gettext pairs. ``versions`` pins package versions (``{name: version}``, e.g. from an earlier
    manifest) for a rebuild from the same bytes.
    """
    out_dir, cache_dir = Path(out_dir), Path(cache_dir)
    langs = list(dict.fromkeys(get_language(x).code for x in languages))
    if ENGLISH not in langs:
        raise LinguabridgeError("the real corpus needs English (eng_Latn)", "add eng_Latn to the languages")
    man_names = list(ENGLISH_MAN_PACKAGES)
    missing: dict[str, str] = {}
    for lang in langs:
        if (name := manpages_package(lang)) is not None:
            man_names.append(name)
    packages: dict[str, Package] = {}
    for name in dict.fromkeys(man_names + list(GETTEXT_PACKAGES)):
        try:
            packages[name] = fetch_packages([name], cache_dir, versions)[0]
        except LinguabridgeError as exc:
            if name in ENGLISH_MAN_PACKAGES or name in GETTEXT_PACKAGES:
                raise
            missing[name] = exc.message  # a translation the archive does not have: the language has no pages
            log(f"no package {name}: {exc.message}")
    options = {
        "languages": langs,
        "heldout_fraction": heldout_fraction,
        "min_heldout": min_heldout,
        "seed": seed,
        "groff": _groff_version(),
        "babel": package_version("babel"),
    }
    fingerprint = hashlib.sha256(
        json.dumps(
            {
                "options": options,
                "packages": sorted((p.name, p.version, p.sha256) for p in packages.values()),
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()
    marker = out_dir / COMPLETE
    if marker.exists():
        done = json.loads(marker.read_text(encoding="utf-8"))
        if done.get("fingerprint") == fingerprint:
            return done["summary"]
        marker.unlink()  # an interrupted rebuild must not look complete
    for sub in ("manpages", "gettext"):  # files of another language list must not linger
        shutil.rmtree(out_dir / sub, ignore_errors=True)

    def roots(names: Iterable[str]) -> list[tuple[Package, Path]]:
        return [(packages[n], cache_dir / packages[n].root) for n in names if n in packages]

    man = build_manpages(
        roots(dict.fromkeys(man_names)),
        out_dir / "manpages",
        langs,
        heldout_fraction,
        min_heldout,
        seed,
        workers,
    )
    pairs = build_pairs(roots(GETTEXT_PACKAGES), out_dir / "gettext", [x for x in langs if x != ENGLISH])
    summary = {
        "manpages": man["languages"],
        "manpages_rejected": man["rejected"],
        "heldout_pages": man["heldout_pages"],
        "gettext": {
            k: {kk: v[kk] for kk in ("pairs", "source_characters", "target_characters")}
            for k, v in pairs["languages"].items()
        },
        "gettext_skipped_entries": pairs["skipped_entries"],
        "missing_packages": missing,
    }
    write_json(
        out_dir / "manifest.json",
        {
            "packages": [p.to_json() for p in sorted(packages.values(), key=lambda p: p.name)],
            "missing_packages": missing,
            "options": options,
        },
    )
    write_json(marker, {"fingerprint": fingerprint, "summary": summary})
    return summary


__all__ = ["DEFAULT_LANGUAGES", "build_real_corpus", "manpages_package"]
