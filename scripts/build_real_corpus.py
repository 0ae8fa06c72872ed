"""Build the real multilingual corpus from Debian packages: man-page documents and gettext sentence pairs.

    python scripts/build_real_corpus.py --out /work/cache/real-corpus --cache /work/cache/debian

Packages are fetched with ``apt-get download`` (nothing is installed) into ``--cache``; a second run with the
same cache and options does nothing. ``--pin OUT/manifest.json`` fetches the exact versions of an earlier build.
Prints per-language document, character and held-out counts, and the sentence pairs per language.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from linguabridge.data.corpora.build import DEFAULT_LANGUAGES, build_real_corpus
from linguabridge.errors import LinguabridgeError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="output folder")
    ap.add_argument("--cache", required=True, type=Path, help="where .deb files are kept and unpacked")
    ap.add_argument("--languages", default=",".join(DEFAULT_LANGUAGES), help="comma-separated codes")
    ap.add_argument("--heldout-fraction", type=float, default=0.1)
    ap.add_argument("--min-heldout", type=int, default=2, help="held-out pages per language at least")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="groff processes at a time")
    ap.add_argument("--pin", type=Path, help="a manifest.json whose package versions to fetch")
    args = ap.parse_args(argv)
    try:
        versions = None
        if args.pin:
            versions = {p["name"]: p["version"] for p in json.loads(args.pin.read_text())["packages"]}
        t0 = time.perf_counter()
        s = build_real_corpus(
            args.out,
            args.cache,
            [x for x in args.languages.split(",") if x],
            args.heldout_fraction,
            args.min_heldout,
            args.seed,
            args.workers,
            versions,
            log=lambda m: print(m, file=sys.stderr),
        )
    except LinguabridgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{'language':<10} {'train docs':>10} {'train chars':>12} {'held docs':>9} {'held chars':>11} {'pairs':>7}"
    )
    for lang in sorted(set(s["manpages"]) | set(s["gettext"])):
        m = s["manpages"].get(lang, {})
        g = s["gettext"].get(lang, {})
        print(
            f"{lang:<10} {m.get('train_documents', 0):>10} {m.get('train_characters', 0):>12} "
            f"{m.get('heldout_documents', 0):>9} {m.get('heldout_characters', 0):>11} {g.get('pairs', 0):>7}"
        )
    print(f"held-out pages: {s['heldout_pages']}; man pages left out: {s['manpages_rejected']}")
    print(f"gettext entries left out: {s['gettext_skipped_entries']}")
    if s["missing_packages"]:
        print(f"packages the archive lacks: {', '.join(s['missing_packages'])}")
    print(f"manifest: {args.out / 'manifest.json'} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
