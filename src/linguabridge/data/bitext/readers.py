"""Readers for parallel text: every format becomes ``{id, src_lang, tgt_lang, src, tgt, metadata}`` records.

Formats (chosen from the file name, or forced with ``fmt``):

- ``jsonl`` (``.jsonl``, ``.jsonl.gz``, ``.jsonl.zst``): flat ``{src_lang, tgt_lang, src, tgt}`` (also
  ``source``/``target``, ``src_text``/``tgt_text``), or OPUS/CCAligned as the HF hub ships them:
  ``{"translation": {"en": "...", "fr_XX": "..."}}`` (languages are the keys).
- ``parquet`` (``.parquet``): the same columns as JSONL, read in batches with pyarrow.
- ``tsv`` (``.tsv``, ``.tsv.gz``, ``.tsv.xz``): ``src<TAB>tgt`` per line, or a header row naming the columns,
  or ``columns="score,src,tgt"`` for layouts like WikiMatrix.
- ``tmx`` (``.tmx``, ``.tmx.gz``): translation units; inline markup (``<bpt>``, ``<ph>``...) is dropped.
- ``moses``: two aligned plain-text files ``NAME.en-fr.en`` + ``NAME.en-fr.fr`` (OPUS "Moses" downloads); pass
  either file and the other is found beside it.

Languages come from the record, else from ``src_lang``/``tgt_lang`` arguments, else from the file name
(``en-fr``, ``eng_Latn-fra_Latn``); they are canonicalised (``fr`` -> ``fra_Latn``; an unknown
``src_lang``/``tgt_lang`` argument is an error before anything is read). A record that cannot be read becomes a
:class:`Quarantined` naming the file and line; a file that cannot be read on (damaged compression, invalid XML,
Moses sides of different lengths, UTF-16 text) ends in one file-level :class:`Quarantined` after the pairs read
before the damage (``data/intake.py``). Lines end at ``\n``, ``\r\n`` or a bare ``\r`` in every format.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from pathlib import Path

from linguabridge.data.intake import guarded
from linguabridge.data.records import stable_id
from linguabridge.data.text import normalise
from linguabridge.errors import LinguabridgeError, UnknownLanguageError
from linguabridge.io import Quarantined, UnreadableFile, expand_inputs, iter_jsonl, iter_lines, open_binary
from linguabridge.languages import get_language

FORMATS = ("auto", "jsonl", "parquet", "tsv", "tmx", "moses")
_SRC_KEYS = ("src", "source", "src_text", "source_text", "sentence1")
_TGT_KEYS = ("tgt", "target", "tgt_text", "target_text", "sentence2")
_SRC_LANG_KEYS = ("src_lang", "source_lang", "src_language", "lang1")
_TGT_LANG_KEYS = ("tgt_lang", "target_lang", "tgt_language", "lang2")
_CONSUMED = set(_SRC_KEYS + _TGT_KEYS + _SRC_LANG_KEYS + _TGT_LANG_KEYS + ("id", "translation", "metadata"))
# "en-fr", "eng_Latn-fra_Latn", "en_XX-fr_XX" inside a file name.
_PAIR_IN_NAME = re.compile(
    r"(?:^|[._/])([a-z]{2,3}(?:_[A-Za-z]{2,4})?)-([a-z]{2,3}(?:_[A-Za-z]{2,4})?)(?=[._]|$)"
)
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_TMX_CODES = {"bpt", "ept", "ph", "it", "ut"}  # inline native codes: their text is markup, not content


def detect_format(path: Path) -> str:
    name = path.name.lower()
    for ext in (".gz", ".zst", ".xz"):
        name = name.removesuffix(ext)
    if name.endswith((".jsonl", ".json")):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".tsv", ".txt.tsv")):
        return "tsv"
    if name.endswith(".tmx"):
        return "tmx"
    if _moses_partner(path) is not None:
        return "moses"
    raise LinguabridgeError(
        f"{path}: cannot tell the bitext format from the name",
        "use .jsonl/.parquet/.tsv/.tmx, Moses pairs NAME.en-fr.en + NAME.en-fr.fr, or pass --format",
    )


def _lang(code: str | None) -> str | None:
    return get_language(code).code if code else None


def languages_from_name(path: Path) -> tuple[str, str] | None:
    """``(src, tgt)`` canonical codes from a name like ``opus.en-fr.tsv``; None when there is none."""
    for match in _PAIR_IN_NAME.finditer(path.name):
        try:
            return _lang(match.group(1)), _lang(match.group(2))  # type: ignore[return-value]
        except UnknownLanguageError:
            continue
    return None


def _moses_partner(path: Path) -> tuple[Path, Path, str, str] | None:
    """For ``NAME.l1-l2.l1`` (optionally .gz): ``(src file, tgt file, src lang, tgt lang)``."""
    name = path.name
    gz = ".gz" if name.endswith(".gz") else ""
    stem = name.removesuffix(gz)
    if "." not in stem:
        return None
    base, side = stem.rsplit(".", 1)
    pair = base.rsplit(".", 1)[-1]
    if pair.count("-") != 1:
        return None
    l1, l2 = pair.split("-")
    if side not in (l1, l2):
        return None
    src, tgt = path.with_name(f"{base}.{l1}{gz}"), path.with_name(f"{base}.{l2}{gz}")
    if not (src.is_file() and tgt.is_file()):
        return None
    try:
        return src, tgt, get_language(l1).code, get_language(l2).code
    except UnknownLanguageError:
        return None


def _clean(text) -> str:
    """Normalised single-line segment (a pair side is one segment; newlines become spaces)."""
    return normalise(str(text)).replace("\n", " ")


def make_pair(
    path: str, line: int, src: object, tgt: object, src_lang: str | None, tgt_lang: str | None, **extra
) -> dict | Quarantined:
    """One record, or a Quarantined naming what is missing."""
    where = f"{path}:{line}"
    if src is None or tgt is None:
        return Quarantined(path, line, "pair has no source or no target text", str({"src": src, "tgt": tgt}))
    if not (isinstance(src, str) and isinstance(tgt, str)):  # a number or an object is not a sentence
        kinds = f"{type(src).__name__}/{type(tgt).__name__}"
        return Quarantined(
            path, line, f"pair sides must be text, found {kinds}", str({"src": src, "tgt": tgt})
        )
    if not src_lang or not tgt_lang:
        return Quarantined(
            path, line, "pair has no languages: give src_lang/tgt_lang (or --src-lang/--tgt-lang)", str(src)
        )
    try:
        sl, tl = get_language(src_lang).code, get_language(tgt_lang).code
    except UnknownLanguageError as exc:
        return Quarantined(path, line, f"unknown language: {exc.message}", where)
    rid = extra.pop("id", None)
    meta = {k: v for k, v in extra.items() if v is not None}
    return {
        "id": str(rid) if rid is not None else stable_id(path, str(line)),
        "src_lang": sl,
        "tgt_lang": tl,
        "src": _clean(src),
        "tgt": _clean(tgt),
        "metadata": meta,
    }


def _first(obj: dict, keys: tuple[str, ...]):
    return next((obj[k] for k in keys if obj.get(k) is not None), None)


def _from_mapping(
    obj: dict, path: str, line: int, src_lang: str | None, tgt_lang: str | None
) -> dict | Quarantined:
    """A JSON object / Parquet row in any of the accepted layouts."""
    sl = _first(obj, _SRC_LANG_KEYS) or src_lang
    tl = _first(obj, _TGT_LANG_KEYS) or tgt_lang
    meta = dict(obj["metadata"]) if isinstance(obj.get("metadata"), dict) else {}
    meta |= {k: v for k, v in obj.items() if k not in _CONSUMED and isinstance(v, str | int | float | bool)}
    trans = obj.get("translation")
    if isinstance(trans, dict):  # HF OPUS / CCAligned: languages are the keys
        try:
            by_lang = {get_language(k).code: v for k, v in trans.items()}
        except UnknownLanguageError as exc:
            return Quarantined(
                path, line, f"unknown language key in 'translation': {exc.message}", str(trans)
            )
        codes = list(by_lang)
        want_s, want_t = _lang(sl) if sl else None, _lang(tl) if tl else None
        s = want_s or next((c for c in codes if c != want_t), None)
        t = want_t or next((c for c in codes if c != s), None)
        if s not in by_lang or t not in by_lang:
            return Quarantined(path, line, f"'translation' has no {s}/{t} pair (has {codes})", str(trans))
        return make_pair(path, line, by_lang[s], by_lang[t], s, t, id=obj.get("id"), **meta)
    return make_pair(
        path, line, _first(obj, _SRC_KEYS), _first(obj, _TGT_KEYS), sl, tl, id=obj.get("id"), **meta
    )


def read_jsonl(path: Path, src_lang: str | None, tgt_lang: str | None) -> Iterator[dict | Quarantined]:
    for line, obj in iter_jsonl(path):
        yield obj if isinstance(obj, Quarantined) else _from_mapping(obj, str(path), line, src_lang, tgt_lang)


def read_parquet(path: Path, src_lang: str | None, tgt_lang: str | None) -> Iterator[dict | Quarantined]:
    from linguabridge.errors import require

    pq = require("pyarrow.parquet", "data")
    import pyarrow

    row = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=8192):
            for obj in batch.to_pylist():
                row += 1
                yield _from_mapping(obj, str(path), row, src_lang, tgt_lang)
    except pyarrow.ArrowException as exc:
        raise UnreadableFile(f"{path}: not a readable Parquet file ({exc})", "check the file") from None


def read_tsv(
    path: Path, src_lang: str | None, tgt_lang: str | None, columns: str | None = None
) -> Iterator[dict | Quarantined]:
    """TSV without quoting (the bitext convention): a tab inside a sentence is not representable."""
    names = [c.strip() for c in columns.split(",")] if columns else None
    for line, raw in iter_lines(path):
        if isinstance(raw, Quarantined):
            yield raw
            continue
        raw = raw.rstrip("\n")
        if not raw.strip():
            continue
        cells = raw.split("\t")
        if line == 1 and names is None and {c.strip().lower() for c in cells} & set(_SRC_KEYS):
            names = [c.strip().lower() for c in cells]  # a header row
            continue
        cols = names or ["src", "tgt"]
        if len(cells) != len(cols):
            hint = "" if names else " (name the columns with --columns, e.g. score,src,tgt)"
            yield Quarantined(
                str(path),
                line,
                f"expected {len(cols)} tab-separated columns, found {len(cells)}{hint}",
                raw,
            )
            continue
        yield _from_mapping(dict(zip(cols, cells, strict=True)), str(path), line, src_lang, tgt_lang)


def _seg_text(seg: ET.Element) -> str:
    """Text of a TMX ``<seg>`` without inline native codes (``<bpt>``, ``<ph>``...), keeping ``<hi>`` text."""
    parts = [seg.text or ""]
    for child in seg:
        tag = child.tag.rsplit("}", 1)[-1]
        if tag not in _TMX_CODES:
            parts.append(_seg_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def read_tmx(path: Path, src_lang: str | None, tgt_lang: str | None) -> Iterator[dict | Quarantined]:
    """Streamed with iterparse (memory stays flat). Python's expat resolves no external entities and caps
    entity expansion, so a hostile TMX cannot read local files or explode memory."""
    header_src: str | None = None
    n = 0
    with open_binary(path) as fh:
        try:
            for event, elem in ET.iterparse(fh, events=("start", "end")):
                tag = elem.tag.rsplit("}", 1)[-1]
                if event == "start" and tag == "header":
                    header_src = elem.get("srclang")
                if event != "end" or tag != "tu":
                    continue
                n += 1
                item = _tmx_unit(elem, str(path), n, src_lang, tgt_lang, header_src)
                elem.clear()
                yield item
        except ET.ParseError as exc:
            raise UnreadableFile(
                f"{path}: invalid TMX/XML ({exc}) after {n} translation units", "fix or re-export the file"
            ) from None


def _tmx_unit(tu, path, n, src_lang, tgt_lang, header_src) -> dict | Quarantined:
    variants: dict[str, str] = {}
    for tuv in tu:
        if tuv.tag.rsplit("}", 1)[-1] != "tuv":
            continue
        code = tuv.get(_XML_LANG) or tuv.get("lang")
        seg = next((c for c in tuv if c.tag.rsplit("}", 1)[-1] == "seg"), None)
        if code is None or seg is None:
            continue
        try:
            variants[get_language(code).code] = _seg_text(seg)
        except UnknownLanguageError as exc:
            return Quarantined(path, n, f"translation unit #{n}: {exc.message}", code)
    codes = list(variants)
    if len(codes) < 2:
        return Quarantined(path, n, f"translation unit #{n} has fewer than two languages ({codes})", "")
    s = _lang(src_lang) if src_lang else None
    t = _lang(tgt_lang) if tgt_lang else None
    if s is None and header_src and header_src != "*all*":
        try:
            s = get_language(header_src).code if get_language(header_src).code in variants else None
        except UnknownLanguageError:
            s = None
    if s is None and t is None and len(codes) > 2:
        return Quarantined(path, n, f"translation unit #{n} has {len(codes)} languages: pass --src-lang", "")
    s = s or next((c for c in codes if c != t), None)
    t = t or next((c for c in codes if c != s), None)
    if s not in variants or t not in variants:
        return Quarantined(path, n, f"translation unit #{n} has no {s}/{t} pair (has {codes})", "")
    return make_pair(path, n, variants[s], variants[t], s, t, id=tu.get("tuid"))


def read_moses(path: Path, src_lang: str | None, tgt_lang: str | None) -> Iterator[dict | Quarantined]:
    found = _moses_partner(path)
    if found is None:
        raise LinguabridgeError(
            f"{path}: no Moses partner file", "name the pair NAME.l1-l2.l1 + NAME.l1-l2.l2 side by side"
        )
    src_path, tgt_path, sl, tl = found
    sl, tl = _lang(src_lang) or sl, _lang(tgt_lang) or tl
    # Counted first: sides of different lengths are misaligned from some unknown line on, so no pair is trusted.
    n_s, n_t = (sum(1 for _ in iter_lines(p)) for p in (src_path, tgt_path))
    if n_s != n_t:
        raise UnreadableFile(
            f"{src_path} has {n_s} lines but {tgt_path} has {n_t}: the files are not aligned",
            "re-export the corpus so both sides have one line per segment",
        )
    for (line, a), (_, b) in zip(iter_lines(src_path), iter_lines(tgt_path), strict=True):
        bad = a if isinstance(a, Quarantined) else b if isinstance(b, Quarantined) else None
        yield bad or make_pair(str(src_path), line, a, b, sl, tl)


def check_languages(src_lang: str | None, tgt_lang: str | None) -> tuple[str | None, str | None]:
    """The canonical ``src_lang``/``tgt_lang`` arguments; an unknown code fails with suggestions before any file
    is read (else every pair would be quarantined)."""
    return _lang(src_lang), _lang(tgt_lang)


def bitext_files(paths: Iterable[str | Path], fmt: str = "auto") -> list[tuple[Path, str]]:
    """``(file, format)`` of every input (folders are searched for known extensions) in a stable order; a Moses
    pair given as both files is listed once, by its source side."""
    if fmt not in FORMATS:
        raise LinguabridgeError(f"unknown bitext format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    out: list[tuple[Path, str]] = []
    for path in _expand(paths):
        kind = detect_format(path) if fmt == "auto" else fmt
        if kind == "moses":
            found = _moses_partner(path)
            path = found[0] if found else path
            if (path, kind) in out:
                continue
        out.append((path, kind))
    return out


def read_pairs(
    path: Path, kind: str, src_lang: str | None, tgt_lang: str | None, columns: str | None = None
) -> Iterator[dict | Quarantined]:
    """Pairs of one file; if the file cannot be read on, a file-level Quarantined after what was read."""
    sl, tl = src_lang, tgt_lang
    if not (sl and tl) and kind != "moses":
        from_name = languages_from_name(path)
        if from_name:
            sl, tl = sl or from_name[0], tl or from_name[1]
    if kind == "jsonl":
        items = read_jsonl(path, sl, tl)
    elif kind == "parquet":
        items = read_parquet(path, sl, tl)
    elif kind == "tsv":
        items = read_tsv(path, sl, tl, columns)
    elif kind == "tmx":
        items = read_tmx(path, sl, tl)
    else:
        items = read_moses(path, sl, tl)
    return guarded(str(path), items)


def read_bitext(
    paths: Iterable[str | Path],
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    fmt: str = "auto",
    columns: str | None = None,
) -> Iterator[dict | Quarantined]:
    """Pairs from every file (:func:`bitext_files`), in a stable order."""
    src_lang, tgt_lang = check_languages(src_lang, tgt_lang)
    for path, kind in bitext_files(paths, fmt):
        yield from read_pairs(path, kind, src_lang, tgt_lang, columns)


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    return expand_inputs(paths, accept=_usable, kind="bitext (.jsonl/.tsv/.tmx/...)")


def _usable(path: Path) -> bool:
    try:
        detect_format(path)
    except LinguabridgeError:
        return False
    return True
