"""Real-text corpora from Debian packages: man pages -> documents, .mo catalogues -> pairs, package cache.

Every input is written by the test itself (roff pages, .mo files, a .deb); groff and dpkg-deb are needed for
the tests that render or pack, and they skip without them. No test needs the network.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import stat
from collections import Counter
from pathlib import Path

import pytest

from linguabridge.data.corpora import debian, gettext, manpages
from linguabridge.errors import LinguabridgeError

needs_groff = pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed")

# A page in the style of coreutils' help2man output and the Linux man-pages project: title, fonts, escapes,
# a tagged list, a no-fill example, a tbl table, a link, comments and a translator section at the end.
PAGE = r""".\" Copyright comment that must not appear
.\" -*- coding: UTF-8 -*-
.TH FROB 1 "March 2024" "frobutils 2.1" "User Commands"
.SH NAME
frob \- frobnicate files
.SH SYNOPSIS
.B frob
[\fI\,OPTION\/\fR]... [\fIFILE\fR]...
.SH DESCRIPTION
.B frob
reads each
.I FILE
and writes it back frobnicated \(em a caf\[u00E9] operation
that was specified in 1997.
This sentence continues the same paragraph
on a third source line.
.PP
Use \(aq\-\-\(aq to end the options.
.TP
\fB\-a\fR, \fB\-\-all\fR
frobnicate hidden files too
.TP
\fB\-n\fR \fIN\fR
stop after \fIN\fR files
.SH EXAMPLES
.nf
frob \-a notes.txt
frob \-n 3 *.c
.fi
.SH "EXIT STATUS"
.TS
l l.
0	success
1	minor trouble
.TE
.SH "SEE ALSO"
.BR cat (1),
.UR https://example.org/frob
the frob manual
.UE
.SH TRANSLATION
This translation is free documentation; read the
.UR https://www.gnu.org/licenses/gpl-3.0.html
GNU General Public License Version 3
.UE
or later.
"""


def _render(source: str = PAGE, translated: bool = False) -> str:
    return manpages.clean_rendering(manpages.render_roff(source), translated=translated)


@needs_groff
def test_roff_becomes_plain_text():
    text = _render()
    lines = text.split("\n")
    assert lines[0] == "NAME"
    assert "frob - frobnicate files" in lines
    # no markup is left: macros, font escapes, comments, the running header and footer
    assert not any(line.startswith(".") for line in lines)
    assert "\\f" not in text and "\\(" not in text and "\\-" not in text
    assert "Copyright comment" not in text
    assert "FROB(1)" not in text and "March 2024" not in text
    # escapes become characters; a paragraph spread over source lines is one line
    assert (
        "frob reads each FILE and writes it back frobnicated — a café operation that was specified in 1997. "
        "This sentence continues the same paragraph on a third source line." in lines
    )
    assert "Use '--' to end the options." in lines
    assert "-a, --all" in lines and "frobnicate hidden files too" in lines
    # no-fill lines stay lines, table rows keep their cells, links keep their address
    assert "frob -a notes.txt" in lines and "frob -n 3 *.c" in lines
    assert "0 success" in lines and "1 minor trouble" in lines
    assert "https://example.org/frob" in text
    # layout indentation and padding are gone, paragraphs are one blank line apart
    assert all(line == line.strip() for line in lines) and "  " not in text and "\n\n\n" not in text
    # the translator credits go from translations only
    assert "GNU General Public License" in text
    translated = _render(translated=True)
    assert "GNU General Public License" not in translated and "TRANSLATION" not in translated
    assert translated.endswith("the frob manual ⟨https://example.org/frob⟩")


def _write_page(root: Path, locale: str, section: str, name: str, source: str | bytes) -> Path:
    folder = (
        root / "usr/share/man" / locale / f"man{section}" if locale else root / f"usr/share/man/man{section}"
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.{section}.gz"
    data = source.encode("utf-8") if isinstance(source, str) else source
    path.write_bytes(gzip.compress(data, mtime=0))
    return path


def _simple_page(name: str, body: str) -> str:
    return f'.TH {name.upper()} 1 "2024" "x 1" "Commands"\n.SH NAME\n{name} \\- {body}\n.SH DESCRIPTION\n{body}.\n'


@needs_groff
def test_build_manpages_outputs_documents_and_counts_what_it_leaves_out(tmp_path):
    from linguabridge.data.records import Document, read_documents

    root = tmp_path / "pkg"
    names = [f"tool{i}" for i in range(12)]
    for name in names:
        _write_page(root, "", "1", name, _simple_page(name, f"prints the {name} report"))
        _write_page(root, "de", "1", name, _simple_page(name, f"druckt den Bericht von {name}"))
    for name in names[:5]:
        _write_page(root, "vi", "1", name, _simple_page(name, f"in báo cáo của {name}"))
    _write_page(root, "de_AT", "1", names[0], _simple_page(names[0], "österreichische Variante"))  # overlay
    _write_page(root, "sr@latin", "1", names[0], _simple_page(names[0], "štampa izveštaj"))  # no FLORES code
    _write_page(root, "", "1", "alias", ".so man1/tool0.1\n")
    _write_page(root, "vi", "1", "latin1", _simple_page("latin1", "caf\xe9").encode("latin-1"))
    link = root / "usr/share/man/man1/link.1.gz"
    link.symlink_to("tool1.1.gz")

    out = tmp_path / "out"
    stats = manpages.build_manpages(
        [(None, root)], out, ["eng_Latn", "deu_Latn", "vie_Latn"], heldout_fraction=0.2, min_heldout=1
    )
    assert stats["rejected"] == {
        "duplicate": 1,
        "link": 1,
        "not_utf8": 1,
        "so_redirect": 1,
        "unknown_language": 1,
    }
    rejected = [json.loads(x) for x in gzip.open(out / "rejected.jsonl.gz", "rt")]
    assert Counter(r["reason"] for r in rejected) == Counter(stats["rejected"])
    dup = next(r for r in rejected if r["reason"] == "duplicate")
    assert dup["language"] == "deu_Latn" and dup["page"] == "tool0(1)"  # the plain "de" folder won

    # the files are what `linguabridge data clean` reads
    docs = [d for d in read_documents([out / "train", out / "heldout"]) if isinstance(d, Document)]
    assert len(docs) == 12 + 12 + 5
    split_of = {}
    for d in docs:
        assert d.metadata["source"] == "manpages" and d.metadata["split"] in ("train", "heldout")
        assert ".TH" not in d.text and d.text.startswith("NAME\n")
        split_of.setdefault(d.metadata["page"], set()).add(d.metadata["split"])
    de0 = next(d for d in docs if d.metadata["page"] == "tool0(1)" and d.metadata["language"] == "deu_Latn")
    assert "druckt den Bericht von tool0" in de0.text
    # one split per page across languages, and every language has held-out pages
    assert all(len(s) == 1 for s in split_of.values())
    for lang, row in stats["languages"].items():
        assert row["heldout_documents"] >= 1, lang
        assert row["train_documents"] + row["heldout_documents"] == (5 if lang == "vie_Latn" else 12)
    assert stats["languages"]["eng_Latn"]["train_characters"] == sum(
        len(d.text) for d in docs if d.metadata["language"] == "eng_Latn" and d.metadata["split"] == "train"
    )
    # deterministic: a rebuild writes the same bytes
    first = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*.gz"))}
    manpages.build_manpages(
        [(None, root)],
        tmp_path / "again",
        ["eng_Latn", "deu_Latn", "vie_Latn"],
        heldout_fraction=0.2,
        min_heldout=1,
    )
    again = {
        p.relative_to(tmp_path / "again"): p.read_bytes() for p in sorted((tmp_path / "again").rglob("*.gz"))
    }
    assert first == again


def test_heldout_pages_are_one_split_per_page_in_every_language():
    eng = [f"p{i}(1)" for i in range(200)]
    keys = {"eng_Latn": eng, "deu_Latn": eng[:120], "ell_Grek": eng[150:156], "ind_Latn": ["p199(1)"]}
    held = manpages.heldout_pages(keys, fraction=0.1, min_per_language=3, seed=0)
    assert 10 <= len(held & set(eng)) <= 35  # about a tenth, from the hash
    # a small language still gets its minimum, without losing more than half of its pages
    assert len(held & set(keys["ell_Grek"])) == 3
    # a language with one page keeps it for training
    assert manpages.heldout_pages({"ind_Latn": ["p199(1)"]}, fraction=0.0, min_per_language=3) == set()
    # adding a language only ever adds held-out pages; the seed changes the choice
    fewer = manpages.heldout_pages({"eng_Latn": eng}, fraction=0.1, min_per_language=3, seed=0)
    assert fewer <= held
    assert manpages.heldout_pages({"eng_Latn": eng}, 0.1, 3, seed=1) != fewer


def _write_mo(path: Path, messages: list[tuple], locale: str = "de") -> None:
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    catalog = Catalog(locale=locale)
    for msg in messages:
        msgid, msgstr, *ctx = msg
        catalog.add(msgid, msgstr, context=ctx[0] if ctx else None)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    path.write_bytes(buf.getvalue())


HELP_EN = "Usage: frob [OPTION]...\nFrobnicate files.\n\n  -a, --all     include hidden\n                files\n  -q            quiet\n"
HELP_DE = "Aufruf: frob [OPTION]...\nDateien frobnizieren.\n\n  -a, --all     auch versteckte\n                Dateien\n  -q            leise\n"


def test_gettext_pairs_from_mo_catalogues(tmp_path):
    from linguabridge.data.bitext.readers import read_bitext

    root = tmp_path / "pkg"
    loc = root / "usr/share/locale"
    _write_mo(
        loc / "de/LC_MESSAGES/gtk30.mo",
        [
            ("_Open", "Ö_ffnen"),
            ("Save _As", "Speichern _unter"),
            ("g_free failed", "g_free ist fehlgeschlagen"),  # an identifier, not a mnemonic
            (("%d file", "%d files"), ("%d Datei", "%d Dateien")),  # plural
            ("Home", "Startseite", "web"),  # the same msgid, two contexts, two translations
            ("Home", "Pos1", "keyboard key"),
            ("Quit", "Beenden", "menu"),  # a context, but unambiguous: kept
            ("Cancel", "Cancel"),  # untranslated copy
            ("%s: %s", "%s: %s"),
            ("%d%%", "%d %%"),  # no letters
            ("Print", "Drucken"),
        ],
    )
    _write_mo(
        loc / "de/LC_MESSAGES/frob.mo",
        [(HELP_EN, HELP_DE), ("Print", "Drucken"), ("---", "---"), ("%s (%d)", "%s (%d)")],
    )
    _write_mo(loc / "de_CH/LC_MESSAGES/frob.mo", [("Print", "Drucke")], "de_CH")  # overlay of "de"
    _write_mo(loc / "sr@latin/LC_MESSAGES/frob.mo", [("Print", "Štampaj")], "sr")
    _write_mo(loc / "en_GB/LC_MESSAGES/frob.mo", [("color", "colour")], "en_GB")
    _write_mo(loc / "vi/LC_MESSAGES/frob.mo", [("Print", "In")], "vi")
    (loc / "vi/LC_MESSAGES/broken.mo").write_bytes(b"not a catalogue")

    out = tmp_path / "pairs"
    stats = gettext.build_pairs([(None, root)], out, ["deu_Latn", "vie_Latn"])
    assert stats["skipped_entries"] == {
        "context_ambiguous": 2,
        "duplicate": 1,  # "Print" -> "Drucken" in two programs
        "no_text": 1,
        "plural": 1,
        "untranslated": 4,  # copies: "Cancel", and the letterless "%s: %s", "---", "%s (%d)"
    }
    assert stats["skipped_files"] == {
        "english_catalogue": 1,
        "overlay": 1,
        "unknown_language": 1,
        "unreadable": 1,
    }

    recs = [r for r in read_bitext([out / "eng_Latn-deu_Latn.jsonl.gz"]) if isinstance(r, dict)]
    got = {(r["src"], r["tgt"]) for r in recs}
    assert {r["src_lang"] for r in recs} == {"eng_Latn"} and {r["tgt_lang"] for r in recs} == {"deu_Latn"}
    assert got == {
        ("Open", "Öffnen"),
        ("Save As", "Speichern unter"),
        ("g_free failed", "g_free ist fehlgeschlagen"),
        ("Quit", "Beenden"),
        ("Print", "Drucken"),
        # the --help text, one pair per paragraph and option entry, wrapped lines joined
        ("Usage: frob [OPTION]... Frobnicate files.", "Aufruf: frob [OPTION]... Dateien frobnizieren."),
        ("-a, --all include hidden files", "-a, --all auch versteckte Dateien"),
        ("-q quiet", "-q leise"),
    }
    assert stats["languages"]["deu_Latn"]["pairs"] == len(recs) == 8
    assert stats["languages"]["deu_Latn"]["domains"] == {"frob": 4, "gtk30": 4}
    vi = [r for r in read_bitext([out / "eng_Latn-vie_Latn.jsonl.gz"]) if isinstance(r, dict)]
    assert [(r["src"], r["tgt"]) for r in vi] == [("Print", "In")]


def test_locale_folders_map_to_flores_codes():
    assert debian.locale_language("pt_BR") == "por_Latn"
    assert debian.locale_language("zh_TW") == "zho_Hant"
    assert debian.locale_language("zh_CN") == "zho_Hans"
    assert debian.locale_language("uk") == "ukr_Cyrl"
    assert debian.locale_language("de.UTF-8") == "deu_Latn"
    assert debian.locale_language("sr@latin") is None
    assert debian.locale_language("C") is None
    assert debian.locale_language("xx_YY") is None
    assert debian.locale_rank("de") < debian.locale_rank("de_AT")


def _fake_apt(tmp_path: Path, debs: Path) -> tuple[Path, Path]:
    """A bin folder whose `apt-get download NAME[=VERSION]` copies that .deb (the newest when no version is
    given) from the folder ``debs`` into the current folder, logging each call."""
    import sys

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "apt-calls.txt"
    script = bin_dir / "apt-get"
    script.write_text(
        f"#!{sys.executable}\n"
        "import shutil, sys\n"
        "from pathlib import Path\n"
        f"Path({str(calls)!r}).open('a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "name, _, version = sys.argv[2].partition('=')\n"
        f"found = sorted(Path({str(debs)!r}).glob(name + '_' + (version or '*') + '_all.deb'))\n"
        "if not found:\n"
        "    sys.exit(print('E: Unable to locate package ' + name, file=sys.stderr) or 100)\n"
        "shutil.copy(found[-1], '.')\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir, calls


def _build_deb(tmp_path: Path, debs: Path, name: str, version: str) -> None:
    import subprocess

    src = tmp_path / f"src-{name}-{version}"
    (src / "DEBIAN").mkdir(parents=True)
    (src / "DEBIAN/control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: test\n"
    )
    page = src / "usr/share/man/man1/hello.1.gz"
    page.parent.mkdir(parents=True)
    page.write_bytes(gzip.compress(b".TH HELLO 1\n.SH NAME\nhello \\- greet\n", mtime=0))
    debs.mkdir(exist_ok=True)
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(src), str(debs / f"{name}_{version}_all.deb")],
        check=True,
        capture_output=True,
    )


@needs_dpkg
def test_fetch_packages_unpacks_records_and_caches(tmp_path, monkeypatch):
    debs = tmp_path / "archive"
    _build_deb(tmp_path, debs, "hello-pages", "1:1.0-2")
    _build_deb(tmp_path, debs, "hello-pages", "1:1.0-1")
    bin_dir, calls = _fake_apt(tmp_path, debs)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")  # the fake apt-get comes first
    cache = tmp_path / "cache"
    (pkg,) = debian.fetch_packages(["hello-pages"], cache)
    assert (pkg.name, pkg.version, pkg.architecture) == ("hello-pages", "1:1.0-2", "all")
    assert pkg.sha256 == debian.sha256_file(debs / "hello-pages_1:1.0-2_all.deb")
    assert (cache / pkg.root / "usr/share/man/man1/hello.1.gz").is_file()
    manifest = json.loads((cache / debian.MANIFEST).read_text())
    assert manifest["packages"] == [pkg.to_json()]
    assert calls.read_text().splitlines() == ["download hello-pages"]
    # a second call runs no command at all
    assert debian.fetch_packages(["hello-pages"], cache) == [pkg]
    assert len(calls.read_text().splitlines()) == 1
    # a pinned version that differs is fetched as NAME=VERSION and replaces the other in the manifest
    (old,) = debian.fetch_packages(["hello-pages"], cache, versions={"hello-pages": "1:1.0-1"})
    assert calls.read_text().splitlines()[-1] == "download hello-pages=1:1.0-1"
    assert old.version == "1:1.0-1" and old.sha256 != pkg.sha256
    assert debian.read_manifest(cache) == {"hello-pages": old}
    # an unknown package is a one-line error naming the fix
    with pytest.raises(LinguabridgeError, match="Unable to locate package nope") as err:
        debian.fetch_packages(["nope"], cache)
    assert "apt-cache policy" in str(err.value) and "\n" not in str(err.value)


def test_fetch_packages_without_apt_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no apt-get, no dpkg-deb
    with pytest.raises(LinguabridgeError, match="'apt-get' is not on PATH") as err:
        debian.fetch_packages(["manpages"], tmp_path / "cache")
    assert "\n" not in str(err.value)
